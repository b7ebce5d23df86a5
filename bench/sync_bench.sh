#!/usr/bin/env bash
# `make bench`, second part: dagproc with a database, on the same generated
# 10,000 files as bench/run.sh (build/bench/dags).
#
#   bench/sync_bench.sh     BENCH_FILES (10000), BENCH_SEED (1), BENCH_BIN,
#                           BENCH_EDITS (200), BENCH_RECOVERY_FILES (1000),
#                           BENCH_RECOVERY_RUNS (3),
#                           BENCH_BIG_FILES (100000; 0 skips the big RSS run),
#                           BENCH_BACKENDS ("sqlite pg mariadb")
#
# For each backend, on a fresh copy of the files and a fresh database (servers
# started as the tests start them, tests/db/pg.sh and tests/db/mariadb.sh):
#   1. full initial sync: `dagproc run --once`, wall time and the statement
#      counts of its last log line (SQLite: best of 2, after a run for peak
#      RSS with a sampler beside it);
#   2. resync with no change: `dagproc run --once` again on the same database;
#   3. (SQLite, PostgreSQL) change-to-database latency: the daemon runs with
#      watch on; BENCH_EDITS files are edited one after the other and the
#      database polled (bench/sync_probe.py) until the DAG's dag_hash changes;
#   4. (PostgreSQL) recovery: the server is stopped, BENCH_RECOVERY_FILES files
#      edited and parsed, the server started; the time from its first accepted
#      connection to the last of those results committed, retry_backoff_max = 2
#      (BENCH_RECOVERY_RUNS times: the figure depends on where the backoff is);
#   5. the server's own bulk load of the same rows: the six tables dagproc wrote
#      (dag, serialized_dag, dag_tag, import_error, dag_warning, parse_stat) are
#      dumped after step 1, truncated, and loaded back in one transaction
#      (PostgreSQL \copy, MariaDB LOAD DATA LOCAL INFILE, sqlite3 .import).
# Then peak RSS of `dagproc run --once` on SQLite at 10,000 files (from step 1)
# and at BENCH_BIG_FILES files (generated once into build/bench/dags-big).
# Every other figure is measured once (the budget of `make bench` is ~15 minutes on
# 2 cores). Prints a table and merges "sync" into build/bench/results.json.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

files=${BENCH_FILES:-10000}
seed=${BENCH_SEED:-1}
edits=${BENCH_EDITS:-200}
recfiles=${BENCH_RECOVERY_FILES:-1000}
recruns=${BENCH_RECOVERY_RUNS:-3}
bigfiles=${BENCH_BIG_FILES:-100000}
backends=${BENCH_BACKENDS:-sqlite pg mariadb}
bin=${BENCH_BIN:-build/dagproc}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
out=$root/build/bench
dags=$out/dags
probe="python3 $root/bench/sync_probe.py"

[ -x "$bin" ] || { echo "sync_bench: $bin is not built (run make bench)" >&2; exit 2; }
mkdir -p "$out"
stamp="$dags/.generated-seed$seed-files$files"
if [ ! -f "$stamp" ] || [ bench/gen_dags.py -nt "$stamp" ]; then
	python3 bench/gen_dags.py --files "$files" --seed "$seed" --out "$dags"
	touch "$stamp"
fi

