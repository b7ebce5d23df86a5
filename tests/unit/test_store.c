/* Unit tests of the store that need no server: error classification, SQL builders,
 * retry delays, and the SQLite backend, schema, pool and retry loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/pool.h"
#include "store/retry.h"
#include "store/store.h"
#include "store/store_int.h"
#include "util/clock.h"

static char dbpath[256];

static int setup_db(void **state)
{
	(void)state;
	snprintf(dbpath, sizeof dbpath, "/tmp/dagproc_test_store_%d.db", (int)getpid());
	unlink(dbpath);
	return 0;
}

static int teardown_db(void **state)
{
	char p[300];
	(void)state;
	unlink(dbpath);
	snprintf(p, sizeof p, "%s-wal", dbpath);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", dbpath);
	unlink(p);
	return 0;
}

static void sqlite_params(store_params *p)
{
	store_params_defaults(p, STORE_SQLITE);
	p->sqlite_path = dbpath;
}

static void test_classify_pg(void **state)
{
	bool br;
	(void)state;
	static const char *const transient[] = {"08000", "08006", "08001", "57P01",
	                                        "57P02", "57P03", "40001", "40P01",
	                                        "53300", "55P03", "57014"};
	for (size_t i = 0; i < sizeof transient / sizeof transient[0]; i++)
		assert_int_equal(store_classify_pg(transient[i], false, &br), STORE_TRANSIENT);
	assert_int_equal(store_classify_pg("08006", false, &br), STORE_TRANSIENT);
	assert_true(br);
	assert_int_equal(store_classify_pg("40P01", false, &br), STORE_TRANSIENT);
	assert_false(br);
	assert_int_equal(store_classify_pg("23505", false, &br), STORE_PERMANENT);
	assert_false(br);
	assert_int_equal(store_classify_pg("25P02", false, &br), STORE_PERMANENT);
	assert_int_equal(store_classify_pg("22001", false, &br), STORE_PERMANENT); /* too long */
	/* refusals: no data of ours causes them, so they are retried, never
	 * isolated to a file (issue 9, cause 3) */
	static const char *const refused[] = {"25006", "53100", "42501", "42P01",
	                                      "42703", "3F000", "58030", "57P04"};
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
		assert_int_equal(store_classify_pg(refused[i], false, &br), STORE_REFUSED);
	assert_int_equal(store_classify_pg("25006", false, &br), STORE_REFUSED);
	assert_true(br); /* a read-only session: retried on a new one */
	assert_int_equal(store_classify_pg("53100", false, &br), STORE_REFUSED);
	assert_false(br);
	/* libpq connection-level failure: no SQLSTATE or CONNECTION_BAD */
	assert_int_equal(store_classify_pg(NULL, false, &br), STORE_TRANSIENT);
	assert_true(br);
	assert_int_equal(store_classify_pg("23505", true, &br), STORE_TRANSIENT);
	assert_true(br);
}

static void test_classify_mysql(void **state)
{
	bool br;
	(void)state;
	static const unsigned broken[] = {2002, 2003, 2006, 2013, 2055, 1927, 4031, 1040};
	for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
		assert_int_equal(store_classify_mysql(broken[i], &br), STORE_TRANSIENT);
		assert_true(br);
	}
	assert_int_equal(store_classify_mysql(1205, &br), STORE_TRANSIENT);
	assert_false(br);
	assert_int_equal(store_classify_mysql(1213, &br), STORE_TRANSIENT);
	assert_false(br);
	assert_int_equal(store_classify_mysql(1062, &br), STORE_PERMANENT); /* duplicate key */
	assert_false(br);
	assert_int_equal(store_classify_mysql(1406, &br), STORE_PERMANENT); /* data too long */
	static const unsigned refused[] = {1290, 1836, 1792, 1036, 1223, 1021, 1114,
	                                   1030, 1142, 1143, 1044, 1146, 1054};
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
		assert_int_equal(store_classify_mysql(refused[i], &br), STORE_REFUSED);
}

