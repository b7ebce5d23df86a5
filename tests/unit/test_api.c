/* Unit tests of the API's pure pieces: query parameters, the ORDER BY whitelist, the
 * bearer-token compare, file_token, timestamps, and the JSON shapes against the
 * required fields of Airflow's schemas (tests/unit/api_required_fields.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/api_int.h"
#include "api_required_fields.h"

static void assert_has_fields(json_t *o, const char *const *fields)
{
	assert_true(json_is_object(o));
	for (size_t i = 0; fields[i]; i++) {
		if (!json_object_get(o, fields[i]))
			fail_msg("missing required field %s", fields[i]);
	}
}

static const char *const dag_row[API_DAG_NCOLS] = {"etl",
                                                   "dags-folder",
                                                   "/srv/dags/etl.yml",
                                                   "etl.yml",
                                                   "0",
                                                   "f",
                                                   "1",
                                                   "2026-01-02 03:04:05.5+00",
                                                   "0.25",
                                                   NULL,
                                                   NULL,
                                                   "@daily",
                                                   NULL,
                                                   "3",
                                                   "alice, bob"};

static void test_query_defaults(void **state)
{
	(void)state;
	api_query q;
	api_status st = {0};
	api_query_init(&q);
	assert_int_equal(api_query_parse(&q, API_EP_DAGS, NULL, 0, &st), 0);
	assert_int_equal(q.limit, 50);
	assert_int_equal(q.offset, 0);
	assert_true(q.exclude_stale);
	assert_int_equal(q.paused, -1);
}

static void test_query_parse(void **state)
{
	(void)state;
	api_arg args[] = {
	    {"limit", "10"},         {"offset", "20"},        {"tags", "a"},
	    {"tags", "b"},           {"order_by", "-dag_id"}, {"exclude_stale", "false"},
	    {"dag_id_pattern", "x"}, {"bundle_name", "b1"},   {"unknown", "ignored"}};
	api_query q;
	api_status st = {0};
	api_query_init(&q);
	assert_int_equal(api_query_parse(&q, API_EP_DAGS, args, 9, &st), 0);
	assert_int_equal(q.limit, 10);
	assert_int_equal(q.offset, 20);
	assert_int_equal(q.ntags, 2);
	assert_string_equal(q.tags[1], "b");
	assert_false(q.exclude_stale);
	assert_string_equal(q.dag_id_pattern, "x");
	assert_string_equal(q.bundle_name, "b1");
}

static void test_query_bad_values(void **state)
{
	(void)state;
	static const api_arg bad[][1] = {{{"limit", "-1"}},          {{"limit", "abc"}},
	                                 {{"limit", "100000"}},      {{"offset", "1.5"}},
	                                 {{"offset", ""}},           {{"exclude_stale", "maybe"}},
	                                 {{"order_by", "password"}}, {{"tags_match_mode", "some"}},
	                                 {{"order_by", ""}}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		api_query q;
		api_status st = {0};
		api_query_init(&q);
		assert_int_equal(api_query_parse(&q, API_EP_DAGS, bad[i], 1, &st), 400);
		assert_int_equal(st.code, 400);
		/* the detail names the parameter, or the rejected ordering as Airflow does */
		assert_true(strstr(st.detail, bad[i][0].key) ||
		            (*bad[i][0].value && strstr(st.detail, bad[i][0].value)));
	}
}

