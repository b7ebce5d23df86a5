#!/usr/bin/env bash
# Outage test of the HTTP API on PostgreSQL (issue #5): `dagproc run` on a throwaway
# server (tests/db/pg.sh); with the server stopped the API answers 503 within 3 s,
# /livez stays 200 and /readyz turns 503 with its reason; with the server back the next
# requests succeed without restarting dagproc. Ends with "N passed, N failed".
#
#   tests/api_outage_test.sh BIN
set -uo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 path/to/dagproc" >&2
	exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
# shellcheck disable=SC2046
unset $(compgen -e | grep '^DAGPROC_') 2>/dev/null || true
# shellcheck source=tests/db/pg.sh
. "$root/tests/db/pg.sh"

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; [ $# -gt 1 ] && echo "  $2"; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dagproc-outage.XXXXXX")
pid=
cleanup() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	pg_cleanup >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT

if [ ! -x "$PG_BIN/postgres" ]; then
	echo "PostgreSQL is not installed ($PG_BIN)"
	echo "0 passed, 1 failed"
	exit 1
fi
pg_start || { echo "0 passed, 1 failed"; exit 1; }

# get PATH: prints "STATUS SECONDS" (status 000 when no answer)
get() {
	curl -s -o "$tmp/body" -w '%{http_code} %{time_total}' --max-time 10 "http://127.0.0.1:$port$1"
}

cp -r "$root/examples/dags" "$tmp/dags"
port=$(_db_free_port)
(cd "$tmp" && DAGPROC__API__PORT=$port DAGPROC__DAG_PROCESSOR__PARSING_PROCESSES=1 \
	DAGPROC__DATABASE__RETRY_BACKOFF_MAX=1 DAGPROC__DATABASE__CONNECT_TIMEOUT=2 \
	exec "$BIN" run --dags "$tmp/dags" --db "$PG_URL" >"$tmp/run.log" 2>&1) &
pid=$!
for _ in $(seq 1 200); do
	[ "$(get /readyz | cut -d' ' -f1)" = 200 ] && break
	sleep 0.1
done
read -r st _ < <(get /readyz)
if [ "$st" = 200 ]; then pass "ready on PostgreSQL"; else fail "ready on PostgreSQL" "$(tail -5 "$tmp/run.log")"; fi
read -r st _ < <(get /api/v2/importErrors)
if [ "$st" = 200 ] && grep -q inventory_sync.yml "$tmp/body"; then pass "importErrors before the outage"; else fail "importErrors before the outage" "$st $(cat "$tmp/body")"; fi

pg_stop
touch "$tmp/dags/orders_etl.yml" # a change to keep pending while the database is away
echo "# changed" >>"$tmp/dags/orders_etl.yml"
sleep 0.5
for path in /api/v2/importErrors /api/v2/dags /api/v2/dags/orders_etl /api/v2/dagWarnings; do
	read -r st t < <(get "$path")
	if [ "$st" = 503 ] && python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if isinstance(d.get('detail'), str) else 1)" "$tmp/body" &&
		python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 3 else 1)" "$t"; then
		pass "$path 503 within 3 s while stopped ($t s)"
	else
		fail "$path 503 within 3 s while stopped" "status $st in $t s: $(head -c 300 "$tmp/body")"
	fi
done
read -r st t < <(get /api/v2/monitor/health)
if [ "$st" = 200 ] && grep -q '"metadatabase":{"status":"unhealthy"}' "$tmp/body"; then
	pass "health says the metadatabase is unhealthy"
else
	fail "health says the metadatabase is unhealthy" "$st $(cat "$tmp/body")"
fi
read -r st t < <(get /livez)
if [ "$st" = 200 ]; then pass "livez 200 during the outage"; else fail "livez 200 during the outage" "$st"; fi
# the writer finds the database gone when it tries the pending change
for _ in $(seq 1 50); do
	read -r st t < <(get /readyz)
	[ "$st" = 503 ] && grep -q "database unreachable for" "$tmp/body" && break
	sleep 0.1
done
if [ "$st" = 503 ] && grep -q "database unreachable for" "$tmp/body"; then
	pass "readyz 503: $(cat "$tmp/body")"
else
	fail "readyz 503 during the outage" "$st $(cat "$tmp/body")"
fi
read -r st t < <(get /metrics)
if [ "$st" = 200 ] && grep -q '^dagproc_database_up 0$' "$tmp/body"; then pass "metrics: database_up 0"; else fail "metrics: database_up 0" "$st"; fi

pg_start || fail "PostgreSQL restarts"
ok=0
for _ in $(seq 1 100); do
	read -r st _ < <(get /api/v2/importErrors)
	if [ "$st" = 200 ]; then
		ok=1
		break
	fi
	sleep 0.1
done
if [ "$ok" = 1 ]; then pass "importErrors 200 again without restarting dagproc"; else fail "importErrors 200 again" "$st $(cat "$tmp/body")"; fi
allok=1
for path in /api/v2/dags /api/v2/dags/orders_etl/details /api/v2/dagWarnings /api/v2/importErrors; do
	read -r st _ < <(get "$path")
	[ "$st" = 200 ] || { allok=0; fail "$path after the restart" "$st $(head -c 300 "$tmp/body")"; }
done
[ "$allok" = 1 ] && pass "every endpoint answers 200 after the restart"
ok=0
for _ in $(seq 1 150); do
	read -r st _ < <(get /readyz)
	if [ "$st" = 200 ]; then
		ok=1
		break
	fi
	sleep 0.1
done
if [ "$ok" = 1 ]; then pass "readyz 200 again (backlog written)"; else fail "readyz 200 again" "$(cat "$tmp/body")"; fi

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
if [ "$rc" -eq 0 ]; then pass "SIGTERM exits 0"; else fail "SIGTERM exits 0" "exit status $rc; $(tail -5 "$tmp/run.log")"; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