static void test_classify_sqlite(void **state)
{
	bool br;
	(void)state;
	assert_int_equal(store_classify_sqlite(5, &br), STORE_TRANSIENT);            /* BUSY */
	assert_int_equal(store_classify_sqlite(5 | (2 << 8), &br), STORE_TRANSIENT); /* BUSY_* */
	assert_int_equal(store_classify_sqlite(6, &br), STORE_TRANSIENT);            /* LOCKED */
	assert_false(br);
	assert_int_equal(store_classify_sqlite(19, &br), STORE_PERMANENT); /* CONSTRAINT */
	assert_int_equal(store_classify_sqlite(1, &br), STORE_PERMANENT);
	assert_int_equal(store_classify_sqlite(8, &br), STORE_REFUSED);            /* READONLY */
	assert_int_equal(store_classify_sqlite(8 | (1 << 8), &br), STORE_REFUSED); /* _RECOVERY */
	assert_int_equal(store_classify_sqlite(13, &br), STORE_REFUSED);           /* FULL */
	assert_int_equal(store_classify_sqlite(11, &br), STORE_REFUSED);           /* CORRUPT */
	assert_true(br);
	assert_int_equal(store_classify_sqlite(26, &br), STORE_REFUSED); /* NOTADB */
}

static void test_pg_placeholders(void **state)
{
	(void)state;
	char *s =
	    store_sql_pg_placeholders("SELECT ? , '?', \"a?\" FROM t WHERE a = ? AND b = 'it''s ?' "
	                              "AND c IN (?,?)");
	assert_string_equal(s, "SELECT $1 , '?', \"a?\" FROM t WHERE a = $2 AND b = 'it''s ?' "
	                       "AND c IN ($3,$4)");
	free(s);
}

static void test_upsert_sql(void **state)
{
	(void)state;
	const char *cols[] = {"bundle_name", "filename", "timestamp", "stacktrace"};
	char *s = store_sql_upsert(STORE_PG, "import_error", cols, 4, 2, 2);
	assert_string_equal(s,
	                    "INSERT INTO import_error (bundle_name, filename, timestamp, "
	                    "stacktrace) VALUES (?,?,?,?),(?,?,?,?) ON CONFLICT (bundle_name, "
	                    "filename) DO UPDATE SET timestamp = excluded.timestamp, stacktrace = "
	                    "excluded.stacktrace");
	free(s);
	s = store_sql_upsert(STORE_MYSQL, "import_error", cols, 4, 2, 1);
	assert_string_equal(s, "INSERT INTO import_error (bundle_name, filename, timestamp, "
	                       "stacktrace) VALUES (?,?,?,?) ON DUPLICATE KEY UPDATE timestamp = "
	                       "VALUES(timestamp), stacktrace = VALUES(stacktrace)");
	free(s);
	const char *tag[] = {"dag_id", "name"};
	s = store_sql_upsert(STORE_SQLITE, "dag_tag", tag, 2, 2, 1);
	assert_string_equal(s, "INSERT INTO dag_tag (dag_id, name) VALUES (?,?) ON CONFLICT "
	                       "(dag_id, name) DO NOTHING");
	free(s);
	s = store_sql_upsert(STORE_MYSQL, "dag_tag", tag, 2, 2, 1);
	assert_string_equal(s, "INSERT IGNORE INTO dag_tag (dag_id, name) VALUES (?,?)");
	free(s);
}

