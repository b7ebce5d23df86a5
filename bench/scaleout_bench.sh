#!/usr/bin/env bash
# `make bench`, scale-out (issue 12): the first sync of the generated files
# (build/bench/dags, BENCH_FILES) into a fresh PostgreSQL database by one
# processor with 2 workers, then by two processors with 1 worker each sharing
# the database. Each run is timed from the start until every file has its
# parse_stat row and every processor answers /readyz 200 (its first pass
# written); the files each processor parsed come from its /metrics.
#
#   bench/scaleout_bench.sh     BENCH_FILES (10000), BENCH_SEED (1), BENCH_BIN
#
# Prints a table and merges "scaleout" into build/bench/results.json.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
files=${BENCH_FILES:-10000}
seed=${BENCH_SEED:-1}
bin=${BENCH_BIN:-build/dagproc}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
dags=$root/build/bench/dags
stamp="$dags/.generated-seed$seed-files$files"
if [ ! -f "$stamp" ] || [ bench/gen_dags.py -nt "$stamp" ]; then
	python3 bench/gen_dags.py --files "$files" --seed "$seed" --out "$dags"
	touch "$stamp"
fi
nfiles=$(find "$dags" -name 'dag_*.yml' | wc -l)

. tests/db/pg.sh
work=$(mktemp -d /tmp/dagproc-scalebench.XXXXXX)
declare -A pids=() ports=()
cleanup() {
	for n in "${!pids[@]}"; do kill -KILL "${pids[$n]}" 2>/dev/null; done
	pg_cleanup
	rm -rf "$work"
}
trap cleanup EXIT
pg_start >/dev/null

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
ready() { curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/readyz" 2>/dev/null; }

# run WORKERS NAME...: processors started together; prints the seconds until
# every file is recorded and each is ready, then "name=parsed" for each
run() {
	local workers=$1
	shift
	"$bin" db reset --yes --db "$PG_URL" >/dev/null
	local t0 n
	t0=$(date +%s.%N)
	for n in "$@"; do
		ports[$n]=$(free_port)
		DAGPROC__DAG_PROCESSOR__INSTANCE_NAME=$n DAGPROC__API__PORT=${ports[$n]} \
			DAGPROC__DAG_PROCESSOR__PARSING_PROCESSES=$workers \
			"$bin" run --dags "$dags" --db "$PG_URL" >"$work/$n.log" 2>&1 &
		pids[$n]=$!
	done
	while :; do
		local done=1
		[ "$(pg_psql -At -c 'SELECT count(*) FROM parse_stat')" = "$nfiles" ] || done=0
		for n in "$@"; do [ "$(ready "${ports[$n]}")" = 200 ] || done=0; done
		[ "$done" = 1 ] && break
		sleep 0.1
	done
	local t1
	t1=$(date +%s.%N)
	local out
	out=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
	for n in "$@"; do
		out="$out $n=$(curl -s "http://127.0.0.1:${ports[$n]}/metrics" |
			awk '$1 == "dagproc_files_parsed_total" { print $2 }')"
		kill -TERM "${pids[$n]}"
		wait "${pids[$n]}" 2>/dev/null || true
		unset "pids[$n]"
	done
	echo "$out"
}

echo "scale-out: first sync of $nfiles files into PostgreSQL"
one=$(run 2 solo)
two=$(run 1 a b)
python3 - "$one" "$two" "$nfiles" <<'PY'
import json, sys
one, two, n = sys.argv[1].split(), sys.argv[2].split(), int(sys.argv[3])
t1, t2 = float(one[0]), float(two[0])
parsed2 = dict(kv.split("=") for kv in two[1:])
print("  one processor, 2 workers          %7.2f s  (parsed %s)" % (t1, one[1].split("=")[1]))
print("  two processors, 1 worker each     %7.2f s  (parsed %s)" % (t2, ", ".join("%s %s" % kv for kv in sorted(parsed2.items()))))
print("  two / one                         %7.2fx" % (t2 / t1 if t1 else 0))
path = "build/bench/results.json"
try:
    data = json.load(open(path))
except (OSError, ValueError):
    data = {}
data["scaleout"] = {"files": n, "one_processor_2_workers_s": t1,
                    "two_processors_1_worker_s": t2,
                    "parsed": {k: int(float(v)) for k, v in parsed2.items()}}
json.dump(data, open(path, "w"), indent=2)
PY
