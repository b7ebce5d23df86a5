/* The sync rules of SPEC §3, as tests. Runs on a temporary SQLite database, or
 * on the server named by DAGPROC_TEST_DB_URL (tests/db/run_db_tests.sh starts
 * PostgreSQL and MariaDB and runs this same program against each). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include "dagfile/catalog.h"
#include "dagfile/dagfile.h"
#include "store/pool.h"
#include "store/store.h"
#include "store/store_url.h"
#include "sync/lease.h"
#include "sync/sync.h"
#include "util/clock.h"
#include "util/xalloc.h"

static catalog *cat;
static pool *pl;
static struct db_url url;
static store_params params;
static char sqlite_path[256];
static char *url_text;
/* The files the last sync_files asked to parse again ("bundle\x1frel"). */
static sync_requeue last_rq;
static store_error last_err;
/* The processor name the files are written under (leases on PG/MySQL), or NULL. */
static const char *lease_owner;
static int64_t lease_token;
static int lease_seconds;

#define BASH "airflow.providers.standard.operators.bash.BashOperator"

static int reset_db(void)
{
	store_conn *c;
	store_error err;
	if (pool_acquire(pl, &c, &err) != 0) {
		fprintf(stderr, "acquire: %s\n", err.message);
		return -1;
	}
	int rc = store_drop_schema(c, &err);
	if (rc == 0)
		rc = store_migrate(c, &err);
	if (rc != 0)
		fprintf(stderr, "reset: %s\n", err.message);
	pool_release(pl, c);
	return rc;
}

static int setup(void **state)
{
	(void)state;
	char *err = NULL;
	cat = catalog_load(NULL, 0, &err);
	if (!cat)
		return -1;
	const char *env = getenv("DAGPROC_TEST_DB_URL");
	if (env && *env) {
		url_text = strdup(env);
	} else {
		snprintf(sqlite_path, sizeof(sqlite_path), "/tmp/dagproc-sync-%d.db",
		         (int)getpid());
		url_text = malloc(300);
		snprintf(url_text, 300, "sqlite:///%s", sqlite_path);
	}
	if (store_params_from_url(url_text, NULL, &url, &params, &err) != 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	params.pool_size = 2;
	params.pool_timeout = 5;
	pl = pool_create(&params);
	return pl ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	pool_destroy(pl);
	db_url_free(&url);
	catalog_free(cat);
	if (sqlite_path[0]) {
		char p[300];
		unlink(sqlite_path);
		snprintf(p, sizeof(p), "%s-wal", sqlite_path);
		unlink(p);
		snprintf(p, sizeof(p), "%s-shm", sqlite_path);
		unlink(p);
	}
	free(url_text);
	sync_requeue_free(&last_rq);
	return 0;
}

static int each_setup(void **state)
{
	(void)state;
	return reset_db();
}

/* A file of the test bundle: its text parsed now. */
typedef struct tfile {
	char rel[64];
	dagfile_result res;
	bool deleted;
} tfile;

static void tparse(tfile *f, const char *rel, const char *yaml)
{
	static const char *const pools[] = {"default_pool"};
	snprintf(f->rel, sizeof(f->rel), "%s", rel);
	dagfile_opts o = {.cat = cat, .bundle_root = "/nonexistent", .pools = pools, .npools = 1};
	char path[128];
	snprintf(path, sizeof(path), "/nonexistent/%s", rel);
	dagfile_parse_text(path, yaml, strlen(yaml), &o, &f->res);
	f->deleted = false;
}

static void tdelete(tfile *f, const char *rel)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->rel, sizeof(f->rel), "%s", rel);
	f->deleted = true;
}

static void tfree(tfile *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dagfile_result_free(&f[i].res);
}

/* Syncs the files as one batch; returns sync_write's status. */
static int sync_files_rc(tfile *f, size_t n, sync_stats *st)
{
	sync_file *sf = calloc(n, sizeof(*sf));
	char locs[16][128];
	for (size_t i = 0; i < n; i++) {
		snprintf(locs[i], sizeof(locs[i]), "/nonexistent/%s", f[i].rel);
		sf[i].bundle = "dags-folder";
		sf[i].rel = f[i].rel;
		sf[i].fileloc = locs[i];
		sf[i].deleted = f[i].deleted;
		sf[i].res = f[i].deleted ? NULL : &f[i].res;
		sf[i].mtime = 1000;
		sf[i].size = 10;
		sf[i].parsed_at = clock_epoch();
		sf[i].lease_owner = lease_owner;
		sf[i].lease_token = lease_token;
		sf[i].lease_seconds = lease_seconds;
	}
	sync_requeue_free(&last_rq);
	int rc = sync_write(pl, sf, n, st, &last_rq, &last_err);
	free(sf);
	return rc;
}

/* Syncs the files as one batch, which must succeed; returns the stats. */
static sync_stats sync_files(tfile *f, size_t n)
{
	sync_stats st = {0};
	int rc = sync_files_rc(f, n, &st);
	if (rc != 0)
		print_message("sync_write: [%s] %s\n", last_err.code, last_err.message);
	assert_int_equal(rc, 0);
	return st;
}

/* ---- reading the database ---- */

typedef struct qacc {
	char buf[4096];
	int rows;
} qacc;

static int acc_row(void *ud, size_t ncols, const char *const *v)
{
	qacc *a = ud;
	for (size_t i = 0; i < ncols; i++) {
		size_t l = strlen(a->buf);
		snprintf(a->buf + l, sizeof(a->buf) - l, "%s%s", i ? "|" : (a->rows ? ";" : ""),
		         v[i] ? v[i] : "NULL");
	}
	a->rows++;
	return 0;
}

/* Rows as "a|b;c|d" with booleans as 0/1 whatever the dialect. */
static char *q(const char *sql)
{
	static qacc a;
	memset(&a, 0, sizeof(a));
	store_conn *c;
	store_error err;
	assert_int_equal(pool_acquire(pl, &c, &err), 0);
	int rc = store_query(c, sql, NULL, 0, acc_row, &a, &err);
	if (rc != 0)
		print_message("query %s: %s\n", sql, err.message);
	assert_int_equal(rc, 0);
	pool_release(pl, c);
	for (char *p = a.buf; *p; p++) {
		/* PostgreSQL prints booleans as t/f */
		bool start = p == a.buf || p[-1] == '|' || p[-1] == ';';
		bool end = p[1] == '\0' || p[1] == '|' || p[1] == ';';
		if (start && end && (*p == 't' || *p == 'f'))
			*p = *p == 't' ? '1' : '0';
	}
	return a.buf;
}

static int qcount(const char *sql)
{
	return atoi(q(sql));
}