static void test_retry_delay(void **state)
{
	(void)state;
	retry_policy rp = {.max_db_retries = 3, .multiplier = 0.5, .backoff_max = 30};
	/* quick phase: uniform in [0, 0.5 * 2^(n-1)) */
	assert_true(retry_next_delay(&rp, 1, 0.0) == 0.0);
	assert_true(retry_next_delay(&rp, 1, 0.5) > 0.24 && retry_next_delay(&rp, 1, 0.5) < 0.26);
	assert_true(retry_next_delay(&rp, 2, 0.999) < 1.0);
	assert_true(retry_next_delay(&rp, 2, 0.999) > 0.99);
	/* slow phase: between half and all of min(cap, 0.5 * 2^(n-1)) */
	assert_true(retry_next_delay(&rp, 3, 0.0) == 1.0);
	assert_true(retry_next_delay(&rp, 3, 0.999) < 2.0);
	assert_true(retry_next_delay(&rp, 5, 0.0) == 4.0);
	/* capped */
	for (unsigned n = 7; n < 1000; n += 7) {
		double d = retry_next_delay(&rp, n, 0.999);
		assert_true(d <= 30.0);
		assert_true(retry_next_delay(&rp, n, 0.0) >= 15.0 || n < 7);
	}
	assert_true(retry_next_delay(&rp, 100000, 0.5) <= 30.0);
	/* monotone upper bounds */
	for (unsigned n = 1; n < 12; n++)
		assert_true(retry_next_delay(&rp, n, 0.999) <=
		            retry_next_delay(&rp, n + 1, 0.999) + 1e-9);
	for (int i = 0; i < 1000; i++) {
		double r = retry_random();
		assert_true(r >= 0 && r < 1);
	}
}

/* Issue 10: a driver's message is passed on untouched, whatever the password: with
 * the password "p" it used to read "***ort 5432 failed ... unex***ectedly", garbled
 * and telling which letters the password has. libpq refusing a closed port is
 * enough: no server needed. */
static void test_driver_message_untouched(void **state)
{
	(void)state;
	static const char *const pw[] = {"p", "or", "ion", "t", "e", "1"};
	for (size_t i = 0; i < sizeof pw / sizeof pw[0]; i++) {
		store_params p;
		store_conn *c = NULL;
		store_error err;
		store_params_defaults(&p, STORE_PG);
		p.host = "127.0.0.1";
		p.port = 1; /* nothing listens there */
		p.user = "dagproc";
		p.password = pw[i];
		p.database = "postgres";
		p.connect_timeout = 2;
		assert_int_not_equal(store_connect(&p, &c, &err), 0);
		assert_null(c);
		assert_null(strstr(err.message, "***"));
		assert_non_null(strstr(err.message, "port 1 failed"));
		assert_non_null(strstr(err.message, "Connection refused"));
	}
}

static void test_sqlite_schema(void **state)
{
	(void)state;
	store_params p;
	store_conn *c = NULL;
	store_error err;
	int v = -1;
	int64_t n;
	sqlite_params(&p);
	assert_int_equal(store_connect(&p, &c, &err), 0);
	assert_int_equal(store_schema_version(c, &v, &err), 0);
	assert_int_equal(v, 0);
	assert_int_equal(store_migrate(c, &err), 0);
	assert_int_equal(store_schema_version(c, &v, &err), 0);
	assert_int_equal(v, STORE_SCHEMA_VERSION);
	assert_int_equal(store_migrate(c, &err), 0); /* idempotent */
	assert_int_equal(
	    store_query_int(c, "SELECT count(*) FROM schema_version", NULL, 0, &n, NULL, &err), 0);
	assert_int_equal(n, STORE_SCHEMA_VERSION); /* one row per migration */
	static const char *const tables[] = {"dag_bundle",     "dag",          "dag_tag",
	                                     "serialized_dag", "import_error", "dag_warning",
	                                     "parse_stat",     "file_lease",   "sync_lock"};
	for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
		store_param t = store_p_text(tables[i]);
		assert_int_equal(
		    store_query_int(c, "SELECT count(*) FROM sqlite_master WHERE name = ?", &t, 1,
		                    &n, NULL, &err),
		    0);
		assert_int_equal(n, 1);
	}
	/* unique (bundle_name, filename) on import_error */
	store_param ie[2] = {store_p_text("b"), store_p_text("a.yml")};
	assert_int_equal(
	    store_exec(c, "INSERT INTO import_error (bundle_name, filename) VALUES (?, ?)", ie, 2,
	               &err),
	    0);
	assert_int_not_equal(
	    store_exec(c, "INSERT INTO import_error (bundle_name, filename) VALUES (?, ?)", ie, 2,
	               &err),
	    0);
	assert_int_equal(err.cls, STORE_PERMANENT);
	assert_false(err.conn_broken);
	assert_false(store_conn_broken(c));
	assert_int_equal(store_drop_schema(c, &err), 0);
	assert_int_equal(store_schema_version(c, &v, &err), 0);
	assert_int_equal(v, 0);
	store_close(c);
}