. tests/db/pg.sh
. tests/db/mariadb.sh
work=$(mktemp -d /tmp/dagproc-syncbench.XXXXXX)
res=$work/res # one file per figure: res/KEY holds the value
mkdir -p "$res"
logs=$out/sync-logs # every dagproc log of the last run, kept for inspection
rm -rf "$logs"
mkdir -p "$logs"
dpid=
cleanup() {
	if [ -n "$dpid" ]; then kill -KILL "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null; fi
	pg_cleanup >/dev/null 2>&1
	mariadb_cleanup >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
put() { printf '%s' "$2" >"$res/$1"; }
say() { printf '  %s\n' "$*" >&2; }

export DAGPROC__API__ENABLED=false

# once NAME URL [wrapper...]: dagproc run --once on $work/dags; records
# NAME.seconds, NAME.statements, NAME.writes, NAME.parsed, NAME.written.
once() {
	local name=$1 url=$2 t0 t1 rc last
	shift 2
	t0=$(now)
	set +e
	# the CPU time of dagproc and its workers (children waited for), not
	# the database server's
	/usr/bin/time -f '%U %S' -o "$work/$name.cpu" \
		"$@" "$bin" run --once --dags "$work/dags" --db "$url" >"$work/$name.log" 2>&1
	rc=$?
	set -e
	t1=$(now)
	if [ "$rc" -ne 0 ]; then
		echo "sync_bench: $name: dagproc run --once exited with $rc" >&2
		tail -n 20 "$work/$name.log" >&2
		exit 1
	fi
	cp "$work/$name.log" "$logs/"
	last=$(grep 'stopping:' "$work/$name.log" | tail -n 1)
	put "$name.seconds" "$(sub "$t0" "$t1")"
	put "$name.cpu" "$(awk 'NF == 2 && $1 ~ /^[0-9.]+$/ { printf "%.3f", $1 + $2 }' "$work/$name.cpu")"
	put "$name.parsed" "$(sed -n 's/.*stopping: \([0-9]*\) files parsed.*/\1/p' <<<"$last")"
	put "$name.written" "$(sed -n 's/.* \([0-9]*\) written.*/\1/p' <<<"$last")"
	put "$name.statements" "$(sed -n 's/.* \([0-9]*\) statements.*/\1/p' <<<"$last")"
	put "$name.writes" "$(sed -n 's/.*(\([0-9]*\) writes).*/\1/p' <<<"$last")"
	say "$name: $(cat "$res/$name.seconds") s; ${last#*stopping: }"
}

fresh_copy() {
	rm -rf "$work/dags"
	cp -r "$dags" "$work/dags"
	rm -f "$work/dags"/.generated-*
}

# daemon_start URL: the daemon with watch on (debug log: one line per parsed
# file), waits until it has parsed every file once.
daemon_start() { # URL BACKEND
	local url=$1 n i t0
	t0=$(now)
	DAGPROC__LOGGING__LEVEL=debug DAGPROC__DAG_PROCESSOR__WATCH=true \
		DAGPROC__DATABASE__RETRY_BACKOFF_MAX=2 \
		"$bin" run --dags "$work/dags" --db "$url" >"$work/daemon.log" 2>&1 &
	dpid=$!
	for i in $(seq 1 1200); do
		n=$(grep -c 'parsed in\|import error' "$work/daemon.log" || true)
		[ "$n" -ge "$files" ] && break
		kill -0 "$dpid" 2>/dev/null || { echo "sync_bench: the daemon exited" >&2; tail "$work/daemon.log" >&2; exit 1; }
		sleep 0.1
	done
	# then until the writer has drained the startup pass (it can lag the
	# parsing by seconds): the log has not grown for 1 s and ends idle
	local size=-1 cur
	for i in $(seq 1 600); do
		cur=$(stat -c %s "$work/daemon.log")
		if [ "$cur" = "$size" ] && tail -n 1 "$work/daemon.log" | grep -q -- '-> idle'; then
			break
		fi
		size=$cur
		sleep 1
	done
	put "$2.daemon_startup_seconds" "$(sub "$t0" "$(now)")"
}

daemon_stop() { # BACKEND
	kill -TERM "$dpid" 2>/dev/null
	wait "$dpid" 2>/dev/null || true
	dpid=
	cp "$work/daemon.log" "$logs/daemon.$1.log"
}

latency() { # BACKEND URL
	say "$1: change-to-database latency over $edits edits (daemon, watch on)"
	$probe latency --db "$2" --dags "$work/dags" --edits "$edits" --out "$work/lat.$1.json" >/dev/null
	put "$1.latency" "$(cat "$work/lat.$1.json")"
	say "$1: $(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); d.pop('samples_ms', None); print(json.dumps(d))" "$work/lat.$1.json")"
}

TABLES="dag serialized_dag dag_tag import_error dag_warning parse_stat"

counts() { # BACKEND: row counts of the six tables, one line
	local t
	for t in $TABLES; do
		case $1 in
		sqlite) sqlite3 "$work/sqlite.db" "SELECT count(*) FROM $t" ;;
		pg) pg_psql -At -c "SELECT count(*) FROM $t" ;;
		mariadb) mariadb_sql -N -B "$MY_DB" -e "SELECT count(*) FROM $t" ;;
		esac
	done | paste -sd' '
}

dump() { # BACKEND: the six tables to files in $work/rows.BACKEND
	local t d=$work/rows.$1
	rm -rf "$d"
	mkdir -p "$d"
	put "$1.rows" "$(counts "$1")"
	for t in $TABLES; do
		case $1 in
		sqlite) sqlite3 -csv "$work/sqlite.db" "SELECT * FROM $t" >"$d/$t.csv" ;;
		pg) pg_psql -c "\\copy $t TO '$d/$t.csv' WITH (FORMAT csv)" ;;
		mariadb)
			# the server runs with secure_file_priv = NULL (no INTO OUTFILE): the
			# client's batch output is LOAD DATA's default format (tab separated,
			# backslash escapes) except NULL, written \N here
			mariadb_sql -N -B "$MY_DB" -e "SELECT * FROM $t" |
				awk -F'\t' -v OFS='\t' '{ for (i = 1; i <= NF; i++) if ($i == "NULL") $i = "\\N"; print }' \
					>"$d/$t.tsv"
			;;
		esac
	done
	put "$1.rows_mb" "$(du -sm "$d" | cut -f1)"
}

