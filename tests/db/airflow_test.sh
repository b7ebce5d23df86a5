#!/usr/bin/env bash
# Beside Airflow (issue 14): a PostgreSQL database that holds Airflow's
# metadata (alembic_version, Airflow's dag, import_error and serialized_dag
# tables with rows). `db migrate`, `db reset --yes` and `run --once` stop with
# one line that says so and what to do, and leave Airflow's tables byte for
# byte (pg_dump before and after); with [database] schema = dagproc the same
# commands work beside them, in a schema of their own. A table of dagproc's
# schema that lost a column is reported as such by `run --once` and
# `/readyz`'s reason, not as "could not be reached". A schema name that is not
# a plain name is a one-line configuration error.
#
# usage: tests/db/airflow_test.sh DAGPROC_BIN
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
# shellcheck disable=SC2046
unset $(compgen -e | grep '^DAGPROC_') 2>/dev/null || true

. "$here/pg.sh"

work=$(mktemp -d /tmp/dagproc-airflow.XXXXXX)
cleanup() {
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
}

pg_start >&2 || {
	echo "FAIL PostgreSQL did not start"
	exit 1
}
export DAGPROC__API__ENABLED=false DAGPROC__DATABASE__ONCE_TIMEOUT=15

# Airflow's tables (the columns that matter here), owned by the superuser: the
# role dagproc uses has no privilege on them, and information_schema would hide
# them from it
pg_psql -v ON_ERROR_STOP=1 >/dev/null <<SQL
CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY);
INSERT INTO alembic_version VALUES ('29ce7909c52b');
CREATE TABLE dag (dag_id VARCHAR(250) PRIMARY KEY, is_paused BOOLEAN, is_stale BOOLEAN,
  fileloc VARCHAR(2000), relative_fileloc VARCHAR(2000), bundle_name VARCHAR(250),
  last_parsed_time TIMESTAMPTZ, owners VARCHAR(2000));
INSERT INTO dag VALUES ('airflow_dag', false, false, '/opt/airflow/dags/etl.py', 'etl.py',
  'dags-folder', '2026-01-02 03:04:05+00', 'airflow');
CREATE TABLE import_error (id SERIAL PRIMARY KEY, timestamp TIMESTAMPTZ, filename VARCHAR(1024),
  bundle_name VARCHAR(250), stacktrace TEXT);
INSERT INTO import_error (timestamp, filename, bundle_name, stacktrace)
  VALUES ('2026-01-02 03:04:05+00', 'broken.py', 'dags-folder', 'Traceback ...');
CREATE TABLE serialized_dag (id UUID PRIMARY KEY, dag_id VARCHAR(250), data JSON);
SQL
# (without the random key of \restrict lines, new in pg_dump 15.14)
dump() { pg_dump -h 127.0.0.1 -p "$PG_PORT" -U postgres --schema=public "$PG_DB" 2>&1 | grep -v '^\\\(un\)\?restrict '; }
dump >"$work/before.sql"
grep -q "airflow_dag" "$work/before.sql" || bad "pg_dump of the Airflow tables: $(head -n 3 "$work/before.sql")"

mkdir -p "$work/dags"
printf 'beside_airflow:\n  tasks:\n    - task_id: t\n      operator: airflow.providers.standard.operators.empty.EmptyOperator\n' >"$work/dags/a.yml"

same_dump() { # LABEL
	dump >"$work/after.sql"
	if cmp -s "$work/before.sql" "$work/after.sql"; then
		ok "$1: Airflow's tables unchanged (pg_dump identical)"
	else
		bad "$1: Airflow's tables changed: $(diff "$work/before.sql" "$work/after.sql" | head -n 5)"
	fi
}

"$bin" db migrate --db "$PG_URL" >"$work/migrate.out" 2>"$work/migrate.err"
rc=$?
if [ "$rc" = 1 ] && [ "$(wc -l <"$work/migrate.err")" = 1 ] &&
	grep -q "holds Airflow's metadata (table alembic_version in schema public).*\[database\] schema = dagproc" "$work/migrate.err"; then
	ok "db migrate: status 1, one line: $(cut -c1-150 "$work/migrate.err")..."
else
	bad "db migrate: status $rc: $(cat "$work/migrate.err" "$work/migrate.out")"
fi
same_dump "db migrate"

"$bin" db reset --yes --db "$PG_URL" >"$work/reset.out" 2>"$work/reset.err"
rc=$?
[ "$rc" = 1 ] && grep -q "holds Airflow's metadata" "$work/reset.err" &&
	ok "db reset --yes: refused, status 1" || bad "db reset --yes: status $rc: $(cat "$work/reset.err")"
same_dump "db reset --yes"

t0=$SECONDS
"$bin" run --once --dags "$work/dags" --db "$PG_URL" >"$work/run.log" 2>&1
rc=$?
if [ "$rc" = 2 ] && [ $((SECONDS - t0)) -lt 10 ] && grep -q "error .*holds Airflow's metadata" "$work/run.log" &&
	! grep -q "could not be reached" "$work/run.log"; then
	ok "run --once: status 2 after $((SECONDS - t0)) s, saying so (not 'could not be reached')"