struct rows {
	int n;
	char first[64];
	bool saw_null;
};

static int collect(void *ud, size_t ncols, const char *const *vals)
{
	struct rows *r = ud;
	if (r->n == 0 && ncols > 0 && vals[0])
		snprintf(r->first, sizeof r->first, "%s", vals[0]);
	for (size_t i = 0; i < ncols; i++)
		if (!vals[i])
			r->saw_null = true;
	r->n++;
	return 0;
}

static void test_sqlite_txn_and_upsert(void **state)
{
	(void)state;
	store_params p;
	store_conn *c = NULL;
	store_error err;
	int64_t n;
	char ts[32];
	sqlite_params(&p);
	assert_int_equal(store_connect(&p, &c, &err), 0);
	assert_int_equal(store_migrate(c, &err), 0);
	const char *cols[] = {"bundle_name", "filename", "timestamp", "stacktrace"};
	char *sql = store_sql_upsert(STORE_SQLITE, "import_error", cols, 4, 2, 2);
	store_format_ts(clock_epoch(), ts, sizeof ts);
	store_param v[8] = {store_p_text("b"), store_p_text("x.yml"),
	                    store_p_text(ts),  store_p_text("x.yml:1:1: error[E001]: one"),
	                    store_p_text("b"), store_p_text("y.yml"),
	                    store_p_text(ts),  store_p_null()};
	assert_int_equal(store_begin_write(c, &err), 0);
	assert_true(store_in_txn(c));
	assert_int_equal(store_exec(c, sql, v, 8, &err), 0);
	v[3] = store_p_text("x.yml:2:1: error[E002]: two");
	assert_int_equal(store_exec(c, sql, v, 8, &err), 0);
	assert_int_equal(store_commit(c, &err), 0);
	assert_false(store_in_txn(c));
	assert_int_equal(
	    store_query_int(c, "SELECT count(*) FROM import_error", NULL, 0, &n, NULL, &err), 0);
	assert_int_equal(n, 2);
	struct rows r = {0};
	assert_int_equal(store_query(c,
	                             "SELECT stacktrace FROM import_error WHERE bundle_name = ? "
	                             "ORDER BY filename",
	                             v, 1, collect, &r, &err),
	                 0);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.first, "x.yml:2:1: error[E002]: two");
	assert_true(r.saw_null);
	/* rollback discards */
	assert_int_equal(store_begin(c, &err), 0);
	assert_int_equal(store_exec(c, "DELETE FROM import_error", NULL, 0, &err), 0);
	assert_int_equal(store_changes(c), 2);
	store_rollback(c);
	assert_false(store_in_txn(c));
	assert_int_equal(
	    store_query_int(c, "SELECT count(*) FROM import_error", NULL, 0, &n, NULL, &err), 0);
	assert_int_equal(n, 2);
	/* a failed statement inside a transaction, then rollback: connection still fine */
	assert_int_equal(store_begin(c, &err), 0);
	assert_int_not_equal(
	    store_exec(c, "INSERT INTO import_error (filename) VALUES (NULL)", NULL, 0, &err), 0);
	assert_int_equal(err.cls, STORE_PERMANENT);
	/* a table the schema lacks: the database refuses, not the data */
	assert_int_not_equal(store_exec(c, "INSERT INTO no_such_table VALUES (1)", NULL, 0, &err),
	                     0);
	assert_int_equal(err.cls, STORE_REFUSED);
	store_rollback(c);
	assert_int_equal(store_ping(c, &err), 0);
	free(sql);
	store_close(c);
}

static void test_sqlite_busy_is_transient(void **state)
{
	(void)state;
	store_params p;
	store_conn *a = NULL, *b = NULL;
	store_error err;
	sqlite_params(&p);
	p.lock_timeout = 1;
	assert_int_equal(store_connect(&p, &a, &err), 0);
	assert_int_equal(store_connect(&p, &b, &err), 0);
	assert_int_equal(store_migrate(a, &err), 0);
	assert_int_equal(store_begin_write(a, &err), 0);
	assert_int_not_equal(store_begin_write(b, &err), 0);
	assert_int_equal(err.cls, STORE_TRANSIENT);
	assert_false(err.conn_broken);
	store_rollback(a);
	assert_int_equal(store_begin_write(b, &err), 0);
	assert_int_equal(store_commit(b, &err), 0);
	store_close(a);
	store_close(b);
}

