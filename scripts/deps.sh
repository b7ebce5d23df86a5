#!/usr/bin/env bash
# Installs the Debian packages dagproc needs that are not installed yet.
# Quiet when everything is present (one dpkg-query call); prints what it installs.
#
#   scripts/deps.sh [GROUP]...     groups: core (default), browser, bench
#
# core is what `make`, `make check` and `make fuzz` need. The optional groups are
# only installed for the targets that use them (browser: `make check`,
# bench: `make bench`); a failure to install an optional group is a warning.
# DAGPROC_SKIP_DEPS=1 skips the whole check (non-Debian hosts, offline machines).
set -euo pipefail

core=(build-essential pkg-config meson ninja-build
      libyaml-dev libjansson-dev libmicrohttpd-dev libpq-dev libmariadb-dev
      libsqlite3-dev libcmocka-dev libinih-dev libxxhash-dev
      clang libclang-rt-14-dev clang-format valgrind python3
      postgresql mariadb-server sqlite3 curl openssl procps
      python3-jsonschema python3-yaml neovim pre-commit git man-db systemd)
browser=(chromium)
bench=(wrk python3-yaml)

[ "${DAGPROC_SKIP_DEPS:-0}" = 1 ] && exit 0

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "deps.sh: not a Debian system (no dpkg-query); install the equivalents of: ${core[*]}" >&2
	exit 0
fi

# missing GROUP...: prints the packages of the named groups that are not installed.
missing() {
	local want=() g
	for g in "$@"; do
		case "$g" in
		core) want+=("${core[@]}") ;;
		browser) want+=("${browser[@]}") ;;
		bench) want+=("${bench[@]}") ;;
		*) echo "deps.sh: unknown group '$g' (core, browser, bench)" >&2; exit 2 ;;
		esac
	done
	local installed
	installed=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${want[@]}" 2>/dev/null |
		awk '$2 == "ii" { sub(/:.*/, "", $1); print $1 }' || true)
	local p
	for p in "${want[@]}"; do
		grep -qxF "$p" <<<"$installed" || echo "$p"
	done
	# node and npm, for the language server's test with the npm client VS Code
	# uses: by command, since NodeSource's nodejs provides npm itself
	# (Debian's npm package would then conflict)
	case " $* " in
	*" core "*)
		command -v node >/dev/null 2>&1 || echo nodejs
		command -v npm >/dev/null 2>&1 || echo npm
		;;
	esac
}

[ $# -gt 0 ] || set -- core

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		sudo=(sudo)
	else
		sudo=(false) # reported below
	fi
fi

updated=0
install_group() {
	local group=$1 pkgs
	pkgs=$(missing "$group")
	[ -n "$pkgs" ] || return 0
	# shellcheck disable=SC2086
	echo "deps.sh: installing ($group):" $pkgs
	if [ "${sudo[0]:-}" = false ]; then
		echo "deps.sh: not root and no sudo; install these packages first:" $pkgs >&2
		return 1
	fi
	if [ "$updated" = 0 ]; then
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
		updated=1
	fi
	# shellcheck disable=SC2086
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends $pkgs || return 1
}

status=0
for g in "$@"; do
	if ! install_group "$g"; then
		if [ "$g" = core ]; then
			echo "deps.sh: could not install the core packages" >&2
			status=1
		else
			echo "deps.sh: warning: could not install the optional '$g' packages" >&2
		fi
	fi
done
exit $status
