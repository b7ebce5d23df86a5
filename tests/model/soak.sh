#!/usr/bin/env bash
# `make soak`: the model-based test (tests/model/model_test.sh) for a while on
# each backend, with seeds drawn from the clock and longer bursts than in
# `make check`. Prints each seed's line and, per backend, the seeds run and
# failed. A failure names its seed; SEED=n tests/model/model_test.sh BIN BACKEND
# replays it.
#
# usage: tests/model/soak.sh DAGPROC_BIN [MINUTES_PER_BACKEND]   (default 5)
#   SOAK_BACKENDS ("sqlite pg mariadb"), MODEL_BURSTS (12), MODEL_OPS (20)
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=$1
minutes=${2:-5}
export MODEL_BURSTS=${MODEL_BURSTS:-12} MODEL_OPS=${MODEL_OPS:-20}
total_failed=0
summary=()
for backend in ${SOAK_BACKENDS:-sqlite pg mariadb pg2}; do
	# pg2: two processors sharing PostgreSQL
	export MODEL_PROCESSORS=1
	[ "$backend" = pg2 ] && { backend=pg; export MODEL_PROCESSORS=2; }
	end=$(python3 -c "import time; print(int(time.time() + $minutes * 60))")
	seeds=()
	seed=$(($(date +%s) % 1000000))
	# a batch of seeds per server start; batches until the time is up
	runs=0 fails=0
	while [ "$(date +%s)" -lt "$end" ]; do
		batch=()
		for i in 1 2 3 4; do batch+=($((seed + i))); done
		seed=$((seed + 4))
		out=$(bash "$here/model_test.sh" "$bin" "$backend" "${batch[@]}" 2>&1)
		echo "$out" | grep -E '^(ok|FAIL) |^     |replay'
		line=$(echo "$out" | tail -n 1)
		runs=$((runs + $(echo "$line" | awk '{print $1 + $3}')))
		fails=$((fails + $(echo "$line" | awk '{print $3}')))
	done
	summary+=("$backend ($MODEL_PROCESSORS processor(s)): $runs seeds of $MODEL_BURSTS bursts (up to $MODEL_OPS operations each), $fails failed")
	total_failed=$((total_failed + fails))
done
echo
printf '%s\n' "${summary[@]}"
[ "$total_failed" -eq 0 ]
