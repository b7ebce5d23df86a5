/* Schema migrations for every dialect: SPEC §3 tables with Airflow's names, written once
 * with type tokens that each dialect expands, applied under a lock and recorded in
 * schema_version. */
#include "store/store.h"
#include "store/store_int.h"
#include "util/xalloc.h"
#include "util/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Type tokens, expanded per dialect by expand():
 *   {K}  key string (ids, names)        VARCHAR(250)
 *   {P}  file path that is part of a key TEXT / VARCHAR(1024) / VARCHAR(512)
 *        (MySQL: utf8mb4 key length limit of 3072 bytes with a 250-char bundle name)
 *   {S}  long non-key string            TEXT / VARCHAR(2000) / VARCHAR(2000)
 *   {T}  text                           TEXT / TEXT / MEDIUMTEXT
 *   {L}  large text (JSON, stack trace) TEXT / TEXT / LONGTEXT
 *   {TS} UTC timestamp                  TEXT / TIMESTAMP WITH TIME ZONE / DATETIME(6)
 *   {B}  boolean, {F} double, {AUTO} auto-increment integer primary key
 *   {E}  table options                  MySQL: InnoDB, utf8mb4, binary (case-sensitive) */
static const char *const v1[] = {
    "CREATE TABLE IF NOT EXISTS dag_bundle ("
    " name {K} NOT NULL PRIMARY KEY,"
    " active {B} NOT NULL DEFAULT TRUE,"
    " last_refreshed {TS})"
    "{E}",

    "CREATE TABLE IF NOT EXISTS dag ("
    " dag_id {K} NOT NULL PRIMARY KEY,"
    " bundle_name {K} NOT NULL,"
    " fileloc {S},"
    " relative_fileloc {P},"
    " is_stale {B} NOT NULL DEFAULT FALSE,"
    " is_paused {B} NOT NULL DEFAULT FALSE,"
    " has_import_errors {B} NOT NULL DEFAULT FALSE,"
    " last_parsed_time {TS},"
    " last_parse_duration {F},"
    " description {T},"
    " dag_display_name {S},"
    " timetable_summary {T},"
    " max_active_tasks INTEGER,"
    " max_active_runs INTEGER,"
    " owners {S})"
    "{E}",
    "CREATE INDEX IF NOT EXISTS idx_dag_bundle_file ON dag (bundle_name, relative_fileloc)",
    "CREATE INDEX IF NOT EXISTS idx_dag_is_stale ON dag (is_stale)",

    "CREATE TABLE IF NOT EXISTS dag_tag ("
    " name {K} NOT NULL,"
    " dag_id {K} NOT NULL,"
    " PRIMARY KEY (dag_id, name),"
    " FOREIGN KEY (dag_id) REFERENCES dag (dag_id) ON DELETE CASCADE)"
    "{E}",
    "CREATE INDEX IF NOT EXISTS idx_dag_tag_name ON dag_tag (name)",

    "CREATE TABLE IF NOT EXISTS serialized_dag ("
    " dag_id {K} NOT NULL PRIMARY KEY,"
    " dag_hash VARCHAR(64) NOT NULL,"
    " data {L} NOT NULL,"
    " created_at {TS} NOT NULL,"
    " last_updated {TS} NOT NULL,"
    " FOREIGN KEY (dag_id) REFERENCES dag (dag_id) ON DELETE CASCADE)"
    "{E}",

    "CREATE TABLE IF NOT EXISTS import_error ("
    " id {AUTO},"
    " timestamp {TS},"
    " filename {P} NOT NULL,"
    " bundle_name {K} NOT NULL,"
    " stacktrace {L},"
    " CONSTRAINT import_error_bundle_file_uq UNIQUE (bundle_name, filename))"
    "{E}",

    "CREATE TABLE IF NOT EXISTS dag_warning ("
    " dag_id {K} NOT NULL,"
    " warning_type VARCHAR(50) NOT NULL,"
    " message {T} NOT NULL,"
    " timestamp {TS} NOT NULL,"
    " PRIMARY KEY (dag_id, warning_type),"
    " FOREIGN KEY (dag_id) REFERENCES dag (dag_id) ON DELETE CASCADE)"
    "{E}",

    "CREATE TABLE IF NOT EXISTS parse_stat ("
    " bundle_name {K} NOT NULL,"
    " relative_fileloc {P} NOT NULL,"
    " file_hash VARCHAR(64),"   /* the source hash: file, defaults chain, options */
    " result_hash VARCHAR(64)," /* digest of what the file's rows say */
    " file_size BIGINT,"
    " file_mtime {F},"
    " last_duration {F},"
    " dag_count INTEGER NOT NULL DEFAULT 0,"
    " task_count INTEGER NOT NULL DEFAULT 0,"
    " import_error_count INTEGER NOT NULL DEFAULT 0,"
    " warning_count INTEGER NOT NULL DEFAULT 0,"
    " last_parsed_time {TS},"
    " last_changed_time {TS},"
    " PRIMARY KEY (bundle_name, relative_fileloc))"
    "{E}",

    /* processors sharing one database (ARCHITECTURE "Scale-out") */
    "CREATE TABLE IF NOT EXISTS dag_processor ("
    " instance_name {K} NOT NULL PRIMARY KEY,"
    " hostname {K},"
    " pid INTEGER,"
    " started_at {TS},"
    " latest_heartbeat {TS})"
    "{E}",
    "CREATE TABLE IF NOT EXISTS file_lease ("
    " bundle_name {K} NOT NULL,"
    " relative_fileloc {P} NOT NULL,"
    " owner {K} NOT NULL,"
    " expires_at {TS} NOT NULL,"
    " PRIMARY KEY (bundle_name, relative_fileloc))"
    "{E}",
    "CREATE INDEX IF NOT EXISTS idx_file_lease_owner ON file_lease (owner)",
    NULL,
};