/* ---- the bundle ---- */

static const char *const good_a =
    "etl:\n"
    "  schedule: '@daily'\n"
    "  tags: [core, daily]\n"
    "  tasks:\n"
    "    - {task_id: extract, operator: " BASH ", bash_command: echo e}\n"
    "    - {task_id: load, operator: " BASH ", bash_command: echo l,"
    " dependencies: [extract]}\n"
    "reports:\n"
    "  tasks:\n"
    "    - {task_id: r, operator: " BASH ", bash_command: echo r,"
    " pool: missing_pool}\n";

static const char *const broken_b =
    "ml:\n"
    "  tasks:\n"
    "    - {task_id: train, operator: airflow.operators.nope.Operator}\n"
    "fine:\n"
    "  tasks:\n"
    "    - {task_id: t, operator: " BASH ", bash_command: echo}\n";

static void test_initial_sync(void **state)
{
	(void)state;
	tfile f[2];
	tparse(&f[0], "a.yml", good_a);
	tparse(&f[1], "b.yml", broken_b);
	sync_stats st = sync_files(f, 2);
	assert_int_equal(st.files_changed, 2);
	/* invariant 2: correct DAGs have rows, not stale, has_import_errors per file */
	assert_string_equal(
	    q("SELECT dag_id, relative_fileloc, is_stale, has_import_errors FROM dag "
	      "ORDER BY dag_id"),
	    "etl|a.yml|0|0;fine|b.yml|0|1;reports|a.yml|0|0");
	/* a DAG that never parsed correctly has no row */
	assert_int_equal(qcount("SELECT count(*) FROM dag WHERE dag_id = 'ml'"), 0);
	assert_int_equal(qcount("SELECT count(*) FROM serialized_dag"), 3);
	assert_string_equal(q("SELECT dag_id, name FROM dag_tag ORDER BY dag_id, name"),
	                    "etl|core;etl|daily");
	/* invariant 1: one import_error row for the broken file, none for the other */
	assert_string_equal(q("SELECT filename FROM import_error"), "b.yml");
	char *st_text = q("SELECT stacktrace FROM import_error");
	assert_non_null(strstr(st_text, "b.yml:3:34: error[E011]: ModuleNotFoundError"));
	/* invariant 4: warnings of the latest parse */
	assert_string_equal(q("SELECT dag_id, warning_type FROM dag_warning"),
	                    "reports|non-existent pool");
	assert_int_equal(qcount("SELECT count(*) FROM parse_stat"), 2);
	tfree(f, 2);
}

static void test_idempotent_second_sync_writes_nothing(void **state)
{
	(void)state;
	tfile f[2];
	tparse(&f[0], "a.yml", good_a);
	tparse(&f[1], "b.yml", broken_b);
	sync_files(f, 2);
	char before[4096];
	snprintf(before, sizeof(before), "%s",
	         q("SELECT dag_id, is_stale, has_import_errors, last_parsed_time FROM dag ORDER BY "
	           "dag_id"));
	/* parse again: same content, new results */
	tfree(f, 2);
	tparse(&f[0], "a.yml", good_a);
	tparse(&f[1], "b.yml", broken_b);
	sync_stats st = sync_files(f, 2);
	/* invariant 5 */
	assert_int_equal(st.writes, 0);
	assert_int_equal(st.files_unchanged, 2);
	assert_string_equal(q("SELECT dag_id, is_stale, has_import_errors, last_parsed_time FROM "
	                      "dag ORDER BY dag_id"),
	                    before);
	tfree(f, 2);
}

static void test_change_rewrites_only_what_changed(void **state)
{
	(void)state;
	tfile f[2];
	tparse(&f[0], "a.yml", good_a);
	tparse(&f[1], "b.yml", broken_b);
	sync_files(f, 2);
	char hash_reports[128];
	snprintf(hash_reports, sizeof(hash_reports), "%s",
	         q("SELECT dag_hash FROM serialized_dag WHERE dag_id = 'reports'"));
	char hash_etl[128];
	snprintf(hash_etl, sizeof(hash_etl), "%s",
	         q("SELECT dag_hash FROM serialized_dag WHERE dag_id = 'etl'"));
	tfree(f, 1);
	char *changed = strdup(good_a);
	char *p = strstr(changed, "echo e");
	p[5] = 'E';
	tparse(&f[0], "a.yml", changed);
	sync_stats st = sync_files(f, 1);
	assert_int_equal(st.serialized_written, 1);
	assert_string_not_equal(q("SELECT dag_hash FROM serialized_dag WHERE dag_id = 'etl'"),
	                        hash_etl);
	assert_string_equal(q("SELECT dag_hash FROM serialized_dag WHERE dag_id = 'reports'"),
	                    hash_reports);
	assert_non_null(
	    strstr(q("SELECT data FROM serialized_dag WHERE dag_id = 'etl'"), "echo E"));
	free(changed);
	tfree(f, 2);
}

static void test_vanished_dag_and_deleted_file_are_stale(void **state)
{
	(void)state;
	tfile f[2];
	tparse(&f[0], "a.yml", good_a);
	tparse(&f[1], "b.yml", broken_b);
	sync_files(f, 2);
	tfree(f, 2);
	/* reports vanishes from a.yml; b.yml is deleted */
	tparse(&f[0], "a.yml",
	       "etl:\n  tasks:\n    - {task_id: x, operator: " BASH ", bash_command: echo}\n");
	tdelete(&f[1], "b.yml");
	sync_files(f, 2);
	/* invariant 3, rows kept */
	assert_string_equal(q("SELECT dag_id, is_stale FROM dag ORDER BY dag_id"),
	                    "etl|0;fine|1;reports|1");
	assert_int_equal(qcount("SELECT count(*) FROM serialized_dag"), 3);
	assert_int_equal(qcount("SELECT count(*) FROM import_error"), 0);
	/* stale DAGs have no warnings */
	assert_int_equal(qcount("SELECT count(*) FROM dag_warning"), 0);
	assert_int_equal(qcount("SELECT count(*) FROM parse_stat"), 1);
	/* the tags of etl follow the file: none now */
	assert_int_equal(qcount("SELECT count(*) FROM dag_tag"), 0);
	/* the DAG comes back */
	tfree(f, 1);
	tparse(&f[0], "a.yml", good_a);
	sync_files(f, 1);
	assert_string_equal(q("SELECT dag_id, is_stale FROM dag ORDER BY dag_id"),
	                    "etl|0;fine|1;reports|0");
	tfree(f, 1);
}

