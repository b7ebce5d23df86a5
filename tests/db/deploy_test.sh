#!/usr/bin/env bash
# Running it for real (issue 14): `dagproc healthcheck` and systemd's
# notification protocol, with the HTTP API disabled, on PostgreSQL 15
# (tests/db/pg.sh) so that the database can go away and come back.
#
# - healthcheck --live: 0 while the processor runs, 1 within a few seconds of
#   a SIGSTOP (the main loop's heartbeat in the status file goes stale), 0
#   again after SIGCONT; it stays 0 while the database is down (an outage
#   must not get the processor restarted); 1 with "no status file" after a
#   clean stop.
# - healthcheck --ready follows the database: 0, then 1 naming the database
#   once the server is stopped, 0 again once it is back.
# - $NOTIFY_SOCKET, a datagram socket of the test: READY=1 once, WATCHDOG=1
#   at the rate WATCHDOG_USEC asks (half of it), STATUS= lines that change
#   when the database goes down and back, STOPPING=1 on SIGTERM.
#
# usage: tests/db/deploy_test.sh DAGPROC_BIN
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
# shellcheck disable=SC2046
unset $(compgen -e | grep '^DAGPROC_') 2>/dev/null || true
unset NOTIFY_SOCKET WATCHDOG_USEC WATCHDOG_PID RUNTIME_DIRECTORY

. "$here/pg.sh"

work=$(mktemp -d /tmp/dagproc-deploy.XXXXXX)
dpid=
lpid=
cleanup() {
	[ -n "$dpid" ] && kill -CONT "$dpid" 2>/dev/null
	[ -n "$dpid" ] && kill -KILL "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
	[ -n "$lpid" ] && kill "$lpid" 2>/dev/null
	pg_cleanup
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
	tail -n 8 "$work/daemon.log" | sed 's/^/  /'
}

export DAGPROC__API__ENABLED=false
export DAGPROC__DAG_PROCESSOR__STATUS_FILE=$work/status
export DAGPROC__DATABASE__RETRY_BACKOFF_MAX=1 DAGPROC__DATABASE__CONNECT_TIMEOUT=2
export DAGPROC__DAG_PROCESSOR__LEASE_SECONDS=6

hc() { # ARGS...: healthcheck's status in $hrc, its line in $hout
	hout=$("$bin" healthcheck "$@" 2>&1)
	hrc=$?
}
# wait_hc SECONDS WANT ARGS...: until healthcheck ARGS exits WANT
wait_hc() {
	local end=$((SECONDS + $1)) want=$2
	shift 2
	while :; do
		hc "$@"
		[ "$hrc" = "$want" ] && return 0
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.2
	done
}

mkdir -p "$work/dags"
for i in 1 2 3; do
	printf 'deploy_%s:\n  tasks:\n    - task_id: t\n      operator: airflow.providers.standard.operators.empty.EmptyOperator\n' \
		"$i" >"$work/dags/d$i.yml"
done
pg_start >&2 || {
	echo "FAIL PostgreSQL did not start"
	exit 1
}

# the notification socket: every datagram as "seconds-since-start message"
python3 -u - "$work/notify.sock" >"$work/notify.log" 2>&1 <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
t0 = time.monotonic()
while True:
    msg = s.recv(4096).decode("utf-8", "replace")
    for line in msg.split("\n"):
        print("%.3f %s" % (time.monotonic() - t0, line))
PY
lpid=$!
for _ in $(seq 1 50); do [ -S "$work/notify.sock" ] && break; sleep 0.1; done

hc --live
[ "$hrc" = 1 ] && [[ "$hout" == "not live: no status file"* ]] &&
	ok "healthcheck --live before any processor: 1 ($hout)" ||
	bad "healthcheck --live before any processor: $hrc: $hout"

NOTIFY_SOCKET=$work/notify.sock WATCHDOG_USEC=2000000 \
	"$bin" run --dags "$work/dags" --db "$PG_URL" >"$work/daemon.log" 2>&1 &
dpid=$!
if wait_hc 30 0 --ready --db "$PG_URL"; then
	ok "healthcheck --ready: 0 once the first pass is written ($hout)"
else
	bad "healthcheck --ready never 0: $hout"
fi
hc --live
[ "$hrc" = 0 ] && [[ "$hout" == "live: main loop heartbeat"* ]] &&
	ok "healthcheck --live: 0 ($hout)" || bad "healthcheck --live: $hrc: $hout"

# READY=1 once; WATCHDOG=1 every second (WATCHDOG_USEC 2 s)
grep -c ' READY=1$' "$work/notify.log" | grep -qx 1 &&
	ok "READY=1 sent once" || bad "READY=1: $(grep -c ' READY=1$' "$work/notify.log") times"
w0=$(grep -c ' WATCHDOG=1$' "$work/notify.log")
sleep 5
w1=$(grep -c ' WATCHDOG=1$' "$work/notify.log")
if [ $((w1 - w0)) -ge 3 ] && [ $((w1 - w0)) -le 7 ]; then
	ok "WATCHDOG=1: $((w1 - w0)) in 5 s (WATCHDOG_USEC = 2 s: one a second)"