bulk() { # BACKEND: truncate, then time the load of the dumped rows in one transaction
	local t d=$work/rows.$1 t0 t1 got
	case $1 in
	sqlite)
		sqlite3 "$work/sqlite.db" "PRAGMA foreign_keys=OFF; DELETE FROM dag_tag; DELETE FROM serialized_dag;
			DELETE FROM dag_warning; DELETE FROM dag; DELETE FROM import_error; DELETE FROM parse_stat; VACUUM;"
		{
			echo "PRAGMA synchronous = NORMAL;"
			echo "PRAGMA foreign_keys = ON;"
			echo "BEGIN;"
			for t in $TABLES; do echo ".import --csv $d/$t.csv $t"; done
			echo "COMMIT;"
		} >"$d/load.sqlite"
		t0=$(now)
		sqlite3 "$work/sqlite.db" <"$d/load.sqlite"
		t1=$(now)
		;;
	pg)
		pg_psql -c "TRUNCATE $(sed 's/ /, /g' <<<"$TABLES")" -c "VACUUM" >/dev/null
		for t in $TABLES; do echo "\\copy $t FROM '$d/$t.csv' WITH (FORMAT csv)"; done >"$d/load.sql"
		t0=$(now)
		PGPASSWORD=$PG_PASSWORD psql -X -q -1 -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" \
			-U "$PG_USER" -d "$PG_DB" -f "$d/load.sql"
		t1=$(now)
		;;
	mariadb)
		{
			echo "SET FOREIGN_KEY_CHECKS = 0;"
			for t in $TABLES; do echo "TRUNCATE TABLE $t;"; done
		} | mariadb_sql "$MY_DB"
		{
			echo "SET autocommit = 0;"
			for t in $TABLES; do echo "LOAD DATA LOCAL INFILE '$d/$t.tsv' INTO TABLE $t;"; done
			echo "COMMIT;"
		} >"$d/load.sql"
		t0=$(now)
		mariadb --no-defaults --local-infile=1 -h 127.0.0.1 -P "$MY_PORT" -u "$MY_USER" \
			-p"$MY_PASSWORD" "$MY_DB" <"$d/load.sql"
		t1=$(now)
		;;
	esac
	put "$1.bulk.seconds" "$(sub "$t0" "$t1")"
	got=$(counts "$1")
	if [ "$got" != "$(cat "$res/$1.rows")" ]; then
		echo "sync_bench: $1 bulk load: rows $got, expected $(cat "$res/$1.rows")" >&2
		exit 1
	fi
	say "$1: bulk load of $(cat "$res/$1.rows_mb") MB of rows ($got): $(cat "$res/$1.bulk.seconds") s"
}

recovery() { # PostgreSQL only; the daemon is running. BENCH_RECOVERY_RUNS times.
	local off n i r wpid
	for r in $(seq 1 "$recruns"); do
		say "pg: recovery $r/$recruns: server stopped, $recfiles files edited, server started" \
			"(retry_backoff_max = 2)"
		$probe rec-prep --db "$PG_URL" --dags "$work/dags" --count "$recfiles" --skip "$edits" \
			--out "$work/rec.state" >/dev/null
		pg_stop
		off=$(wc -l <"$work/daemon.log")
		$probe rec-edit --state "$work/rec.state" >/dev/null
		for i in $(seq 1 600); do
			n=$(tail -n +"$((off + 1))" "$work/daemon.log" | grep -c 'parsed in' || true)
			[ "$n" -ge "$recfiles" ] && break
			sleep 0.1
		done
		sleep 3 # the writer's backoff reaches its cap
		$probe rec-wait --db "$PG_URL" --state "$work/rec.state" --out "$work/rec.$r.json" >/dev/null &
		wpid=$!
		pg_start >/dev/null
		wait "$wpid"
		put "pg.recovery.$r" "$(cat "$work/rec.$r.json")"
		put "pg.recovery.$r.parsed" "$n"
		say "pg: recovery: $(cat "$work/rec.$r.json") ($n results pending before the start)"
		sleep 1
	done
}

