#!/usr/bin/env bash
# A silent network partition (issue 10): `dagproc run` reaches PostgreSQL 15 and MariaDB
# 10.11 (tests/db/pg.sh, mariadb.sh) through the test's own TCP proxy on loopback
# (tests/db/tcp_proxy.py), which then stops forwarding without closing anything: no
# reset, no answer. The processor must report the database unreachable within 90 s
# (with the timeouts lowered here, within about 15 s: they derive from connect_timeout
# and statement_timeout), keep running, and write what changed meanwhile once the proxy
# forwards again, without a restart.
#
# usage: tests/db/partition_test.sh DAGPROC_BIN [pg|mariadb|all]
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
which=${2:-all}
# shellcheck disable=SC2046
unset $(compgen -e | grep '^DAGPROC_') 2>/dev/null || true

. "$here/pg.sh"
. "$here/mariadb.sh"

work=$(mktemp -d /tmp/dagproc-partition.XXXXXX)
dpid=
ppid_=
cleanup() {
	[ -n "$dpid" ] && kill -KILL "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
	[ -n "$ppid_" ] && kill -TERM "$ppid_" 2>/dev/null && wait "$ppid_" 2>/dev/null
	pg_cleanup
	mariadb_cleanup
	[ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() {
	failed=$((failed + 1))
	echo "FAIL $*"
	[ -f "$work/daemon.log" ] && tail -n 20 "$work/daemon.log" | sed 's/^/  /'
}

dag() { # DIR NAME
	cat >"$1/$2.yml" <<YML
$2:
  tasks:
    - task_id: only
      operator: airflow.providers.standard.operators.empty.EmptyOperator
YML
}

count() { # DIALECT DAG_ID: live rows of that DAG, read directly (not through the proxy)
	if [ "$1" = pg ]; then
		pg_psql -At -c "SELECT count(*) FROM dag WHERE dag_id = '$2' AND NOT is_stale" 2>/dev/null
	else
		mariadb_sql -N -B "$MY_DB" -e "SELECT count(*) FROM dag WHERE dag_id = '$2' AND NOT is_stale" 2>/dev/null
	fi
}

wait_rows() { # DIALECT DAG_ID SECONDS
	local end=$((SECONDS + $3))
	while [ "$SECONDS" -lt "$end" ]; do
		[ "$(count "$1" "$2")" = 1 ] && return 0
		sleep 0.2
	done
	return 1
}

scenario() { # DIALECT START PORTVAR URL_TEMPLATE(with PORT)
	local dialect=$1 start=$2
	rm -rf "$work/dags" && mkdir -p "$work/dags"
	local i
	for i in 1 2 3; do dag "$work/dags" "early_$i"; done
	$start >&2 || { bad "$dialect: server did not start"; return; }
	local sport=${!3}
	: >"$work/proxy.port"
	python3 "$here/tcp_proxy.py" 127.0.0.1 "$sport" >"$work/proxy.port" &
	ppid_=$!
	local n=0
	while [ ! -s "$work/proxy.port" ] && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
	local pport
	pport=$(cat "$work/proxy.port")
	local url=${4//PORT/$pport}
	: >"$work/daemon.log"
	DAGPROC__DATABASE__CONNECT_TIMEOUT=2 DAGPROC__DATABASE__STATEMENT_TIMEOUT=3 \
		DAGPROC__DATABASE__RETRY_BACKOFF_MAX=2 DAGPROC__DATABASE__POOL_TIMEOUT=5 \
		DAGPROC__DAG_PROCESSOR__PARSING_PROCESSES=1 DAGPROC__API__ENABLED=false \
		"$bin" run --dags "$work/dags" --db "$url" >>"$work/daemon.log" 2>&1 &
	dpid=$!
	if wait_rows "$dialect" early_3 60; then
		ok "$dialect: first sync through the proxy"
	else
		bad "$dialect: first sync through the proxy"
		return
	fi

	# the partition: the proxy stops forwarding, sockets stay open
	kill -USR1 "$ppid_"
	local t0=$SECONDS
	dag "$work/dags" late_dag
	local end=$((SECONDS + 90)) seen=
	while [ "$SECONDS" -lt "$end" ]; do
		if grep -q "database unreachable" "$work/daemon.log"; then
			seen=$((SECONDS - t0))
			break
		fi
		kill -0 "$dpid" 2>/dev/null || break
		sleep 0.2
	done
	if [ -n "$seen" ]; then
		ok "$dialect: 'database unreachable' reported ${seen} s into the partition ($(grep -m1 'database unreachable' "$work/daemon.log" | cut -c1-160))"
	else
		bad "$dialect: no 'database unreachable' within 90 s of the partition"
	fi
	[ "$(count "$dialect" late_dag)" = 0 ] && ok "$dialect: nothing written during the partition" ||
		bad "$dialect: late_dag written through a stopped proxy?"

	# the network heals: what is pending gets written, by the same process
	kill -USR2 "$ppid_"
	if wait_rows "$dialect" late_dag 60; then
		ok "$dialect: the pending file is written once the proxy forwards again"
	else
		bad "$dialect: late_dag not written after the partition"
	fi
	if kill -0 "$dpid" 2>/dev/null; then
		ok "$dialect: the same processor, no restart"
	else
		bad "$dialect: the processor exited"
	fi
	kill -TERM "$dpid"
	wait "$dpid"
	local rc=$?
	dpid=
	[ "$rc" -eq 0 ] && ok "$dialect: SIGTERM after the partition: status 0" ||
		bad "$dialect: SIGTERM gave status $rc"
	if grep -q -- "$PG_PASSWORD" "$work/daemon.log" || grep -q -- "$MY_PASSWORD" "$work/daemon.log"; then
		bad "$dialect: the password appears in the log"
	fi
	kill -TERM "$ppid_" 2>/dev/null
	wait "$ppid_" 2>/dev/null
	ppid_=
}

case $which in
pg | all)
	scenario pg pg_start PG_PORT "postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:PORT/$PG_DB"
	pg_cleanup
	;;
esac
case $which in
mariadb | all)
	scenario mariadb mariadb_start MY_PORT "mysql://$MY_USER:$MY_PASSWORD@127.0.0.1:PORT/$MY_DB"
	mariadb_cleanup
	;;
esac

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
