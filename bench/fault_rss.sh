#!/usr/bin/env bash
# Memory across database faults: the processor runs on PostgreSQL while the
# bench kills every database session FAULT_CYCLES times (default 1,000), with a
# file edit before each kill so that every cycle has a write to retry, and
# restarts the server every 100th cycle. Reports the processor's RSS at the
# start (after the initial sync) and at the end, and writes
# build/bench/fault_rss.json. A benchmark, not a test: nothing is asserted.
#
# usage: bench/fault_rss.sh [DAGPROC_BIN]
set -u
cd "$(dirname "$0")/.."
root=$(pwd)
bin=${1:-build/dagproc}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
cycles=${FAULT_CYCLES:-1000}
out=$root/build/bench
mkdir -p "$out"

. tests/db/pg.sh
work=$(mktemp -d /tmp/dagproc-faultrss.XXXXXX)
dpid=
cleanup() {
	[ -n "$dpid" ] && kill -KILL "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
	pg_cleanup
	rm -rf "$work"
}
trap cleanup EXIT

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

python3 bench/gen_dags.py --files 200 --seed 7 --out "$work/dags" >/dev/null
pg_start >/dev/null || {
	echo "fault_rss: PostgreSQL did not start" >&2
	exit 1
}

DAGPROC__API__ENABLED=false DAGPROC__DATABASE__RETRY_BACKOFF_MAX=1 \
	DAGPROC__DATABASE__POOL_SIZE=2 \
	"$bin" run --dags "$work/dags" --db "$PG_URL" >"$work/log" 2>&1 &
dpid=$!

# initial sync: wait until every file has its parse_stat row
files=$(find "$work/dags" -name 'dag_*.yml' | wc -l)
for i in $(seq 1 600); do
	n=$(pg_psql -At -c "SELECT count(*) FROM parse_stat" 2>/dev/null || echo 0)
	[ "${n:-0}" -ge "$files" ] && break
	sleep 0.1
done
start_rss=$(rss_kb "$dpid")
# every cycle rewrites this DAG, so every cycle has a real write to retry
target=$work/dags/fault_cycle.yml
t0=$(date +%s.%N)
for i in $(seq 1 "$cycles"); do
	printf 'fault_cycle:\n  tasks:\n    - task_id: t\n      operator: %s\n      bash_command: echo cycle %d\n' \
		airflow.providers.standard.operators.bash.BashOperator "$i" >"$target"
	if [ $((i % 100)) -eq 0 ]; then
		pg_restart >/dev/null 2>&1
	else
		pg_psql -At -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
			WHERE usename = '$PG_USER'" >/dev/null 2>&1
	fi
	sleep 0.02
done
# converge, then measure
sleep 3
alive=yes
kill -0 "$dpid" 2>/dev/null || alive=no
end_rss=$(rss_kb "$dpid" 2>/dev/null || echo 0)
t1=$(date +%s.%N)
last=$(pg_psql -At -c "SELECT count(*) FROM parse_stat" 2>/dev/null)
last_cycle=$(pg_psql -At -c "SELECT data FROM serialized_dag WHERE dag_id = 'fault_cycle'" \
	2>/dev/null | grep -o 'echo cycle [0-9]*' | head -n 1)
ratio=$(awk -v a="$start_rss" -v b="$end_rss" 'BEGIN { printf "%.3f", b / a }')

printf '\nfault cycles: %d (session kills, a server restart every 100th), %.0f s\n' \
	"$cycles" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
printf '%-28s %10s\n' "processor RSS at start" "$((start_rss / 1024)) MiB ($start_rss kB)"
printf '%-28s %10s\n' "processor RSS at end" "$((end_rss / 1024)) MiB ($end_rss kB)"
printf '%-28s %10s\n' "end / start" "$ratio"
printf '%-28s %10s\n' "processor alive" "$alive"
printf '%-28s %10s\n' "files recorded" "$last / $((files + 1))"
printf '%-28s %10s\n' "last cycle written" "${last_cycle:-none} (of $cycles)"
cat >"$out/fault_rss.json" <<EOF
{"cycles": $cycles, "rss_start_kb": $start_rss, "rss_end_kb": $end_rss, "ratio": $ratio,
 "alive": "$alive", "files": $files, "files_recorded": ${last:-0}}
EOF
echo "written to build/bench/fault_rss.json"
