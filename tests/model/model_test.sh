#!/usr/bin/env bash
# The model-based test of issue 9 (tests/model/model.py): random bursts of file
# operations on a live `dagproc run`, processor crashes and database faults
# between bursts, the tables checked against `dagproc check` after each burst.
# This driver owns the database server (tests/db/pg.sh, tests/db/mariadb.sh)
# and carries out the faults model.py asks for on its stdout.
#
# usage: tests/model/model_test.sh DAGPROC_BIN sqlite|pg|mariadb [SEED...]
#   SEED=n             replays one seed (overrides the list)
#   MODEL_BURSTS=k     bursts per seed (default 6); MODEL_OPS=m ops per burst at most (12)
#   MODEL_SEEDS=n      with no SEED and no list: n seeds drawn from the time
#   MODEL_PROCESSORS=n processors sharing the database (PostgreSQL, MariaDB; default 1)
#   KEEP_WORK=1        keep every work folder (a failing one is always kept)
# Prints one line per seed ("ok   model seed ..." / "FAIL model seed ...") and
# "N passed, N failed".
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
backend=$2
shift 2
seeds=("$@")
[ -n "${SEED:-}" ] && seeds=("$SEED")
if [ "${#seeds[@]}" -eq 0 ]; then
	base=$(date +%s)
	for i in $(seq 1 "${MODEL_SEEDS:-3}"); do seeds+=($((base % 100000 + i))); done
fi

. "$here/../db/pg.sh"
. "$here/../db/mariadb.sh"
cleanup() {
	pg_cleanup
	mariadb_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT TERM

case $backend in
sqlite) url= ;;
pg) pg_start || { echo "FAIL model: PostgreSQL did not start"; echo "0 passed, 1 failed"; exit 1; }; url=$PG_URL ;;
mariadb) mariadb_start || { echo "FAIL model: MariaDB did not start"; echo "0 passed, 1 failed"; exit 1; }; url=$MY_URL ;;
*) echo "usage: $0 DAGPROC_BIN sqlite|pg|mariadb [SEED...]" >&2; exit 2 ;;
esac

fault() { # KIND
	case $backend:$1 in
	pg:kill) pg_psql -d postgres -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$PG_DB' AND pid <> pg_backend_pid()" >/dev/null ;;
	pg:restart) pg_restart immediate ;;
	mariadb:kill)
		mariadb_sql -N -e "SELECT id FROM information_schema.processlist WHERE user = '$MY_USER'" |
			while read -r id; do mariadb_sql -e "KILL $id" 2>/dev/null; done
		;;
	mariadb:restart) mariadb_restart immediate ;;
	esac
}

passed=0
failed=0
for seed in "${seeds[@]}"; do
	args=(--bin "$bin" --backend "$backend" --seed "$seed" --bursts "${MODEL_BURSTS:-6}" --ops "${MODEL_OPS:-12}"
		--processors "${MODEL_PROCESSORS:-1}")
	[ -n "$url" ] && args+=(--url "$url")
	[ -n "${KEEP_WORK:-}" ] && args+=(--keep)
	# model.py's stdout asks for faults; its stderr is the report
	coproc MODEL { python3 "$here/model.py" "${args[@]}"; }
	model_pid=$MODEL_PID
	exec {from}<&"${MODEL[0]}" {to}>&"${MODEL[1]}"
	while IFS= read -r line <&"$from"; do
		case $line in
		"FAULT "*)
			fault "${line#FAULT }" >&2
			echo OK >&"$to"
			;;
		esac
	done
	wait "$model_pid"
	rc=$?
	exec {from}<&- {to}>&-
	if [ "$rc" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