static void test_order_by(void **state)
{
	(void)state;
	strbuf b;
	api_status st = {0};
	sb_init(&b);
	assert_int_equal(api_order_by(API_EP_DAGS, NULL, 0, &b, &st), 0);
	assert_string_equal(b.data, " ORDER BY d.dag_id, d.dag_id");
	sb_free(&b);

	const char *terms[] = {"-last_parsed_time", "next_dagrun", "dag_display_name"};
	assert_int_equal(api_order_by(API_EP_DAGS, terms, 3, &b, &st), 0);
	assert_string_equal(b.data,
	                    " ORDER BY d.last_parsed_time DESC, COALESCE(d.dag_display_name, "
	                    "d.dag_id), d.dag_id");
	sb_free(&b);

	const char *ie[] = {"-import_error_id"};
	assert_int_equal(api_order_by(API_EP_IMPORT_ERRORS, ie, 1, &b, &st), 0);
	assert_string_equal(b.data, " ORDER BY id DESC, id");
	sb_free(&b);

	/* never SQL from the request */
	const char *evil[] = {"dag_id; DROP TABLE dag"};
	assert_int_equal(api_order_by(API_EP_DAGS, evil, 1, &b, &st), 400);
	assert_null(b.data);
	const char *wrong_ep[] = {"filename"};
	assert_int_equal(api_order_by(API_EP_WARNINGS, wrong_ep, 1, &b, &st), 400);
}

static void test_bearer(void **state)
{
	(void)state;
	assert_true(api_bearer_ok("Bearer secret-token", "secret-token"));
	assert_true(api_bearer_ok("bearer secret-token", "secret-token"));
	assert_false(api_bearer_ok("Bearer secret-toke", "secret-token"));
	assert_false(api_bearer_ok("Bearer secret-tokenX", "secret-token"));
	assert_false(api_bearer_ok("Basic c2VjcmV0", "secret-token"));
	assert_false(api_bearer_ok("Bearer ", "secret-token"));
	assert_false(api_bearer_ok(NULL, "secret-token"));
	assert_false(api_bearer_ok("Bearer ", ""));
}

static void test_file_token(void **state)
{
	(void)state;
	char *t = api_file_token_encode("dags-folder", "sub/etl.yml");
	assert_null(strchr(t, '='));
	assert_null(strchr(t, '+'));
	assert_null(strchr(t, '/'));
	char *b = NULL, *r = NULL;
	assert_int_equal(api_file_token_decode(t, &b, &r), 0);
	assert_string_equal(b, "dags-folder");
	assert_string_equal(r, "sub/etl.yml");
	free(b);
	free(r);
	free(t);
	/* every length modulo 3 round-trips */
	const char *rels[] = {"a.yml", "ab.yml", "abc.yml", "dir/ünïcode.yml"};
	for (size_t i = 0; i < 4; i++) {
		t = api_file_token_encode("b", rels[i]);
		assert_int_equal(api_file_token_decode(t, &b, &r), 0);
		assert_string_equal(r, rels[i]);
		free(b);
		free(r);
		free(t);
	}
	const char *bad_rel[] = {"../etc/passwd", "/abs.yml", "a//b.yml", "a/../b.yml", ""};
	for (size_t i = 0; i < 5; i++) {
		t = api_file_token_encode("b", bad_rel[i]);
		assert_int_equal(api_file_token_decode(t, &b, &r), -1);
		assert_null(b);
		free(t);
	}
	assert_int_equal(api_file_token_decode("", &b, &r), -1);
	assert_int_equal(api_file_token_decode("a", &b, &r), -1);
	assert_int_equal(api_file_token_decode("ab$d", &b, &r), -1);
	t = api_file_token_encode("", "x.yml"); /* no bundle */
	assert_int_equal(api_file_token_decode(t, &b, &r), -1);
	free(t);
}

static void test_iso_ts(void **state)
{
	(void)state;
	char buf[64];
	assert_string_equal(api_iso_ts("2026-01-02 03:04:05.123456", buf, sizeof(buf)),
	                    "2026-01-02T03:04:05.123456Z");
	assert_string_equal(api_iso_ts("2026-01-02 03:04:05.5+00", buf, sizeof(buf)),
	                    "2026-01-02T03:04:05.5Z");
	assert_string_equal(api_iso_ts("2026-01-02 03:04:05+00:00", buf, sizeof(buf)),
	                    "2026-01-02T03:04:05Z");
	assert_string_equal(api_iso_ts("2026-01-02", buf, sizeof(buf)), "2026-01-02T00:00:00Z");
	assert_null(api_iso_ts(NULL, buf, sizeof(buf)));
	assert_true(api_db_bool("t"));
	assert_true(api_db_bool("1"));
	assert_false(api_db_bool("0"));
	assert_false(api_db_bool("f"));
	assert_false(api_db_bool(NULL));
}

