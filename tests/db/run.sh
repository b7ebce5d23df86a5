#!/usr/bin/env bash
# Runs the store test suite (tests/db/test_store_db.c) against SQLite and throwaway
# PostgreSQL 15 / MariaDB 10.11 servers that this script starts in temp directories and
# restarts on the test program's request.
# usage: tests/db/run.sh [sqlite|pg|mariadb|all] [path/to/store_db_test]
# Without a binary it is compiled with gcc (ASan/UBSan) from the source tree.
# Env: DAGPROC_TEST_ONLY=name runs one test. The last line is "N passed, N failed" counting
# test cases over all dialects (a suite that crashes or can't start counts as one failure);
# exit status 0 only when every test passed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
which=${1:-all}
bin=${2:-}

. "$here/pg.sh"
. "$here/mariadb.sh"

results=$(mktemp /tmp/dagproc-dbresults.XXXXXX)
cleanup() {
	pg_cleanup
	mariadb_cleanup
	[ -n "${build_dir:-}" ] && rm -rf "$build_dir"
	rm -f "$results"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

store_src=
for f in store store_sqlite store_pg store_mysql schema pool retry timeouts; do
	store_src="$store_src $root/src/store/$f.c"
done
if [ -z "$bin" ]; then
	build_dir=$(mktemp -d /tmp/dagproc-dbtest.XXXXXX)
	bin=$build_dir/test_store_db
	gcc -std=gnu11 -D_GNU_SOURCE -g -O0 -fsanitize=address,undefined -fno-omit-frame-pointer \
		-Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
		-Wno-missing-field-initializers -I"$root/src" $(pkg-config --cflags libpq libmariadb) \
		-o "$bin" "$here/test_store_db.c" $store_src "$root/src/util/xalloc.c" \
		"$root/src/util/clock.c" "$root/src/config/dburl.c" "$root/src/log/log.c" \
		$(pkg-config --libs libpq libmariadb sqlite3) -lpthread -lm || exit 2
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export DAGPROC_TEST_RESULTS=$results
tests_passed=0
tests_failed=0

# account STATUS: adds the counts the program appended to $results; a nonzero status
# without a failed test (crash, sanitizer report) counts as one failure.
account() {
	local status=$1 line p=0 f=0
	line=$(tail -n 1 "$results" 2>/dev/null)
	: >"$results"
	if [ -n "$line" ]; then
		read -r p f <<<"$line"
	fi
	if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	tests_passed=$((tests_passed + p))
	tests_failed=$((tests_failed + f))
}

# run_suite START_FN STOP_FN RESTART_FN: runs the program as a coprocess and serves its
# control requests (RESTART, CRASH_RESTART, STOP, START) so servers stay our children.
run_suite() {
	local restart=$1 stop=$2 start=$3 req status
	coproc T { DAGPROC_TEST_CONTROL=1 "$bin"; }
	local tpid=$T_PID
	# Copies of the coprocess's descriptors: bash closes T's and unsets T as
	# soon as the program exits, which used to race with this loop (set -u:
	# "T[0]: unbound variable"). The copies stay open until EOF.
	local rfd wfd
	exec {rfd}<&"${T[0]}" {wfd}>&"${T[1]}"
	while IFS= read -r req <&"$rfd"; do
		case $req in
		RESTART) $restart >&2 && echo ok >&"$wfd" || echo fail >&"$wfd" ;;
		CRASH_RESTART) $restart immediate >&2 && echo ok >&"$wfd" || echo fail >&"$wfd" ;;
		STOP) $stop >&2 && echo ok >&"$wfd" || echo fail >&"$wfd" ;;
		START) $start >&2 && echo ok >&"$wfd" || echo fail >&"$wfd" ;;
		DONE) ;;
		*) echo "run.sh: unknown request '$req'" >&2; echo fail >&"$wfd" ;;
		esac
	done
	exec {rfd}<&- {wfd}>&-
	wait "$tpid"
	status=$?
	return $status
}

if [ "$which" = sqlite ] || [ "$which" = all ]; then
	DAGPROC_TEST_DIALECT=sqlite DAGPROC_TEST_SQLITE=/tmp/dagproc-store-$$.db "$bin" </dev/null
	account $?
	rm -f /tmp/dagproc-store-$$.db*
fi
if [ "$which" = pg ] || [ "$which" = all ]; then
	if pg_start; then
		export DAGPROC_TEST_DIALECT=pg DAGPROC_TEST_HOST=127.0.0.1 DAGPROC_TEST_PORT=$PG_PORT \
			DAGPROC_TEST_USER=$PG_USER DAGPROC_TEST_PASSWORD=$PG_PASSWORD \
			DAGPROC_TEST_DB=$PG_DB DAGPROC_TEST_ADMIN_USER=postgres \
			DAGPROC_TEST_ADMIN_PASSWORD=
		run_suite pg_restart pg_stop pg_start
		account $?
		pg_cleanup
	else
		echo "postgresql: could not start the server" >&2
		account 1
	fi
fi
if [ "$which" = mariadb ] || [ "$which" = mysql ] || [ "$which" = all ]; then
	if mariadb_start; then
		export DAGPROC_TEST_DIALECT=mysql DAGPROC_TEST_HOST=127.0.0.1 \
			DAGPROC_TEST_PORT=$MY_PORT DAGPROC_TEST_USER=$MY_USER \
			DAGPROC_TEST_PASSWORD=$MY_PASSWORD DAGPROC_TEST_DB=$MY_DB \
			DAGPROC_TEST_ADMIN_USER=root DAGPROC_TEST_ADMIN_PASSWORD=$MY_ADMIN_PASSWORD
		run_suite mariadb_restart mariadb_stop mariadb_start
		account $?
		mariadb_cleanup
	else
		echo "mariadb: could not start the server" >&2
		account 1
	fi
fi
echo "$tests_passed passed, $tests_failed failed"
[ "$tests_failed" -eq 0 ]