/* Version 2 (issue 12): leases with a fencing token and database-clock expiry,
 * processor rows that say what they hold, and the row every write transaction
 * locks so that one processor writes at a time. The lease and processor tables
 * hold nothing that outlives a restart, so they are recreated; every statement
 * may run twice (MySQL commits each DDL on its own). */
static const char *const v2[] = {
    "DROP TABLE IF EXISTS file_lease",
    "CREATE TABLE IF NOT EXISTS file_lease ("
    " bundle_name {K} NOT NULL,"
    " relative_fileloc {P} NOT NULL,"
    " owner {K},"
    " token BIGINT NOT NULL DEFAULT 0,"
    " expires_at {TS},"
    " reparse {B} NOT NULL DEFAULT FALSE,"
    " PRIMARY KEY (bundle_name, relative_fileloc))"
    "{E}",
    "CREATE INDEX IF NOT EXISTS idx_file_lease_owner ON file_lease (owner)",
    "DROP TABLE IF EXISTS dag_processor",
    "CREATE TABLE IF NOT EXISTS dag_processor ("
    " instance_name {K} NOT NULL PRIMARY KEY,"
    " hostname {K},"
    " pid INTEGER,"
    " started_at {TS},"
    " latest_heartbeat {TS},"
    " version {K},"
    " files_held INTEGER NOT NULL DEFAULT 0,"
    " stopped_at {TS})"
    "{E}",
    "CREATE TABLE IF NOT EXISTS sync_lock (id INTEGER NOT NULL PRIMARY KEY){E}",
    "INSERT {IGN}INTO sync_lock (id) VALUES (1){ONC}",
    NULL,
};
struct migration {
	int version;
	const char *const *stmts;
};

static const struct migration migrations[] = {
    {1, v1},
    {2, v2},
};

/* Children before parents, for store_drop_schema. */
static const char *const all_tables[] = {
    "sync_lock",      "file_lease", "dag_processor", "parse_stat", "dag_warning",    "import_error",
    "serialized_dag", "dag_tag",    "dag",           "dag_bundle", "schema_version",
};

struct token {
	const char *name;
	const char *val[3]; /* sqlite, pg, mysql */
};