static void test_dag_shape(void **state)
{
	(void)state;
	json_t *tags = json_pack("[s, s]", "etl", "daily");
	json_t *d = api_dag_json(dag_row, tags);
	assert_has_fields(d, required_DAGResponse);
	assert_string_equal(json_string_value(json_object_get(d, "dag_display_name")), "etl");
	assert_true(json_is_false(json_object_get(d, "is_paused")));
	assert_true(json_is_true(json_object_get(d, "has_import_errors")));
	assert_true(json_is_null(json_object_get(d, "description")));
	assert_true(json_is_null(json_object_get(d, "next_dagrun_logical_date")));
	assert_int_equal(json_integer_value(json_object_get(d, "max_active_tasks")), 16);
	assert_int_equal(json_integer_value(json_object_get(d, "max_active_runs")), 3);
	assert_string_equal(json_string_value(json_object_get(d, "last_parsed_time")),
	                    "2026-01-02T03:04:05.5Z");
	json_t *owners = json_object_get(d, "owners");
	assert_int_equal(json_array_size(owners), 2);
	assert_string_equal(json_string_value(json_array_get(owners, 1)), "bob");
	json_t *tag = json_array_get(json_object_get(d, "tags"), 0);
	assert_has_fields(tag, required_DagTagResponse);
	char *b = NULL, *r = NULL;
	assert_int_equal(
	    api_file_token_decode(json_string_value(json_object_get(d, "file_token")), &b, &r), 0);
	assert_string_equal(r, "etl.yml");
	free(b);
	free(r);
	json_decref(d);
}

static void test_dag_details_shape(void **state)
{
	(void)state;
	const char *data =
	    "{\"dag_id\":\"etl\",\"catchup\":true,\"dagrun_timeout\":{\"__type__\":"
	    "\"datetime.timedelta\",\"hours\":1,\"minutes\":30},\"default_args\":{\"start_date\":"
	    "\"2025-01-01\"},\"tasks\":[{\"task_id\":\"a\",\"upstream_task_ids\":[]},{\"task_id\":"
	    "\"b\",\"upstream_task_ids\":[\"a\"]}]}";
	json_t *d = api_dag_details_json(dag_row, NULL, data);
	assert_has_fields(d, required_DAGDetailsResponse);
	assert_true(json_is_true(json_object_get(d, "catchup")));
	assert_string_equal(json_string_value(json_object_get(d, "dag_run_timeout")), "PT1H30M");
	assert_string_equal(json_string_value(json_object_get(d, "start_date")),
	                    "2025-01-01T00:00:00Z");
	assert_int_equal(json_array_size(json_object_get(d, "tasks")), 2);
	json_t *e = json_array_get(json_object_get(d, "edges"), 0);
	assert_string_equal(json_string_value(json_object_get(e, "source_id")), "a");
	assert_string_equal(json_string_value(json_object_get(e, "target_id")), "b");
	json_decref(d);
	/* no serialized DAG: still every field */
	d = api_dag_details_json(dag_row, NULL, NULL);
	assert_has_fields(d, required_DAGDetailsResponse);
	json_decref(d);
}

/* fuzz_api: a timedelta too large for a long long was cast anyway (UB); such a
 * dagrun_timeout passes the schema (weeks: 1.0e+300). Beyond Python's
 * timedelta.max it is null, as Airflow has no value for it either. */
