#!/usr/bin/env bash
# `make bench`: dagproc check throughput over a generated folder of typical DAG
# files, beside the time libyaml alone needs to parse the same bytes (the floor).
#
#   bench/run.sh            BENCH_FILES (10000), BENCH_SEED (1), BENCH_RUNS (3), BENCH_BIN
#
# The folder is generated once per (seed, files) into build/bench/dags. Each
# side runs BENCH_RUNS times after a warm-up; the best run counts (warm page
# cache, so both sides measure parsing, not the disk). Prints a table and
# writes build/bench/results.json. yaml_only runs on one thread; dagproc check
# parses files on up to one thread per CPU (16 at most), so the table names the
# CPU count.
set -euo pipefail
cd "$(dirname "$0")/.."

files=${BENCH_FILES:-10000}
seed=${BENCH_SEED:-1}
runs=${BENCH_RUNS:-3}
out=build/bench
dags=$out/dags
bin=${BENCH_BIN:-build/dagproc} # BENCH_BIN: compare another binary

[ -x "$bin" ] || { echo "bench: $bin is not built (run make bench)" >&2; exit 2; }
mkdir -p "$out"

cc -O2 -Wall -Wextra -o "$out/yaml_only" bench/yaml_only.c $(pkg-config --cflags --libs yaml-0.1)

stamp="$dags/.generated-seed$seed-files$files"
if [ ! -f "$stamp" ] || [ bench/gen_dags.py -nt "$stamp" ]; then
	python3 bench/gen_dags.py --files "$files" --seed "$seed" --out "$dags"
	touch "$stamp"
fi

now() { date +%s.%N; }

# best_of CMD...: runs CMD (warm-up + $runs times), prints the best wall time in seconds.
best_of() {
	local best="" t0 t1 rc i
	for ((i = 0; i <= runs; i++)); do
		t0=$(now)
		set +e
		"$@" >/dev/null 2>"$out/stderr.txt"
		rc=$?
		set -e
		t1=$(now)
		# dagproc check exits 1 here: the folder has files with import errors on purpose.
		if [ "$rc" -gt 1 ]; then
			echo "bench: '$*' failed with exit status $rc:" >&2
			tail -n 20 "$out/stderr.txt" >&2
			exit 1
		fi
		[ "$i" -eq 0 ] && continue # warm-up
		best=$(awk -v a="$t0" -v b="$t1" -v best="$best" \
			'BEGIN { t = b - a; if (best == "" || t < best) best = t; printf "%.6f", best }')
	done
	echo "$best"
}

read -r nfiles nbytes < <("$out/yaml_only" "$dags" | sed -n 's/^files=\([0-9]*\) bytes=\([0-9]*\).*/\1 \2/p')
dagfiles=$(find "$dags" -name 'dag_*.yml' | wc -l)

echo "bench: $dagfiles DAG files ($nfiles YAML files with the defaults.yml, $((nbytes / 1000000)) MB), best of $runs runs"
t_yaml=$(best_of "$out/yaml_only" "$dags")
t_check=$(best_of "$bin" check --format json "$dags")

"$bin" check --format json "$dags" >"$out/check.json" 2>/dev/null || true

python3 - "$out" "$dagfiles" "$nfiles" "$nbytes" "$t_yaml" "$t_check" "$seed" <<'PY'
import json, os, platform, sys
out, dagfiles, nfiles, nbytes, t_yaml, t_check, seed = sys.argv[1:]
dagfiles, nfiles, nbytes, seed = int(dagfiles), int(nfiles), int(nbytes), int(seed)
t_yaml, t_check = float(t_yaml), float(t_check)
summary = {}
try:
    summary = json.load(open(os.path.join(out, "check.json"))).get("summary", {})
except (OSError, ValueError):
    pass
os.unlink(os.path.join(out, "check.json"))
mb = nbytes / 1e6
rows = [
    ("libyaml events only", t_yaml, nfiles / t_yaml, mb / t_yaml),
    ("dagproc check --format json", t_check, dagfiles / t_check, mb / t_check),
]
print()
print("%-30s %10s %12s %10s" % ("", "seconds", "files/s", "MB/s"))
for name, t, fps, mbs in rows:
    print("%-30s %10.3f %12.0f %10.1f" % (name, t, fps, mbs))
ratio = t_check / t_yaml if t_yaml > 0 else float("inf")
print("%-30s %10.2fx   (target: within 3x of libyaml alone)" % ("ratio dagproc/libyaml", ratio))
print("libyaml: 1 thread; dagproc check: up to %d threads (%d CPUs)" % (min(os.cpu_count() or 1, 16), os.cpu_count() or 1))
if summary:
    print("dagproc found %s DAGs, %s tasks, %s errors, %s warnings" % (
        summary.get("dags"), summary.get("tasks"), summary.get("errors"), summary.get("warnings")))
res = {
    "files": dagfiles, "yaml_files": nfiles, "bytes": nbytes, "seed": seed,
    "libyaml": {"seconds": round(t_yaml, 6), "files_per_s": round(nfiles / t_yaml, 1),
                "mb_per_s": round(mb / t_yaml, 2)},
    "dagproc_check": {"seconds": round(t_check, 6), "files_per_s": round(dagfiles / t_check, 1),
                      "mb_per_s": round(mb / t_check, 2), "threads": min(os.cpu_count() or 1, 16),
                      "summary": summary},
    "ratio": round(ratio, 3),
    "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
}
with open(os.path.join(out, "results.json"), "w") as f:
    json.dump(res, f, indent=2)
    f.write("\n")
print("written to %s" % os.path.join(out, "results.json"))
PY