static const struct token tokens[] = {
    {"{K}", {"VARCHAR(250)", "VARCHAR(250)", "VARCHAR(250)"}},
    {"{P}", {"TEXT", "VARCHAR(1024)", "VARCHAR(512)"}},
    {"{S}", {"TEXT", "VARCHAR(2000)", "VARCHAR(2000)"}},
    {"{T}", {"TEXT", "TEXT", "MEDIUMTEXT"}},
    {"{L}", {"TEXT", "TEXT", "LONGTEXT"}},
    {"{TS}", {"TEXT", "TIMESTAMP WITH TIME ZONE", "DATETIME(6)"}},
    {"{B}", {"BOOLEAN", "BOOLEAN", "BOOLEAN"}},
    {"{F}", {"REAL", "DOUBLE PRECISION", "DOUBLE"}},
    {"{AUTO}",
     {"INTEGER PRIMARY KEY AUTOINCREMENT", "INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
      "INTEGER NOT NULL AUTO_INCREMENT PRIMARY KEY"}},
    {"{E}", {"", "", " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"}},
    {"{IGN}", {"", "", "IGNORE "}},
    {"{ONC}", {" ON CONFLICT DO NOTHING", " ON CONFLICT DO NOTHING", ""}},
};

static char *expand(store_dialect d, const char *sql)
{
	strbuf b;
	sb_init(&b);
	while (*sql) {
		bool hit = false;
		if (*sql == '{') {
			for (size_t i = 0; i < sizeof tokens / sizeof tokens[0]; i++) {
				size_t n = strlen(tokens[i].name);
				if (strncmp(sql, tokens[i].name, n) == 0) {
					sb_adds(&b, tokens[i].val[d]);
					sql += n;
					hit = true;
					break;
				}
			}
		}
		if (!hit)
			sb_addc(&b, *sql++);
	}
	return sb_detach(&b);
}

/* One statement for d and f. MySQL (unlike MariaDB, PostgreSQL and SQLite) has no
 * CREATE INDEX IF NOT EXISTS: there the statement loses the clause and is guarded by
 * a look at information_schema.statistics instead. */
static void ddl_of(store_dialect d, store_flavour f, const char *tmpl, store_ddl *out)
{
	static const char ine[] = "CREATE INDEX IF NOT EXISTS ";
	memset(out, 0, sizeof *out);
	if (d == STORE_MYSQL && f == STORE_FLAVOUR_MYSQL &&
	    strncmp(tmpl, ine, sizeof ine - 1) == 0) {
		const char *name = tmpl + sizeof ine - 1;
		size_t nlen = strcspn(name, " ");
		const char *on = strstr(name, " ON ");
		if (on) {
			const char *table = on + 4;
			out->index = xstrndup(name, nlen);
			out->table = xstrndup(table, strcspn(table, " ("));
			char *plain = xasprintf("CREATE INDEX %s", name);
			out->sql = expand(d, plain);
			free(plain);
			return;
		}
	}
	out->sql = expand(d, tmpl);
}

store_ddl *store_schema_ddl(store_dialect d, store_flavour f, int v, size_t *n)
{
	*n = 0;
	for (size_t m = 0; m < sizeof migrations / sizeof migrations[0]; m++) {
		if (migrations[m].version != v)
			continue;
		size_t k = 0;
		while (migrations[m].stmts[k])
			k++;
		store_ddl *out = xcalloc(k ? k : 1, sizeof *out);
		for (size_t i = 0; i < k; i++)
			ddl_of(d, f, migrations[m].stmts[i], &out[i]);
		*n = k;
		return out;
	}
	return NULL;
}

void store_ddl_free(store_ddl *ddl, size_t n)
{
	for (size_t i = 0; ddl && i < n; i++) {
		free(ddl[i].sql);
		free(ddl[i].index);
		free(ddl[i].table);
	}
	free(ddl);
}

/* Runs one statement, unless it is a guarded CREATE INDEX whose index exists. */
static int exec_ddl(store_conn *c, const store_ddl *ddl, store_error *err)
{
	if (ddl->index) {
		int64_t n = 0;
		store_param p[2] = {store_p_text(ddl->table), store_p_text(ddl->index)};
		if (store_query_int(
		        c,
		        "SELECT count(*) FROM information_schema.statistics WHERE "
		        "table_schema = DATABASE() AND table_name = ? AND index_name = ?",
		        p, 2, &n, NULL, err) != 0)
			return -1;
		if (n > 0)
			return 0;
	}
	return store_exec(c, ddl->sql, NULL, 0, err);
}