static void test_dag_with_errors_keeps_last_good_serialization(void **state)
{
	(void)state;
	tfile f[1];
	tparse(&f[0], "a.yml", good_a);
	sync_files(f, 1);
	char data[4096];
	snprintf(data, sizeof(data), "%s",
	         q("SELECT data FROM serialized_dag WHERE dag_id = 'etl'"));
	tfree(f, 1);
	tparse(&f[0], "a.yml",
	       "etl:\n  tasks:\n    - {task_id: extract, operator: " BASH
	       ", bash_command: echo, dependencies: [nope]}\n"
	       "reports:\n  tasks:\n    - {task_id: r, operator: " BASH
	       ", bash_command: echo r}\n");
	sync_files(f, 1);
	assert_string_equal(
	    q("SELECT dag_id, is_stale, has_import_errors FROM dag ORDER BY dag_id"),
	    "etl|0|1;reports|0|1");
	assert_string_equal(q("SELECT data FROM serialized_dag WHERE dag_id = 'etl'"), data);
	assert_non_null(strstr(q("SELECT stacktrace FROM import_error"), "error[E020]"));
	/* the pool warning of reports is gone with the pool */
	assert_int_equal(qcount("SELECT count(*) FROM dag_warning"), 0);
	/* fixed again: no import error, flags cleared */
	tfree(f, 1);
	tparse(&f[0], "a.yml", good_a);
	sync_files(f, 1);
	assert_string_equal(q("SELECT dag_id, has_import_errors FROM dag ORDER BY dag_id"),
	                    "etl|0;reports|0");
	assert_int_equal(qcount("SELECT count(*) FROM import_error"), 0);
	tfree(f, 1);
}

static void test_e034_duplicate_dag_id(void **state)
{
	(void)state;
	tfile f[2];
	tparse(&f[0], "z_first.yml",
	       "shared:\n  tasks:\n    - {task_id: t, operator: " BASH ", bash_command: echo 1}\n");
	sync_files(f, 1);
	/* a later file, sorting first, defines the same id: the recorded file keeps it */
	tparse(&f[1], "a_second.yml",
	       "shared:\n  tasks:\n    - {task_id: t, operator: " BASH ", bash_command: echo 2}\n"
	       "own:\n  tasks:\n    - {task_id: t, operator: " BASH ", bash_command: echo}\n");
	sync_files(f, 2);
	assert_string_equal(
	    q("SELECT dag_id, relative_fileloc, has_import_errors FROM dag ORDER BY "
	      "dag_id"),
	    "own|a_second.yml|1;shared|z_first.yml|0");
	char *st = q("SELECT filename, stacktrace FROM import_error");
	assert_non_null(strstr(st, "a_second.yml|a_second.yml:1:1: error[E034]: DAG id 'shared' is "
	                           "already defined by z_first.yml"));
	assert_non_null(
	    strstr(q("SELECT data FROM serialized_dag WHERE dag_id = 'shared'"), "echo 1"));
	/* when the holder deletes it, the other file takes the id */
	tfree(f, 2);
	tdelete(&f[0], "z_first.yml");
	tparse(&f[1], "a_second.yml",
	       "shared:\n  tasks:\n    - {task_id: t, operator: " BASH ", bash_command: echo 2}\n");
	sync_files(f, 2);
	assert_string_equal(q("SELECT dag_id, relative_fileloc, is_stale FROM dag ORDER BY dag_id"),
	                    "own|a_second.yml|1;shared|a_second.yml|0");
	assert_int_equal(qcount("SELECT count(*) FROM import_error"), 0);
	tfree(f, 2);
}

static void test_statements_do_not_grow_per_file(void **state)
{
	(void)state;
	enum { N = 12 };
	tfile f[N];
	for (int i = 0; i < N; i++) {
		char rel[32], yaml[512];
		snprintf(rel, sizeof(rel), "f%02d.yml", i);
		snprintf(yaml, sizeof(yaml),
		         "dag_%d:\n  tags: [t%d]\n  tasks:\n    - {task_id: t, operator: " BASH
		         ", bash_command: echo, pool: p%d}\n",
		         i, i, i);
		tparse(&f[i], rel, yaml);
	}
	sync_stats small = sync_files(f, 2);
	assert_int_equal(reset_db(), 0);
	sync_stats big = sync_files(f, N);
	assert_int_equal(big.files_changed, N);
	assert_int_equal(big.statements, small.statements);
	tfree(f, N);
}

/* A permanent error caused by one file's data: the batch is split until that
 * file is alone, which is recorded with an import error saying why, and the
 * rest of the batch is written. The fault is a trigger that rejects one DAG. */