static void test_sqlite_statement_timeout(void **state)
{
	(void)state;
	store_params p;
	store_conn *c = NULL;
	store_error err;
	int64_t n;
	sqlite_params(&p);
	p.statement_timeout = 1;
	assert_int_equal(store_connect(&p, &c, &err), 0);
	assert_int_not_equal(
	    store_query_int(c,
	                    "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
	                    "FROM r) SELECT count(*) FROM r",
	                    NULL, 0, &n, NULL, &err),
	    0);
	assert_int_equal(err.cls, STORE_TRANSIENT);
	assert_int_equal(store_ping(c, &err), 0);
	store_close(c);
}

static void test_pool_timeout_and_release(void **state)
{
	(void)state;
	store_params p;
	store_error err;
	store_conn *c1 = NULL, *c2 = NULL, *c3 = NULL;
	pool_stats st;
	sqlite_params(&p);
	p.pool_size = 1;
	p.max_overflow = 1;
	p.pool_timeout = 0.2;
	pool *pl = pool_create(&p);
	assert_int_equal(pool_acquire(pl, &c1, &err), 0);
	assert_int_equal(pool_acquire(pl, &c2, &err), 0);
	assert_int_not_equal(pool_acquire(pl, &c3, &err), 0);
	assert_int_equal(err.cls, STORE_TRANSIENT);
	assert_string_equal(err.code, "pool_timeout");
	assert_non_null(strstr(err.message, "pool timeout"));
	/* a connection released inside a transaction comes back rolled back */
	assert_int_equal(store_migrate(c1, &err), 0);
	assert_int_equal(store_begin(c1, &err), 0);
	assert_int_equal(
	    store_exec(c1, "INSERT INTO dag_bundle (name) VALUES ('x')", NULL, 0, &err), 0);
	pool_release(pl, c1);
	pool_release(pl, c2); /* overflow: closed */
	pool_get_stats(pl, &st);
	assert_int_equal(st.idle, 1);
	assert_int_equal(st.in_use, 0);
	assert_int_equal(st.timeouts, 1);
	assert_int_equal(pool_acquire(pl, &c3, &err), 0);
	assert_false(store_in_txn(c3));
	int64_t n;
	assert_int_equal(
	    store_query_int(c3, "SELECT count(*) FROM dag_bundle", NULL, 0, &n, NULL, &err), 0);
	assert_int_equal(n, 0);
	pool_release(pl, c3);
	pool_destroy(pl);
}

struct flaky {
	int fail_times;
	int calls;
	bool permanent;
	const char *name;
	double delays[16];
	int ndelays;
};

static int flaky_write(store_conn *c, void *ud, store_error *err)
{
	struct flaky *f = ud;
	f->calls++;
	if (store_in_txn(c) == false) {
		store_error_set(err, STORE_PERMANENT, "test", false, "not in a transaction");
		return -1;
	}
	store_param nm = store_p_text(f->name);
	if (store_exec(c, "INSERT INTO dag_bundle (name) VALUES (?)", &nm, 1, err) != 0)
		return -1;
	if (f->calls <= f->fail_times) {
		store_error_set(err, f->permanent ? STORE_PERMANENT : STORE_TRANSIENT, "40001",
		                false, "injected failure %d", f->calls);
		return -1;
	}
	return 0;
}

static void fake_sleep(double s, void *ud)
{
	struct flaky *f = ud;
	if (f->ndelays < 16)
		f->delays[f->ndelays++] = s;
}

