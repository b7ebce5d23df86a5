#!/usr/bin/env bash
# The front end on adversarial files (issue 13): each file of
# bench/gen_adversarial.py (sizes of the issue: a 20,000-task chain, 3,000 tasks
# on a 3,000-task group, 40,000 deprecations, 20,000 unknown dependencies,
# 100,000 unknown keys, 20,000 nested groups, an alias bomb, 50,000 tasks,
# 20,000 DAGs) is checked in text and JSON under `ulimit -v` (1 GiB) and a
# generous timeout (60 s): to catch hangs and blow-ups, not to time them.
# `make bench` times them. Then 200,000 nested task groups (8 MB) under a
# 256 KiB stack (`ulimit -s`), where a recursion on the input's depth would
# crash. Each must end with status 0 or 1 and a summary (valid JSON for
# --format json).
#
# usage: tests/adversarial_test.sh DAGPROC_BIN   (not under ASan: its shadow
# memory does not fit a `ulimit -v`)
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
work=$(mktemp -d /tmp/dagproc-adversarial.XXXXXX)
trap 'rm -rf "$work"' EXIT
# shellcheck disable=SC2046
unset $(compgen -e | grep '^DAGPROC_') 2>/dev/null || true

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() {
	failed=$((failed + 1))
	echo "FAIL $*"
}

python3 "$root/bench/gen_adversarial.py" "$work/adv" >/dev/null || {
	echo "FAIL bench/gen_adversarial.py"
	echo "0 passed, 1 failed"
	exit 1
}
# check FILE FORMAT LIMITS...: runs check in a subshell with the limits
check() {
	local f=$1 fmt=$2
	shift 2
	(
		"$@"
		if [ "$fmt" = fix ]; then
			exec timeout 60 "$bin" fix --diff "$f"
		fi
		exec timeout 60 "$bin" check --format "$fmt" "$f"
	) >"$work/out" 2>"$work/err"
}
mem() { ulimit -v 1048576; }
stack() { ulimit -s 256; }

for f in "$work"/adv/*.yml; do
	name=$(basename "$f" .yml)
	# sarif and fix --diff carry the fixes: found for each diagnostic in
	# the file's text (a scan from the start for each made deprecations
	# quadratic)
	for fmt in text json sarif fix; do
		t0=$(date +%s.%N)
		check "$f" "$fmt" mem
		rc=$?
		secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
		if [ "$rc" -gt 1 ]; then
			bad "$name ($fmt): status $rc after $secs s (124: timeout; 134/139: abort or crash): $(tail -n 2 "$work/err")"
		elif [ "$fmt" = json ] && ! summary=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"])' "$work/out" 2>/dev/null); then
			bad "$name (json): not a JSON document with a summary"
		elif [ "$fmt" = text ] && ! tail -n 1 "$work/out" | grep -q '^1 file, '; then
			bad "$name (text): no summary line: $(tail -n 1 "$work/out" | cut -c1-100)"
		elif [ "$fmt" = sarif ] && ! summary=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["runs"][0]["results"]; print("%d results, %d with fixes" % (len(r), sum("fixes" in x for x in r)))' "$work/out" 2>/dev/null); then
			bad "$name (sarif): not a SARIF document"
		elif [ "$fmt" = fix ] && ! summary=$(grep -E '^[0-9]+ fix(es)? in ' "$work/err"); then
			bad "$name (fix --diff): no summary line: $(tail -n 1 "$work/err" | cut -c1-100)"
		else
			[ "$fmt" = text ] && summary=$(tail -n 1 "$work/out")
			ok "$name ($fmt, 1 GiB of address space): status $rc in $secs s, $summary"
		fi
	done
done

# 200,000 nested task groups, a small stack
python3 - "$work/deep.yml" <<'PY'
import sys
n = 200000
out = ["deep:", "  task_groups:", "    g0: {}"]
out += ["    g%d: {parent_group_name: g%d}" % (i, i - 1) for i in range(1, n)]
out += ["  tasks:", "    - {task_id: t, operator: airflow.providers.standard.operators.empty.EmptyOperator, task_group_name: g%d}" % (n - 1)]
open(sys.argv[1], "w").write("\n".join(out) + "\n")
PY
check "$work/deep.yml" json stack
rc=$?
if [ "$rc" = 1 ] && python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
errs = [e for f in d["files"] for e in f["errors"]]
sys.exit(0 if [e["code"] for e in errs] == ["E033"] and "nested 65 levels deep" in errs[0]["message"] else 1)' "$work/out"; then
	ok "200,000 nested groups under a 256 KiB stack: one E033 where the group id passes 250 characters"
else
	bad "200,000 nested groups under a 256 KiB stack: status $rc: $(tail -n 2 "$work/err") $(head -c 300 "$work/out")"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