static void test_permanent_error_isolated(void **state)
{
	(void)state;
	static const char *const sqlite_sql[] = {
	    "CREATE TRIGGER poison BEFORE INSERT ON dag WHEN NEW.dag_id = 'poison' "
	    "BEGIN SELECT RAISE(ABORT, 'poisoned dag_id'); END",
	    NULL};
	static const char *const pg_sql[] = {
	    "CREATE OR REPLACE FUNCTION poison() RETURNS trigger AS $$ BEGIN "
	    "IF NEW.dag_id = 'poison' THEN RAISE EXCEPTION 'poisoned dag_id'; END IF; "
	    "RETURN NEW; END $$ LANGUAGE plpgsql",
	    "CREATE TRIGGER poison BEFORE INSERT ON dag FOR EACH ROW EXECUTE FUNCTION poison()",
	    NULL};
	static const char *const my_sql[] = {
	    "CREATE TRIGGER poison BEFORE INSERT ON dag FOR EACH ROW BEGIN "
	    "IF NEW.dag_id = 'poison' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = "
	    "'poisoned dag_id'; END IF; END",
	    NULL};
	const char *const *sql = params.dialect == STORE_SQLITE ? sqlite_sql
	                         : params.dialect == STORE_PG   ? pg_sql
	                                                        : my_sql;
	store_conn *c;
	store_error err;
	assert_int_equal(pool_acquire(pl, &c, &err), 0);
	for (size_t i = 0; sql[i]; i++) {
		int rc = store_exec(c, sql[i], NULL, 0, &err);
		if (rc != 0)
			print_message("%s: %s\n", sql[i], err.message);
		assert_int_equal(rc, 0);
	}
	pool_release(pl, c);

	enum { N = 6 };
	tfile f[N];
	for (int i = 0; i < N; i++) {
		char rel[32], id[32], yaml[256];
		snprintf(rel, sizeof(rel), "f%d.yml", i);
		snprintf(id, sizeof(id), i == 3 ? "poison" : "ok_%d", i);
		snprintf(yaml, sizeof(yaml),
		         "%s:\n  tasks:\n    - {task_id: t, operator: " BASH
		         ", bash_command: echo}\n",
		         id);
		tparse(&f[i], rel, yaml);
	}
	sync_stats st = sync_files(f, N);
	assert_int_equal(st.isolated_failures, 1);
	/* the rest is written */
	assert_int_equal(qcount("SELECT count(*) FROM dag WHERE dag_id LIKE 'ok_%'"), N - 1);
	assert_int_equal(qcount("SELECT count(*) FROM dag WHERE dag_id = 'poison'"), 0);
	/* the culprit's import error says why */
	char *ie = q("SELECT filename, stacktrace FROM import_error");
	assert_non_null(strstr(ie, "f3.yml|f3.yml:1:1: error[E003]: could not be stored: "));
	assert_non_null(strstr(ie, "poisoned dag_id"));
	tfree(f, N);
	/* the database is fixed: the file is stored on its next sync */
	assert_int_equal(pool_acquire(pl, &c, &err), 0);
	assert_int_equal(store_exec(c,
	                            params.dialect == STORE_PG ? "DROP TRIGGER poison ON dag"
	                                                       : "DROP TRIGGER poison",
	                            NULL, 0, &err),
	                 0);
	pool_release(pl, c);
	tparse(&f[0], "f3.yml",
	       "poison:\n  tasks:\n    - {task_id: t, operator: " BASH ", bash_command: echo 2}\n");
	sync_files(f, 1);
	assert_int_equal(qcount("SELECT count(*) FROM dag WHERE dag_id = 'poison'"), 1);
	assert_int_equal(qcount("SELECT count(*) FROM import_error"), 0);
	tfree(f, 1);

	/* a file that cannot even be recorded as an import error: the database
	 * refuses, the write fails for the caller to retry (nothing is dropped),
	 * and the rest of its batch is written */
	if (params.dialect != STORE_SQLITE)
		return;
	assert_int_equal(pool_acquire(pl, &c, &err), 0);
	assert_int_equal(store_exec(c,
	                            "CREATE TRIGGER no_ie BEFORE INSERT ON import_error "
	                            "BEGIN SELECT RAISE(ABORT, 'no import errors'); END",
	                            NULL, 0, &err),
	                 0);
	pool_release(pl, c);
	tparse(&f[0], "bad.yml", "broken:\n  tasks: [1\n");
	tparse(&f[1], "good.yml",
	       "fresh:\n  tasks:\n    - {task_id: t, operator: " BASH ", bash_command: echo}\n");
	memset(&st, 0, sizeof(st));
	assert_int_equal(sync_files_rc(f, 2, &st), -1);
	assert_int_equal(last_err.cls, STORE_REFUSED);
	assert_int_equal(qcount("SELECT count(*) FROM dag WHERE dag_id = 'fresh'"), 1);
	tfree(f, 2);
}

/* A DAG that leaves one file for another in the same batch is live at its
 * new file, in both path orders (issue 9, cause 1: it was marked stale after
 * its upsert when the file it left sorted first). */
static void test_dag_moves_between_files_of_one_batch(void **state)
{
	(void)state;
	static const char *const one =
	    "moved:\n  tasks:\n    - {task_id: t, operator: " BASH ", bash_command: echo m}\n";
	static const char *const other =
	    "other_%s:\n  tasks:\n    - {task_id: t, operator: " BASH ", bash_command: echo o}\n";
	for (int order = 0; order < 2; order++) {
		assert_int_equal(reset_db(), 0);
		const char *from = order ? "b.yml" : "a.yml", *to = order ? "a.yml" : "b.yml";
		char buf[256], both[512];
		tfile f[2];
		tparse(&f[0], from, one);
		sync_files(f, 1);
		tfree(f, 1);
		snprintf(buf, sizeof(buf), other, "x");
		tparse(&f[0], from, buf);
		snprintf(both, sizeof(both), "%s%s", one, "");
		tparse(&f[1], to, both);
		sync_files(f, 2);
		char want[64];
		snprintf(want, sizeof(want), "%s|0", to);
		assert_string_equal(
		    q("SELECT relative_fileloc, is_stale FROM dag WHERE dag_id = 'moved'"), want);
		assert_int_equal(qcount("SELECT count(*) FROM import_error"), 0);
		tfree(f, 2);
	}
}

/* mv a.yml b.yml seen as one batch: a deleted, b new. */
static void test_rename_in_one_batch(void **state)
{
	(void)state;
	tfile f[2];
	tparse(&f[0], "a.yml", good_a);
	sync_files(f, 1);
	tfree(f, 1);
	tdelete(&f[0], "a.yml");
	tparse(&f[1], "b.yml", good_a);
	sync_files(f, 2);
	assert_string_equal(q("SELECT dag_id, relative_fileloc, is_stale FROM dag ORDER BY dag_id"),
	                    "etl|b.yml|0;reports|b.yml|0");
	assert_string_equal(q("SELECT relative_fileloc FROM parse_stat"), "b.yml");
	tfree(f, 2);
}

/* A file that cannot be stored keeps its DAG rows as they were (issue 9,
 * cause 2: its DAGs were marked stale though the file still defines them). */
static void test_file_that_cannot_be_stored_keeps_its_rows(void **state)
{
	(void)state;
	tfile f[1];
	tparse(&f[0], "a.yml", good_a);
	sync_files(f, 1);
	tfree(f, 1);
	store_conn *c;
	store_error err;
	assert_int_equal(pool_acquire(pl, &c, &err), 0);
	/* the new version's serialization is refused by the database */
	const char *trig =
	    params.dialect == STORE_SQLITE
	        ? "CREATE TRIGGER poison BEFORE UPDATE ON serialized_dag WHEN NEW.data LIKE "
	          "'%poison%' BEGIN SELECT RAISE(ABORT, 'poisoned data'); END"
	    : params.dialect == STORE_PG
	        ? "CREATE OR REPLACE FUNCTION poison() RETURNS trigger AS $$ BEGIN "
	          "IF NEW.data LIKE '%poison%' THEN RAISE EXCEPTION 'poisoned data'; END IF; "
	          "RETURN NEW; END $$ LANGUAGE plpgsql"
	        : "CREATE TRIGGER poison BEFORE UPDATE ON serialized_dag FOR EACH ROW BEGIN "
	          "IF NEW.data LIKE '%poison%' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = "
	          "'poisoned data'; END IF; END";
	assert_int_equal(store_exec(c, trig, NULL, 0, &err), 0);
	if (params.dialect == STORE_PG)
		assert_int_equal(store_exec(c,
		                            "CREATE TRIGGER poison BEFORE UPDATE ON serialized_dag "
		                            "FOR EACH ROW EXECUTE FUNCTION poison()",
		                            NULL, 0, &err),
		                 0);
	pool_release(pl, c);
	char *changed = strdup(good_a);
	char *p = strstr(changed, "echo e");
	memcpy(p, "poison", 6);
	tparse(&f[0], "a.yml", changed);
	sync_stats st = sync_files(f, 1);
	assert_int_equal(st.isolated_failures, 1);
	assert_string_equal(q("SELECT dag_id, is_stale FROM dag ORDER BY dag_id"),
	                    "etl|0;reports|0");
	assert_non_null(strstr(q("SELECT stacktrace FROM import_error"),
	                       "a.yml:1:1: error[E003]: could not be stored: "));
	assert_null(strstr(q("SELECT data FROM serialized_dag WHERE dag_id = 'etl'"), "poison"));
	free(changed);
	tfree(f, 1);
}