else
	bad "run --once: status $rc after $((SECONDS - t0)) s: $(grep -E 'error|warn' "$work/run.log" | head -n 3)"
fi
same_dump "run --once"

# a schema_version an earlier dagproc left beside Airflow's tables: still
# Airflow's database, and db reset drops nothing
pg_psql -c "SET ROLE $PG_USER; CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT)" >/dev/null
dump >"$work/before.sql"
"$bin" db reset --yes --db "$PG_URL" >/dev/null 2>"$work/reset2.err"
rc=$?
[ "$rc" = 1 ] && grep -q "holds Airflow's metadata (table alembic_version" "$work/reset2.err" &&
	ok "db reset --yes with a schema_version beside Airflow's tables: refused" ||
	bad "db reset --yes with a schema_version beside Airflow's tables: status $rc: $(cat "$work/reset2.err")"
same_dump "db reset --yes, schema_version beside"
pg_psql -c "DROP TABLE schema_version" >/dev/null
dump >"$work/before.sql"

# a schema of its own
export DAGPROC__DATABASE__SCHEMA=dagproc
if "$bin" db migrate --db "$PG_URL" >"$work/migrate2.out" 2>&1 &&
	"$bin" run --once --dags "$work/dags" --db "$PG_URL" >"$work/run2.log" 2>&1; then
	ok "[database] schema = dagproc: db migrate and run --once succeed"
else
	bad "[database] schema = dagproc: $(tail -n 3 "$work/migrate2.out" "$work/run2.log")"
fi
n=$(pg_psql -At -c "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'dagproc'")
live=$(pg_psql -At -c "SELECT count(*) FROM dagproc.dag WHERE dag_id = 'beside_airflow' AND NOT is_stale")
[ "${n:-0}" -ge 8 ] && [ "$live" = 1 ] &&
	ok "dagproc's $n tables in schema dagproc, its DAG recorded there" ||
	bad "schema dagproc: $n tables, DAG live: $live"
"$bin" dags list --format json --db "$PG_URL" >"$work/list.json" 2>&1 &&
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if [x["dag_id"] for x in d["dags"]] == ["beside_airflow"] else 1)' "$work/list.json" &&
	ok "dags list reads schema dagproc: beside_airflow only" || bad "dags list: $(head -c 300 "$work/list.json")"
same_dump "schema dagproc"

# a table of dagproc's schema lost a column: said so, not "could not be reached"
pg_psql -c "ALTER TABLE dagproc.import_error DROP COLUMN stacktrace" >/dev/null
printf 'beside_airflow:\n  tasks:\n    - task_id: t\n      operator: nope.Nope\n' >"$work/dags/a.yml"
"$bin" run --once --dags "$work/dags" --db "$PG_URL" >"$work/run3.log" 2>&1
rc=$?
if [ "$rc" = 3 ] && grep -q "tables are not dagproc's schema.*stacktrace" "$work/run3.log" &&
	! grep -q "could not be reached" "$work/run3.log"; then
	ok "a missing column: run --once status 3, '$(grep -o "the database's tables are not dagproc's schema[^:]*" "$work/run3.log" | head -n 1)'"
else
	bad "a missing column: status $rc: $(grep -E 'error' "$work/run3.log" | tail -n 2)"
fi

DAGPROC__DATABASE__SCHEMA='Bad-Name' "$bin" db check --db "$PG_URL" >/dev/null 2>"$work/bad.err"
rc=$?
[ "$rc" = 2 ] && [ "$(wc -l <"$work/bad.err")" = 1 ] && grep -q "schema" "$work/bad.err" &&
	ok "[database] schema = Bad-Name: status 2, $(cat "$work/bad.err")" ||
	bad "[database] schema = Bad-Name: status $rc: $(cat "$work/bad.err")"

# Airflow's own default, SQLite: the same refusal, nothing created
unset DAGPROC__DATABASE__SCHEMA
python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript("CREATE TABLE alembic_version (version_num TEXT); CREATE TABLE dag (dag_id TEXT PRIMARY KEY, is_paused INTEGER);"); c.commit()' "$work/airflow.db"
"$bin" db migrate --db "sqlite:///$work/airflow.db" >/dev/null 2>"$work/sqlite.err"
rc=$?
tables=$(python3 -c 'import sqlite3,sys; print(" ".join(sorted(r[0] for r in sqlite3.connect(sys.argv[1]).execute("SELECT name FROM sqlite_master WHERE type = \"table\""))))' "$work/airflow.db")
[ "$rc" = 1 ] && grep -q "holds Airflow's metadata.*a database of its own" "$work/sqlite.err" &&
	[ "$tables" = "alembic_version dag" ] &&
	ok "SQLite with Airflow's tables: db migrate refused, no table created" ||
	bad "SQLite with Airflow's tables: status $rc, tables '$tables': $(cat "$work/sqlite.err")"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
