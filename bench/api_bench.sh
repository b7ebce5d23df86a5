#!/usr/bin/env bash
# `make bench` (API part): requests/s and p99 latency of GET /api/v2/importErrors under
# 32 concurrent connections (wrk, 4 threads), against `dagproc run` on a copy of
# examples/dags in SQLite. Prints one line per figure.
#
#   bench/api_bench.sh [BIN]       BENCH_API_SECONDS (10)
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${1:-${BENCH_BIN:-build/dagproc}}
secs=${BENCH_API_SECONDS:-10}
[ -x "$bin" ] || { echo "api_bench: $bin is not built" >&2; exit 2; }
command -v wrk >/dev/null || { echo "api_bench: wrk is not installed (scripts/deps.sh bench)" >&2; exit 2; }
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dagproc-apibench.XXXXXX")
pid=
cleanup() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
cp -r examples/dags "$tmp/dags"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
(cd "$tmp" && DAGPROC__API__PORT=$port DAGPROC__LOGGING__LEVEL=warning \
	exec "$bin" run --dags "$tmp/dags" --db "sqlite:///$tmp/dagproc.db" >"$tmp/run.log" 2>&1) &
pid=$!
url=http://127.0.0.1:$port
for _ in $(seq 1 100); do
	curl -sf "$url/readyz" >/dev/null 2>&1 && break
	sleep 0.1
done
curl -sf "$url/readyz" >/dev/null || { echo "api_bench: dagproc did not become ready" >&2; tail "$tmp/run.log" >&2; exit 1; }

wrk -t4 -c32 -d"${secs}s" --latency "$url/api/v2/importErrors" >"$tmp/wrk.out"
rps=$(awk '/^Requests\/sec:/ {print $2}' "$tmp/wrk.out")
p99=$(awk '$1 == "99%" {print $2}' "$tmp/wrk.out")
non2xx=$(awk '/Non-2xx/ {print $NF}' "$tmp/wrk.out")
echo "api: GET /api/v2/importErrors, 32 connections, ${secs} s, $(nproc) CPUs"
echo "  requests/s: $rps"
echo "  p99 latency: $p99"
[ -z "$non2xx" ] || echo "  non-2xx responses: $non2xx"