/* Every statement stays within the database's limits whatever the batch
 * holds: one file with 40 DAGs of 2,000 tags each (issue 9, cause 4: past
 * 65,535 parameters libpq refuses the query, which was taken for a lost
 * connection and retried for ever; SQLite refuses past 32,766). */
static void test_file_with_80000_tags(void **state)
{
	(void)state;
	strbuf y;
	sb_init(&y);
	for (int d = 0; d < 40; d++) {
		sb_printf(&y, "tagged_%02d:\n  tags: [", d);
		for (int t = 0; t < 2000; t++)
			sb_printf(&y, "%stag_%02d_%04d", t ? ", " : "", d, t);
		sb_printf(&y, "]\n  tasks:\n    - {task_id: t, operator: " BASH
		              ", bash_command: echo}\n");
	}
	tfile f[1];
	tparse(&f[0], "tags.yml", y.data);
	assert_int_equal(f[0].res.nerrors, 0);
	sync_files(f, 1);
	assert_int_equal(qcount("SELECT count(*) FROM dag_tag"), 80000);
	assert_int_equal(qcount("SELECT count(*) FROM dag"), 40);
	assert_int_equal(qcount("SELECT count(*) FROM import_error"), 0);
	/* half the tags go */
	tfree(f, 1);
	sb_free(&y);
	sb_init(&y);
	for (int d = 0; d < 40; d++) {
		sb_printf(&y, "tagged_%02d:\n  tags: [", d);
		for (int t = 0; t < 1000; t++)
			sb_printf(&y, "%stag_%02d_%04d", t ? ", " : "", d, t);
		sb_printf(&y, "]\n  tasks:\n    - {task_id: t, operator: " BASH
		              ", bash_command: echo}\n");
	}
	tparse(&f[0], "tags.yml", y.data);
	sync_files(f, 1);
	assert_int_equal(qcount("SELECT count(*) FROM dag_tag"), 40000);
	tfree(f, 1);
	sb_free(&y);
}

/* When the holder of a DAG id lets it go, the files refused with E034 for it
 * are named for a new parse (issue 9, cause 5). */
static void test_released_id_requeues_refused_files(void **state)
{
	(void)state;
	tfile f[2];
	tparse(&f[0], "z_holder.yml",
	       "shared:\n  tasks:\n    - {task_id: t, operator: " BASH ", bash_command: echo 1}\n");
	sync_files(f, 1);
	tparse(&f[1], "a_refused.yml",
	       "shared:\n  tasks:\n    - {task_id: t, operator: " BASH ", bash_command: echo 2}\n");
	sync_files(f + 1, 1);
	assert_non_null(strstr(q("SELECT stacktrace FROM import_error"), "error[E034]"));
	assert_int_equal(last_rq.n, 0);
	tfree(f, 2);
	tdelete(&f[0], "z_holder.yml");
	sync_files(f, 1);
	assert_int_equal(last_rq.n, 1);
	assert_string_equal(last_rq.keys[0], "dags-folder\x1f"
	                                     "a_refused.yml");
	/* its new parse takes the id */
	tparse(&f[1], "a_refused.yml",
	       "shared:\n  tasks:\n    - {task_id: t, operator: " BASH ", bash_command: echo 2}\n");
	sync_files(f + 1, 1);
	assert_string_equal(q("SELECT relative_fileloc, is_stale FROM dag"), "a_refused.yml|0");
	assert_int_equal(qcount("SELECT count(*) FROM import_error"), 0);
	tfree(f + 1, 1);
}

/* Invariant 5 with leases (PostgreSQL, MySQL): an unchanged file writes
 * nothing, not even its lease. */
static void test_unchanged_files_write_no_lease(void **state)
{
	(void)state;
	lease_owner = "proc-a";
	tfile f[2];
	tparse(&f[0], "a.yml", good_a);
	tparse(&f[1], "b.yml", broken_b);
	sync_files(f, 2);
	tfree(f, 2);
	tparse(&f[0], "a.yml", good_a);
	tparse(&f[1], "b.yml", broken_b);
	sync_stats st = sync_files(f, 2);
	lease_owner = NULL;
	assert_int_equal(st.writes, 0);
	assert_int_equal(st.files_unchanged, 2);
	tfree(f, 2);
}

/* A deletion parsed while this processor held the file, written after it
 * gave the lease up (over its share: a processor joined): nobody else can
 * write it (the file is in no processor's scan), so the stale token does not
 * keep it out. The model test with two processors found the DAG left live. */
static void test_deletion_after_lease_given_up(void **state)
{
	(void)state;
	lease_owner = "proc-a";
	tfile f[1];
	tparse(&f[0], "a.yml", good_a);
	sync_files(f, 1);
	tfree(f, 1);
	store_conn *c;
	store_error err;
	assert_int_equal(pool_acquire(pl, &c, &err), 0);
	assert_int_equal(store_exec(c,
	                            "UPDATE file_lease SET owner = NULL, expires_at = NULL "
	                            "WHERE relative_fileloc = 'a.yml'",
	                            NULL, 0, &err),
	                 0);
	pool_release(pl, c);
	lease_token = 1; /* the token it held when it saw the deletion */
	tdelete(&f[0], "a.yml");
	sync_files(f, 1);
	lease_token = 0;
	lease_owner = NULL;
	assert_int_equal(qcount("SELECT count(*) FROM dag WHERE NOT is_stale"), 0);
	assert_int_equal(qcount("SELECT count(*) FROM parse_stat"), 0);
}

/* Two processors (PostgreSQL, MySQL): B lets a DAG id go in a batch that also
 * holds a file A holds (B parsed it too: a rename or a swap seen by both), and
 * A's file was refused with E034 for that id. B cannot write A's file, so it
 * must flag it for A to parse again; the batch it came in with is no reason to
 * skip it. The model test with two processors found the id left stale at its
 * old file and the E034 kept (seed 361215). */