static void test_dag_details_huge_timedelta(void **state)
{
	(void)state;
	json_t *d = api_dag_details_json(
	    dag_row, NULL,
	    "{\"dagrun_timeout\":{\"__type__\":\"datetime.timedelta\",\"weeks\":1e300}}");
	assert_true(json_is_null(json_object_get(d, "dag_run_timeout")));
	json_decref(d);
	d = api_dag_details_json(
	    dag_row, NULL,
	    "{\"dagrun_timeout\":{\"__type__\":\"datetime.timedelta\",\"days\":999999999}}");
	assert_string_equal(json_string_value(json_object_get(d, "dag_run_timeout")),
	                    "P999999999D");
	json_decref(d);
}

static void test_import_error_and_warning_shapes(void **state)
{
	(void)state;
	const char *ie[API_IE_NCOLS] = {"7", "2026-01-02 03:04:05", "etl.yml", "dags-folder",
	                                "etl.yml:1:2: error[E001]: bad"};
	json_t *o = api_import_error_json(ie);
	assert_has_fields(o, required_ImportErrorResponse);
	assert_int_equal(json_integer_value(json_object_get(o, "import_error_id")), 7);
	json_decref(o);
	const char *w[API_WARN_NCOLS] = {"etl", "non-existent pool", "m", "2026-01-02 03:04:05",
	                                 NULL};
	o = api_warning_json(w);
	assert_has_fields(o, required_DAGWarningResponse);
	assert_string_equal(json_string_value(json_object_get(o, "dag_display_name")), "etl");
	json_decref(o);
}

static void test_diagnostics(void **state)
{
	(void)state;
	const char *text = "a: 1\nb:\n\tc: [x]\n";
	json_t *a = api_diagnostics_json("dir/f:x.yml:3:6: error[E020]: unknown 'x'\n"
	                                 "f.yml: error[E003]: too large\nfree text\n",
	                                 text, strlen(text));
	assert_int_equal(json_array_size(a), 3);
	json_t *d = json_array_get(a, 0);
	assert_string_equal(json_string_value(json_object_get(d, "path")), "dir/f:x.yml");
	assert_int_equal(json_integer_value(json_object_get(d, "line")), 3);
	assert_int_equal(json_integer_value(json_object_get(d, "column")), 6);
	assert_string_equal(json_string_value(json_object_get(d, "code")), "E020");
	assert_string_equal(json_string_value(json_object_get(d, "message")), "unknown 'x'");
	assert_string_equal(json_string_value(json_object_get(d, "source_line")), "\tc: [x]");
	d = json_array_get(a, 1);
	assert_true(json_is_null(json_object_get(d, "line")));
	assert_string_equal(json_string_value(json_object_get(d, "code")), "E003");
	d = json_array_get(a, 2);
	assert_true(json_is_null(json_object_get(d, "code")));
	assert_string_equal(json_string_value(json_object_get(d, "message")), "free text");
	json_decref(a);
}

/* Values that are not UTF-8 (a DAG file's name on disk is any bytes, and SQLite
 * stores them as they are) keep their place: a row's columns never shift and no
 * field goes missing. */