static int table_exists(store_conn *c, const char *table, bool *exists, store_error *err)
{
	const char *sql;
	int64_t n = 0;
	store_param p = store_p_text(table);
	switch (store_conn_dialect(c)) {
	case STORE_SQLITE:
		sql = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?";
		break;
	case STORE_PG:
		/* pg_catalog, not information_schema: that one hides the tables the
		 * role has no privilege on (Airflow's, to a role of dagproc's own) */
		sql = "SELECT count(*) FROM pg_catalog.pg_class t JOIN pg_catalog.pg_namespace s "
		      "ON s.oid = t.relnamespace WHERE s.nspname = current_schema() "
		      "AND t.relname = ? AND t.relkind IN ('r', 'p', 'v', 'm', 'f')";
		break;
	default:
		sql = "SELECT count(*) FROM information_schema.tables "
		      "WHERE table_schema = DATABASE() AND table_name = ?";
		break;
	}
	if (store_query_int(c, sql, &p, 1, &n, NULL, err) != 0)
		return -1;
	*exists = n > 0;
	return 0;
}

int store_schema_version(store_conn *c, int *version, store_error *err)
{
	bool exists = false;
	int64_t v = 0;
	*version = 0;
	if (table_exists(c, "schema_version", &exists, err) != 0)
		return -1;
	if (!exists)
		return 0;
	if (store_query_int(c, "SELECT MAX(version) FROM schema_version", NULL, 0, &v, NULL, err) !=
	    0)
		return -1;
	*version = (int)v;
	return 0;
}

static int exec_expanded(store_conn *c, const char *sql, store_error *err)
{
	char *q = expand(store_conn_dialect(c), sql);
	int rc = store_exec(c, q, NULL, 0, err);
	free(q);
	return rc;
}

/* Takes the migration lock: PostgreSQL's transaction-scoped advisory lock, SQLite's write
 * lock (BEGIN IMMEDIATE), MySQL's named lock (DDL commits implicitly there, so each
 * statement is idempotent and the lock, not a transaction, serializes migrators). */
static int lock_and_begin(store_conn *c, store_error *err)
{
	int64_t got = 0;
	switch (store_conn_dialect(c)) {
	case STORE_SQLITE:
		return store_begin_write(c, err);
	case STORE_PG:
		if (store_begin(c, err) != 0)
			return -1;
		return store_exec(c, "SELECT pg_advisory_xact_lock(7283640)", NULL, 0, err);
	case STORE_MYSQL:
		if (store_query_int(c, "SELECT GET_LOCK('dagproc_migrate', 60)", NULL, 0, &got,
		                    NULL, err) != 0)
			return -1;
		if (got != 1) {
			store_error_set(err, STORE_TRANSIENT, "lock", false,
			                "another process holds the migration lock");
			return -1;
		}
		return 0;
	}
	return -1;
}

static void migrate_unlock(store_conn *c)
{
	store_error e;
	int64_t v;
	if (store_conn_dialect(c) == STORE_MYSQL && !store_conn_broken(c))
		(void)!store_query_int(c, "SELECT RELEASE_LOCK('dagproc_migrate')", NULL, 0, &v,
		                       NULL, &e);
}

/* a row's first column into ud (char[64]) */
static int first_text(void *ud, size_t ncols, const char *const *v)
{
	if (ncols > 0 && v[0])
		snprintf(ud, 64, "%s", v[0]);
	return 0;
}

/* A database that holds Airflow's metadata (its alembic_version, or a dag
 * table dagproc did not create): dagproc's tables share Airflow's names, so
 * nothing is touched and the error says what to do. */
