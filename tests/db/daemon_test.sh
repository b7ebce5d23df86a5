#!/usr/bin/env bash
# The processor against real PostgreSQL 15 and MariaDB 10.11 servers, with the
# faults of Airflow's issue 59166 report: 90 DAG files (15 with an import error,
# 5 with a non-existent pool), a small pool, a server with max_connections=20
# restarted three times and all sessions killed twice while files are fixed,
# broken, deleted and added. The processor must never exit, and within 5 s of
# the last fault the tables must hold exactly what the files say (SPEC §3
# invariants 1-4, checked by tests/db/invariants.py with the servers' own
# clients). Also: started with the server down for 10 s; a table locked by
# another session for longer than the statement timeout.
#
# usage: tests/db/daemon_test.sh DAGPROC_BIN [pg|mariadb|all]
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
which=${2:-all}

. "$here/pg.sh"
. "$here/mariadb.sh"

work=$(mktemp -d /tmp/dagproc-daemon.XXXXXX)
dpid=
cleanup() {
	[ -n "$dpid" ] && kill -KILL "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
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
	if [ -f "$work/daemon.log" ]; then
		echo "---- daemon log (last 30 lines) ----"
		tail -n 30 "$work/daemon.log"
		echo "----"
	fi
}

# gen DIR: 90 files of one DAG each; 15 import errors (E011), 5 unknown pools (W001)
gen() {
	python3 - "$1" <<'PY'
import os, sys
d = sys.argv[1]
os.makedirs(d, exist_ok=True)
for i in range(90):
    op = "airflow.providers.standard.operators.bash.BashOperator"
    if i < 15:
        op = "airflow.operators.nonexistent.NoSuchOperator"
    pool = "\n      pool: no_such_pool" if 15 <= i < 20 else ""
    with open(os.path.join(d, f"dag_{i:03d}.yml"), "w") as f:
        f.write(f"""dag_{i:03d}:
  schedule: "@daily"
  tasks:
    - task_id: extract
      operator: {op}
      bash_command: echo extract {i}{pool}
    - task_id: load
      operator: airflow.providers.standard.operators.bash.BashOperator
      bash_command: echo load {i}
      dependencies: [extract]
""")
PY
}

# mutate DIR N: fix one broken file, break one good one, delete one, add one
mutate() {
	local d=$1 n=$2
	local fix break del
	fix=$(printf '%s/dag_%03d.yml' "$d" "$n")
	break=$(printf '%s/dag_%03d.yml' "$d" $((40 + n)))
	del=$(printf '%s/dag_%03d.yml' "$d" $((60 + n)))
	[ -f "$fix" ] && sed -i 's/airflow.operators.nonexistent.NoSuchOperator/airflow.providers.standard.operators.bash.BashOperator/' "$fix"
	[ -f "$break" ] && sed -i 's/dependencies: \[extract\]/dependencies: [extrakt]/' "$break"
	rm -f "$del"
	cat >"$(printf '%s/new_%03d.yml' "$d" "$n")" <<EOF
new_$n:
  tasks:
    - task_id: only
      operator: airflow.providers.standard.operators.empty.EmptyOperator
EOF
}

alive() {
	kill -0 "$dpid" 2>/dev/null
}

start_daemon() { # URL
	: >"$work/daemon.log"
	DAGPROC__DATABASE__POOL_SIZE=2 DAGPROC__DATABASE__MAX_OVERFLOW=3 \
		DAGPROC__DATABASE__POOL_TIMEOUT=10 DAGPROC__DATABASE__RETRY_BACKOFF_MAX=2 \
		DAGPROC__DATABASE__STATEMENT_TIMEOUT=3 DAGPROC__DATABASE__CONNECT_TIMEOUT=2 \
		DAGPROC__DAG_PROCESSOR__PARSING_PROCESSES=2 DAGPROC__API__ENABLED=false \
		"$bin" run --dags "$work/dags" --db "$1" >>"$work/daemon.log" 2>&1 &
	dpid=$!
}