static void test_released_id_flags_refused_file_of_another(void **state)
{
	(void)state;
	if (params.dialect == STORE_SQLITE)
		skip(); /* one processor: no leases */
	const char *shared =
	    "shared:\n  tasks:\n    - {task_id: t, operator: " BASH ", bash_command: echo 1}\n";
	lease_seconds = 60;
	tfile f[2];
	lease_owner = "proc-b";
	tparse(&f[0], "z_holder.yml", shared);
	sync_files(f, 1);
	lease_owner = "proc-a";
	tparse(&f[1], "a_refused.yml", shared);
	sync_files(f + 1, 1);
	assert_non_null(strstr(q("SELECT stacktrace FROM import_error"), "error[E034]"));
	tfree(f, 2);
	/* B: its file lets the id go, and A's file comes in the same batch */
	lease_owner = "proc-b";
	tparse(&f[0], "z_holder.yml",
	       "other:\n  tasks:\n    - {task_id: t, operator: " BASH ", bash_command: echo 1}\n");
	tparse(&f[1], "a_refused.yml", shared);
	sync_stats st = sync_files(f, 2);
	tfree(f, 2);
	assert_int_equal(st.foreign, 1);
	assert_string_equal(q("SELECT owner, reparse FROM file_lease WHERE relative_fileloc = "
	                      "'a_refused.yml'"),
	                    "proc-a|1");
	/* A parses it again and takes the id */
	lease_owner = "proc-a";
	tparse(&f[1], "a_refused.yml", shared);
	sync_files(f + 1, 1);
	tfree(f + 1, 1);
	lease_owner = NULL;
	lease_seconds = 0;
	assert_string_equal(q("SELECT relative_fileloc FROM dag WHERE dag_id = 'shared' AND NOT "
	                      "is_stale"),
	                    "a_refused.yml");
	assert_int_equal(qcount("SELECT count(*) FROM import_error"), 0);
}

/* lease_take_reparse hands fn the flagged files and clears their flags; a
 * flag another processor sets meanwhile (here: from fn, between the read and
 * the clearing) stays for the next call. It cleared every flag of the owner,
 * so a file flagged in that window was never parsed again (review of issue
 * 12). */
typedef struct taken {
	char rels[4][64];
	int n;
	bool flagged;
} taken;

static void on_taken(void *ud, const char *bundle, const char *rel)
{
	(void)bundle;
	taken *t = ud;
	if (t->n < 4)
		snprintf(t->rels[t->n], sizeof(t->rels[0]), "%s", rel);
	t->n++;
	if (t->n == 1) {
		/* another processor flags b.yml now, and commits */
		store_conn *c2;
		store_error err;
		assert_int_equal(pool_acquire(pl, &c2, &err), 0);
		int rc = store_exec(c2,
		                    "UPDATE file_lease SET reparse = TRUE WHERE relative_fileloc = "
		                    "'b.yml'",
		                    NULL, 0, &err);
		if (rc != 0)
			print_message("flagging b.yml: [%s] %s\n", err.code, err.message);
		pool_release(pl, c2);
		t->flagged = rc == 0;
	}
}

static void test_take_reparse_keeps_flags_set_meanwhile(void **state)
{
	(void)state;
	if (params.dialect == STORE_SQLITE)
		skip(); /* one processor: no leases */
	lease_seconds = 60;
	lease_owner = "proc-b";
	tfile f[2];
	tparse(&f[0], "a.yml", good_a);
	tparse(&f[1], "b.yml", broken_b);
	sync_files(f, 2);
	tfree(f, 2);
	lease_owner = NULL;
	lease_seconds = 0;
	store_conn *c;
	store_error err;
	assert_int_equal(pool_acquire(pl, &c, &err), 0);
	assert_int_equal(store_exec(c,
	                            "UPDATE file_lease SET reparse = TRUE WHERE relative_fileloc = "
	                            "'a.yml'",
	                            NULL, 0, &err),
	                 0);
	taken t = {0};
	int rc = lease_take_reparse(c, "proc-b", on_taken, &t, &err);
	if (rc != 0)
		print_message("lease_take_reparse: %s\n", err.message);
	pool_release(pl, c);
	assert_int_equal(rc, 0);
	assert_int_equal(t.n, 1);
	if (!t.flagged) {
		/* MariaDB: the read locks every row it scans, so the other
		 * processor waits for the clearing to commit: no window */
		assert_string_equal(q("SELECT relative_fileloc, reparse FROM file_lease ORDER BY "
		                      "relative_fileloc"),
		                    "a.yml|0;b.yml|0");
		return;
	}
	assert_string_equal(t.rels[0], "a.yml");
	assert_string_equal(q("SELECT relative_fileloc, reparse FROM file_lease ORDER BY "
	                      "relative_fileloc"),
	                    "a.yml|0;b.yml|1");
	/* the next call hands b.yml over */
	memset(&t, 0, sizeof(t));
	assert_int_equal(pool_acquire(pl, &c, &err), 0);
	t.n = 1; /* no second injection */
	rc = lease_take_reparse(c, "proc-b", on_taken, &t, &err);
	pool_release(pl, c);
	assert_int_equal(rc, 0);
	assert_int_equal(t.n, 2);
	assert_string_equal(t.rels[1], "b.yml");
	assert_int_equal(qcount("SELECT count(*) FROM file_lease WHERE reparse"), 0);
}

/* ---- claims between processors (PostgreSQL, MySQL) ---- */

static void beat(const char *me)
{
	store_conn *c;
	store_error err;
	lease_beat b = {.me = me, .host = "test", .version = "test", .pid = 1};
	size_t live, held;
	assert_int_equal(pool_acquire(pl, &c, &err), 0);
	int rc = lease_heartbeat(c, &b, 60, &live, &held, &err);
	if (rc != 0)
		print_message("heartbeat: %s\n", err.message);
	pool_release(pl, c);
	assert_int_equal(rc, 0);
}

/* Claims rel[0..n) for me; returns how many were granted. */
static size_t claim(const char *me, const char *const *rels, size_t n, size_t total, lease_weigh *w)
{
	lease_file *lf = calloc(n, sizeof(*lf));
	lease_state *out = calloc(n, sizeof(*out));
	for (size_t i = 0; i < n; i++)
		lf[i] = (lease_file){"dags-folder", rels[i]};
	store_conn *c;
	store_error err;
	assert_int_equal(pool_acquire(pl, &c, &err), 0);
	int rc = lease_claim(c, me, 60, lf, n, total, out, w, &err);
	if (rc != 0)
		print_message("claim: [%s] %s\n", err.code, err.message);
	pool_release(pl, c);
	assert_int_equal(rc, 0);
	size_t granted = 0;
	for (size_t i = 0; i < n; i++)
		granted += out[i].token > 0;
	free(lf);
	free(out);
	return granted;
}

