#!/usr/bin/env bash
# The database refuses writes (issue 9): PostgreSQL made read-only
# (default_transaction_read_only and the sessions killed), MariaDB with
# read_only for a user without SUPER, the SQLite file made immutable. While it
# refuses, files change: nothing is dropped, the processor stays up, /readyz
# says why, /metrics counts it, `run --once` exits 3; once writable again the
# tables hold what the files say, without a restart.
#
# usage: tests/db/refusal_test.sh DAGPROC_BIN [sqlite|pg|mariadb|all]
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
which=${2:-all}

. "$here/pg.sh"
. "$here/mariadb.sh"

work=$(mktemp -d /tmp/dagproc-refuse.XXXXXX)
dpid=
immutable=
cleanup() {
	[ -n "$dpid" ] && kill -KILL "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
	[ -n "$immutable" ] && chattr -i "$immutable" 2>/dev/null
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
	[ -f "$work/log" ] && tail -n 15 "$work/log" | sed 's/^/     /'
}

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
http() { curl -s -o "$work/body" -w '%{http_code}' "http://127.0.0.1:$port$1" 2>/dev/null; }

dagfile() { # NAME ECHO
	cat >"$work/dags/$1.yml" <<EOF
$1:
  tasks:
    - task_id: t
      operator: airflow.providers.standard.operators.bash.BashOperator
      bash_command: echo $2
EOF
}

# q SQL: one value, whatever the backend
q() {
	case $backend in
	sqlite) sqlite3 "$work/db.sqlite" "$1" 2>/dev/null ;;
	pg) pg_psql -d "$PG_DB" -tA -c "$1" 2>/dev/null ;;
	mariadb) mariadb_sql -N -D "$MY_DB" -e "$1" 2>/dev/null ;;
	esac
}

# wait_q SECONDS SQL EXPECTED
wait_q() {
	local deadline=$((SECONDS + $1)) got
	while :; do
		got=$(q "$2")
		[ "$got" = "$3" ] && return 0
		[ "$SECONDS" -ge "$deadline" ] && {
			echo "     expected '$3', got '$got' for: $2"
			return 1
		}
		sleep 0.2
	done
}

start() {
	DAGPROC__API__PORT=$port DAGPROC__DATABASE__RETRY_BACKOFF_MAX=1 \
		DAGPROC__DATABASE__CONNECT_TIMEOUT=3 \
		"$bin" run --dags "$work/dags" --db "$url" >>"$work/log" 2>&1 &
	dpid=$!
}

refuse() {
	case $backend in
	sqlite)
		# the processor reopens the file after it is made immutable
		kill -TERM "$dpid" && wait "$dpid"
		dpid=
		chattr +i "$work/db.sqlite" && immutable=$work/db.sqlite
		;;
	pg)
		pg_psql -d postgres -c "ALTER DATABASE $PG_DB SET default_transaction_read_only = on" >/dev/null
		pg_psql -d postgres -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$PG_DB' AND pid <> pg_backend_pid()" >/dev/null
		;;
	mariadb) mariadb_sql -e "SET GLOBAL read_only = ON" ;;
	esac
}

allow() {
	case $backend in
	sqlite) chattr -i "$work/db.sqlite" && immutable= ;;
	pg)
		pg_psql -d postgres -c "ALTER DATABASE $PG_DB RESET default_transaction_read_only" >/dev/null
		pg_psql -d postgres -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$PG_DB' AND pid <> pg_backend_pid()" >/dev/null
		;;
	mariadb) mariadb_sql -e "SET GLOBAL read_only = OFF" ;;
	esac
}