stop_daemon() { # NAME
	kill -TERM "$dpid"
	wait "$dpid"
	local rc=$?
	dpid=
	[ "$rc" -eq 0 ] && ok "$1: SIGTERM stops the processor with status 0" ||
		bad "$1: SIGTERM gave status $rc"
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

kill_sessions() { # DIALECT
	if [ "$1" = pg ]; then
		pg_psql -At -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
			WHERE usename = '$PG_USER' AND pid <> pg_backend_pid()" >/dev/null
	else
		local ids
		ids=$(mariadb_sql -N -B -e "SELECT id FROM information_schema.processlist \
			WHERE user = '$MY_USER'")
		for id in $ids; do
			mariadb_sql -e "KILL $id" 2>/dev/null
		done
	fi
}

scenario() { # DIALECT START STOP URLVAR
	local dialect=$1 start=$2 stop=$3
	rm -rf "$work/dags"
	gen "$work/dags"
	$start >&2 || { bad "$dialect: server did not start"; return; }
	local url=${!4}

	# the report's sequence: restarts and killed sessions while files change
	start_daemon "$url"
	check "$dialect: initial sync of 90 files" "$dialect" 60
	local i
	for i in 1 2 3; do
		mutate "$work/dags" "$i"
		$stop >&2
		sleep 2
		mutate "$work/dags" $((i + 10))
		sleep 1
		$start >&2 || bad "$dialect: restart $i"
		alive || bad "$dialect: processor exited during restart $i"
	done
	for i in 1 2; do
		mutate "$work/dags" $((i + 20))
		kill_sessions "$dialect"
		sleep 1
		alive || bad "$dialect: processor exited after killed sessions ($i)"
	done
	alive && ok "$dialect: processor alive through 3 restarts and 2 session kills" ||
		bad "$dialect: processor died"
	check "$dialect: converged within 5 s of the last fault" "$dialect" 5
	local downs
	downs=$(grep -c "database unreachable" "$work/daemon.log")
	if [ "$downs" -ge 1 ] && [ "$downs" -le 10 ]; then
		ok "$dialect: one log line per outage ($downs), not one per retry"
	else
		bad "$dialect: $downs 'database unreachable' lines"
	fi
	if grep -q -- "${PG_PASSWORD}" "$work/daemon.log" || grep -q -- "${MY_PASSWORD}" "$work/daemon.log"; then
		bad "$dialect: the password appears in the log"
	else
		ok "$dialect: no password in the log"
	fi
	cp "$work/daemon.log" "$work/daemon-$dialect-faults.log"
	stop_daemon "$dialect"

	# started while the server is down for 10 s
	$stop >&2
	mutate "$work/dags" 30
	start_daemon "$url"
	sleep 10
	alive && ok "$dialect: processor waits while the server is down at start" ||
		bad "$dialect: processor exited with the server down"
	$start >&2
	check "$dialect: converged after a late server start" "$dialect" 10

	# a table locked by another session for longer than the statement timeout
	mutate "$work/dags" 31
	if [ "$dialect" = pg ]; then
		pg_psql -c "BEGIN; LOCK TABLE import_error IN ACCESS EXCLUSIVE MODE; \
			SELECT pg_sleep(7); COMMIT;" >/dev/null 2>&1 &
	else
		mariadb_sql "$MY_DB" -e "LOCK TABLES import_error WRITE; SELECT SLEEP(7); \
			UNLOCK TABLES;" >/dev/null 2>&1 &
	fi
	local locker=$!
	sleep 0.5
	mutate "$work/dags" 32
	wait "$locker"
	alive && ok "$dialect: processor alive through a 7 s table lock" ||
		bad "$dialect: processor exited during the lock"
	check "$dialect: converged within 5 s of the lock's release" "$dialect" 5
	stop_daemon "$dialect (after the lock)"
	$stop >&2
}

case $which in
pg | all) PG_MAX_CONNECTIONS=20 scenario pg pg_start pg_stop PG_URL ;;
esac
case $which in
mariadb | all) MY_MAX_CONNECTIONS=20 scenario mariadb mariadb_start mariadb_stop MY_URL ;;
esac

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