/* Two processors at their share, 2 of 4 files each, when a fifth comes (as
 * each counts: the scans differ for a moment, or rows of files gone since
 * count): each refused it as over its share, so nobody ever took it (model
 * seed 395010). The one holding the fewest takes it. */
static void test_claim_free_file_at_share(void **state)
{
	(void)state;
	if (params.dialect == STORE_SQLITE)
		skip(); /* one processor: no leases */
	beat("proc-a");
	beat("proc-b");
	const char *a[] = {"a1.yml", "a2.yml"}, *b[] = {"b1.yml", "b2.yml"}, *f5[] = {"f5.yml"};
	assert_int_equal(claim("proc-a", a, 2, 4, NULL), 2);
	assert_int_equal(claim("proc-b", b, 2, 4, NULL), 2);
	lease_weigh w = {0};
	assert_int_equal(claim("proc-a", f5, 1, 4, &w), 1);
	assert_int_equal(w.live, 2);
	assert_int_equal(w.share, 2);
	assert_int_equal(w.held, 2);
	assert_int_equal(w.refused, 0);
	/* now a holds more than b: a sixth file is b's to take */
	const char *f6[] = {"f6.yml"};
	assert_int_equal(claim("proc-a", f6, 1, 4, &w), 0);
	assert_int_equal(w.refused, 1);
	assert_int_equal(claim("proc-b", f6, 1, 4, NULL), 1);
}

/* A free file that a processor over its share was refused, and that no
 * other took within lease_seconds (it cannot see it: another bundle, its
 * scan behind), is taken by that processor all the same. */
static void test_claim_long_free_file_over_share(void **state)
{
	(void)state;
	if (params.dialect == STORE_SQLITE)
		skip();
	beat("proc-a");
	beat("proc-b");
	const char *a[] = {"a1.yml", "a2.yml"}, *x[] = {"x.yml"};
	assert_int_equal(claim("proc-a", a, 2, 4, NULL), 2);
	lease_weigh w = {0};
	assert_int_equal(claim("proc-a", x, 1, 2, &w), 0);
	assert_int_equal(w.refused, 1);
	/* free since two lease periods */
	store_conn *c;
	store_error err;
	assert_int_equal(pool_acquire(pl, &c, &err), 0);
	assert_int_equal(
	    store_exec(c,
	               params.dialect == STORE_PG
	                   ? "UPDATE file_lease SET expires_at = now() - interval "
	                     "'120 seconds' WHERE relative_fileloc = 'x.yml'"
	                   : "UPDATE file_lease SET expires_at = NOW(6) - INTERVAL 120 "
	                     "SECOND WHERE relative_fileloc = 'x.yml'",
	               NULL, 0, &err),
	    0);
	pool_release(pl, c);
	assert_int_equal(claim("proc-a", x, 1, 2, &w), 1);
	assert_int_equal(w.refused, 0);
}

/* Two processors claiming the same new files at once, listed in other
 * orders: each inserted the rows the other then waited for, until the lock
 * timeout (or the deadlock detector) ended one of them, reported as the
 * database unreachable (model seed 395010). Rows are inserted in path
 * order: one claim waits for the other and both succeed. */
typedef struct claimer {
	const char *me;
	const char **rels;
	size_t n, total;
	int rc;
	char err[420];
	size_t granted;
	pthread_barrier_t *go;
} claimer;

static void *claim_main(void *arg)
{
	claimer *cl = arg;
	lease_file *lf = calloc(cl->n, sizeof(*lf));
	lease_state *out = calloc(cl->n, sizeof(*out));
	for (size_t i = 0; i < cl->n; i++)
		lf[i] = (lease_file){"dags-folder", cl->rels[i]};
	store_conn *c;
	store_error err;
	cl->rc = pool_acquire(pl, &c, &err);
	pthread_barrier_wait(cl->go);
	if (cl->rc == 0) {
		/* the files of every round: shares are not the point */
		cl->rc = lease_claim(c, cl->me, 60, lf, cl->n, cl->total, out, NULL, &err);
		pool_release(pl, c);
	}
	if (cl->rc != 0)
		snprintf(cl->err, sizeof cl->err, "[%s] %s", err.code, err.message);
	for (size_t i = 0; i < cl->n; i++)
		cl->granted += out[i].token > 0;
	free(lf);
	free(out);
	return NULL;
}

static void test_claims_in_other_orders_do_not_deadlock(void **state)
{
	(void)state;
	if (params.dialect == STORE_SQLITE)
		skip();
	beat("proc-a");
	beat("proc-b");
	enum { N = 1000, ROUNDS = 8 };
	const char **fwd = calloc(N, sizeof(*fwd)), **rev = calloc(N, sizeof(*rev));
	char(*names)[32] = calloc(N, sizeof(*names));
	for (int r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < N; i++) {
			snprintf(names[i], sizeof names[i], "r%d/f%04d.yml", r, i);
			fwd[i] = names[i];
			rev[N - 1 - i] = names[i];
		}
		pthread_barrier_t go;
		pthread_barrier_init(&go, NULL, 2);
		claimer ca = {
		    .me = "proc-a", .rels = fwd, .n = N, .total = 2 * N * ROUNDS, .go = &go};
		claimer cb = {
		    .me = "proc-b", .rels = rev, .n = N, .total = 2 * N * ROUNDS, .go = &go};
		pthread_t ta, tb;
		pthread_create(&ta, NULL, claim_main, &ca);
		pthread_create(&tb, NULL, claim_main, &cb);
		pthread_join(ta, NULL);
		pthread_join(tb, NULL);
		pthread_barrier_destroy(&go);
		if (ca.rc != 0 || cb.rc != 0 || ca.granted + cb.granted != N)
			print_message("round %d: a: %d %zu %s; b: %d %zu %s\n", r, ca.rc,
			              ca.granted, ca.err, cb.rc, cb.granted, cb.err);
		assert_int_equal(ca.rc, 0);
		assert_int_equal(cb.rc, 0);
		/* every file is somebody's, nobody's twice */
		assert_int_equal(ca.granted + cb.granted, N);
	}
	free(fwd);
	free(rev);
	free(names);
}

/* PostgreSQL: the settings that make the writer's upserts cheap (generic plans, LZ4
 * for large values) hold between store_bulk_writes on and off only, never for the
 * reads by key or beyond the transaction, and the URL's own options win. */