static void test_retry_run(void **state)
{
	(void)state;
	store_params p;
	store_error err;
	retry_policy rp;
	int64_t n;
	store_conn *c = NULL;
	sqlite_params(&p);
	p.max_db_retries = 2;
	p.retry_backoff_max = 4;
	retry_policy_from_params(&rp, &p);
	pool *pl = pool_create(&p);
	assert_int_equal(pool_acquire(pl, &c, &err), 0);
	assert_int_equal(store_migrate(c, &err), 0);
	pool_release(pl, c);

	struct flaky f = {.fail_times = 4, .name = "f"};
	retry_opts o = {.sleep_fn = fake_sleep, .ud = &f};
	assert_int_equal(retry_run(pl, &rp, flaky_write, &f, &o, &err), 0);
	assert_int_equal(o.attempts, 5);
	assert_int_equal(f.ndelays, 4);
	assert_true(f.delays[0] < 0.5);         /* quick */
	assert_true(f.delays[1] >= 0.5);        /* slow: >= half of 1.0 */
	assert_true(f.delays[3] <= 4.0 + 1e-9); /* capped */
	assert_int_equal(pool_acquire(pl, &c, &err), 0);
	/* the failed attempts were rolled back: exactly one row */
	assert_int_equal(
	    store_query_int(c, "SELECT count(*) FROM dag_bundle", NULL, 0, &n, NULL, &err), 0);
	assert_int_equal(n, 1);
	pool_release(pl, c);

	struct flaky g = {.fail_times = 5, .permanent = true, .name = "g"};
	retry_opts o2 = {.sleep_fn = fake_sleep, .ud = &g};
	assert_int_not_equal(retry_run(pl, &rp, flaky_write, &g, &o2, &err), 0);
	assert_int_equal(err.cls, STORE_PERMANENT);
	assert_int_equal(o2.attempts, 1);

	struct flaky h = {.fail_times = 100, .name = "h"};
	retry_opts o3 = {.sleep_fn = fake_sleep, .ud = &h, .max_attempts = 3};
	assert_int_not_equal(retry_run(pl, &rp, flaky_write, &h, &o3, &err), 0);
	assert_int_equal(err.cls, STORE_TRANSIENT);
	assert_int_equal(o3.attempts, 3);
	pool_destroy(pl);
}

struct thr {
	pool *pl;
	int ok;
	char last_error[400]; /* why an attempt failed, for the report */
};

static void *hammer(void *arg)
{
	struct thr *t = arg;
	for (int i = 0; i < 50; i++) {
		store_conn *c = NULL;
		store_error err;
		int64_t n;
		if (pool_acquire(t->pl, &c, &err) != 0) {
			snprintf(t->last_error, sizeof t->last_error, "acquire: %s", err.message);
			continue;
		}
		if (store_query_int(c, "SELECT 1", NULL, 0, &n, NULL, &err) == 0)
			t->ok++;
		else
			snprintf(t->last_error, sizeof t->last_error, "query: %s", err.message);
		pool_release(t->pl, c);
	}
	return NULL;
}

static void test_pool_threads(void **state)
{
	(void)state;
	store_params p;
	pool_stats st;
	sqlite_params(&p);
	p.pool_size = 2;
	p.max_overflow = 1;
	/* a test of thread safety, not of timing: under valgrind the threads run
	 * one at a time and a waiter can starve for seconds */
	p.pool_timeout = 300;
	pool *pl = pool_create(&p);
	/* the database exists (in WAL mode) before the threads race to open
	 * it, as it does after a migration; opening a new file from several
	 * connections at once can meet SQLITE_BUSY while one switches the
	 * journal mode, a transient error the writer retries */
	store_conn *c0 = NULL;
	store_error e0;
	assert_int_equal(pool_acquire(pl, &c0, &e0), 0);
	pool_release(pl, c0);
	pthread_t th[8];
	struct thr t[8];
	for (int i = 0; i < 8; i++) {
		t[i] = (struct thr){.pl = pl};
		pthread_create(&th[i], NULL, hammer, &t[i]);
	}
	for (int i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 8; i++) {
		if (t[i].ok != 50)
			print_message("thread %d: %d of 50; last error: %s\n", i, t[i].ok,
			              t[i].last_error);
		assert_int_equal(t[i].ok, 50);
	}
	pool_get_stats(pl, &st);
	assert_int_equal(st.in_use, 0);
	assert_true(st.idle <= 2);
	assert_true(st.opened <= 3 + st.closed);
	pool_destroy(pl);
}

