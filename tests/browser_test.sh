#!/usr/bin/env bash
# Browser test of the web page: Debian's chromium, headless, loads the page of a running
# `dagproc run` whose bundle has an import error, and checks that the rendered DOM shows
# the error's file name, code and caret line; saves a screenshot beside the binary
# (BUILD/browser/page.png). Ends with "N passed, N failed".
#
#   tests/browser_test.sh BIN
set -uo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 path/to/dagproc" >&2
	exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
shots=$(dirname "$BIN")/browser
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dagproc-browser.XXXXXX")
pid=
cleanup() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
# shellcheck disable=SC2046
unset $(compgen -e | grep '^DAGPROC_') 2>/dev/null || true

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; [ $# -gt 1 ] && echo "  $2"; }

chrome=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chrome" ]; then
	echo "chromium is not installed (scripts/deps.sh browser)"
	echo "0 passed, 1 failed"
	exit 1
fi

cp -r "$root/examples/dags" "$tmp/dags"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
(cd "$tmp" && DAGPROC__API__PORT=$port DAGPROC__DAG_PROCESSOR__PARSING_PROCESSES=1 \
	exec "$BIN" run --dags "$tmp/dags" --db "sqlite:///$tmp/dagproc.db" >"$tmp/run.log" 2>&1) &
pid=$!
url=http://127.0.0.1:$port/
ready=0
for _ in $(seq 1 100); do
	if python3 -c "import urllib.request,sys; urllib.request.urlopen('${url}readyz', timeout=1)" 2>/dev/null; then
		ready=1
		break
	fi
	sleep 0.1
done
if [ "$ready" = 1 ]; then pass "processor ready"; else fail "processor ready" "$(tail -5 "$tmp/run.log")"; fi

flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
	--disable-background-networking --disable-component-update --disable-sync
	--disable-dev-shm-usage --user-data-dir="$tmp/profile" --virtual-time-budget=8000)
timeout 60 "$chrome" "${flags[@]}" --dump-dom "$url" >"$tmp/dom.html" 2>"$tmp/chrome.err"
dom=$tmp/dom.html

check() { # NAME PYTHON-REGEX
	if python3 - "$dom" "$2" <<'PY'
import re, sys, html
dom = open(sys.argv[1], encoding="utf-8").read()
# the text of the import errors section, tags removed
m = re.search(r'<section id="errors-section">(.*?)</section>', dom, re.S)
text = html.unescape(re.sub(r"<[^>]+>", "", m.group(1))) if m else ""
sys.exit(0 if re.search(sys.argv[2], text, re.M) else 1)
PY
	then pass "$1"; else fail "$1" "not in the rendered import errors: $2"; fi
}
check "file name shown" 'inventory_sync\.yml'
check "diagnostic location and code" 'inventory_sync\.yml:14:22: error\[E020\]: task .load_stock. depends on unknown task'
check "source line shown" '^\s*14 \| +dependencies: \[extract_stok\]$'
# the caret sits under column 22 of line 14: "      | " then 21 spaces then ^
check "caret under the column" '^      \| {22}\^$'
if grep -q 'id="dags"' "$dom" && grep -q 'churn_model_training' "$dom"; then
	pass "DAG table rendered"
else
	fail "DAG table rendered"
fi
if grep -q 'healthy: database reachable' "$dom"; then pass "health banner"; else fail "health banner"; fi

mkdir -p "$shots"
rm -f "$shots/page.png"
timeout 60 "$chrome" "${flags[@]}" --screenshot="$shots/page.png" --window-size=1280,900 "$url" \
	>/dev/null 2>>"$tmp/chrome.err"
if [ -s "$shots/page.png" ]; then pass "screenshot $shots/page.png"; else fail "screenshot" "$(tail -3 "$tmp/chrome.err")"; fi
timeout 60 "$chrome" "${flags[@]}" --screenshot="$shots/page-phone.png" --window-size=390,844 "$url" \
	>/dev/null 2>>"$tmp/chrome.err"
if [ -s "$shots/page-phone.png" ]; then pass "phone screenshot"; else fail "phone screenshot"; fi

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
if [ "$rc" -eq 0 ]; then pass "SIGTERM exits 0"; else fail "SIGTERM exits 0" "exit status $rc"; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
