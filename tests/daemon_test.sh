#!/usr/bin/env bash
# `dagproc run` on SQLite, black-box: --once, file watching, a hanging parse and
# a killed worker (E004), deleted files, SIGHUP with a broken configuration,
# SIGTERM, a second signal. The database is read with the sqlite3 client.
# usage: tests/daemon_test.sh DAGPROC_BIN
set -u
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/dagproc-dtest.XXXXXX)
dpid=
cleanup() {
	[ -n "$dpid" ] && kill -KILL "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

passed=0
failed=0
ok() {
	passed=$((passed + 1))
	echo "ok   $*"
}
bad() {
	failed=$((failed + 1))
	echo "FAIL $*"
	[ -f "$work/log" ] && tail -n 20 "$work/log" | sed 's/^/     /'
}

db=$work/dagproc.db
q() { sqlite3 "$db" "$1" 2>/dev/null; }

# wait_for SECONDS SQL EXPECTED: polls until the query gives EXPECTED
wait_for() {
	local deadline=$((SECONDS + $1)) got
	while :; do
		got=$(q "$2")
		[ "$got" = "$3" ] && return 0
		[ "$SECONDS" -ge "$deadline" ] && {
			echo "     expected '$3', got '$got' for: $2"
			return 1
		}
		sleep 0.1
	done
}

# wait_log PATTERN: polls the log (at most 5 s) until grep finds PATTERN
wait_log() {
	local i
	for i in $(seq 1 100); do
		grep -q "$1" "$work/log" && return 0
		sleep 0.05
	done
	return 1
}

mkdir -p "$work/dags"
good() {
	cat >"$work/dags/$1.yml" <<EOF
$1:
  schedule: "@daily"
  tasks:
    - task_id: t
      operator: airflow.providers.standard.operators.bash.BashOperator
      bash_command: echo ${2:-1}
EOF
}
good alpha
good beta
good hang
good victim

cd "$work" || exit 2
export DAGPROC__API__ENABLED=false

# --once: everything parsed and written, exit 0
"$bin" run --once --dags "$work/dags" --db "sqlite:///$db" >"$work/log" 2>&1
rc=$?
[ "$rc" -eq 0 ] && ok "--once exits 0" || bad "--once exit status $rc"
[ "$(q 'SELECT count(*) FROM dag WHERE is_stale = 0')" = 4 ] && ok "--once wrote 4 DAGs" ||
	bad "--once DAG rows: $(q 'SELECT dag_id FROM dag')"

# a restart over unchanged files parses nothing and writes nothing; a change
# of a defaults.yml or of an environment variable a file uses is a change
cat >"$work/dags/envy.yml" <<'EOF'
envy:
  tasks:
    - task_id: t
      operator: airflow.providers.standard.operators.bash.BashOperator
      bash_command: echo ${DAGPROC_TEST_GREETING}
EOF
DAGPROC_TEST_GREETING=hello "$bin" run --once --dags "$work/dags" --db "sqlite:///$db" >"$work/log" 2>&1
DAGPROC_TEST_GREETING=hello "$bin" run --once --dags "$work/dags" --db "sqlite:///$db" >"$work/log" 2>&1
grep -q "stopping: 0 files parsed, 5 not parsed (unchanged since the last run), 0 written.*(0 writes)" "$work/log" &&
	ok "a restart over unchanged files parses and writes nothing" ||
	bad "unchanged restart: $(grep stopping "$work/log")"
printf 'default_args:\n  owner: team_x\n' >"$work/dags/defaults.yml"
DAGPROC_TEST_GREETING=bonjour "$bin" run --once --dags "$work/dags" --db "sqlite:///$db" >"$work/log" 2>&1
grep -q "stopping: 5 files parsed, 0 not parsed" "$work/log" &&
	[ "$(q "SELECT owners FROM dag WHERE dag_id = 'alpha'")" = team_x ] &&
	[ "$(q "SELECT count(*) FROM serialized_dag WHERE dag_id = 'envy' AND data LIKE '%echo bonjour%'")" = 1 ] &&
	ok "a changed defaults.yml or environment variable makes files parse again" ||
	bad "after defaults/env change: $(grep stopping "$work/log")"
rm -f "$work/dags/defaults.yml" "$work/dags/envy.yml"

# --once with an unreachable database: exit 3 within once_timeout
DAGPROC__DATABASE__ONCE_TIMEOUT=2 DAGPROC__DATABASE__CONNECT_TIMEOUT=1 \
	timeout 20 "$bin" run --once --dags "$work/dags" --db "postgresql://u:p@127.0.0.1:1/x" \
	>"$work/log" 2>&1
rc=$?
[ "$rc" -eq 3 ] && ok "--once with the database unreachable exits 3" || bad "--once gave $rc"

# --once with the database up and a parse longer than once_timeout (it ends by
# dag_file_processor_timeout): the pass finishes, exit 0. It used to exit 3 at
# once_timeout, saying the database could not be reached (with no error).
mkdir -p "$work/once"
for n in a b hang; do
	printf '%s:\n  tasks:\n    - {task_id: t, operator: airflow.providers.standard.operators.bash.BashOperator, bash_command: echo}\n' \
		"once_$n" >"$work/once/$n.yml"
done
DAGPROC_TEST_WORKER_HOOK=sleep:once/hang DAGPROC__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT=3 \
	DAGPROC__DATABASE__ONCE_TIMEOUT=1 \
	timeout 30 "$bin" run --once --dags "$work/once" --db "sqlite:///$work/once.db" >"$work/log" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && [ "$(sqlite3 "$work/once.db" "SELECT count(*) FROM import_error WHERE filename = 'hang.yml' AND stacktrace LIKE '%E004%'")" = 1 ]; then
	ok "--once: a parse longer than once_timeout ends by its own timeout, exit 0"
else
	bad "--once with a 3 s parse and once_timeout = 1 gave $rc"
fi

# the daemon: a parse that hangs and a worker killed by SIGKILL both give E004
# (with the API on: /readyz must not say ready while the first pass is unwritten)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
readyz() { curl -s -o "$work/readyz" -w '%{http_code}' "http://127.0.0.1:$port/readyz" 2>/dev/null; }
DAGPROC_TEST_WORKER_HOOK=sleep:victim,sleep:hang \
	DAGPROC__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT=3 \
	DAGPROC__DAG_PROCESSOR__PARSING_PROCESSES=2 \
	DAGPROC__DAG_PROCESSOR__STALE_DAG_THRESHOLD=2 \
	DAGPROC__API__ENABLED=true DAGPROC__API__PORT=$port \
	"$bin" run --dags "$work/dags" --db "sqlite:///$db" >"$work/log" 2>&1 &
dpid=$!
# while a worker sleeps on hang.yml (the rest of the bundle written meanwhile),
# readiness says the first sync is not over
wait_log "sleeps on $work/dags/hang.yml"
seen=
for i in $(seq 1 40); do
	st=$(readyz)
	[ "$st" = 200 ] && break
	[ "$st" = 503 ] && grep -q "first sync in progress" "$work/readyz" && seen=1
	[ -n "$seen" ] && [ "$(q "SELECT count(*) FROM dag WHERE dag_id = 'alpha'")" = 1 ] && break
	sleep 0.05
done
[ -n "$seen" ] && [ "$st" = 503 ] &&
	ok "/readyz is 503 'first sync in progress' while a file of the first pass is unparsed" ||
	bad "/readyz during the first pass: $st $(cat "$work/readyz" 2>/dev/null)"
if wait_for 15 "SELECT count(*) FROM import_error WHERE filename = 'hang.yml' AND stacktrace LIKE '%error[E004]: parse timed out%'" 1; then
	ok "a hanging parse is E004 after dag_file_processor_timeout"
else
	bad "no E004 for the hanging parse"
fi
for i in $(seq 1 100); do
	[ "$(readyz)" = 200 ] && break
	sleep 0.05
done
[ "$(readyz)" = 200 ] && ok "/readyz is 200 once the first pass is written" ||
	bad "/readyz after the first pass: $(cat "$work/readyz")"
# the victim hangs too; kill the worker that holds it before the timeout can
# (the sleep hook logs "worker pid N sleeps on PATH")
sleeps_on_victim() { grep -c "sleeps on $work/dags/victim.yml" "$work/log"; }
before=$(sleeps_on_victim)
good victim 2
w=
for i in $(seq 1 100); do
	if [ "$(sleeps_on_victim)" -gt "$before" ]; then
		w=$(grep "sleeps on $work/dags/victim.yml" "$work/log" | tail -n 1 |
			sed 's/.*worker pid \([0-9]*\) sleeps.*/\1/')
		break
	fi
	sleep 0.05
done
if [ -n "$w" ]; then kill -KILL "$w" 2>/dev/null; else echo "     no worker said it sleeps on victim.yml"; fi
if wait_for 10 "SELECT count(*) FROM import_error WHERE filename = 'victim.yml' AND stacktrace LIKE '%error[E004]: worker died: killed by signal 9%'" 1; then
	ok "a worker killed with SIGKILL gives E004"
else
	bad "no E004 for the killed worker"
fi
kill -0 "$dpid" 2>/dev/null && ok "the processor goes on after worker deaths" ||
	bad "the processor exited"

# watching: a change reaches the database at once (well before any rescan)
good alpha 42
wait_for 5 "SELECT count(*) FROM serialized_dag WHERE dag_id = 'alpha' AND data LIKE '%echo 42%'" 1 &&
	ok "a changed file is rewritten within seconds (inotify)" || bad "the change did not arrive"
cat >"$work/dags/beta.yml" <<EOF
beta:
  tasks:
    - task_id: t
      operator: airflow.providers.standard.operators.bash.BashOperator
      bash_command: echo
      dependencies: [nope]
EOF
wait_for 5 "SELECT has_import_errors || ':' || is_stale FROM dag WHERE dag_id = 'beta'" "1:0" &&
	ok "a broken file keeps its DAG row, flagged with errors" || bad "beta not flagged"
rm "$work/dags/alpha.yml"
wait_for 5 "SELECT is_stale FROM dag WHERE dag_id = 'alpha'" 1 &&
	ok "a deleted file's DAG is stale at once" || bad "alpha not stale"
good gamma
wait_for 5 "SELECT count(*) FROM dag WHERE dag_id = 'gamma' AND is_stale = 0" 1 &&
	ok "a new file is picked up" || bad "gamma not recorded"

# rows of files the processor never saw (written by another processor, or a
# restored backup) are found by the check of stale_dag_threshold (2 s here)
q "INSERT INTO dag (dag_id, bundle_name, fileloc, relative_fileloc, is_stale)
	VALUES ('ghost', 'dags-folder', '$work/dags/ghost.yml', 'ghost.yml', 0);
	INSERT INTO import_error (timestamp, filename, bundle_name, stacktrace)
	VALUES ('2026-01-01T00:00:00Z', 'orphan.yml', 'dags-folder', 'x')"
wait_for 8 "SELECT (SELECT is_stale FROM dag WHERE dag_id = 'ghost') || ':' ||
	(SELECT count(*) FROM import_error WHERE filename = 'orphan.yml')" "1:0" &&
	[ "$(q "SELECT count(*) FROM dag WHERE dag_id IN ('gamma', 'beta') AND is_stale = 0")" = 2 ] &&
	grep -q "bundle dags-folder: 2 files recorded in the database are gone" "$work/log" &&
	ok "the stale DAG check marks the DAGs of files that are not there, and only those" ||
	bad "ghost/orphan rows: $(q "SELECT dag_id, is_stale FROM dag")"

# SIGHUP: a setting that needs a restart is named, and keeps its old value
printf '[core]\npools = default_pool, etl\n[logging]\nlevel = info\n' >"$work/dagproc.cfg"
kill -HUP "$dpid"
wait_log "configuration reloaded"
grep -q "these settings need a restart and keep their old values: \[core\] pools$" "$work/log" &&
	ok "SIGHUP names the settings that need a restart" ||
	bad "SIGHUP with a changed pool list: $(grep -i reload "$work/log")"

# SIGHUP with a broken configuration keeps the old one
echo "[database]" >"$work/dagproc.cfg"
echo "pool_sise = 3" >>"$work/dagproc.cfg"
kill -HUP "$dpid"
wait_log "configuration reload failed"
if grep -q "configuration reload failed: .*pool_sise" "$work/log" && kill -0 "$dpid" 2>/dev/null; then
	ok "SIGHUP with a bad configuration keeps the old one, with a logged reason"
else
	bad "SIGHUP handling"
fi
rm -f "$work/dagproc.cfg"

# SQLite is for one processor: a second one on the same database stops at
# start, naming the running one (a lock on the database, not a pid file)
wait_for 10 "SELECT count(*) > 0 FROM dag_processor" 1 >/dev/null
"$bin" run --once --dags "$work/dags" --db "sqlite:///$db" >"$work/second.log" 2>&1
rc=$?
[ "$rc" = 2 ] && grep -q "another dagproc processor is running on the SQLite database $db: .*(host .*, pid $dpid)" "$work/second.log" &&
	ok "a second processor on the same SQLite database exits 2 naming the first" ||
	bad "second processor: exit $rc: $(cat "$work/second.log")"

# SIGTERM: exit 0
kill -TERM "$dpid"
wait "$dpid"
rc=$?
dpid=
[ "$rc" -eq 0 ] && ok "SIGTERM exits 0" || bad "SIGTERM gave $rc"

# a restart finds what changed while it was down
good delta
rm -f "$work/dags/gamma.yml"
"$bin" run --once --dags "$work/dags" --db "sqlite:///$db" >"$work/log" 2>&1
[ "$(q "SELECT is_stale FROM dag WHERE dag_id = 'gamma'")" = 1 ] &&
	[ "$(q "SELECT is_stale FROM dag WHERE dag_id = 'delta'")" = 0 ] &&
	ok "files deleted and added while the processor was down are seen at start" ||
	bad "gamma/delta after a restart: $(q 'SELECT dag_id, is_stale FROM dag')"

# a second signal exits at once, even with a write stuck behind a lock
"$bin" run --dags "$work/dags" --db "sqlite:///$db" >"$work/log" 2>&1 &
dpid=$!
sleep 0.5
kill -TERM "$dpid"
kill -TERM "$dpid" 2>/dev/null
t0=$SECONDS
wait "$dpid"
dpid=
[ $((SECONDS - t0)) -le 2 ] && ok "two signals stop the processor at once" ||
	bad "the second signal took $((SECONDS - t0)) s"

# the stale check with watching off: a DAG file on disk that this processor's
# scan has not met yet (another processor wrote its rows) is left alone; rows
# of a file that is not there are marked
# (the threshold comes down from 50 s to 1 s by SIGHUP, which applies it at once)
DAGPROC__DAG_PROCESSOR__WATCH=false DAGPROC__DAG_PROCESSOR__REFRESH_INTERVAL=3600 \
	"$bin" run --dags "$work/dags" --db "sqlite:///$db" >"$work/log" 2>&1 &
dpid=$!
wait_log "found [0-9]* DAG files" # the first scan is over: newbie.yml comes after it
printf '[dag_processor]\nstale_dag_threshold = 1\n' >"$work/dagproc.cfg"
kill -HUP "$dpid"
wait_log "configuration reloaded"
rm -f "$work/dagproc.cfg"
good newbie
q "INSERT INTO dag (dag_id, bundle_name, fileloc, relative_fileloc, is_stale)
	VALUES ('newbie', 'dags-folder', '$work/dags/newbie.yml', 'newbie.yml', 0),
	       ('ghost2', 'dags-folder', '$work/dags/ghost2.yml', 'ghost2.yml', 0)"
wait_for 8 "SELECT is_stale FROM dag WHERE dag_id = 'ghost2'" 1 &&
	sleep 2.5 && # more checks, with newbie.yml seconds old
	[ "$(q "SELECT is_stale FROM dag WHERE dag_id = 'newbie'")" = 0 ] &&
	ok "the stale DAG check (threshold lowered by SIGHUP) leaves a DAG file the scan has not met yet alone" ||
	bad "newbie/ghost2: $(q "SELECT dag_id, is_stale FROM dag WHERE dag_id IN ('newbie', 'ghost2')")"
kill -TERM "$dpid"
wait "$dpid"
dpid=

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