else
	bad "WATCHDOG=1: $((w1 - w0)) in 5 s, expected about 5"
fi
grep -q ' STATUS=3 DAG files, in sync$' "$work/notify.log" &&
	ok "STATUS=3 DAG files, in sync" || bad "no 'STATUS=3 DAG files, in sync': $(grep STATUS= "$work/notify.log" | tail -n 3)"

# the database goes away: not ready, still live; STATUS= says so
pg_stop
if wait_hc 20 1 --ready --db "$PG_URL" && [[ "$hout" == "not ready: database unreachable"* ]]; then
	ok "database stopped: healthcheck --ready 1 (${hout:0:90}...)"
else
	bad "database stopped: healthcheck --ready $hrc: $hout"
fi
# the processor sees the outage itself (its lease heartbeat, every 2 s), and
# a new file waits for its claim
printf 'deploy_4:\n  tasks:\n    - task_id: t\n      operator: airflow.providers.standard.operators.empty.EmptyOperator\n' >"$work/dags/d4.yml"
end=$((SECONDS + 20))
while [ "$SECONDS" -lt "$end" ] && ! grep -q ' STATUS=.*database unreachable' "$work/notify.log"; do sleep 0.2; done
grep -q ' STATUS=4 DAG files, database unreachable for [0-9]* s: connection to server' "$work/notify.log" &&
	ok "STATUS= while the database is down: $(grep ' STATUS=.*unreachable' "$work/notify.log" | tail -n 1 | cut -d' ' -f2- | cut -c1-70)..." ||
	bad "no STATUS= with '4 DAG files, database unreachable for N s: connection to server...': $(grep STATUS= "$work/notify.log" | tail -n 2)"
hc --live
[ "$hrc" = 0 ] && ok "database down: healthcheck --live still 0 (an outage is no reason to restart)" ||
	bad "database down: healthcheck --live $hrc: $hout"

pg_start >&2 || bad "PostgreSQL did not restart"
if wait_hc 30 0 --ready --db "$PG_URL"; then
	ok "database back: healthcheck --ready 0 ($hout)"
else
	bad "database back: healthcheck --ready $hrc: $hout"
fi
end=$((SECONDS + 10))
while [ "$SECONDS" -lt "$end" ] &&
	! grep ' STATUS=' "$work/notify.log" | tail -n 1 | grep -q 'STATUS=4 DAG files, in sync$'; do
	sleep 0.2
done
grep ' STATUS=' "$work/notify.log" | tail -n 1 | grep -q 'STATUS=4 DAG files, in sync$' &&
	ok "STATUS= back to '4 DAG files, in sync'" ||
	bad "last STATUS=: $(grep ' STATUS=' "$work/notify.log" | tail -n 1)"

# SIGSTOP: the heartbeat goes stale
kill -STOP "$dpid"
t0=$SECONDS
if wait_hc 20 1 --live; then
	ok "SIGSTOP: healthcheck --live 1 after $((SECONDS - t0)) s ($hout)"
else
	bad "SIGSTOP: healthcheck --live still $hrc after 20 s: $hout"
fi
kill -CONT "$dpid"
wait_hc 10 0 --live && ok "SIGCONT: healthcheck --live 0 again" || bad "SIGCONT: $hout"

# a clean stop: STOPPING=1, and no status file left
kill -TERM "$dpid"
wait "$dpid"
rc=$?
dpid=
[ "$rc" = 0 ] && grep -q ' STOPPING=1$' "$work/notify.log" &&
	ok "SIGTERM: STOPPING=1, status 0" || bad "SIGTERM: status $rc, STOPPING=1 $(grep -c STOPPING=1 "$work/notify.log") times"
hc --live
[ "$hrc" = 1 ] && [[ "$hout" == "not live: no status file"* ]] &&
	ok "after the stop: healthcheck --live 1 ($hout)" || bad "after the stop: $hrc: $hout"

# a second processor that cannot start (another holds the SQLite database)
# leaves the running one's status file alone
"$bin" run --dags "$work/dags" --db "sqlite:///$work/one.db" >"$work/one.log" 2>&1 &
dpid=$!
wait_hc 30 0 --live || bad "SQLite processor: not live: $hout"
"$bin" run --dags "$work/dags" --db "sqlite:///$work/one.db" >"$work/two.log" 2>&1
rc=$?
hc --live
if [ "$rc" = 2 ] && [ "$hrc" = 0 ]; then
	ok "a second processor on the same SQLite file exits 2 and leaves the first one's status file ($hout)"
else
	bad "second processor: status $rc ($(tail -n 1 "$work/two.log")); then healthcheck --live $hrc: $hout"
fi
kill -TERM "$dpid"
wait "$dpid"
dpid=

# usage errors
hc --max-age soon
[ "$hrc" = 2 ] && ok "healthcheck --max-age soon: status 2" || bad "--max-age soon: $hrc $hout"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