run_backend() {
	backend=$1
	rm -rf "$work/dags" "$work/log"
	mkdir -p "$work/dags"
	case $backend in
	sqlite)
		url="sqlite:///$work/db.sqlite"
		rm -f "$work/db.sqlite"*
		# chattr needs a file system with immutable files (ext4, xfs, btrfs)
		touch "$work/probe" && chattr +i "$work/probe" 2>/dev/null && chattr -i "$work/probe" || {
			bad "sqlite: chattr +i does not work in $work: cannot make the database read-only"
			return
		}
		;;
	pg) pg_start || { bad "pg: server did not start"; return; }; url=$PG_URL ;;
	mariadb) mariadb_start || { bad "mariadb: server did not start"; return; }; url=$MY_URL ;;
	esac
	for i in 1 2 3 4; do dagfile "d$i" "v1"; done
	start
	wait_q 20 "SELECT count(*) FROM dag" 4 || { bad "$backend: first sync"; return; }

	refuse
	dagfile d1 v2
	dagfile d5 v1
	rm "$work/dags/d2.yml"
	[ -z "$dpid" ] && start
	local st='' i
	for i in $(seq 1 150); do
		st=$(http /readyz)
		[ "$st" = 503 ] && grep -q "database refuses writes" "$work/body" && break
		sleep 0.2
	done
	[ "$st" = 503 ] && grep -q "database refuses writes" "$work/body" &&
		ok "$backend: /readyz 503: $(cat "$work/body")" ||
		bad "$backend: /readyz while the database refuses writes: $st $(cat "$work/body" 2>/dev/null)"
	http /metrics >/dev/null
	grep -q '^dagproc_db_refuses_writes 1' "$work/body" &&
		grep -Eq '^dagproc_db_write_failures_total\{class="refused"\} [1-9]' "$work/body" &&
		ok "$backend: /metrics counts the refusals" ||
		bad "$backend: metrics: $(grep -E 'refus' "$work/body")"
	grep -q "database refuses writes: " "$work/log" &&
		[ "$(grep -c "database refuses writes: " "$work/log")" -le 2 ] &&
		ok "$backend: one log line for the refusal, not one per retry" ||
		bad "$backend: log lines: $(grep -c "database refuses writes" "$work/log")"
	kill -0 "$dpid" 2>/dev/null && ok "$backend: the processor stays up" ||
		bad "$backend: the processor exited"
	# nothing written meanwhile (the old rows stand)
	[ "$(q "SELECT count(*) FROM dag WHERE dag_id = 'd5'")" = 0 ] &&
		ok "$backend: nothing written while refused" || bad "$backend: d5 written while refused"
	# a --once pass exits 3 when it could not write (SQLite is for one
	# processor at a time: the daemon waits meanwhile)
	if [ "$backend" = sqlite ]; then
		kill -TERM "$dpid" && wait "$dpid"
		dpid=
	fi
	DAGPROC__DATABASE__ONCE_TIMEOUT=3 DAGPROC__API__ENABLED=false \
		DAGPROC__DATABASE__RETRY_BACKOFF_MAX=1 timeout 60 "$bin" run --once \
		--dags "$work/dags" --db "$url" >"$work/once.log" 2>&1
	local rc=$?
	[ "$rc" = 3 ] && ok "$backend: run --once exits 3 while the database refuses writes" ||
		bad "$backend: run --once gave $rc: $(tail -n 3 "$work/once.log")"
	[ -z "$dpid" ] && start

	allow
	wait_q 30 "SELECT count(*) FROM dag WHERE dag_id = 'd5' AND is_stale = false" 1 &&
		wait_q 10 "SELECT is_stale FROM dag WHERE dag_id = 'd2'" "$([ "$backend" = pg ] && echo t || echo 1)" &&
		wait_q 10 "SELECT count(*) FROM serialized_dag WHERE dag_id = 'd1' AND data LIKE '%echo v2%'" 1 &&
		ok "$backend: writable again: the tables hold what the files say, without a restart" ||
		bad "$backend: after the refusal: $(q 'SELECT dag_id, is_stale FROM dag')"
	for i in $(seq 1 50); do
		[ "$(http /readyz)" = 200 ] && break
		sleep 0.2
	done
	[ "$(http /readyz)" = 200 ] && ok "$backend: /readyz 200 again" ||
		bad "$backend: /readyz after: $(cat "$work/body")"
	kill -TERM "$dpid" && wait "$dpid"
	dpid=
	case $backend in
	pg) pg_cleanup ;;
	mariadb) mariadb_cleanup ;;
	esac
}

case $which in
all) for b in sqlite pg mariadb; do run_backend $b; done ;;
*) run_backend "$which" ;;
esac

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