static void test_rows_not_utf8(void **state)
{
	(void)state;
	char path[] = "/tmp/dagproc-test-api-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	store_params p;
	store_params_defaults(&p, STORE_SQLITE);
	p.sqlite_path = path;
	store_conn *c = NULL;
	store_error e;
	assert_int_equal(store_connect(&p, &c, &e), 0);
	assert_int_equal(store_migrate(c, &e), 0);
	store_param ie[] = {store_p_text("bad\xff.yml"), store_p_text("dags-folder"),
	                    store_p_text("bad\xff.yml:1:1: error[E001]: x")};
	assert_int_equal(store_exec(c,
	                            "INSERT INTO import_error (timestamp, filename, bundle_name, "
	                            "stacktrace) VALUES ('2026-01-02 03:04:05', ?, ?, ?)",
	                            ie, 3, &e),
	                 0);
	store_param dag[] = {store_p_text("etl"), store_p_text("dags-folder"),
	                     store_p_text("/srv/dags/bad\xff.yml"), store_p_text("bad\xff.yml"),
	                     store_p_text("caf\xe9")};
	assert_int_equal(store_exec(c,
	                            "INSERT INTO dag (dag_id, bundle_name, fileloc, "
	                            "relative_fileloc, description) VALUES (?, ?, ?, ?, ?)",
	                            dag, 5, &e),
	                 0);
	api_query q;
	api_status st = {0};
	json_t *out = NULL;
	api_query_init(&q);
	assert_int_equal(api_read_import_errors(c, &q, &out, &st), 0);
	json_t *o = json_array_get(json_object_get(out, "import_errors"), 0);
	assert_has_fields(o, required_ImportErrorResponse);
	assert_string_equal(json_string_value(json_object_get(o, "filename")),
	                    "bad\xef\xbf\xbd.yml");
	assert_string_equal(json_string_value(json_object_get(o, "bundle_name")), "dags-folder");
	assert_non_null(strstr(json_string_value(json_object_get(o, "stack_trace")), "E001"));
	json_decref(out);
	out = NULL;
	assert_int_equal(api_read_dags(c, &q, &out, &st), 0);
	o = json_array_get(json_object_get(out, "dags"), 0);
	assert_has_fields(o, required_DAGResponse);
	assert_string_equal(json_string_value(json_object_get(o, "dag_id")), "etl");
	assert_string_equal(json_string_value(json_object_get(o, "bundle_name")), "dags-folder");
	assert_string_equal(json_string_value(json_object_get(o, "relative_fileloc")),
	                    "bad\xef\xbf\xbd.yml");
	assert_string_equal(json_string_value(json_object_get(o, "description")),
	                    "caf\xef\xbf\xbd");
	json_decref(out);
	store_close(c);
	unlink(path);
	char side[sizeof(path) + 8];
	snprintf(side, sizeof(side), "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", path);
	unlink(side);
	/* a source file that is not UTF-8 still gives its line */
	const char *text = "a: 1\nb: caf\xe9\n";
	json_t *a = api_diagnostics_json("f.yml:2:4: error[E003]: not UTF-8", text, strlen(text));
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "source_line")),
	                    "b: caf\xef\xbf\xbd");
	json_decref(a);
}

static void test_json_text(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"plain", "plain"},
	    {"\xc3\xa9t\xc3\xa9", "\xc3\xa9t\xc3\xa9"},
	    {"a\xff"
	     "b",
	     "a\xef\xbf\xbd"
	     "b"},
	    {"cut \xe2\x82", "cut \xef\xbf\xbd\xef\xbf\xbd"},         /* a character cut short */
	    {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},                 /* overlong '/' */
	    {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* a surrogate */
	    {"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
	    {"", ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *j = api_json_text(cases[i].in);
		assert_non_null(j);
		assert_string_equal(json_string_value(j), cases[i].out);
		json_decref(j);
	}
	json_t *j = api_json_text(NULL);
	assert_string_equal(json_string_value(j), "");
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_query_defaults),
	    cmocka_unit_test(test_query_parse),
	    cmocka_unit_test(test_query_bad_values),
	    cmocka_unit_test(test_order_by),
	    cmocka_unit_test(test_bearer),
	    cmocka_unit_test(test_file_token),
	    cmocka_unit_test(test_iso_ts),
	    cmocka_unit_test(test_dag_shape),
	    cmocka_unit_test(test_dag_details_shape),
	    cmocka_unit_test(test_dag_details_huge_timedelta),
	    cmocka_unit_test(test_import_error_and_warning_shapes),
	    cmocka_unit_test(test_diagnostics),
	    cmocka_unit_test(test_rows_not_utf8),
	    cmocka_unit_test(test_json_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
