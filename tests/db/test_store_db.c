/* Store tests against a real server (PostgreSQL, MariaDB) or SQLite, driven by
 * tests/db/run.sh: the same suite per dialect, plus fault tests that ask the harness to
 * stop/start/restart the server over stdout/stdin. Prints "N passed, N failed". */
#include "store/pool.h"
#include "store/retry.h"
#include "store/store.h"
#include "util/clock.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static store_params base;  /* the unprivileged test user */
static store_params admin; /* superuser: kills and server-side checks */
static bool control;       /* harness answers RESTART/STOP/START */
static const char *only;   /* run just this test */

#define FAILF(...)                                                                                 \
	do {                                                                                       \
		fprintf(stderr, "    %s:%d: ", __FILE__, __LINE__);                                \
		fprintf(stderr, __VA_ARGS__);                                                      \
		fputc('\n', stderr);                                                               \
		goto fail;                                                                         \
	} while (0)
#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			FAILF("CHECK failed: %s", #cond);                                          \
	} while (0)
/* A store call that must succeed. */
#define OK(call)                                                                                   \
	do {                                                                                       \
		store_error_clear(&err);                                                           \
		if ((call) != 0)                                                                   \
			FAILF("%s failed: [%s] %s", #call, err.code, err.message);                 \
	} while (0)
/* A store call that must fail with the given class. */
#define FAILS(call, klass)                                                                         \
	do {                                                                                       \
		store_error_clear(&err);                                                           \
		if ((call) == 0)                                                                   \
			FAILF("%s unexpectedly succeeded", #call);                                 \
		if (err.cls != (klass))                                                            \
			FAILF("%s: class %d, want %d: [%s] %s", #call, err.cls, klass, err.code,   \
			      err.message);                                                        \
		if (base.password && strstr(err.message, base.password))                           \
			FAILF("password leaked in: %s", err.message);                              \
	} while (0)

static const char *dialect_name(void)
{
	return base.dialect == STORE_PG      ? "postgresql"
	       : base.dialect == STORE_MYSQL ? "mariadb"
	                                     : "sqlite";
}

/* ---- harness control ---- */

static int ask(const char *what)
{
	char line[64];
	if (!control)
		return -1;
	fprintf(stdout, "%s\n", what);
	fflush(stdout);
	if (!fgets(line, sizeof line, stdin))
		return -1;
	return strncmp(line, "ok", 2) == 0 ? 0 : -1;
}

/* ---- helpers ---- */

static void fast_sleep(double s, void *ud)
{
	(void)ud;
	(void)s;
	usleep(50000);
}

static int admin_conn(store_conn **c)
{
	store_error err;
	if (store_connect(&admin, c, &err) != 0) {
		fprintf(stderr, "    admin connect: [%s] %s\n", err.code, err.message);
		return -1;
	}
	return 0;
}

static int reset_schema(void)
{
	store_conn *c = NULL;
	store_error err;
	int rc = -1;
	if (store_connect(&base, &c, &err) != 0)
		goto out;
	if (store_drop_schema(c, &err) != 0 || store_migrate(c, &err) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "    reset_schema: [%s] %s\n", err.code, err.message);
	store_close(c);
	return rc;
}

static int count(store_conn *c, const char *sql, int64_t *n)
{
	store_error err;
	if (store_query_int(c, sql, NULL, 0, n, NULL, &err) != 0) {
		fprintf(stderr, "    count(%s): [%s] %s\n", sql, err.code, err.message);
		return -1;
	}
	return 0;
}

/* Sessions of the test user that are inside a transaction, seen from the server. */
static int server_open_txns(int64_t *n)
{
	store_conn *a = NULL;
	int rc = -1;
	*n = 0;
	if (base.dialect == STORE_SQLITE)
		return 0;
	if (admin_conn(&a) != 0)
		return -1;
	if (base.dialect == STORE_PG)
		rc = count(
		    a,
		    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'dagproc' "
		    "AND pid <> pg_backend_pid() "
		    "AND (state LIKE 'idle in transaction%' OR xact_start IS NOT NULL)",
		    n);
	else {
		/* InnoDB refreshes the innodb_trx snapshot at most every 100 ms */
		usleep(150000);
		rc = count(a,
		           "SELECT count(*) FROM information_schema.innodb_trx "
		           "WHERE trx_mysql_thread_id <> CONNECTION_ID()",
		           n);
	}
	store_close(a);
	return rc;
}

static int kill_session(unsigned long id)
{
	store_conn *a = NULL;
	store_error err;
	int rc = -1;
	if (admin_conn(&a) != 0)
		return -1;
	store_param p = store_p_int((int64_t)id);
	if (base.dialect == STORE_PG)
		rc = store_exec(a, "SELECT pg_terminate_backend(?)", &p, 1, &err);
	else
		rc = store_exec(a, "KILL ?", &p, 1, &err);
	if (rc != 0)
		fprintf(stderr, "    kill %lu: [%s] %s\n", id, err.code, err.message);
	store_close(a);
	usleep(100000); /* let the server finish tearing the session down */
	return rc;
}

/* A batch write like the sync module's: multi-row upserts of import errors. */
struct batch {
	const char *bundle;
	int nfiles;
	const char *tag; /* goes into the stack trace */
	int calls;
	unsigned long kill_at_call; /* kill our own session before writing, on this call */
};

static int write_import_errors(store_conn *c, struct batch *b, store_error *err)
{
	const char *cols[] = {"bundle_name", "filename", "timestamp", "stacktrace"};
	char ts[32];
	char(*names)[64] = calloc((size_t)b->nfiles, sizeof *names);
	char(*traces)[128] = calloc((size_t)b->nfiles, sizeof *traces);
	store_param *p = calloc((size_t)b->nfiles * 4, sizeof *p);
	char *sql =
	    store_sql_upsert(store_conn_dialect(c), "import_error", cols, 4, 2, (size_t)b->nfiles);
	int rc;
	store_format_ts(clock_epoch(), ts, sizeof ts);
	for (int i = 0; i < b->nfiles; i++) {
		snprintf(names[i], sizeof names[i], "dir/file%02d.yml", i);
		snprintf(traces[i], sizeof traces[i], "%s:1:1: error[E001]: %s", names[i], b->tag);
		p[4 * i] = store_p_text(b->bundle);
		p[4 * i + 1] = store_p_text(names[i]);
		p[4 * i + 2] = store_p_text(ts);
		p[4 * i + 3] = store_p_text(traces[i]);
	}
	rc = store_exec(c, sql, p, (size_t)b->nfiles * 4, err);
	free(sql);
	free(p);
	free(names);
	free(traces);
	return rc;
}

static int batch_fn(store_conn *c, void *ud, store_error *err)
{
	struct batch *b = ud;
	store_param bp = store_p_text(b->bundle);
	b->calls++;
	if (store_exec(c, "DELETE FROM import_error WHERE bundle_name = ?", &bp, 1, err) != 0)
		return -1;
	if (b->kill_at_call && (unsigned long)b->calls == b->kill_at_call &&
	    kill_session(store_session_id(c)) != 0) {
		store_error_set(err, STORE_PERMANENT, "test", false, "could not kill session");
		return -1;
	}
	return write_import_errors(c, b, err);
}

struct trace_check {
	int rows;
	int bad;
	const char *tag;
};

static int check_trace(void *ud, size_t ncols, const char *const *vals)
{
	struct trace_check *t = ud;
	t->rows++;
	if (ncols < 1 || !vals[0] || !strstr(vals[0], t->tag))
		t->bad++;
	return 0;
}

/* Exactly nfiles import errors for bundle, all with tag. */
static int expect_errors(store_conn *c, const char *bundle, int nfiles, const char *tag)
{
	store_error err;
	struct trace_check t = {0, 0, tag};
	store_param bp = store_p_text(bundle);
	if (store_query(c, "SELECT stacktrace FROM import_error WHERE bundle_name = ?", &bp, 1,
	                check_trace, &t, &err) != 0) {
		fprintf(stderr, "    expect_errors: [%s] %s\n", err.code, err.message);
		return -1;
	}
	if (t.rows != nfiles || t.bad) {
		fprintf(stderr, "    expect_errors(%s): %d rows (want %d), %d with the wrong tag\n",
		        bundle, t.rows, nfiles, t.bad);
		return -1;
	}
	return 0;
}

static int expect_no_open_txn(void)
{
	int64_t n = -1;
	if (server_open_txns(&n) != 0)
		return -1;
	if (n != 0) {
		fprintf(stderr, "    %lld session(s) inside a transaction on the server\n",
		        (long long)n);
		return -1;
	}
	return 0;
}

/* ---- the suite ---- */

static int t_migrate(void)
{
	store_conn *c = NULL;
	store_error err;
	int v = -1;
	OK(store_connect(&base, &c, &err));
	CHECK(store_server_version(c)[0] != '\0');
	OK(store_drop_schema(c, &err));
	OK(store_schema_version(c, &v, &err));
	CHECK(v == 0);
	OK(store_migrate(c, &err));
	OK(store_schema_version(c, &v, &err));
	CHECK(v == STORE_SCHEMA_VERSION);
	OK(store_migrate(c, &err));
	OK(store_schema_version(c, &v, &err));
	CHECK(v == STORE_SCHEMA_VERSION);
	CHECK(!store_in_txn(c));
	store_close(c);
	return 0;
fail:
	store_close(c);
	return -1;
}

struct dagrow {
	int n;
	char id[64], desc[64], paused[8], stale[8], ts[64], dur[32];
	bool null_owner;
};

static int read_dag(void *ud, size_t ncols, const char *const *v)
{
	struct dagrow *r = ud;
	r->n++;
	if (ncols != 7)
		return 1;
	snprintf(r->id, sizeof r->id, "%s", v[0] ? v[0] : "");
	snprintf(r->desc, sizeof r->desc, "%s", v[1] ? v[1] : "");
	snprintf(r->paused, sizeof r->paused, "%s", v[2] ? v[2] : "");
	snprintf(r->stale, sizeof r->stale, "%s", v[3] ? v[3] : "");
	snprintf(r->ts, sizeof r->ts, "%s", v[4] ? v[4] : "");
	snprintf(r->dur, sizeof r->dur, "%s", v[5] ? v[5] : "");
	r->null_owner = v[6] == NULL;
	return 0;
}

struct bigrow {
	int n;
	char *text;
};

static int read_big(void *ud, size_t ncols, const char *const *v)
{
	struct bigrow *r = ud;
	r->n++;
	if (ncols == 1 && v[0] && !r->text)
		r->text = strdup(v[0]);
	return 0;
}

static int t_roundtrip(void)
{
	char *big = NULL;
	store_conn *c = NULL;
	store_error err;
	int64_t n;
	const char *cols[] = {"dag_id",           "bundle_name",         "relative_fileloc",
	                      "is_stale",         "is_paused",           "description",
	                      "last_parsed_time", "last_parse_duration", "owners"};
	char *sql = NULL;
	CHECK(reset_schema() == 0);
	OK(store_connect(&base, &c, &err));
	sql = store_sql_upsert(base.dialect, "dag", cols, 9, 1, 3);
	store_param p[27];
	const char *ids[] = {"etl", "ETL", "d\xc3\xa9j\xc3\xa0_vu"};
	for (int i = 0; i < 3; i++) {
		p[9 * i + 0] = store_p_text(ids[i]);
		p[9 * i + 1] = store_p_text("dags-folder");
		p[9 * i + 2] = store_p_text("a.yml");
		p[9 * i + 3] = store_p_bool(false);
		p[9 * i + 4] = store_p_bool(i == 1);
		p[9 * i + 5] = store_p_text(i == 2 ? "caf\xc3\xa9 'quoted' \\ ? $1" : "plain");
		p[9 * i + 6] = store_p_text("2024-01-02 03:04:05.123456");
		p[9 * i + 7] = store_p_double(1.5);
		p[9 * i + 8] = store_p_null();
	}
	OK(store_begin_write(c, &err));
	OK(store_exec(c, sql, p, 27, &err));
	OK(store_commit(c, &err));
	CHECK(count(c, "SELECT count(*) FROM dag", &n) == 0 && n == 3);
	/* upsert again: updates, no new rows */
	p[9 * 2 + 3] = store_p_bool(true);
	OK(store_exec(c, sql, p, 27, &err));
	CHECK(count(c, "SELECT count(*) FROM dag", &n) == 0 && n == 3);
	struct dagrow r = {0};
	store_param id = store_p_text(ids[2]);
	OK(store_query(c,
	               "SELECT dag_id, description, is_paused, is_stale, last_parsed_time, "
	               "last_parse_duration, owners FROM dag WHERE dag_id = ?",
	               &id, 1, read_dag, &r, &err));
	CHECK(r.n == 1);
	CHECK(strcmp(r.id, ids[2]) == 0);
	CHECK(strcmp(r.desc, "caf\xc3\xa9 'quoted' \\ ? $1") == 0);
	CHECK(strcmp(r.paused, "0") == 0 || strcmp(r.paused, "f") == 0);
	CHECK(strcmp(r.stale, "1") == 0 || strcmp(r.stale, "t") == 0);
	CHECK(strncmp(r.ts, "2024-01-02 03:04:05.123456", 26) == 0);
	CHECK(atof(r.dur) == 1.5);
	CHECK(r.null_owner);
	/* case-sensitive ids are distinct rows (MySQL: utf8mb4_bin) */
	id = store_p_text("ETL");
	CHECK(store_query_int(c, "SELECT count(*) FROM dag WHERE dag_id = ?", &id, 1, &n, NULL,
	                      &err) == 0 &&
	      n == 1);
	/* every byte but NUL, in a value of 3 MB, and integers at their bounds, through
	 * the statements that write (MySQL: a prepared statement, values in binary) and
	 * back through a query */
	big = malloc(3 << 20);
	CHECK(big != NULL);
	for (size_t i = 0; i < (3u << 20) - 1; i++)
		big[i] = (char)(1 + i % 127);
	memcpy(big + 1000, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9); /* UTF-8 of 2, 3, 4 bytes */
	big[(3 << 20) - 1] = '\0';
	store_param ie[3] = {store_p_text("dags-folder"), store_p_text("big.yml"),
	                     store_p_text(big)};
	OK(store_exec(c,
	              "INSERT INTO import_error (bundle_name, filename, stacktrace) "
	              "VALUES (?, ?, ?)",
	              ie, 3, &err));
	CHECK(store_changes(c) == 1);
	struct bigrow br = {0};
	OK(store_query(c, "SELECT stacktrace FROM import_error WHERE filename = 'big.yml'", NULL, 0,
	               read_big, &br, &err));
	CHECK(br.n == 1 && br.text && strcmp(br.text, big) == 0);
	free(br.text);
	ie[0] = store_p_int(2147483647);
	ie[1] = store_p_int(-2147483647 - 1);
	ie[2] = store_p_text(ids[0]);
	OK(store_exec(c,
	              "UPDATE dag SET max_active_tasks = ?, max_active_runs = ? WHERE dag_id = ?",
	              ie, 3, &err));
	CHECK(store_changes(c) == 1);
	CHECK(store_query_int(c, "SELECT max_active_tasks FROM dag WHERE dag_id = 'etl'", NULL, 0,
	                      &n, NULL, &err) == 0 &&
	      n == 2147483647);
	CHECK(store_query_int(c, "SELECT max_active_runs FROM dag WHERE dag_id = 'etl'", NULL, 0,
	                      &n, NULL, &err) == 0 &&
	      n == -2147483647 - 1);
	free(big);
	free(sql);
	store_close(c);
	return 0;
fail:
	free(big);
	free(sql);
	store_close(c);
	return -1;
}

static int t_error_in_txn(void)
{
	store_conn *c = NULL;
	store_error err;
	int64_t n;
	CHECK(reset_schema() == 0);
	OK(store_connect(&base, &c, &err));
	OK(store_exec(c, "INSERT INTO dag_bundle (name) VALUES ('b')", NULL, 0, &err));
	OK(store_begin(c, &err));
	OK(store_exec(c, "INSERT INTO dag_bundle (name) VALUES ('c')", NULL, 0, &err));
	FAILS(store_exec(c, "INSERT INTO dag_bundle (name) VALUES ('b')", NULL, 0, &err),
	      STORE_PERMANENT);
	CHECK(!err.conn_broken);
	CHECK(store_in_txn(c));
	if (base.dialect == STORE_PG) {
		/* Airflow 59166's mechanism: the failed transaction poisons what follows */
		FAILS(store_exec(c, "SELECT 1", NULL, 0, &err), STORE_PERMANENT);
		CHECK(strcmp(err.code, "25P02") == 0);
		FAILS(store_commit(c, &err), STORE_PERMANENT);
		CHECK(!store_in_txn(c));
	} else {
		store_rollback(c);
	}
	CHECK(!store_in_txn(c));
	CHECK(count(c, "SELECT count(*) FROM dag_bundle", &n) == 0 && n == 1);
	OK(store_ping(c, &err));
	store_close(c);
	return 0;
fail:
	store_close(c);
	return -1;
}

static int t_pool_release_rolls_back(void)
{
	store_params p = base;
	store_error err;
	store_conn *c = NULL;
	pool *pl = NULL;
	int64_t n;
	pool_stats st;
	CHECK(reset_schema() == 0);
	p.pool_size = 2;
	pl = pool_create(&p);
	OK(pool_acquire(pl, &c, &err));
	OK(store_begin(c, &err));
	OK(store_exec(c, "INSERT INTO dag_bundle (name) VALUES ('x')", NULL, 0, &err));
	pool_release(pl, c);
	c = NULL;
	CHECK(expect_no_open_txn() == 0);
	pool_get_stats(pl, &st);
	CHECK(st.idle == 1 && st.in_use == 0);
	OK(pool_acquire(pl, &c, &err));
	CHECK(!store_in_txn(c));
	CHECK(count(c, "SELECT count(*) FROM dag_bundle", &n) == 0 && n == 0);
	pool_release(pl, c);
	pool_destroy(pl);
	return 0;
fail:
	pool_release(pl, c);
	pool_destroy(pl);
	return -1;
}

static int t_pool_exhausted(void)
{
	store_params p = base;
	store_error err;
	store_conn *c[3] = {NULL, NULL, NULL};
	pool *pl;
	p.pool_size = 1;
	p.max_overflow = 1;
	p.pool_timeout = 0.3;
	pl = pool_create(&p);
	OK(pool_acquire(pl, &c[0], &err));
	OK(pool_acquire(pl, &c[1], &err));
	double t0 = clock_epoch();
	FAILS(pool_acquire(pl, &c[2], &err), STORE_TRANSIENT);
	CHECK(strcmp(err.code, "pool_timeout") == 0);
	CHECK(clock_epoch() - t0 >= 0.25 && clock_epoch() - t0 < 5);
	pool_release(pl, c[1]);
	c[1] = NULL;
	OK(pool_acquire(pl, &c[2], &err));
	for (int i = 0; i < 3; i++)
		pool_release(pl, c[i]);
	pool_destroy(pl);
	return 0;
fail:
	for (int i = 0; i < 3; i++)
		pool_release(pl, c[i]);
	pool_destroy(pl);
	return -1;
}

static int t_statement_timeout(void)
{
	store_params p = base;
	store_conn *c = NULL;
	store_error err;
	int64_t v;
	p.statement_timeout = 1;
	OK(store_connect(&p, &c, &err));
	const char *sql = base.dialect == STORE_PG ? "SELECT 1 FROM pg_sleep(3)"
	                  : base.dialect == STORE_MYSQL
	                      ? "SELECT count(*) FROM information_schema.columns a, "
	                        "information_schema.columns b, information_schema.columns c"
	                      : "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) "
	                        "SELECT count(*) FROM r";
	double t0 = clock_epoch();
	FAILS(store_query_int(c, sql, NULL, 0, &v, NULL, &err), STORE_TRANSIENT);
	CHECK(clock_epoch() - t0 < 10);
	CHECK(!err.conn_broken);
	OK(store_ping(c, &err));
	store_close(c);
	return 0;
fail:
	store_close(c);
	return -1;
}

static int t_lock_timeout(void)
{
	store_params p = base;
	store_conn *a = NULL, *b = NULL;
	store_error err;
	CHECK(reset_schema() == 0);
	p.lock_timeout = 1;
	OK(store_connect(&p, &a, &err));
	OK(store_connect(&p, &b, &err));
	OK(store_exec(a, "INSERT INTO dag_bundle (name, active) VALUES ('b', ?)",
	              (store_param[]){store_p_bool(true)}, 1, &err));
	OK(store_begin_write(a, &err));
	OK(store_exec(a, "UPDATE dag_bundle SET active = ? WHERE name = 'b'",
	              (store_param[]){store_p_bool(false)}, 1, &err));
	if (base.dialect == STORE_SQLITE) {
		FAILS(store_begin_write(b, &err), STORE_TRANSIENT);
	} else {
		OK(store_begin_write(b, &err));
		FAILS(store_exec(b, "UPDATE dag_bundle SET active = ? WHERE name = 'b'",
		                 (store_param[]){store_p_bool(true)}, 1, &err),
		      STORE_TRANSIENT);
		CHECK(!err.conn_broken);
		store_rollback(b);
	}
	store_rollback(a);
	OK(store_begin_write(b, &err));
	OK(store_exec(b, "UPDATE dag_bundle SET active = ? WHERE name = 'b'",
	              (store_param[]){store_p_bool(true)}, 1, &err));
	OK(store_commit(b, &err));
	CHECK(expect_no_open_txn() == 0);
	store_close(a);
	store_close(b);
	return 0;
fail:
	store_close(a);
	store_close(b);
	return -1;
}

/* Connection failures are classified: unknown database and bad password are permanent,
 * a closed port is transient; no message carries the password. */
static int t_connect_errors(void)
{
	store_params p = base;
	store_conn *c = NULL;
	store_error err;
	p.database = "no_such_database";
	FAILS(store_connect(&p, &c, &err), STORE_PERMANENT);
	CHECK(err.conn_broken);
	if (base.dialect == STORE_MYSQL) {
		p = base;
		p.password = "wrong-pw-1234567";
		FAILS(store_connect(&p, &c, &err), STORE_PERMANENT);
		CHECK(strstr(err.message, p.password) == NULL);
	}
	p = base;
	p.port = 1; /* nothing listens there */
	FAILS(store_connect(&p, &c, &err), STORE_TRANSIENT);
	return 0;
fail:
	store_close(c);
	return -1;
}

struct locker {
	store_conn *c;
	const char *sql;
	store_error err;
	int rc;
};

static void *lock_second(void *arg)
{
	struct locker *l = arg;
	l->rc = store_exec(l->c, l->sql, NULL, 0, &l->err);
	return NULL;
}

/* Two sessions lock two rows in opposite orders: the server picks a victim, whose error
 * is transient and leaves the connection usable after rollback. */
static int t_deadlock(void)
{
	store_conn *a = NULL, *b = NULL;
	store_error err;
	pthread_t th;
	bool started = false;
	CHECK(reset_schema() == 0);
	OK(store_connect(&base, &a, &err));
	OK(store_connect(&base, &b, &err));
	OK(store_exec(a, "INSERT INTO dag_bundle (name) VALUES ('r1'), ('r2')", NULL, 0, &err));
	OK(store_begin_write(a, &err));
	OK(store_begin_write(b, &err));
	OK(store_exec(a, "UPDATE dag_bundle SET active = active WHERE name = 'r1'", NULL, 0, &err));
	OK(store_exec(b, "UPDATE dag_bundle SET active = active WHERE name = 'r2'", NULL, 0, &err));
	struct locker la = {a, "UPDATE dag_bundle SET active = active WHERE name = 'r2'", {0}, 0};
	pthread_create(&th, NULL, lock_second, &la);
	started = true;
	usleep(200000);
	int rb =
	    store_exec(b, "UPDATE dag_bundle SET active = active WHERE name = 'r1'", NULL, 0, &err);
	store_error eb = err;
	if (rb != 0)
		store_rollback(b); /* lets a finish */
	pthread_join(th, NULL);
	started = false;
	CHECK((rb != 0) != (la.rc != 0)); /* exactly one victim */
	store_error *victim = rb != 0 ? &eb : &la.err;
	fprintf(stderr, "    victim: [%s] %s\n", victim->code, victim->message);
	CHECK(victim->cls == STORE_TRANSIENT);
	CHECK(!victim->conn_broken);
	CHECK(strcmp(victim->code, base.dialect == STORE_PG ? "40P01" : "1213") == 0);
	store_rollback(a);
	store_rollback(b);
	OK(store_ping(a, &err));
	OK(store_ping(b, &err));
	CHECK(expect_no_open_txn() == 0);
	store_close(a);
	store_close(b);
	return 0;
fail:
	if (started) {
		store_rollback(b);
		pthread_join(th, NULL);
	}
	store_close(a);
	store_close(b);
	return -1;
}

struct idlist {
	unsigned long ids[64];
	int n;
};

static int collect_id(void *ud, size_t ncols, const char *const *vals)
{
	struct idlist *l = ud;
	if (ncols > 0 && vals[0] && l->n < 64)
		l->ids[l->n++] = strtoul(vals[0], NULL, 10);
	return 0;
}

/* Kills every session of the test user; returns how many. */
static int kill_user_sessions(void)
{
	store_conn *a = NULL;
	store_error err;
	struct idlist l = {.n = 0};
	store_param u = store_p_text(base.user);
	if (admin_conn(&a) != 0)
		return -1;
	const char *sql = base.dialect == STORE_PG
	                      ? "SELECT pid FROM pg_stat_activity WHERE usename = ? "
	                        "AND pid <> pg_backend_pid()"
	                      : "SELECT id FROM information_schema.processlist WHERE user = ?";
	if (store_query(a, sql, &u, 1, collect_id, &l, &err) != 0) {
		store_close(a);
		return -1;
	}
	for (int i = 0; i < l.n; i++) {
		store_param id = store_p_int((int64_t)l.ids[i]);
		/* a session may end on its own meanwhile: ignore "unknown thread" */
		(void)!store_exec(
		    a, base.dialect == STORE_PG ? "SELECT pg_terminate_backend(?)" : "KILL ?", &id,
		    1, &err);
	}
	store_close(a);
	return l.n;
}

struct worker {
	pool *pl;
	retry_policy rp;
	char bundle[16];
	char tag[32];
	int rounds, failures;
	int *done;
	store_error err;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < w->rounds; i++) {
		snprintf(w->tag, sizeof w->tag, "%s-round%03d", w->bundle, i);
		struct batch b = {.bundle = w->bundle, .nfiles = 3, .tag = w->tag};
		retry_opts o = {.sleep_fn = fast_sleep, .max_attempts = 50};
		if (retry_run(w->pl, &w->rp, batch_fn, &b, &o, &w->err) != 0)
			w->failures++;
	}
	__atomic_add_fetch(w->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* Several threads share one pool and write batches while every session of theirs is
 * killed again and again: every batch eventually commits, the final rows are exact, and no
 * session is left inside a transaction. */
static int t_concurrent_kills(void)
{
	store_params p = base;
	store_error err;
	store_conn *c = NULL;
	pool *pl = NULL;
	enum { NT = 4 };
	pthread_t th[NT];
	struct worker w[NT];
	int started = 0, killed = 0, done = 0, rounds = 0;
	CHECK(reset_schema() == 0);
	p.pool_size = 2;
	p.max_overflow = 2;
	pl = pool_create(&p);
	for (int i = 0; i < NT; i++) {
		w[i] = (struct worker){.pl = pl, .rounds = 150, .done = &done};
		retry_policy_from_params(&w[i].rp, &p);
		snprintf(w[i].bundle, sizeof w[i].bundle, "t%d", i);
		pthread_create(&th[i], NULL, worker_main, &w[i]);
		started++;
	}
	while (__atomic_load_n(&done, __ATOMIC_SEQ_CST) < NT) {
		usleep(30000);
		int n = kill_user_sessions();
		if (n > 0)
			killed += n;
		rounds++;
	}
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	started = 0;
	fprintf(stderr, "    %d sessions killed in %d rounds under load\n", killed, rounds);
	CHECK(killed >= 5);
	OK(pool_acquire(pl, &c, &err));
	for (int i = 0; i < NT; i++) {
		if (w[i].failures)
			FAILF("worker %d: %d batches failed, last [%s] %s", i, w[i].failures,
			      w[i].err.code, w[i].err.message);
		CHECK(expect_errors(c, w[i].bundle, 3, w[i].tag) == 0);
	}
	pool_release(pl, c);
	c = NULL;
	CHECK(expect_no_open_txn() == 0);
	pool_destroy(pl);
	return 0;
fail:
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	pool_release(pl, c);
	pool_destroy(pl);
	return -1;
}

/* The server-side check used after every fault test must see an open transaction. */
static int t_open_txn_detector(void)
{
	store_conn *c = NULL;
	store_error err;
	int64_t n = -1;
	CHECK(reset_schema() == 0);
	OK(store_connect(&base, &c, &err));
	OK(store_begin_write(c, &err));
	OK(store_exec(c, "INSERT INTO dag_bundle (name) VALUES ('t')", NULL, 0, &err));
	CHECK(server_open_txns(&n) == 0 && n == 1);
	store_rollback(c);
	CHECK(server_open_txns(&n) == 0 && n == 0);
	store_close(c);
	return 0;
fail:
	store_close(c);
	return -1;
}

/* The session is killed by an administrator in the middle of a transaction. */
static int t_kill_mid_txn(void)
{
	store_params p = base;
	store_error err;
	store_conn *c = NULL;
	pool *pl = NULL;
	pool_stats st;
	retry_policy rp;
	CHECK(reset_schema() == 0);
	p.pool_size = 3;
	pl = pool_create(&p);
	retry_policy_from_params(&rp, &p);
	OK(pool_acquire(pl, &c, &err));
	OK(store_begin_write(c, &err));
	struct batch b = {.bundle = "k", .nfiles = 3, .tag = "first"};
	OK(write_import_errors(c, &b, &err));
	CHECK(kill_session(store_session_id(c)) == 0);
	b.tag = "second";
	FAILS(write_import_errors(c, &b, &err), STORE_TRANSIENT);
	CHECK(err.conn_broken);
	CHECK(store_conn_broken(c));
	pool_release(pl, c);
	c = NULL;
	pool_get_stats(pl, &st);
	CHECK(st.broken == 1 && st.in_use == 0 && st.idle == 0);
	retry_opts o = {.sleep_fn = fast_sleep, .max_attempts = 5};
	b.tag = "third";
	OK(retry_run(pl, &rp, batch_fn, &b, &o, &err));
	CHECK(o.attempts == 1);
	OK(pool_acquire(pl, &c, &err));
	CHECK(expect_errors(c, "k", 3, "third") == 0);
	pool_release(pl, c);
	c = NULL;
	CHECK(expect_no_open_txn() == 0);
	pool_destroy(pl);
	return 0;
fail:
	pool_release(pl, c);
	pool_destroy(pl);
	return -1;
}

/* Airflow issue 59166 replayed: the connection dies while a batch's import errors are
 * being written; the caller catches the error and goes on with the rest of its work; no
 * later call on that pool fails because of the earlier failed transaction. */
static int test_airflow_59166(void)
{
	store_params p = base;
	store_error err;
	store_conn *c = NULL;
	pool *pl = NULL;
	retry_policy rp;
	CHECK(reset_schema() == 0);
	p.pool_size = 2;
	p.pool_pre_ping = false; /* the worst case: no ping to hide a dead session */
	pl = pool_create(&p);
	retry_policy_from_params(&rp, &p);

	/* batch 1: the session is killed right before its import errors are written */
	struct batch b1 = {.bundle = "b1", .nfiles = 4, .tag = "batch1", .kill_at_call = 1};
	retry_opts once = {.sleep_fn = fast_sleep, .max_attempts = 1};
	FAILS(retry_run(pl, &rp, batch_fn, &b1, &once, &err), STORE_TRANSIENT);
	CHECK(err.conn_broken);

	/* the caller goes on: batch 2 (other files) must succeed at once, first try */
	struct batch b2 = {.bundle = "b2", .nfiles = 3, .tag = "batch2"};
	OK(retry_run(pl, &rp, batch_fn, &b2, &once, &err));

	/* a plain read on the same pool works, outside any transaction */
	OK(pool_acquire(pl, &c, &err));
	CHECK(!store_in_txn(c));
	CHECK(expect_errors(c, "b1", 0, "batch1") == 0);
	CHECK(expect_errors(c, "b2", 3, "batch2") == 0);
	pool_release(pl, c);
	c = NULL;

	/* batch 1 again (as the writer re-queues it): written completely */
	b1.kill_at_call = 0;
	OK(retry_run(pl, &rp, batch_fn, &b1, &once, &err));

	/* same again with the kill on a later retry attempt of a retried write */
	struct batch b3 = {.bundle = "b3", .nfiles = 5, .tag = "batch3", .kill_at_call = 1};
	retry_opts o = {.sleep_fn = fast_sleep, .max_attempts = 5};
	OK(retry_run(pl, &rp, batch_fn, &b3, &o, &err));
	CHECK(o.attempts == 2);

	/* a dozen further calls: none fails */
	for (int i = 0; i < 12; i++) {
		OK(pool_acquire(pl, &c, &err));
		OK(store_ping(c, &err));
		OK(store_begin(c, &err));
		int64_t n;
		CHECK(count(c, "SELECT count(*) FROM import_error", &n) == 0 && n == 12);
		OK(store_commit(c, &err));
		pool_release(pl, c);
		c = NULL;
	}
	OK(pool_acquire(pl, &c, &err));
	CHECK(expect_errors(c, "b1", 4, "batch1") == 0);
	CHECK(expect_errors(c, "b2", 3, "batch2") == 0);
	CHECK(expect_errors(c, "b3", 5, "batch3") == 0);
	pool_release(pl, c);
	c = NULL;
	CHECK(expect_no_open_txn() == 0);
	pool_destroy(pl);
	return 0;
fail:
	pool_release(pl, c);
	pool_destroy(pl);
	return -1;
}

/* Another client takes every connection slot; we fail transiently and recover. */
static int t_max_connections(void)
{
	store_params p = base;
	store_error err;
	store_conn *hog[256];
	int nhog = 0;
	store_conn *c = NULL;
	pool *pl = NULL;
	p.connect_timeout = 3;
	for (; nhog < 256; nhog++) {
		store_error e;
		if (store_connect(&p, &hog[nhog], &e) != 0) {
			err = e;
			break;
		}
	}
	CHECK(nhog < 256);
	CHECK(err.cls == STORE_TRANSIENT);
	CHECK(!base.password || !strstr(err.message, base.password));
	fprintf(stderr, "    %d connections, then [%s] %s\n", nhog, err.code, err.message);
	pl = pool_create(&p);
	FAILS(pool_acquire(pl, &c, &err), STORE_TRANSIENT);
	for (int i = 0; i < nhog; i++)
		store_close(hog[i]);
	nhog = 0;
	usleep(200000);
	OK(pool_acquire(pl, &c, &err));
	OK(store_ping(c, &err));
	pool_release(pl, c);
	pool_destroy(pl);
	return 0;
fail:
	for (int i = 0; i < nhog; i++)
		store_close(hog[i]);
	pool_release(pl, c);
	pool_destroy(pl);
	return -1;
}

/* Server restarted between batches: idle pooled connections are dead. */
static int t_restart_between_batches(void)
{
	store_params p = base;
	store_error err;
	store_conn *c[2] = {NULL, NULL};
	pool *pl = NULL;
	retry_policy rp;
	CHECK(reset_schema() == 0);
	for (int ping = 1; ping >= 0; ping--) {
		p.pool_pre_ping = ping;
		pl = pool_create(&p);
		retry_policy_from_params(&rp, &p);
		OK(pool_acquire(pl, &c[0], &err));
		OK(pool_acquire(pl, &c[1], &err));
		pool_release(pl, c[0]);
		pool_release(pl, c[1]);
		c[0] = c[1] = NULL;
		CHECK(ask("RESTART") == 0);
		struct batch b = {.bundle = ping ? "ping" : "noping", .nfiles = 2, .tag = "x"};
		retry_opts o = {.sleep_fn = fast_sleep, .max_attempts = 10};
		OK(retry_run(pl, &rp, batch_fn, &b, &o, &err));
		/* with pre-ping the dead sessions are replaced before use */
		CHECK(!ping || o.attempts == 1);
		CHECK(ping || o.attempts <= 2);
		OK(pool_acquire(pl, &c[0], &err));
		CHECK(expect_errors(c[0], b.bundle, 2, "x") == 0);
		pool_release(pl, c[0]);
		c[0] = NULL;
		pool_destroy(pl);
		pl = NULL;
	}
	CHECK(expect_no_open_txn() == 0);
	return 0;
fail:
	pool_release(pl, c[0]);
	pool_release(pl, c[1]);
	pool_destroy(pl);
	return -1;
}

/* Server restarted (crash) in the middle of a transaction. */
static int t_restart_mid_txn(void)
{
	store_params p = base;
	store_error err;
	store_conn *c = NULL;
	pool *pl = NULL;
	retry_policy rp;
	CHECK(reset_schema() == 0);
	pl = pool_create(&p);
	retry_policy_from_params(&rp, &p);
	OK(pool_acquire(pl, &c, &err));
	OK(store_begin_write(c, &err));
	struct batch b = {.bundle = "r", .nfiles = 3, .tag = "lost"};
	OK(write_import_errors(c, &b, &err));
	CHECK(ask("CRASH_RESTART") == 0);
	FAILS(store_commit(c, &err), STORE_TRANSIENT);
	CHECK(store_conn_broken(c));
	pool_release(pl, c);
	c = NULL;
	b.tag = "kept";
	retry_opts o = {.sleep_fn = fast_sleep, .max_attempts = 10};
	OK(retry_run(pl, &rp, batch_fn, &b, &o, &err));
	OK(pool_acquire(pl, &c, &err));
	CHECK(expect_errors(c, "r", 3, "kept") == 0);
	pool_release(pl, c);
	c = NULL;
	CHECK(expect_no_open_txn() == 0);
	pool_destroy(pl);
	return 0;
fail:
	pool_release(pl, c);
	pool_destroy(pl);
	return -1;
}

struct bg {
	pool *pl;
	retry_policy rp;
	struct batch b;
	retry_opts o;
	store_error err;
	int rc;
};

static void *bg_write(void *arg)
{
	struct bg *g = arg;
	g->rc = retry_run(g->pl, &g->rp, batch_fn, &g->b, &g->o, &g->err);
	return NULL;
}

/* Server down: writes fail transiently (refused), keep retrying with backoff, and
 * succeed once the server is back. */
static int t_server_down(void)
{
	store_params p = base;
	store_error err;
	store_conn *c = NULL;
	pool *pl = NULL;
	retry_policy rp;
	pthread_t th;
	bool started = false;
	CHECK(reset_schema() == 0);
	p.connect_timeout = 2;
	p.retry_backoff_max = 0.5;
	pl = pool_create(&p);
	retry_policy_from_params(&rp, &p);
	rp.backoff_max = 0.5;
	/* a clean shutdown in the middle of a batch */
	struct batch b = {.bundle = "down", .nfiles = 2, .tag = "x"};
	OK(pool_acquire(pl, &c, &err));
	OK(store_begin_write(c, &err));
	OK(write_import_errors(c, &b, &err));
	CHECK(ask("STOP") == 0);
	FAILS(store_commit(c, &err), STORE_TRANSIENT);
	CHECK(store_conn_broken(c));
	pool_release(pl, c);
	c = NULL;
	retry_opts two = {.sleep_fn = fast_sleep, .max_attempts = 2};
	FAILS(retry_run(pl, &rp, batch_fn, &b, &two, &err), STORE_TRANSIENT);
	CHECK(two.attempts == 2);
	fprintf(stderr, "    while down: [%s] %s\n", err.code, err.message);
	/* a writer that keeps retrying (real sleeps) while the server comes back */
	struct bg g = {.pl = pl,
	               .rp = rp,
	               .b = {.bundle = "down", .nfiles = 2, .tag = "y"},
	               .o = {.max_attempts = 0}};
	pthread_create(&th, NULL, bg_write, &g);
	started = true;
	usleep(1500000);
	CHECK(ask("START") == 0);
	pthread_join(th, NULL);
	started = false;
	if (g.rc != 0)
		FAILF("background write: [%s] %s", g.err.code, g.err.message);
	CHECK(g.o.attempts > 1);
	OK(pool_acquire(pl, &c, &err));
	CHECK(expect_errors(c, "down", 2, "y") == 0);
	pool_release(pl, c);
	c = NULL;
	CHECK(expect_no_open_txn() == 0);
	pool_destroy(pl);
	return 0;
fail:
	if (started) {
		(void)ask("START");
		pthread_join(th, NULL);
	}
	pool_release(pl, c);
	pool_destroy(pl);
	return -1;
}

/* MySQL protocol: with no prepared-statement slot left on the server (they are
 * shared by every application), statements that write go as text and succeed (the
 * review's F1: every claim and write failed, and a file was blamed for it). */
static int t_prepared_slots_exhausted(void)
{
	store_conn *a = NULL, *c = NULL;
	store_error err;
	int64_t n = 0;
	int rc = -1;
	CHECK(reset_schema() == 0);
	CHECK(admin_conn(&a) == 0);
	int64_t was = 0;
	CHECK(store_query_int(a, "SELECT @@global.max_prepared_stmt_count", NULL, 0, &was, NULL,
	                      &err) == 0);
	OK(store_exec(a, "SET GLOBAL max_prepared_stmt_count = 0", NULL, 0, &err));
	OK(store_connect(&base, &c, &err));
	store_param p[3] = {store_p_text("dags-folder"), store_p_text("slots.yml"),
	                    store_p_text("no slot 'left'")};
	OK(store_begin_write(c, &err));
	OK(store_exec(c,
	              "INSERT INTO import_error (bundle_name, filename, stacktrace) "
	              "VALUES (?, ?, ?)",
	              p, 3, &err));
	CHECK(store_changes(c) == 1);
	OK(store_commit(c, &err));
	CHECK(count(c, "SELECT count(*) FROM import_error WHERE stacktrace = 'no slot ''left'''",
	            &n) == 0 &&
	      n == 1);
	rc = 0;
fail:
	if (a) {
		char sql[96];
		snprintf(sql, sizeof sql, "SET GLOBAL max_prepared_stmt_count = %lld",
		         (long long)(was > 0 ? was : 16382));
		if (store_exec(a, sql, NULL, 0, &err) != 0)
			rc = -1;
	}
	store_close(c);
	store_close(a);
	return rc;
}

struct test {
	const char *name;
	int (*fn)(void);
	bool server_only; /* needs a server (kill, server-side checks) */
	bool needs_control;
	bool mysql_only;
};

static const struct test tests[] = {
    {"migrate", t_migrate, false, false},
    {"roundtrip", t_roundtrip, false, false},
    {"error_in_txn", t_error_in_txn, false, false},
    {"pool_release_rolls_back", t_pool_release_rolls_back, false, false},
    {"pool_exhausted", t_pool_exhausted, false, false},
    {"statement_timeout", t_statement_timeout, false, false},
    {"lock_timeout", t_lock_timeout, false, false},
    {"connect_errors", t_connect_errors, true, false},
    {"deadlock", t_deadlock, true, false},
    {"open_txn_detector", t_open_txn_detector, true, false},
    {"kill_mid_txn", t_kill_mid_txn, true, false},
    {"test_airflow_59166", test_airflow_59166, true, false},
    {"concurrent_kills", t_concurrent_kills, true, false},
    {"max_connections", t_max_connections, true, false},
    {"prepared_slots_exhausted", t_prepared_slots_exhausted, true, false, true},
    {"restart_between_batches", t_restart_between_batches, true, true},
    {"restart_mid_txn", t_restart_mid_txn, true, true},
    {"server_down", t_server_down, true, true},
};

static const char *env(const char *name, const char *def)
{
	const char *v = getenv(name);
	return v && v[0] ? v : def;
}

int main(void)
{
	int passed = 0, failed = 0, skipped = 0;
	const char *d = env("DAGPROC_TEST_DIALECT", "sqlite");
	store_dialect dial = !strcmp(d, "pg") || !strcmp(d, "postgresql")   ? STORE_PG
	                     : !strcmp(d, "mysql") || !strcmp(d, "mariadb") ? STORE_MYSQL
	                                                                    : STORE_SQLITE;
	store_params_defaults(&base, dial);
	base.host = env("DAGPROC_TEST_HOST", "127.0.0.1");
	base.port = (int)strtol(env("DAGPROC_TEST_PORT", "0"), NULL, 10);
	base.user = env("DAGPROC_TEST_USER", NULL);
	base.password = env("DAGPROC_TEST_PASSWORD", NULL);
	base.database = env("DAGPROC_TEST_DB", NULL);
	base.sqlite_path = env("DAGPROC_TEST_SQLITE", "/tmp/dagproc_test_store_db.sqlite");
	base.connect_timeout = 5;
	base.pool_timeout = 5;
	admin = base;
	admin.user = env("DAGPROC_TEST_ADMIN_USER", base.user);
	admin.password = env("DAGPROC_TEST_ADMIN_PASSWORD", NULL);
	admin.database = env("DAGPROC_TEST_ADMIN_DB", base.database);
	control = env("DAGPROC_TEST_CONTROL", NULL) != NULL;
	only = env("DAGPROC_TEST_ONLY", NULL);
	if (dial == STORE_SQLITE)
		unlink(base.sqlite_path);

	fprintf(stderr, "store tests on %s\n", dialect_name());
	for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
		const struct test *t = &tests[i];
		if (only && strcmp(only, t->name) != 0)
			continue;
		if ((t->server_only && dial == STORE_SQLITE) || (t->needs_control && !control) ||
		    (t->mysql_only && dial != STORE_MYSQL)) {
			fprintf(stderr, "SKIP %s\n", t->name);
			skipped++;
			continue;
		}
		double t0 = clock_epoch();
		int rc = t->fn();
		fprintf(stderr, "%s %s/%s (%.2f s)\n", rc == 0 ? "PASS" : "FAIL", dialect_name(),
		        t->name, clock_epoch() - t0);
		if (rc == 0)
			passed++;
		else
			failed++;
	}
	if (dial == STORE_SQLITE)
		unlink(base.sqlite_path);
	fprintf(stderr, "%s: %d passed, %d failed, %d skipped\n", dialect_name(), passed, failed,
	        skipped);
	const char *results = env("DAGPROC_TEST_RESULTS", NULL);
	if (results) {
		FILE *f = fopen(results, "a");
		if (f) {
			fprintf(f, "%d %d\n", passed, failed);
			fclose(f);
		}
	}
	if (control) {
		fprintf(stdout, "DONE\n");
		fflush(stdout);
	}
	return failed ? 1 : 0;
}
