#!/usr/bin/env bash
# Two processors on one database (PostgreSQL, MariaDB): a file is written only
# by the processor that holds its lease; when that processor is killed, its
# leases expire and the other one takes its files over; a clean stop gives the
# leases up. The tables must hold exactly what the files say throughout
# (tests/db/invariants.py).
#
# usage: tests/db/scaleout_test.sh DAGPROC_BIN [pg|mariadb|all]
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
which=${2:-all}

. "$here/pg.sh"
. "$here/mariadb.sh"

work=$(mktemp -d /tmp/dagproc-scaleout.XXXXXX)
pa=
pb=
cleanup() {
	for x in $pa $pb; do kill -KILL "$x" 2>/dev/null && wait "$x" 2>/dev/null; done
	pg_cleanup
	mariadb_cleanup
	[ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

passed=0
failed=0
ok() {
	passed=$((passed + 1))
	echo "ok   $*"
}
bad() {
	failed=$((failed + 1))
	echo "FAIL $*"
	for l in "$work"/a.log "$work"/b.log; do
		[ -f "$l" ] && echo "---- $(basename "$l")" && tail -n 15 "$l"
	done
}

gen() {
	mkdir -p "$1"
	for i in $(seq -w 1 40); do
		cat >"$1/f$i.yml" <<EOF
dag_$i:
  tasks:
    - task_id: t
      operator: airflow.providers.standard.operators.bash.BashOperator
      bash_command: echo $i
EOF
	done
}

start() { # NAME URL
	DAGPROC__DAG_PROCESSOR__INSTANCE_NAME=$1 DAGPROC__API__ENABLED=false \
		DAGPROC__DATABASE__RETRY_BACKOFF_MAX=2 DAGPROC__DAG_PROCESSOR__PARSING_PROCESSES=1 \
		"$bin" run --dags "$work/dags" --db "$2" >>"$work/$1.log" 2>&1 &
}

check() { # NAME DIALECT WAIT
	local out
	if out=$(python3 "$here/invariants.py" "$bin" "$work/dags" "$2" --wait "$3" 2>&1); then
		ok "$1 ($out)"
	else
		bad "$1"
		echo "$out"
	fi
}

sql() { # DIALECT SQL: one value
	if [ "$1" = pg ]; then
		pg_psql -At -c "$2"
	else
		mariadb_sql -N -B "$MY_DB" -e "$2"
	fi
}

scenario() { # DIALECT START STOP URLVAR
	local d=$1 start_fn=$2 stop_fn=$3
	rm -rf "$work/dags" "$work"/*.log
	gen "$work/dags"
	$start_fn >&2 || { bad "$d: server did not start"; return; }
	local url=${!4}
	start a "$url"
	pa=$!
	sleep 1
	start b "$url"
	pb=$!
	check "$d: two processors converge on 40 files" "$d" 30
	local n owners
	n=$(sql "$d" "SELECT count(*) FROM file_lease")
	owners=$(sql "$d" "SELECT count(DISTINCT owner) FROM file_lease WHERE owner NOT IN ('a', 'b')")
	[ "$n" = 40 ] && [ "$owners" = 0 ] &&
		ok "$d: every written file has one lease, held by a or b" ||
		bad "$d: leases: $n rows, $owners other owners"

	# edits while both run: whoever holds a file writes it
	for i in 01 02 03 04 05; do sed -i "s/echo $i/echo changed $i/" "$work/dags/f$i.yml"; done
	check "$d: edits with two processors running" "$d" 5

	# kill the holder of f01 without a chance to give its leases up
	local holder
	holder=$(sql "$d" "SELECT owner FROM file_lease WHERE relative_fileloc = 'f01.yml'")
	if [ "$holder" = a ]; then
		kill -KILL "$pa"
		wait "$pa" 2>/dev/null
		pa=
		survivor=b
	else
		kill -KILL "$pb"
		wait "$pb" 2>/dev/null
		pb=
		survivor=a
	fi
	for i in 01 02 03; do sed -i "s/echo changed $i/echo again $i/" "$work/dags/f$i.yml"; done
	rm -f "$work/dags/f04.yml"
	# the leases last 30 s, the survivor looks every 10 s
	check "$d: the survivor ($survivor) takes the killed processor's files over" "$d" 60
	grep -q "is gone: [0-9]* of its files are free" "$work/$survivor.log" &&
		ok "$d: the takeover is logged" || bad "$d: no takeover line in $survivor.log"

	# a clean stop gives the leases up
	local pid=${pa:-$pb}
	kill -TERM "$pid"
	wait "$pid"
	local rc=$?
	pa=
	pb=
	n=$(sql "$d" "SELECT count(*) FROM file_lease WHERE owner = '$survivor'")
	[ "$rc" -eq 0 ] && [ "$n" = 0 ] && ok "$d: a clean stop exits 0 and gives its leases up" ||
		bad "$d: stop status $rc, $n leases left"
	$stop_fn >&2
}

case $which in
pg | all) scenario pg pg_start pg_stop PG_URL ;;
esac
case $which in
mariadb | all) scenario mariadb mariadb_start mariadb_stop MY_URL ;;
esac
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
