/* Unit tests of the logger: text and JSON records, levels, secret masking,
 * one record per line, and whole lines under concurrent writers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "log/log.h"

#include <jansson.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static FILE *out;

static int setup(void **state)
{
	(void)state;
	out = tmpfile();
	assert_non_null(out);
	log_set_stream(out);
	log_set_level(LOG_INFO);
	log_set_format(LOG_FORMAT_TEXT);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	log_set_stream(NULL);
	fclose(out);
	return 0;
}

/* Everything written so far; caller frees. */
static char *captured(void)
{
	fflush(out);
	long n = ftell(out);
	assert_true(n >= 0);
	char *buf = malloc((size_t)n + 1);
	rewind(out);
	size_t got = fread(buf, 1, (size_t)n, out);
	buf[got] = '\0';
	fseek(out, 0, SEEK_END);
	return buf;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void assert_matches(const char *text, const char *pattern)
{
	regex_t re;
	assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
	int rc = regexec(&re, text, 0, NULL, 0);
	regfree(&re);
	if (rc != 0)
		fail_msg("'%s' does not match /%s/", text, pattern);
}

static void test_text_format(void **state)
{
	(void)state;
	log_kv(LOG_INFO, "file parsed", LOG_STR("file", "dags/etl.yml"), LOG_INT("dags", 3),
	       LOG_BOOL("changed", true), LOG_STR("note", "two words"), LOG_DBL("secs", 0.25));
	char *s = captured();
	assert_matches(s, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
	                  "info  file parsed file=dags/etl\\.yml dags=3 changed=true "
	                  "note=\"two words\" secs=0\\.25\n$");
	free(s);
}

static void test_levels(void **state)
{
	(void)state;
	log_msg(LOG_DEBUG, "hidden %d", 1);
	log_warn("shown %s", "w");
	log_set_level(LOG_DEBUG);
	assert_true(log_enabled(LOG_DEBUG));
	log_debug("now visible");
	log_set_level(LOG_ERROR);
	log_warn("dropped");
	log_error("bad");
	char *s = captured();
	assert_null(strstr(s, "hidden"));
	assert_null(strstr(s, "dropped"));
	assert_non_null(strstr(s, "Z warning shown w\n"));
	assert_non_null(strstr(s, "Z debug now visible\n"));
	assert_non_null(strstr(s, "Z error bad\n"));
	assert_int_equal(count_lines(s), 3);
	assert_int_equal(log_get_level(), LOG_ERROR);
	free(s);
}

static void test_level_names(void **state)
{
	(void)state;
	enum log_level l;
	assert_int_equal(log_level_parse("WARNING", &l), 0);
	assert_int_equal(l, LOG_WARNING);
	assert_int_equal(log_level_parse("warn", &l), 0);
	assert_int_equal(l, LOG_WARNING);
	assert_int_equal(log_level_parse("Debug", &l), 0);
	assert_int_equal(l, LOG_DEBUG);
	assert_int_equal(log_level_parse("loud", &l), -1);
	assert_string_equal(log_level_name(LOG_ERROR), "error");
	assert_string_equal(log_level_name(LOG_INFO), "info");
}

static void test_one_line_per_record(void **state)
{
	(void)state;
	log_info("line1\nline2\r\tx\x01y");
	char *s = captured();
	assert_int_equal(count_lines(s), 1);
	assert_non_null(strstr(s, "line1\\nline2\\r\\tx\\x01y\n"));
	free(s);
}

static json_t *parse_line(const char *line)
{
	json_error_t e;
	json_t *j = json_loads(line, 0, &e);
	if (!j)
		fail_msg("invalid JSON (%s): %s", e.text, line);
	return j;
}

static void test_json_format(void **state)
{
	(void)state;
	log_set_format(LOG_FORMAT_JSON);
	log_kv(LOG_WARNING, "quote \" backslash \\ newline \n bad \xff utf8 é",
	       LOG_STR("file", "a\"b.yml"), LOG_INT("n", -42), LOG_DBL("secs", 0.1),
	       LOG_BOOL("ok", false), LOG_STR("none", NULL), LOG_STR("msg", "shadow"));
	log_info("second");
	char *s = captured();
	assert_int_equal(count_lines(s), 2);
	char *nl = strchr(s, '\n');
	*nl = '\0';

	json_t *j = parse_line(s);
	assert_string_equal(json_string_value(json_object_get(j, "level")), "warning");
	assert_string_equal(json_string_value(json_object_get(j, "msg")),
	                    "quote \" backslash \\ newline \n bad \xef\xbf\xbd utf8 é");
	assert_matches(json_string_value(json_object_get(j, "ts")),
	               "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$");
	assert_string_equal(json_string_value(json_object_get(j, "file")), "a\"b.yml");
	assert_int_equal(json_integer_value(json_object_get(j, "n")), -42);
	assert_true(json_real_value(json_object_get(j, "secs")) == 0.1);
	assert_true(json_is_false(json_object_get(j, "ok")));
	assert_true(json_is_null(json_object_get(j, "none")));
	assert_string_equal(json_string_value(json_object_get(j, "_msg")), "shadow");
	json_decref(j);

	j = parse_line(nl + 1);
	assert_string_equal(json_string_value(json_object_get(j, "msg")), "second");
	assert_string_equal(json_string_value(json_object_get(j, "level")), "info");
	json_decref(j);
	free(s);
}

static void test_url_password_masked(void **state)
{
	(void)state;
	log_info("connecting to postgresql://airflow:s3cr%%2Ft@db:5432/airflow failed");
	log_kv(LOG_INFO, "retry", LOG_STR("url", "mysql+pymysql://root:hunter2@127.0.0.1/x"));
	log_set_format(LOG_FORMAT_JSON);
	log_kv(LOG_ERROR, "db down: mariadb://u:pa/ss@h/db", LOG_STR("url", "postgres://u:p?w@h"));
	char *s = captured();
	assert_null(strstr(s, "s3cr"));
	assert_null(strstr(s, "hunter2"));
	assert_null(strstr(s, "pa/ss"));
	assert_null(strstr(s, "p?w"));
	assert_non_null(strstr(s, "postgresql://airflow:***@db:5432/airflow failed"));
	assert_non_null(strstr(s, "url=mysql+pymysql://root:***@127.0.0.1/x"));
	char *last = strrchr(s, '{');
	json_t *j = parse_line(last);
	assert_string_equal(json_string_value(json_object_get(j, "msg")),
	                    "db down: mariadb://u:***@h/db");
	assert_string_equal(json_string_value(json_object_get(j, "url")), "postgres://u:***@h");
	json_decref(j);
	free(s);
}

static void test_not_urls_untouched(void **state)
{
	(void)state;
	char *m = log_mask("see http://example.com:8080/path and a:b@c and ://x:y@z");
	assert_string_equal(m, "see http://example.com:8080/path and a:b@c and ://x:y@z");
	free(m);
	m = log_mask("sqlite:///dagproc.db user@host postgresql://u@h/db postgresql://u:@h");
	assert_string_equal(m, "sqlite:///dagproc.db user@host postgresql://u@h/db "
	                       "postgresql://u:@h");
	free(m);
}

/* Nothing but URL passwords is masked: a record's text is never searched for
 * a secret's letters (issue 10: the password "p" turned "port" into "***ort"). */
static void test_text_not_searched(void **state)
{
	(void)state;
	log_info("connection to server at \"127.0.0.1\", port 5432 failed: unexpectedly");
	log_kv(LOG_INFO, "url", LOG_STR("db", "postgresql://u:p@h/db"));
	char *s = captured();
	assert_non_null(strstr(s, "port 5432 failed: unexpectedly\n"));
	assert_non_null(strstr(s, "postgresql://u:***@h/db"));
	free(s);
}

static void *writer(void *arg)
{
	int id = (int)(intptr_t)arg;
	for (int i = 0; i < 200; i++)
		log_kv(LOG_INFO, "concurrent record with some padding text", LOG_INT("thread", id),
		       LOG_INT("i", i));
	return NULL;
}

static void test_threads_whole_lines(void **state)
{
	(void)state;
	enum { NT = 8 };
	pthread_t t[NT];
	log_set_format(LOG_FORMAT_JSON);
	for (int i = 0; i < NT; i++)
		assert_int_equal(pthread_create(&t[i], NULL, writer, (void *)(intptr_t)i), 0);
	for (int i = 0; i < NT; i++)
		pthread_join(t[i], NULL);
	char *s = captured();
	assert_int_equal(count_lines(s), NT * 200);
	int seen[NT] = {0};
	for (char *line = s, *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
		*nl = '\0';
		json_t *j = parse_line(line);
		json_int_t id = json_integer_value(json_object_get(j, "thread"));
		assert_true(id >= 0 && id < NT);
		/* per-thread order is preserved */
		assert_int_equal(json_integer_value(json_object_get(j, "i")), seen[id]);
		seen[id]++;
		json_decref(j);
	}
	for (int i = 0; i < NT; i++)
		assert_int_equal(seen[i], 200);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_text_format, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_levels, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_level_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_one_line_per_record, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_json_format, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_url_password_masked, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_urls_untouched, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_text_not_searched, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_threads_whole_lines, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