static char *conn_q(store_conn *c, const char *sql)
{
	static qacc a;
	memset(&a, 0, sizeof(a));
	store_error err;
	assert_int_equal(store_query(c, sql, NULL, 0, acc_row, &a, &err), 0);
	return a.buf;
}

static void bulk_settings_of(pool *p, const char *generic, const char *lz4,
                             const char *after_generic, const char *after_lz4)
{
	store_conn *c;
	store_error err;
	assert_int_equal(pool_acquire(p, &c, &err), 0);
	char *before_generic = strdup(conn_q(c, "SHOW plan_cache_mode"));
	char *before_lz4 = strdup(conn_q(c, "SHOW default_toast_compression"));
	assert_int_equal(store_begin_write(c, &err), 0);
	assert_string_equal(conn_q(c, "SHOW plan_cache_mode"), before_generic);
	assert_int_equal(store_bulk_writes(c, true, &err), 0);
	assert_string_equal(conn_q(c, "SHOW plan_cache_mode"), generic);
	assert_string_equal(conn_q(c, "SHOW default_toast_compression"), lz4);
	assert_int_equal(store_bulk_writes(c, false, &err), 0);
	assert_string_equal(conn_q(c, "SHOW plan_cache_mode"), after_generic);
	assert_string_equal(conn_q(c, "SHOW default_toast_compression"), after_lz4);
	store_rollback(c);
	assert_string_equal(conn_q(c, "SHOW plan_cache_mode"), before_generic);
	assert_string_equal(conn_q(c, "SHOW default_toast_compression"), before_lz4);
	pool_release(p, c);
	free(before_generic);
	free(before_lz4);
}

static void test_bulk_write_settings(void **state)
{
	(void)state;
	if (url.dialect != DB_POSTGRESQL) {
		/* nothing to set: a no-op that succeeds */
		store_conn *c;
		store_error err;
		assert_int_equal(pool_acquire(pl, &c, &err), 0);
		assert_int_equal(store_begin_write(c, &err), 0);
		assert_int_equal(store_bulk_writes(c, true, &err), 0);
		assert_int_equal(store_bulk_writes(c, false, &err), 0);
		store_rollback(c);
		pool_release(pl, c);
		return;
	}
	/* Debian's PostgreSQL 15 is built with LZ4 */
	bulk_settings_of(pl, "force_generic_plan", "lz4", "auto", "lz4");

	/* a written DAG large enough to be compressed is compressed with LZ4 */
	strbuf y;
	sb_init(&y);
	sb_printf(&y, "big:\n  tasks:\n");
	for (int i = 0; i < 80; i++)
		sb_printf(&y,
		          "    - {task_id: task_number_%d, operator: " BASH
		          ", bash_command: 'echo a fairly long command line number %d'}\n",
		          i, i);
	tfile f[1];
	tparse(&f[0], "big.yml", y.data);
	sb_free(&y);
	sync_files(f, 1);
	tfree(f, 1);
	assert_string_equal(q("SELECT pg_column_compression(data) FROM serialized_dag"), "lz4");

	/* a setting made anywhere wins: the URL's options in any spelling PostgreSQL
	 * takes (the review's F2: dashes and upper case were overridden), and a role's
	 * own default */
	static const char *const opts[] = {
	    "options=-c%20plan_cache_mode%3Dforce_custom_plan%20-c%20"
	    "default_toast_compression%3Dpglz",
	    "options=-c%20plan-cache-mode%3Dforce_custom_plan%20--DEFAULT-TOAST-COMPRESSION%3Dpglz",
	};
	for (size_t i = 0; i < 3; i++) {
		const char *opt = i < 2 ? opts[i] : "application_name=dagproc_role_default";
		if (i == 2)
			q("ALTER ROLE CURRENT_USER SET default_toast_compression = pglz");
		char *u2 = malloc(strlen(url_text) + strlen(opt) + 2);
		sprintf(u2, "%s%c%s", url_text, strchr(url_text, '?') ? '&' : '?', opt);
		struct db_url u2url;
		store_params p2;
		char *perr = NULL;
		assert_int_equal(store_params_from_url(u2, NULL, &u2url, &p2, &perr), 0);
		p2.pool_size = 1;
		p2.pool_timeout = 5;
		pool *pl2 = pool_create(&p2);
		assert_non_null(pl2);
		if (i < 2)
			bulk_settings_of(pl2, "force_custom_plan", "pglz", "force_custom_plan",
			                 "pglz");
		else
			bulk_settings_of(pl2, "force_generic_plan", "pglz", "auto", "pglz");
		pool_destroy(pl2);
		db_url_free(&u2url);
		free(u2);
	}
	q("ALTER ROLE CURRENT_USER RESET default_toast_compression");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_initial_sync, each_setup),
	    cmocka_unit_test_setup(test_idempotent_second_sync_writes_nothing, each_setup),
	    cmocka_unit_test_setup(test_change_rewrites_only_what_changed, each_setup),
	    cmocka_unit_test_setup(test_vanished_dag_and_deleted_file_are_stale, each_setup),
	    cmocka_unit_test_setup(test_dag_with_errors_keeps_last_good_serialization, each_setup),
	    cmocka_unit_test_setup(test_e034_duplicate_dag_id, each_setup),
	    cmocka_unit_test_setup(test_statements_do_not_grow_per_file, each_setup),
	    cmocka_unit_test_setup(test_permanent_error_isolated, each_setup),
	    cmocka_unit_test_setup(test_dag_moves_between_files_of_one_batch, each_setup),
	    cmocka_unit_test_setup(test_rename_in_one_batch, each_setup),
	    cmocka_unit_test_setup(test_file_that_cannot_be_stored_keeps_its_rows, each_setup),
	    cmocka_unit_test_setup(test_file_with_80000_tags, each_setup),
	    cmocka_unit_test_setup(test_deletion_after_lease_given_up, each_setup),
	    cmocka_unit_test_setup(test_released_id_requeues_refused_files, each_setup),
	    cmocka_unit_test_setup(test_released_id_flags_refused_file_of_another, each_setup),
	    cmocka_unit_test_setup(test_take_reparse_keeps_flags_set_meanwhile, each_setup),
	    cmocka_unit_test_setup(test_unchanged_files_write_no_lease, each_setup),
	    cmocka_unit_test_setup(test_bulk_write_settings, each_setup),
	    cmocka_unit_test_setup(test_claim_free_file_at_share, each_setup),
	    cmocka_unit_test_setup(test_claim_long_free_file_over_share, each_setup),
	    cmocka_unit_test_setup(test_claims_in_other_orders_do_not_deadlock, each_setup),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