/* One-line messages (bug: libpq's "\n\t" continuation lines left a tab in the
 * log). */
static void test_one_line(void **state)
{
	(void)state;
	store_error err;
	store_error_set(&err, STORE_TRANSIENT, "08006", true,
	                "failed: Connection refused\n\tIs the server running?\n");
	assert_string_equal(err.message, "failed: Connection refused Is the server running?");
}

/* Issue 10: a dead peer is noticed within about a minute with the defaults, sooner
 * with lower settings (the partition test lowers them). */
static void test_net_timeouts(void **state)
{
	(void)state;
	store_params p;
	store_net_timeouts t;
	store_params_defaults(&p, STORE_PG);
	store_net_timeouts_of(&p, &t);
	assert_int_equal(t.keepalives_idle, 10);
	assert_int_equal(t.keepalives_interval, 3);
	assert_int_equal(t.keepalives_count, 3);
	assert_int_equal(t.tcp_user_timeout_ms, 20000);
	assert_int_equal(t.reply_timeout, 50);
	assert_int_equal(t.write_timeout, 20);
	/* silence noticed by the keepalives, or an unanswered statement, within 60 s */
	assert_true(t.keepalives_idle + t.keepalives_interval * t.keepalives_count <= 60);
	assert_true(t.reply_timeout <= 60 && t.tcp_user_timeout_ms <= 60000);
	p.connect_timeout = 2;
	p.statement_timeout = 3;
	store_net_timeouts_of(&p, &t);
	assert_int_equal(t.keepalives_idle, 2);
	assert_int_equal(t.keepalives_interval, 1);
	assert_int_equal(t.tcp_user_timeout_ms, 4000);
	assert_int_equal(t.reply_timeout, 7);
	p.statement_timeout = 0; /* none: no deadline on answers, the keepalives remain */
	store_net_timeouts_of(&p, &t);
	assert_int_equal(t.reply_timeout, 0);
	assert_int_equal(t.keepalives_idle, 2);
}

/* Issue 10: MySQL 8 rejected MariaDB's session variables (1193) and CREATE INDEX IF
 * NOT EXISTS, so every connection failed for ever. MySQL 8 is not packaged for
 * Debian 12: the statements each flavour gets are checked here. */