for b in $backends; do
	fresh_copy
	case $b in
	sqlite)
		url=sqlite:///$work/sqlite.db
		rm -f "$work"/sqlite.db*
		# a full sync under /usr/bin/time -v for its peak RSS, with the sampler
		# for daemon vs workers beside it (it takes CPU: not the timed run)
		$probe rss --parent $$ --out "$work/rss10k.json" &
		spid=$!
		$probe busy --parent $$ --out "$work/busy.sqlite.json" &
		bpid=$!
		once sqlite.rss "$url" /usr/bin/time -v -o "$work/time10k.txt"
		wait "$spid" "$bpid" || true
		put sqlite.busy "$(cat "$work/busy.sqlite.json")"
		put rss10k.max_kb "$(awk -F': ' '/Maximum resident/ {print $2}' "$work/time10k.txt")"
		put rss10k.sampled "$(cat "$work/rss10k.json")"
		# the timed full sync: best of 2 on a fresh database each, as check is
		# the best of 3
		for i in 1 2; do
			rm -f "$work"/sqlite.db*
			once "sqlite.try$i" "$url"
		done
		best=1
		if awk -v a="$(cat "$res/sqlite.try2.seconds")" -v b="$(cat "$res/sqlite.try1.seconds")" \
			'BEGIN { exit !(a < b) }'; then
			best=2
		fi
		for k in seconds cpu parsed written statements writes; do
			cp "$res/sqlite.try$best.$k" "$res/sqlite.full.$k"
		done
		say "sqlite.full: best of 2: $(cat "$res/sqlite.full.seconds") s"
		;;
	pg)
		pg_start >/dev/null || { echo "sync_bench: PostgreSQL did not start" >&2; exit 1; }
		url=$PG_URL
		# the cores busy through the run (issue 13, item 3): a sampler that
		# wakes every 50 ms beside the timed run
		$probe busy --parent $$ --out "$work/busy.pg.json" &
		bpid=$!
		once pg.full "$url"
		wait "$bpid" || true
		put pg.busy "$(cat "$work/busy.pg.json")"
		;;
	mariadb)
		mariadb_start >/dev/null || { echo "sync_bench: MariaDB did not start" >&2; exit 1; }
		url=$MY_URL
		# the cores busy through the run (issue 13, item 3): a sampler that
		# wakes every 50 ms beside the timed run
		$probe busy --parent $$ --out "$work/busy.mariadb.json" &
		bpid=$!
		once mariadb.full "$url"
		wait "$bpid" || true
		put mariadb.busy "$(cat "$work/busy.mariadb.json")"
		;;
	esac
	once "$b.resync" "$url"
	dump "$b"
	if [ "$b" != mariadb ]; then
		daemon_start "$url" "$b"
		latency "$b" "$url"
		[ "$b" = pg ] && recovery
		daemon_stop "$b"
	fi
	bulk "$b"
	case $b in
	pg) pg_cleanup ;;
	mariadb) mariadb_cleanup ;;
	esac
done
rm -rf "$work/dags"

# peak RSS at BENCH_BIG_FILES files, SQLite
if [ "$bigfiles" -gt 0 ]; then
	big=$out/dags-big
	bstamp="$big/.generated-seed$seed-files$bigfiles"
	need_mb=$((bigfiles * 12 / 1000 * 2)) # the files (~12 kB each) and the database
	avail_mb=$(df -Pm "$out" | awk 'NR == 2 {print $4}')
	if [ ! -f "$bstamp" ] && [ "$avail_mb" -lt "$need_mb" ]; then
		say "skipping the $bigfiles-file RSS run: $avail_mb MB free in $out, about $need_mb MB needed"
		put rss_big.skipped "only $avail_mb MB free"
	else
		if [ ! -f "$bstamp" ] || [ bench/gen_dags.py -nt "$bstamp" ]; then
			say "generating $bigfiles files into $big (once)"
			python3 bench/gen_dags.py --files "$bigfiles" --seed "$seed" --out "$big" >/dev/null
			touch "$bstamp"
		fi
		rm -f "$work"/big.db*
		ln -sfn "$big" "$work/dags"
		$probe rss --parent $$ --out "$work/rssbig.json" &
		spid=$!
		once sqlite.big "sqlite:///$work/big.db" /usr/bin/time -v -o "$work/timebig.txt"
		wait "$spid" || true
		rm -f "$work/dags" "$work"/big.db*
		put rss_big.max_kb "$(awk -F': ' '/Maximum resident/ {print $2}' "$work/timebig.txt")"
		put rss_big.sampled "$(cat "$work/rssbig.json")"
	fi
fi

# the least a Python processor does: PyYAML's C loader parsing and hashing
# the same files on one core (Debian's python3-yaml, for /usr/bin/python3)
if /usr/bin/python3 -c 'import yaml; assert yaml.__with_libyaml__' 2>/dev/null; then
	say "PyYAML C loader over the same $files files (one core)"
	line=$(/usr/bin/python3 bench/pyyaml_baseline.py "$dags")
	say "  $line"
	put pyyaml.seconds "$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$line")"
else
	put pyyaml.skipped "python3-yaml with libyaml is not installed"
fi

python3 bench/sync_report.py "$res" "$out/results.json" "$files" "$bigfiles"
