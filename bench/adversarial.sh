#!/usr/bin/env bash
# `make bench`, the adversarial table (issue 13): `dagproc check` on each file
# of bench/gen_adversarial.py, in text and in JSON, with its wall time and peak
# RSS (/usr/bin/time). A run over ADV_TIMEOUT seconds is cut and shown as such.
#
#   bench/adversarial.sh     BENCH_BIN (build/dagproc), ADV_TIMEOUT (60), ADV_SCALE (1)
#
# Prints a table and merges "adversarial" into build/bench/results.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BENCH_BIN:-build/dagproc}
limit=${ADV_TIMEOUT:-60}
scale=${ADV_SCALE:-1}
out=build/bench/adversarial
[ -x "$bin" ] || { echo "adversarial: $bin is not built" >&2; exit 2; }
stamp="$out/.generated-scale$scale"
if [ ! -f "$stamp" ] || [ bench/gen_adversarial.py -nt "$stamp" ]; then
	rm -rf "$out"
	python3 bench/gen_adversarial.py "$out" --scale "$scale" >/dev/null
	touch "$stamp"
fi
res=$(mktemp)
trap 'rm -f "$res"' EXIT
printf '%-16s %8s | %10s %10s | %10s %10s\n' file MB "text s" "text MiB" "json s" "json MiB"
for f in "$out"/*.yml; do
	name=$(basename "$f" .yml)
	mb=$(awk -v b="$(stat -c %s "$f")" 'BEGIN { printf "%.2f", b / 1e6 }')
	row="$name $mb"
	for fmt in text json; do
		t0=$(date +%s.%N)
		set +e
		/usr/bin/time -f '%M' -o "$res" timeout "$limit" "$bin" check --format "$fmt" "$f" \
			>/dev/null 2>&1
		rc=$?
		set -e
		t1=$(date +%s.%N)
		kb=$(tail -n 1 "$res" 2>/dev/null | grep -E '^[0-9]+$' || echo 0)
		if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
			secs=">$limit"
		elif [ "$rc" -gt 1 ]; then
			secs="exit$rc"
		else
			secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
		fi
		row="$row $secs $((kb / 1024))"
	done
	echo "$row" >>"$res.rows"
	# shellcheck disable=SC2086
	printf '%-16s %8s | %10s %10s | %10s %10s\n' $row
done
python3 - "$res.rows" <<'PY'
import json, os, sys
rows = {}
for line in open(sys.argv[1]):
    name, mb, ts, tm, js, jm = line.split()
    rows[name] = {"mb": float(mb), "text_s": ts, "text_mib": int(tm), "json_s": js, "json_mib": int(jm)}
os.unlink(sys.argv[1])
path = "build/bench/results.json"
data = {}
try:
    data = json.load(open(path))
except (OSError, ValueError):
    pass
data["adversarial"] = rows
json.dump(data, open(path, "w"), indent=2)
print("written to %s (\"adversarial\")" % path)
PY