static int refuse_foreign(store_conn *c, store_error *err)
{
	bool ours = false, alembic = false, dag = false;
	/* alembic_version is Airflow's whatever else is there: an earlier dagproc
	 * may have left its schema_version beside Airflow's tables (MySQL commits
	 * each DDL statement), and db reset must not drop Airflow's then */
	if (table_exists(c, "alembic_version", &alembic, err) != 0 ||
	    table_exists(c, "schema_version", &ours, err) != 0)
		return -1;
	if (!alembic && ours)
		return 0;
	if (!alembic && table_exists(c, "dag", &dag, err) != 0)
		return -1;
	if (!alembic && !dag)
		return 0;
	bool pg = store_conn_dialect(c) == STORE_PG;
	char where[96] = "", cur[64] = "";
	if (pg) {
		store_error e2;
		if (!c->schema[0] &&
		    store_query(c, "SELECT current_schema()", NULL, 0, first_text, cur, &e2) != 0)
			cur[0] = '\0';
		snprintf(where, sizeof where, " in schema %s",
		         c->schema[0] ? c->schema
		         : cur[0]     ? cur
		                      : "public");
	}
	store_error_set(err, STORE_PERMANENT, STORE_CODE_FOREIGN, false,
	                "this database holds Airflow's metadata (table %s%s), whose tables have "
	                "the names of dagproc's; nothing was changed: give dagproc %s",
	                alembic ? "alembic_version" : "dag", where,
	                pg ? "a schema of its own ([database] schema = dagproc) or a database of "
	                     "its own"
	                   : "a database of its own");
	return -1;
}

/* PostgreSQL: the configured schema, created when missing (only then: CREATE
 * SCHEMA needs a privilege the role may not have). */
static int ensure_pg_schema(store_conn *c, store_error *err)
{
	if (store_conn_dialect(c) != STORE_PG || !c->schema[0])
		return 0;
	int64_t n = 0;
	store_param p = store_p_text(c->schema);
	if (store_query_int(c, "SELECT count(*) FROM pg_namespace WHERE nspname = ?", &p, 1, &n,
	                    NULL, err) != 0)
		return -1;
	if (n > 0)
		return 0;
	char *sql = xasprintf("CREATE SCHEMA %s", c->schema); /* a checked plain name */
	int rc = store_exec(c, sql, NULL, 0, err);
	free(sql);
	return rc;
}

int store_migrate(store_conn *c, store_error *err)
{
	int rc = -1, version = 0;
	char ts[32];
	bool mysql = store_conn_dialect(c) == STORE_MYSQL;

	if (lock_and_begin(c, err) != 0)
		goto out;
	if (refuse_foreign(c, err) != 0 || ensure_pg_schema(c, err) != 0)
		goto out;
	if (exec_expanded(c,
	                  "CREATE TABLE IF NOT EXISTS schema_version ("
	                  " version INTEGER NOT NULL PRIMARY KEY,"
	                  " applied_at {TS} NOT NULL){E}",
	                  err) != 0)
		goto out;
	if (store_schema_version(c, &version, err) != 0)
		goto out;
	if (version > STORE_SCHEMA_VERSION) {
		store_error_set(err, STORE_PERMANENT, "schema", false,
		                "database schema version %d is newer than this dagproc (%d)",
		                version, STORE_SCHEMA_VERSION);
		goto out;
	}
	for (size_t m = 0; m < sizeof migrations / sizeof migrations[0]; m++) {
		if (migrations[m].version <= version)
			continue;
		size_t n = 0;
		store_ddl *ddl = store_schema_ddl(store_conn_dialect(c), store_conn_flavour(c),
		                                  migrations[m].version, &n);
		for (size_t i = 0; i < n; i++) {
			if (exec_ddl(c, &ddl[i], err) != 0) {
				store_ddl_free(ddl, n);
				goto out;
			}
		}
		store_ddl_free(ddl, n);
		store_param p[2] = {store_p_int(migrations[m].version),
		                    store_p_text(store_format_ts(clock_epoch(), ts, sizeof ts))};
		if (store_exec(c, "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
		               p, 2, err) != 0)
			goto out;
	}
	if (!mysql && store_commit(c, err) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		store_rollback(c);
	migrate_unlock(c);
	return rc;
}

int store_drop_schema(store_conn *c, store_error *err)
{
	int rc = -1;
	bool mysql = store_conn_dialect(c) == STORE_MYSQL;
	if (lock_and_begin(c, err) != 0)
		goto out;
	/* never Airflow's tables of the same names */
	if (refuse_foreign(c, err) != 0)
		goto out;
	for (size_t i = 0; i < sizeof all_tables / sizeof all_tables[0]; i++) {
		char *q = xasprintf("DROP TABLE IF EXISTS %s", all_tables[i]);
		int r = store_exec(c, q, NULL, 0, err);
		free(q);
		if (r != 0)
			goto out;
	}
	if (!mysql && store_commit(c, err) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		store_rollback(c);
	migrate_unlock(c);
	return rc;
}
