#!/usr/bin/env bash
# Several processors on one database (PostgreSQL, MariaDB), lease_seconds = 5
# (issue 12): the work is divided (two processors over 300 files parse about
# half each); a processor paused with a write in flight cannot commit over the
# one that took its files (fencing); a killed processor's files are taken
# over; a clean stop hands its files over at once; a rolling restart of three
# processors never leaves a file out of the tables; a new file is claimed
# when every processor is at its share; a held file deleted, created again
# and changed is written. The tables are checked against the
# files with tests/db/invariants.py.
#
# usage: tests/db/scaleout_test.sh DAGPROC_BIN [pg|mariadb|all]
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
which=${2:-all}

. "$here/pg.sh"
. "$here/mariadb.sh"

work=$(mktemp -d /tmp/dagproc-scaleout.XXXXXX)
declare -A pids=() ports=()
lockpid=
editpid=
cleanup() {
	for n in "${!pids[@]}"; do
		kill -CONT "${pids[$n]}" 2>/dev/null
		kill -KILL "${pids[$n]}" 2>/dev/null && wait "${pids[$n]}" 2>/dev/null
	done
	[ -n "$lockpid" ] && kill "$lockpid" 2>/dev/null
	[ -n "$editpid" ] && kill "$editpid" 2>/dev/null
	pg_cleanup
	mariadb_cleanup
	[ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

LEASE=5
N=300
passed=0
failed=0
ok() {
	passed=$((passed + 1))
	echo "ok   $*"
}
bad() {
	failed=$((failed + 1))
	echo "FAIL $*"
	for l in "$work"/*.log; do
		[ -f "$l" ] && echo "---- $(basename "$l")" && tail -n 8 "$l"
	done
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# version V of file i: DAG dag_i whose command says which version it is
write_file() { # I V
	printf 'dag_%s:\n  tasks:\n    - {task_id: t, operator: airflow.providers.standard.operators.bash.BashOperator, bash_command: echo %s %s}\n' \
		"$1" "$1" "$2" >"$work/dags/f$1.yml.tmp"
	mv "$work/dags/f$1.yml.tmp" "$work/dags/f$1.yml"
}
all_files() { # V
	local i
	for i in $(seq -w 1 $N); do write_file "$i" "$1"; done
}

# each processor's sessions are told apart on the server: PostgreSQL by
# application_name, MariaDB by a user of its own
url_for() { # NAME
	if [ "$d" = pg ]; then
		echo "$url?application_name=dagproc_$1"
	else
		echo "mysql://proc_$1:pw-$1@127.0.0.1:$MY_PORT/$MY_DB"
	fi
}
in_flight() { # NAME: its write waits for a lock
	if [ "$d" = pg ]; then
		sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'dagproc_$1' AND wait_event_type = 'Lock'"
	else
		# behind the table lock, or behind another writer's row lock on sync_lock
		sql "SELECT count(*) FROM information_schema.processlist WHERE user = 'proc_$1' AND command = 'Query' AND info IS NOT NULL"
	fi
}

start() { # NAME: a processor with its own API port (for its /metrics)
	[ -n "${ports[$1]:-}" ] || ports[$1]=$(free_port)
	DAGPROC__DAG_PROCESSOR__INSTANCE_NAME=$1 DAGPROC__API__PORT=${ports[$1]} \
		DAGPROC__DAG_PROCESSOR__LEASE_SECONDS=$LEASE DAGPROC__DAG_PROCESSOR__PARSING_PROCESSES=1 \
		DAGPROC__DATABASE__RETRY_BACKOFF_MAX=1 DAGPROC__DATABASE__CONNECT_TIMEOUT=3 \
		"$bin" run --dags "$work/dags" ${EXTRA:+--dags "$EXTRA"} --db "$(url_for "$1")" \
		>>"$work/$1.log" 2>&1 &
	pids[$1]=$!
}
stop() { # NAME
	kill -TERM "${pids[$1]}" 2>/dev/null
	wait "${pids[$1]}" 2>/dev/null
	local rc=$?
	unset "pids[$1]"
	return $rc
}
parsed() { # NAME: files_parsed_total of its /metrics
	curl -s "http://127.0.0.1:${ports[$1]}/metrics" | awk '$1 == "dagproc_files_parsed_total" { print $2 }'
}

sql() { # one value
	if [ "$d" = pg ]; then pg_psql -At -c "$1"; else mariadb_sql -N -B "$MY_DB" -e "$1"; fi
}
wait_sql() { # SECONDS SQL EXPECTED
	local deadline=$((SECONDS + $1)) got
	while :; do
		got=$(sql "$2" 2>/dev/null)
		[ "$got" = "$3" ] && return 0
		[ "$SECONDS" -ge "$deadline" ] && {
			echo "     expected '$3', got '$got' for: $2"
			return 1
		}
		sleep 0.2
	done
}
check() { # LABEL WAIT
	local out
	if out=$(python3 "$here/invariants.py" "$bin" "$work/dags" "$d" --wait "$2" 2>&1); then
		ok "$d: $1 ($out)"
	else
		bad "$d: $1"
		echo "$out" | head -n 20
	fi
}
count_version() { # V: DAGs whose serialized command is version V
	sql "SELECT count(*) FROM serialized_dag WHERE data LIKE '%echo % $1\"%'"
}

# lock the DAG tables for SECONDS from another session (in the background)
lock_tables() {
	if [ "$d" = pg ]; then
		pg_psql -c "BEGIN; LOCK TABLE serialized_dag IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep($1); COMMIT;" \
			>/dev/null 2>&1 &
	else
		mariadb_sql "$MY_DB" -e "LOCK TABLES serialized_dag WRITE; SELECT SLEEP($1); UNLOCK TABLES;" \
			>/dev/null 2>&1 &
	fi
	lockpid=$!
}

# K leases held by NAME of files that do not exist
gone_rows() { # NAME K
	[ "$2" -gt 0 ] || return 0
	if [ "$d" = pg ]; then
		sql "INSERT INTO file_lease (bundle_name, relative_fileloc, owner, token, expires_at) SELECT 'dags-folder', 'gone/$1' || g || '.yml', '$1', 1, now() + interval '1 hour' FROM generate_series(1, $2) g" >/dev/null
	else
		sql "INSERT INTO file_lease (bundle_name, relative_fileloc, owner, token, expires_at) WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < $2) SELECT 'dags-folder', CONCAT('gone/$1', i, '.yml'), '$1', 1, NOW(6) + INTERVAL 1 HOUR FROM g" >/dev/null
	fi
}

scenario() { # DIALECT START URLVAR
	d=$1
	rm -rf "$work/dags" "$work"/*.log
	mkdir -p "$work/dags"
	$2 >&2 || { bad "$d: server did not start"; return; }
	url=${!3}
	"$bin" db migrate --db "$url" >/dev/null || { bad "$d: migrate"; return; }
	if [ "$d" = mariadb ]; then
		for n in a b c; do
			mariadb_sql -e "CREATE USER 'proc_$n'@'127.0.0.1' IDENTIFIED BY 'pw-$n'; GRANT ALL ON $MY_DB.* TO 'proc_$n'@'127.0.0.1'"
		done
	fi

	# 1. the work is divided: new files, with both processors alive (a
	# processor alone takes every file; one that starts a moment later finds
	# them parsed, which a loaded machine makes a race)
	ports=([a]=$(free_port) [b]=$(free_port) [c]=$(free_port))
	start a
	start b
	if wait_sql 30 "SELECT count(*) FROM dag_processor WHERE stopped_at IS NULL" 2; then
		ok "$d: a and b are alive"
	else
		bad "$d: a and b did not both record a heartbeat"
	fi
	all_files v1
	check "two processors converge on $N files" 60
	local pa pb
	pa=$(parsed a)
	pb=$(parsed b)
	if [ -n "$pa" ] && [ -n "$pb" ] && [ $((pa + pb)) -le $((N * 5 / 4)) ] &&
		[ "$pa" -ge $((N / 5)) ] && [ "$pb" -ge $((N / 5)) ]; then
		ok "$d: the files are divided: a parsed $pa, b parsed $pb (of $N)"
	else
		bad "$d: files parsed: a $pa, b $pb (of $N; at most $((N * 5 / 4)) together, each at least $((N / 5)))"
	fi
	local held
	held=$("$bin" processors --format json --db "$url" 2>/dev/null |
		python3 -c 'import json,sys; d=json.load(sys.stdin)["dag_processors"]; print(" ".join("%s=%d" % (p["instance_name"], p["files_held"]) for p in sorted(d, key=lambda p: p["instance_name"])))')
	[[ "$held" =~ ^a=[0-9]+\ b=[0-9]+$ ]] && ok "$d: dagproc processors lists a and b ($held)" ||
		bad "$d: dagproc processors: '$held'"

	# 2. fencing: a paused with a write in flight cannot commit over b
	lock_tables 6
	sleep 0.3
	all_files v2
	# a's write of v2 waits for the lock: pause a with it in flight
	local i flight=
	for i in $(seq 1 200); do
		[ "$(in_flight a)" -gt 0 ] 2>/dev/null && { flight=1; break; }
		sleep 0.05
	done
	kill -STOP "${pids[a]}"
	[ -n "$flight" ] && ok "$d: a paused while its write waits for the lock" ||
		bad "$d: a's write was never seen waiting for the lock"
	all_files v3
	local t0=$SECONDS
	if wait_sql $((2 * LEASE + 15)) "SELECT count(*) FROM serialized_dag WHERE data LIKE '%echo % v3\"%'" $N; then
		ok "$d: with a paused mid-write, b wrote the newest content of every file ($((SECONDS - t0)) s)"
	else
		bad "$d: b did not write the newest content while a was paused (v3: $(count_version v3))"
	fi
	wait "$lockpid" 2>/dev/null
	lockpid=
	kill -CONT "${pids[a]}"
	sleep 6
	[ "$(count_version v3)" = $N ] && ok "$d: a, resumed, wrote nothing older (6 s later every file is v3)" ||
		bad "$d: after a resumed: v3 $(count_version v3), v2 $(count_version v2)"
	if kill -0 "${pids[a]}" 2>/dev/null &&
		wait_sql $((4 * LEASE)) "SELECT count(*) > 0 FROM file_lease WHERE owner = 'a'" \
			"$([ "$d" = pg ] && echo t || echo 1)"; then
		ok "$d: a is alive and holds files again"
	else
		bad "$d: a after the pause"
	fi
	check "the tables hold what the files say after the pause" 20

	# 3. failover: b killed, 30 files change, a writes them
	kill -KILL "${pids[b]}"
	wait "${pids[b]}" 2>/dev/null
	unset "pids[b]"
	for i in $(seq 1 30); do write_file "$(printf %03d "$i")" v4; done
	t0=$SECONDS
	wait_sql $((2 * LEASE + 10)) "SELECT count(*) FROM serialized_dag WHERE data LIKE '%echo % v4\"%'" 30 &&
		ok "$d: b killed: a wrote the 30 changed files ($((SECONDS - t0)) s)" ||
		bad "$d: failover: $(count_version v4) of 30 written"

	# a clean stop hands the files over at once
	start b
	wait_sql $((4 * LEASE)) "SELECT count(*) > 0 FROM file_lease WHERE owner = 'b'" \
		"$([ "$d" = pg ] && echo t || echo 1)" || bad "$d: b takes no files after its restart"
	stop a || bad "$d: a's clean stop did not exit 0"
	t0=$(date +%s.%N)
	if wait_sql 10 "SELECT count(*) FROM file_lease WHERE owner = 'b'" $N; then
		local took
		took=$(python3 -c "import time; print('%.1f' % (time.time() - $t0))")
		python3 -c "import sys; sys.exit(0 if $took <= 2.0 else 1)" &&
			ok "$d: a clean stop of a hands its files to b within 2 s ($took s)" ||
			bad "$d: the handover took $took s"
	else
		bad "$d: b holds $(sql "SELECT count(*) FROM file_lease WHERE owner = 'b'") files after a stopped: $(sql "SELECT relative_fileloc FROM file_lease WHERE owner = 'b' AND relative_fileloc NOT LIKE 'f___.yml' LIMIT 5")"
	fi
	check "one processor left" 20

	# 4. a rolling restart of three processors while files change
	start a
	start c
	check "three processors" 30
	(
		v=5
		while :; do
			write_file "$(printf '%03d' $((RANDOM % N + 1)))" "v$v"
			v=$((v + 1))
			sleep 0.05
		done
	) &
	editpid=$!
	local missing=0 n last=
	for name in a b c; do
		stop "$name"
		start "$name"
		for i in $(seq 1 25); do # 5 s of samples while it restarts
			n=$(sql "SELECT count(*) FROM dag WHERE is_stale = $([ "$d" = pg ] && echo false || echo 0)")
			[ "$n" = $N ] || { missing=$((missing + 1)); last=$n; }
			sleep 0.2
		done
	done
	kill "$editpid"
	wait "$editpid" 2>/dev/null
	editpid=
	[ "$missing" = 0 ] && ok "$d: rolling restart of three processors: no DAG ever missing (75 samples)" ||
		bad "$d: rolling restart: $missing samples with a DAG missing (last: $last live DAGs)"
	check "converged after the rolling restart" 10
	for name in a b c; do stop "$name" || bad "$d: $name's clean stop"; done
	[ "$(sql "SELECT count(*) FROM file_lease WHERE owner IS NOT NULL")" = 0 ] &&
		ok "$d: every lease given up after the clean stops" ||
		bad "$d: leases left: $(sql "SELECT count(*) FROM file_lease WHERE owner IS NOT NULL")"

	# 5. a free file is somebody's even when every processor is at its
	# share: a and b each hold ceil((N + 1) / 2) leases, some of files that
	# are gone (rows no deletion removed yet), when file N + 1 comes. Each
	# refused it as over its share, for good (seen: model seed 395010).
	start a
	start b
	local ha=0 hb=0 want=$(((N + 2) / 2)) ka kb divided=
	for i in $(seq 1 150); do # the first takes them all, the sweep divides them
		ha=$(sql "SELECT count(*) FROM file_lease WHERE owner = 'a'")
		hb=$(sql "SELECT count(*) FROM file_lease WHERE owner = 'b'")
		[ $((ha + hb)) = $N ] && [ "$ha" -le "$want" ] && [ "$hb" -le "$want" ] && { divided=1; break; }
		sleep 0.2
	done
	if [ -n "$divided" ]; then
		ka=$((want > ha ? want - ha : 0))
		kb=$((want > hb ? want - hb : 0))
		gone_rows a "$ka"
		gone_rows b "$kb"
		write_file $((N + 1)) v1
		t0=$SECONDS
		if wait_sql $((4 * LEASE)) "SELECT count(*) FROM dag WHERE dag_id = 'dag_$((N + 1))'" 1; then
			ok "$d: with a and b at their share ($((ha + ka)) and $((hb + kb)) leases, $ka and $kb of gone files), file $((N + 1)) was written ($((SECONDS - t0)) s)"
		else
			bad "$d: file $((N + 1)) not written: a holds $((ha + ka)), b $((hb + kb)); its lease: $(sql "SELECT owner FROM file_lease WHERE relative_fileloc = 'f$((N + 1)).yml'")"
		fi
		rm -f "$work/dags/f$((N + 1)).yml"
	else
		bad "$d: a and b did not divide the $N files: a holds $ha, b $hb"
	fi
	stop a
	stop b

	# 6. a held file deleted and created again (its deletion's write removes
	# the lease, the next write makes a new one with token 1), then changed
	# before the next heartbeat: its parse under the old token was fenced
	# out as "changed hands", and the change never written (model seed
	# 400810). The lease is at token 2 or more after the takeovers above.
	LEASE=30 start a
	if wait_sql 30 "SELECT count(*) FROM file_lease WHERE owner = 'a'" $N; then
		rm -f "$work/dags/f001.yml"
		wait_sql 10 "SELECT count(*) FROM file_lease WHERE relative_fileloc = 'f001.yml'" 0 ||
			bad "$d: the deletion of f001.yml did not remove its lease"
		write_file 001 v6
		wait_sql 10 "SELECT count(*) FROM serialized_dag WHERE dag_id = 'dag_001' AND data LIKE '%echo 001 v6\"%'" 1 ||
			bad "$d: f001.yml created again was not written"
		write_file 001 v7
		t0=$SECONDS
		if wait_sql 15 "SELECT count(*) FROM serialized_dag WHERE dag_id = 'dag_001' AND data LIKE '%echo 001 v7\"%'" 1; then
			ok "$d: a file deleted, created again and changed while held is written ($((SECONDS - t0)) s)"
		else
			bad "$d: the change of f001.yml after its deletion and creation was not written in 15 s"
		fi
	else
		bad "$d: a alone did not take the $N files"
	fi
	stop a

	# 7. b also serves a second bundle: the share (files / live processors)
	# of each says a holds too many, but what a gives up comes back to it
	# (and b's to b: a takes no file of the other bundle). Files went back
	# and forth at every heartbeat, their tokens climbing; now each gives up
	# once, sees them come back, and stops until the live processors change.
	mkdir -p "$work/extra"
	for i in $(seq -w 1 100); do
		printf 'extra_%s:\n  tasks:\n    - {task_id: t, operator: airflow.providers.standard.operators.bash.BashOperator, bash_command: echo %s}\n' \
			"$i" "$i" >"$work/extra/e$i.yml"
	done
	start a
	EXTRA=$work/extra start b
	if wait_sql 30 "SELECT count(*) FROM dag WHERE dag_id LIKE 'extra%' AND NOT is_stale" 100; then
		sleep $((4 * LEASE))
		local t1 t2
		t1=$(sql "SELECT sum(token) FROM file_lease")
		sleep $((3 * LEASE))
		t2=$(sql "SELECT sum(token) FROM file_lease")
		[ "$t1" = "$t2" ] && ok "$d: processors of different bundles settle: no lease changed hands in $((3 * LEASE)) s" ||
			bad "$d: leases still change hands with b serving another bundle too (token sum $t1, then $t2)"
	else
		bad "$d: b did not write the second bundle"
	fi
	stop a
	stop b
	if [ "$d" = pg ]; then pg_cleanup; else mariadb_cleanup; fi
}

case $which in
pg | all) scenario pg pg_start PG_URL ;;
esac
case $which in
mariadb | all) scenario mariadb mariadb_start MY_URL ;;
esac
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
