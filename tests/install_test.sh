#!/usr/bin/env bash
# `make install` (issue 14): into a DESTDIR, with the default prefix and with
# prefix=/usr; the installed binary runs `check` and `run --once` from another
# folder; `man -l` renders dagproc(1) and dagproc.cfg(5) without warnings and
# they document every command and setting; the example configuration, all
# of it uncommented, loads; the systemd unit passes `systemd-analyze verify`
# and `security --offline` with an exposure of 2.5 or less; the bash
# completion knows the commands of `dagproc --help`.
#
# usage: tests/install_test.sh BUILD_DIR   (from the repository's root; it
# runs `make install`, which installs from build/)
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$1" && pwd)
cd "$root" || exit 2
work=$(mktemp -d /tmp/dagproc-install.XXXXXX)
cleanup() {
	# build/ back to the default prefix
	make -s install DESTDIR="$work/restore" prefix=/usr/local >/dev/null 2>&1
	[ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
# shellcheck disable=SC2046
unset $(compgen -e | grep '^DAGPROC_') 2>/dev/null || true

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() {
	failed=$((failed + 1))
	echo "FAIL $*"
}

stage=$work/stage
if make -s install DESTDIR="$stage" >"$work/install.log" 2>&1; then
	ok "make install DESTDIR=$stage"
else
	bad "make install: $(tail -n 5 "$work/install.log")"
	echo "$passed passed, $failed failed"
	exit 1
fi
p=$stage/usr/local
missing=
for f in bin/dagproc share/man/man1/dagproc.1 share/man/man5/dagproc.cfg.5 \
	share/doc/dagproc/dagproc.cfg.example lib/systemd/system/dagproc.service \
	share/bash-completion/completions/dagproc share/doc/dagproc/codes.md \
	share/doc/dagproc/fix.md share/doc/dagproc/schema.md; do
	[ -f "$p/$f" ] || missing="$missing $f"
done
[ -z "$missing" ] && ok "installed: binary, two man pages, example configuration, unit file, completion, the codes, fix and schema pages" ||
	bad "not installed:$missing"
[ "$(find "$stage" -type f | wc -l)" = 9 ] && ok "nothing else installed" ||
	bad "installed files: $(find "$stage" -type f | sed "s|$stage||" | tr '\n' ' ')"

# the installed binary, from another folder
other=$work/elsewhere
mkdir -p "$other"
cp -r examples/dags "$other/dags"
(
	cd "$other" || exit 2
	"$p/bin/dagproc" check dags >check.out 2>&1
	echo "check=$?"
	DAGPROC__API__ENABLED=false "$p/bin/dagproc" run --once --dags dags --db "sqlite:///$other/db.sqlite" >run.log 2>&1
	echo "run=$?"
	"$p/bin/dagproc" dags list --format json --db "sqlite:///$other/db.sqlite" >dags.json 2>&1
	echo "list=$?"
) >"$work/rcs"
if grep -qx 'check=1' "$work/rcs" && grep -q "error\[E020\]" "$other/check.out" &&
	tail -n 1 "$other/check.out" | grep -q '^6 files, 7 DAGs'; then
	ok "installed dagproc check from another folder: status 1, the E020, 6 files and 7 DAGs"
else
	bad "installed check: $(cat "$work/rcs") $(tail -n 2 "$other/check.out")"
fi
if grep -qx 'run=0' "$work/rcs" && grep -qx 'list=0' "$work/rcs" &&
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["total_entries"] == 7 else 1)' "$other/dags.json"; then
	ok "installed dagproc run --once: status 0, 7 DAGs recorded"
else
	bad "installed run --once: $(cat "$work/rcs") $(tail -n 3 "$other/run.log") $(head -c 200 "$other/dags.json")"
fi

# the man pages render, without warnings, and say what --help says
for page in share/man/man1/dagproc.1 share/man/man5/dagproc.cfg.5; do
	MANWIDTH=80 man --warnings -l "$p/$page" >"$work/page.txt" 2>"$work/page.err"
	rc=$?
	if [ "$rc" = 0 ] && [ ! -s "$work/page.err" ] && grep -q '^NAME' "$work/page.txt"; then
		ok "man -l $(basename "$page"): renders ($(wc -l <"$work/page.txt") lines), no warning"
	else
		bad "man -l $page: status $rc: $(head -n 3 "$work/page.err")"
	fi
	cp "$work/page.txt" "$work/$(basename "$page").txt"
done
nocmd=
for c in run check db dags import-errors warnings report processors serve healthcheck; do
	grep -q "^   $c\$" "$work/dagproc.1.txt" || nocmd="$nocmd $c"
done
[ -z "$nocmd" ] && ok "dagproc(1): a section for every command" || bad "dagproc(1) lacks:$nocmd"
nokey=$("$p/bin/dagproc" help config | sed -n 's/^  \([a-z_]*\) =.*/\1/p' | while read -r k; do
	grep -q "^       $k = " "$work/dagproc.cfg.5.txt" || echo "$k"
done | tr '\n' ' ')
nkeys=$("$p/bin/dagproc" help config | grep -c '^  [a-z_]* =')
[ -z "$nokey" ] && [ "$nkeys" -gt 40 ] && ok "dagproc.cfg(5): all $nkeys settings of help config" ||
	bad "dagproc.cfg(5) lacks: $nokey"

# the example configuration: every setting, commented; uncommented, it loads
ex=$p/share/doc/dagproc/dagproc.cfg.example
[ "$(grep -c '^;[a-z_]* =' "$ex")" = "$nkeys" ] && ! grep -q '^[a-z_]* =' "$ex" &&
	ok "example configuration: all $nkeys settings, commented out" ||
	bad "example configuration: $(grep -c '^;[a-z_]* =' "$ex") commented settings of $nkeys"
sed 's/^;\([a-z_]* =\)/\1/' "$ex" >"$work/full.cfg"
(cd "$other" && "$p/bin/dagproc" check --config "$work/full.cfg" dags >/dev/null 2>"$work/full.err")
rc=$?
[ "$rc" = 1 ] && [ ! -s "$work/full.err" ] && ok "example configuration uncommented: loads (check status 1, no message)" ||
	bad "example configuration uncommented: status $rc: $(head -n 2 "$work/full.err")"

# the unit file
unit=$p/lib/systemd/system/dagproc.service
grep -qx "ExecStart=/usr/local/bin/dagproc run --config /usr/local/etc/dagproc/dagproc.cfg" "$unit" &&
	grep -qx 'Type=notify' "$unit" && grep -q '^WatchdogSec=' "$unit" &&
	grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$unit" && grep -qx 'Restart=on-failure' "$unit" &&
	grep -qx 'RestartPreventExitStatus=2' "$unit" &&
	ok "unit file: Type=notify, WatchdogSec, Restart=on-failure but not on a configuration error (status 2), SIGHUP reload, the installed paths" ||
	bad "unit file: $(grep -E '^(Type|ExecStart|ExecReload|Restart|WatchdogSec)=' "$unit" | tr '\n' ' ')"
if command -v systemd-analyze >/dev/null 2>&1; then
	# verify looks for the binary at its installed path: point it at the stage
	sed "s|/usr/local/bin/dagproc|$p/bin/dagproc|" "$unit" >"$work/dagproc.service"
	systemd-analyze verify --man=no "$work/dagproc.service" >"$work/verify.out" 2>&1
	rc=$?
	[ "$rc" = 0 ] && [ ! -s "$work/verify.out" ] && ok "systemd-analyze verify: no complaint" ||
		bad "systemd-analyze verify: status $rc: $(head -n 3 "$work/verify.out")"
	systemd-analyze security --offline=true --threshold=25 "$work/dagproc.service" >"$work/security.out" 2>&1
	rc=$?
	level=$(sed -n 's/.*Overall exposure level for dagproc.service: \([0-9.]*\).*/\1/p' "$work/security.out")
	[ "$rc" = 0 ] && [ -n "$level" ] && ok "systemd-analyze security: exposure $level (at most 2.5)" ||
		bad "systemd-analyze security: status $rc, exposure '${level}': $(tail -n 2 "$work/security.out")"
else
	bad "systemd-analyze is not installed (make deps)"
fi

# the bash completion
comp=$p/share/bash-completion/completions/dagproc
want=$("$p/bin/dagproc" --help | sed -n '/^Commands:/,/^$/p' | sed -n 's/^  \([a-z][a-z-]*\).*/\1/p' | sort -u | tr '\n' ' ')
have=$(sed -n 's/^\tlocal commands="\(.*\)"$/\1/p' "$comp" | tr ' ' '\n' | sort -u | tr '\n' ' ')
[ -n "$want" ] && [ "$want" = "$have" ] && ok "completion: the commands of --help ($want)" ||
	bad "completion commands '$have', --help says '$want'"
got=$(bash -c '. "$1"; COMP_WORDS=(dagproc check --format ""); COMP_CWORD=3; _dagproc; echo "${COMPREPLY[*]}"' _ "$comp")
[ "$got" = "text json sarif github" ] && ok "completion: dagproc check --format <TAB> -> $got" ||
	bad "completion of check --format: '$got'"

# prefix=/usr
stage2=$work/stage-usr
if make -s install DESTDIR="$stage2" prefix=/usr >"$work/install2.log" 2>&1 &&
	[ -x "$stage2/usr/bin/dagproc" ] && [ -f "$stage2/usr/share/man/man1/dagproc.1" ] &&
	grep -qx "ExecStart=/usr/bin/dagproc run --config /etc/dagproc/dagproc.cfg" \
		"$stage2/usr/lib/systemd/system/dagproc.service"; then
	ok "make install prefix=/usr: /usr/bin/dagproc, the unit file runs it with /etc/dagproc/dagproc.cfg"
else
	bad "make install prefix=/usr: $(tail -n 3 "$work/install2.log") $(find "$stage2" -type f | head -n 3)"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
