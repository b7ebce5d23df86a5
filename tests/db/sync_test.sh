#!/usr/bin/env bash
# The sync rules (tests/unit/test_sync.c) against real PostgreSQL 15 and MariaDB
# 10.11 servers started here in temporary directories; on SQLite the same
# program runs as a unit test.
# usage: tests/db/sync_test.sh path/to/test_sync [pg|mariadb|all]
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=$1
which=${2:-all}
. "$here/pg.sh"
. "$here/mariadb.sh"
trap 'pg_cleanup; mariadb_cleanup' EXIT
trap 'exit 130' INT TERM

passed=0
failed=0
run_against() { # NAME URL
	local out np nf
	out=$(CMOCKA_MESSAGE_OUTPUT=stdout DAGPROC_TEST_DB_URL=$2 timeout 120 "$bin" 2>&1)
	local rc=$?
	np=$(echo "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\..*/\1/p')
	nf=$(echo "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below.*/\1/p')
	np=${np:-0}
	nf=${nf:-0}
	if [ "$np" -eq 0 ] && [ "$nf" -eq 0 ] || { [ "$rc" -ne 0 ] && [ "$nf" -eq 0 ]; }; then
		nf=1
	fi
	passed=$((passed + np))
	failed=$((failed + nf))
	echo "$1: $np passed, $nf failed"
	[ "$nf" -eq 0 ] || echo "$out" | tail -n 40
}

case $which in
pg | all)
	if pg_start; then run_against postgresql "$PG_URL"; else
		echo "postgresql: server did not start"
		failed=$((failed + 1))
	fi
	pg_cleanup
	;;
esac
case $which in
mariadb | all)
	if mariadb_start; then run_against mariadb "$MY_URL"; else
		echo "mariadb: server did not start"
		failed=$((failed + 1))
	fi
	mariadb_cleanup
	;;
esac
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