static void test_mysql_flavours(void **state)
{
	(void)state;
	assert_int_equal(store_mysql_flavour_of("10.11.6-MariaDB-0+deb12u1"),
	                 STORE_FLAVOUR_MARIADB);
	assert_int_equal(store_mysql_flavour_of("5.5.5-10.6.16-MariaDB"), STORE_FLAVOUR_MARIADB);
	assert_int_equal(store_mysql_flavour_of("8.0.35"), STORE_FLAVOUR_MYSQL);
	assert_int_equal(store_mysql_flavour_of("8.4.0-commercial"), STORE_FLAVOUR_MYSQL);

	char *m = store_mysql_session_sql(STORE_FLAVOUR_MARIADB, 101106, 30, 5, 0);
	assert_string_equal(m, "SET time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,"
	                       "NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,"
	                       "NO_ENGINE_SUBSTITUTION,ANSI_QUOTES', tx_isolation = "
	                       "'READ-COMMITTED', max_statement_time = 30, "
	                       "innodb_lock_wait_timeout = 5");
	free(m);
	m = store_mysql_session_sql(STORE_FLAVOUR_MARIADB, 110402, 0, 0, 0);
	assert_non_null(strstr(m, ", transaction_isolation = 'READ-COMMITTED', "
	                          "max_statement_time = 0"));
	assert_null(strstr(m, "tx_isolation"));
	assert_null(strstr(m, "innodb_lock_wait_timeout"));
	free(m);
	m = store_mysql_session_sql(STORE_FLAVOUR_MARIADB, 101106, 30, 2, 3);
	assert_non_null(strstr(m, "innodb_lock_wait_timeout = 2, idle_transaction_timeout = 3"));
	free(m);
	m = store_mysql_session_sql(STORE_FLAVOUR_MYSQL, 80035, 30, 5, 3);
	assert_string_equal(m, "SET time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,"
	                       "NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,"
	                       "NO_ENGINE_SUBSTITUTION,ANSI_QUOTES', transaction_isolation = "
	                       "'READ-COMMITTED', max_execution_time = 30000, "
	                       "innodb_lock_wait_timeout = 5");
	free(m);

	/* the schema: MariaDB keeps IF NOT EXISTS, MySQL gets guarded plain statements */
	size_t nm = 0, ny = 0;
	store_ddl *mdb = store_schema_ddl(STORE_MYSQL, STORE_FLAVOUR_MARIADB, 1, &nm);
	store_ddl *my = store_schema_ddl(STORE_MYSQL, STORE_FLAVOUR_MYSQL, 1, &ny);
	assert_non_null(mdb);
	assert_non_null(my);
	assert_int_equal(nm, ny);
	size_t guarded = 0;
	for (size_t i = 0; i < ny; i++) {
		assert_null(mdb[i].index);
		if (strncmp(mdb[i].sql, "CREATE INDEX", 12) == 0) {
			assert_true(strncmp(mdb[i].sql, "CREATE INDEX IF NOT EXISTS ", 27) == 0);
			assert_true(strncmp(my[i].sql, "CREATE INDEX ", 13) == 0);
			assert_null(strstr(my[i].sql, "IF NOT EXISTS"));
			assert_non_null(my[i].index);
			assert_non_null(my[i].table);
			/* the same index on the same table */
			assert_non_null(strstr(mdb[i].sql, my[i].index));
			char on[64];
			snprintf(on, sizeof on, " ON %s (", my[i].table);
			assert_non_null(strstr(my[i].sql, on));
			guarded++;
		} else {
			assert_string_equal(my[i].sql, mdb[i].sql);
			assert_null(my[i].index);
			assert_non_null(strstr(my[i].sql, "ENGINE=InnoDB"));
		}
	}
	assert_int_equal(guarded, 4);
	assert_string_equal(my[2].sql, "CREATE INDEX idx_dag_bundle_file ON dag (bundle_name, "
	                               "relative_fileloc)");
	assert_string_equal(my[2].index, "idx_dag_bundle_file");
	assert_string_equal(my[2].table, "dag");
	store_ddl_free(mdb, nm);
	store_ddl_free(my, ny);
	/* PostgreSQL and SQLite are not touched by the flavour */
	store_ddl *pg = store_schema_ddl(STORE_PG, STORE_FLAVOUR_OTHER, 1, &nm);
	assert_true(strncmp(pg[2].sql, "CREATE INDEX IF NOT EXISTS", 26) == 0);
	store_ddl_free(pg, nm);
	assert_null(store_schema_ddl(STORE_PG, STORE_FLAVOUR_OTHER, 99, &nm));
	assert_int_equal(nm, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_classify_pg),
	    cmocka_unit_test(test_classify_mysql),
	    cmocka_unit_test(test_classify_sqlite),
	    cmocka_unit_test(test_pg_placeholders),
	    cmocka_unit_test(test_upsert_sql),
	    cmocka_unit_test(test_retry_delay),
	    cmocka_unit_test(test_driver_message_untouched),
	    cmocka_unit_test_setup_teardown(test_sqlite_schema, setup_db, teardown_db),
	    cmocka_unit_test_setup_teardown(test_sqlite_txn_and_upsert, setup_db, teardown_db),
	    cmocka_unit_test_setup_teardown(test_sqlite_busy_is_transient, setup_db, teardown_db),
	    cmocka_unit_test_setup_teardown(test_sqlite_statement_timeout, setup_db, teardown_db),
	    cmocka_unit_test_setup_teardown(test_pool_timeout_and_release, setup_db, teardown_db),
	    cmocka_unit_test_setup_teardown(test_retry_run, setup_db, teardown_db),
	    cmocka_unit_test_setup_teardown(test_pool_threads, setup_db, teardown_db),
	    cmocka_unit_test(test_one_line),
	    cmocka_unit_test(test_net_timeouts),
	    cmocka_unit_test(test_mysql_flavours),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
