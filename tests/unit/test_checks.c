/* Unit tests for dagfile/checks: cron, dates, Airflow ids, edit distance and
 * "did you mean" suggestions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dagfile/checks.h"
#include "util/utf8.h"

static void assert_cron_ok(const char *expr)
{
	char why[256] = "untouched";
	if (!cron_valid(expr, why, sizeof(why)))
		fail_msg("cron '%s' rejected: %s", expr, why);
}

static void assert_cron_bad(const char *expr, const char *reason)
{
	char why[256] = "";
	if (cron_valid(expr, why, sizeof(why)))
		fail_msg("cron '%s' accepted", expr);
	if (reason)
		assert_string_equal(why, reason);
	else
		assert_true(why[0] != '\0');
}

static void test_cron_valid_expressions(void **state)
{
	(void)state;
	assert_cron_ok("0 3 * * *");
	assert_cron_ok("* * * * *");
	assert_cron_ok("*/5 * * * *");
	assert_cron_ok("0-30/5 1,2,3 1-15 * *");
	assert_cron_ok("5/15 * * * *");
	assert_cron_ok("59 23 31 12 7");
	assert_cron_ok("0 0 1 JAN-MAR,dec mon-fri");
	assert_cron_ok("0 0 ? * SUN");
	assert_cron_ok("0 0 1 * ?");
	assert_cron_ok("0 0 * * 0-7/2");
	assert_cron_ok("   0\t3  *   *  *  ");
	assert_cron_ok("00 03 01 01 00");
	assert_cron_ok("0 0 L * *");
	assert_cron_ok("0 0 1-L * *");
	assert_cron_ok("0 0 * * 5#3");
	assert_cron_ok("0 0 * * mon-fri#2");
	assert_cron_ok("0 0 * * 1#2,3#1");
	assert_cron_ok("0 0 * * L5");
	assert_cron_ok("0 0 * * MON/2");
	/* croniter wraps a reversed range instead of refusing it */
	assert_cron_ok("0 5-1 * * *");
	assert_cron_ok("0 0 * * FRI-MON");
	assert_cron_ok("50-10/5 * * * *");
	/* presets: Airflow's exact spelling, croniter's aliases in any case */
	assert_cron_ok("@daily");
	assert_cron_ok("@DAILY");
	assert_cron_ok("@quarterly");
	assert_cron_ok("@midnight");
	assert_cron_ok("@annually");
	/* NULL why is allowed */
	assert_true(cron_valid("0 1 * * *", NULL, 0));
	assert_false(cron_valid("0 1 * *", NULL, 0));
}

/* Six and seven fields: croniter reads seconds, then the year. */
static void test_cron_croniter_fields(void **state)
{
	(void)state;
	cron_info in;
	assert_true(cron_check("0 0 * * ? *", &in, NULL, 0));
	assert_int_equal(in.nfields, 6);
	assert_true(in.question);
	assert_string_equal(in.second, "*");
	assert_true(cron_check("0 0 1 1 * 30 2030", &in, NULL, 0));
	assert_int_equal(in.nfields, 7);
	assert_string_equal(in.second, "30");
	assert_true(cron_check("R 3 * * *", &in, NULL, 0));
	assert_true(in.random);
	assert_true(cron_check("0 3 * * *", &in, NULL, 0));
	assert_int_equal(in.nfields, 5);
	assert_false(in.question || in.random);
	/* value_alias's quirks by field count: 0 is day 1 with six fields, 7 is
	 * Sunday only with five */
	assert_cron_ok("0 0 0 * * 0");
	assert_cron_bad("0 0 * * 7 0", "field 5 (day of week): 7 is out of range 0-6");
	assert_cron_bad("0 0 1 1 * 0 1969", "field 7 (year): 1969 is out of range 1970-2099");
	assert_cron_bad("0 0 1 1 * 60", "field 6 (second): 60 is out of range 0-59");
}

static void test_cron_field_count(void **state)
{
	(void)state;
	assert_cron_bad("0 3 * *",
	                "expected 5 fields (minute hour day-of-month month day-of-week), "
	                "or 6 or 7 with croniter's seconds and year; found 4");
	assert_cron_bad("0 0 3 * * * * *", "expected 5 fields (minute hour day-of-month month "
	                                   "day-of-week), or 6 or 7 with croniter's seconds and "
	                                   "year; found 8");
	assert_cron_bad("", "empty cron expression");
	assert_cron_bad("   ", "empty cron expression");
	assert_cron_bad(NULL, "empty cron expression");
	assert_cron_bad("@Quarterly", NULL);
	assert_cron_bad("@once", NULL); /* a schedule value, not a cron */
	assert_cron_bad(" @daily", NULL);
}

static void test_cron_ranges(void **state)
{
	(void)state;
	assert_cron_bad("0 25 * * *", "field 2 (hour): 25 is out of range 0-23");
	assert_cron_bad("60 * * * *", "field 1 (minute): 60 is out of range 0-59");
	assert_cron_bad("0 0 0 * *", "field 3 (day of month): 0 is out of range 1-31");
	assert_cron_bad("0 0 32 * *", "field 3 (day of month): 32 is out of range 1-31");
	assert_cron_bad("0 0 * 13 *", "field 4 (month): 13 is out of range 1-12");
	assert_cron_bad("0 0 * 0 *", "field 4 (month): 0 is out of range 1-12");
	assert_cron_bad("0 0 * * 8", "field 5 (day of week): 8 is out of range 0-6");
	assert_cron_bad("0 0 * * 1-9", "field 5 (day of week): 1-9 is out of range 0-6");
	assert_cron_bad("0 0 0-5 * *", "field 3 (day of month): 0 is out of range 1-31");
	assert_cron_bad("0 99999999999999999999 * * *",
	                "field 2 (hour): the value is out of range 0-23");
}

static void test_cron_syntax(void **state)
{
	(void)state;
	assert_cron_bad("0 0 * * FUNDAY", "field 5 (day of week): unknown name 'funday'");
	assert_cron_bad("0 0 * FOO *", "field 4 (month): unknown name 'foo'");
	assert_cron_bad("0 MON * * *", "field 2 (hour): 'mon' is not a number");
	assert_cron_bad("*/0 * * * *", "field 1 (minute): step must be at least 1");
	assert_cron_bad("*/x * * * *", "field 1 (minute): '*/x' is not a number");
	assert_cron_bad("*/ * * * *", "field 1 (minute): '*/' is not a number");
	assert_cron_bad("1,,2 * * * *", "field 1 (minute): empty list item");
	assert_cron_bad("1, * * * *", "field 1 (minute): empty list item");
	assert_cron_bad("? * * * *", "field 1 (minute): '?' is only allowed in the day fields");
	assert_cron_bad("0 0 ?/2 * *", "field 3 (day of month): '?' cannot be used with other "
	                               "characters");
	assert_cron_bad("-1 * * * *", "field 1 (minute): '-1': negative numbers are not allowed");
	assert_cron_bad("1- * * * *", "field 1 (minute): '1-' is not a number");
	assert_cron_bad("5x * * * *", "field 1 (minute): '5x' is not a number");
	assert_cron_bad("0 0 * * 5#6", "field 5 (day of week): '5#6': the number after '#' must "
	                               "be 1-5");
	assert_cron_bad("0 0 * * L", "field 5 (day of week): unknown name 'l'");
	assert_cron_bad("0 0 L-5 * *", "field 3 (day of month): 'l' cannot be a bound of a range");
	assert_cron_bad("0 0 * * 1#2,3", "field 5 (day of week): literal days cannot be mixed "
	                                 "with the nth day of week syntax");
	assert_cron_bad("H * * * *", "field 1 (minute): 'H' (hashed) needs a hash id, which "
	                             "Airflow does not give croniter");
	assert_cron_bad("R(0-70) * * * *", "field 1 (minute): R(0-70) reaches out of range 0-59");
}

static void test_cron_presets(void **state)
{
	static const char *const ok[] = {"@hourly", "@daily",     "@weekly",   "@monthly",
	                                 "@yearly", "@quarterly", "@annually", "@midnight"};
	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_true(cron_is_preset(ok[i]));
		assert_cron_ok(ok[i]);
	}
	/* croniter lowercases its own aliases; Airflow's @quarterly is exact */
	assert_true(cron_is_preset("@DAILY"));
	assert_false(cron_is_preset("@QUARTERLY"));
	/* no trimming: croniter splits " @daily " into one unknown field */
	assert_false(cron_is_preset(" @hourly "));
	assert_cron_bad("  @daily ", NULL);
	assert_false(cron_is_preset("@dailyx"));
	assert_false(cron_is_preset("0 0 * * *"));
	assert_false(cron_is_preset(NULL));
	/* @once and @continuous are schedule values the caller handles */
	assert_false(cron_is_preset("@once"));
	assert_cron_bad("@fortnightly", "unknown preset '@fortnightly'; expected one of @once, "
	                                "@continuous, @hourly, @daily, @weekly, @monthly, "
	                                "@quarterly, @yearly, @annually, @midnight");
	assert_cron_bad("@", NULL);
}

static void test_cron_why_truncation(void **state)
{
	char why[8];
	(void)state;
	memset(why, 'x', sizeof(why));
	assert_false(cron_valid("0 25 * * *", why, sizeof(why)));
	assert_int_equal(strlen(why), 7);
	assert_memory_equal(why, "field 2", 7);
}

static void test_date_iso(void **state)
{
	(void)state;
	assert_true(date_iso_valid("2024-01-01"));
	assert_true(date_iso_valid("2018-03-01"));
	assert_true(date_iso_valid("2024-02-29"));
	assert_true(date_iso_valid("2000-02-29"));
	assert_true(date_iso_valid("2024-06-15T10:30"));
	assert_true(date_iso_valid("2024-06-15T10:30:59"));
	assert_true(date_iso_valid("2024-06-15 10:30:00"));
	assert_true(date_iso_valid("2024-06-15T10:30:00.123456"));
	assert_true(date_iso_valid("2024-06-15T10:30:00Z"));
	assert_true(date_iso_valid("2024-06-15T10:30:00+02:00"));
	assert_true(date_iso_valid("2024-06-15T10:30:00-0530"));
	assert_true(date_iso_valid("2024-06-15T10:30:00.5+01"));
	assert_true(date_iso_valid("2024-06-15T23"));
	assert_true(date_iso_valid("0001-01-01"));
	assert_true(date_iso_valid("9999-12-31T23:59:59"));

	assert_false(date_iso_valid("205-01-01-01"));
	assert_false(date_iso_valid("2023-02-29"));
	assert_false(date_iso_valid("1900-02-29"));
	assert_false(date_iso_valid("2023-02-30"));
	assert_false(date_iso_valid("2023-04-31"));
	assert_false(date_iso_valid("2023-13-01"));
	assert_false(date_iso_valid("2023-00-10"));
	assert_false(date_iso_valid("2023-01-00"));
	assert_false(date_iso_valid("0000-01-01"));
	assert_false(date_iso_valid("2023-1-01"));
	assert_false(date_iso_valid("2023-01-01T24:00"));
	assert_false(date_iso_valid("2023-01-01T10:60"));
	assert_false(date_iso_valid("2023-01-01T10:00:60"));
	assert_false(date_iso_valid("2023-01-01T10:00:00."));
	assert_false(date_iso_valid("2023-01-01T10:00:00+25:00"));
	assert_false(date_iso_valid("2023-01-01T10:00:00+02:60"));
	assert_false(date_iso_valid("2023-01-01T10:00:00ZZ"));
	assert_false(date_iso_valid("2023-01-01T"));
	assert_false(date_iso_valid("2023-01-01x"));
	assert_false(date_iso_valid(" 2023-01-01"));
	assert_false(date_iso_valid("2 days"));
	assert_false(date_iso_valid(""));
	assert_false(date_iso_valid(NULL));
}

static void test_date_relative(void **state)
{
	(void)state;
	assert_true(date_relative_valid("2 days"));
	assert_true(date_relative_valid("1 day"));
	assert_true(date_relative_valid("3 hours"));
	assert_true(date_relative_valid("30 minutes"));
	assert_true(date_relative_valid("10 seconds"));
	assert_true(date_relative_valid("10 Seconds"));
	assert_true(date_relative_valid("2\tDAYS"));
	assert_true(date_relative_valid("2 days ago"));
	assert_true(date_relative_valid("1 day 2 hours"));
	assert_true(date_relative_valid("1 day, 2 hours ago"));
	assert_true(date_relative_valid("0 days"));
	/* dag-factory matches the start only: what follows is ignored */
	assert_true(date_relative_valid("2 dayss"));
	assert_true(date_relative_valid("2 days ago please"));
	/* no week unit, no leading blank, a number first */
	assert_false(date_relative_valid("1 week"));
	assert_false(date_relative_valid("2 weeks ago"));
	assert_false(date_relative_valid("  2   DAYS  "));
	assert_false(date_relative_valid("2days"));
	assert_false(date_relative_valid("2"));
	assert_false(date_relative_valid("days"));
	assert_false(date_relative_valid("2 fortnights"));
	assert_false(date_relative_valid("2 months"));
	assert_false(date_relative_valid("ago"));
	assert_false(date_relative_valid("-2 days"));
	assert_false(date_relative_valid("2.5 days"));
	assert_false(date_relative_valid("2024-01-01"));
	assert_false(date_relative_valid("9999999999 days"));
	assert_false(date_relative_valid(""));
	assert_false(date_relative_valid(NULL));
}

static void assert_id_bad(const char *id, const char *reason)
{
	char why[256] = "";
	if (airflow_id_valid(id, why, sizeof(why)))
		fail_msg("id '%s' accepted", id);
	assert_string_equal(why, reason);
}

static void test_airflow_id(void **state)
{
	char why[256];
	char long_id[300];
	(void)state;

	assert_true(airflow_id_valid("example_dag", why, sizeof(why)));
	assert_true(airflow_id_valid("a.b-c_D9", why, sizeof(why)));
	assert_true(airflow_id_valid("-", why, sizeof(why)));
	assert_true(airflow_id_valid("données_été", why, sizeof(why)));
	assert_true(airflow_id_valid("数据管道", why, sizeof(why)));
	assert_true(airflow_id_valid("x", NULL, 0));

	assert_id_bad("", "is empty");
	assert_id_bad(NULL, "is empty");
	assert_id_bad("example_dag:with_colon",
	              "contains ':' at position 12; only letters, digits, '_', '.' and '-' are "
	              "allowed");
	assert_id_bad("my dag", "contains a space at position 3; only letters, digits, '_', '.' "
	                        "and '-' are allowed");
	assert_id_bad("tab\there", "contains a tab at position 4; only letters, digits, '_', "
	                           "'.' and '-' are allowed");
	assert_id_bad("a/b", "contains '/' at position 2; only letters, digits, '_', '.' and "
	                     "'-' are allowed");
	/* position counts characters, not bytes */
	assert_id_bad("été€", "contains '€' (U+20AC) at position 4; only letters, digits, "
	                      "'_', '.' and '-' are allowed");
	assert_id_bad("ok\xf0\x9f\x98\x80", "contains '\xf0\x9f\x98\x80' (U+1F600) at position "
	                                    "3; only letters, digits, '_', '.' and '-' are "
	                                    "allowed");
	assert_id_bad("bad\xff", "is not valid UTF-8 at position 4");
	assert_id_bad("bad\xc3", "is not valid UTF-8 at position 4");
	assert_id_bad("\xc0\xaf", "is not valid UTF-8 at position 1");

	memset(long_id, 'a', 250);
	long_id[250] = '\0';
	assert_true(airflow_id_valid(long_id, why, sizeof(why)));
	long_id[250] = 'b';
	long_id[251] = '\0';
	assert_id_bad(long_id, "is 251 characters long; at most 250");
	/* 250 two-byte characters are 500 bytes but still 250 characters */
	{
		char wide[600];
		for (int i = 0; i < 250; i++) {
			wide[2 * i] = (char)0xC3;
			wide[2 * i + 1] = (char)0xA9;
		}
		wide[500] = '\0';
		assert_true(airflow_id_valid(wide, why, sizeof(why)));
	}
}

static void test_edit_distance(void **state)
{
	char a[200], b[200];
	(void)state;
	assert_int_equal(edit_distance("", "", 3), 0);
	assert_int_equal(edit_distance("abc", "abc", 3), 0);
	assert_int_equal(edit_distance("kitten", "sitting", 5), 3);
	assert_int_equal(edit_distance("sitting", "kitten", 5), 3);
	assert_int_equal(edit_distance("flaw", "lawn", 5), 2);
	assert_int_equal(edit_distance("", "abcd", 10), 4);
	assert_int_equal(edit_distance("abcd", "", 10), 4);
	assert_int_equal(edit_distance("retries", "retires", 5), 2);
	/* capped */
	assert_int_equal(edit_distance("kitten", "sitting", 2), 3);
	assert_int_equal(edit_distance("kitten", "sitting", 3), 3);
	assert_int_equal(edit_distance("a", "abcdefgh", 2), 3);
	assert_int_equal(edit_distance("abcdef", "uvwxyz", 0), 1);
	assert_int_equal(edit_distance("abcdef", "abcdef", 0), 0);
	assert_int_equal(edit_distance("x", "y", SIZE_MAX), 1);
	/* longer than the stack row */
	memset(a, 'a', 150);
	a[150] = '\0';
	memcpy(b, a, 151);
	b[10] = 'b';
	b[100] = 'c';
	assert_int_equal(edit_distance(a, b, 10), 2);
	assert_int_equal(edit_distance(a, b, 1), 2);
}

static void test_suggest_name(void **state)
{
	static const char *const tasks[] = {"extract", "transform", "load", "load_all"};
	static const char *const keys[] = {"schedule", "start_date", "end_date", "catchup"};
	static const char *const cased[] = {"Extract", "extrac", "extract"};
	static const char *const ties[] = {"abcx", "abcy"};
	static const char *const with_null[] = {NULL, "load"};
	(void)state;
	assert_string_equal(suggest_name("extrakt", tasks, 4), "extract");
	assert_string_equal(suggest_name("lod", tasks, 4), "load");
	assert_string_equal(suggest_name("transfrom", tasks, 4), "transform");
	assert_string_equal(suggest_name("shedule", keys, 4), "schedule");
	assert_string_equal(suggest_name("start-date", keys, 4), "start_date");
	assert_string_equal(suggest_name("catchUp", keys, 4), "catchup");
	assert_null(suggest_name("banana", tasks, 4));
	assert_null(suggest_name("xyz", tasks, 4));
	assert_null(suggest_name("extract", tasks, 0));
	assert_null(suggest_name(NULL, tasks, 4));
	/* exact match beats a case-only difference, which beats one edit */
	assert_string_equal(suggest_name("extract", cased, 3), "extract");
	assert_string_equal(suggest_name("EXTRACT", cased, 2), "Extract");
	assert_string_equal(suggest_name("extract", cased, 2), "Extract");
	/* ties go to the first */
	assert_string_equal(suggest_name("abcz", ties, 2), "abcx");
	assert_string_equal(suggest_name("lo", with_null, 2), "load");
	/* the threshold grows with the length: 12 chars allow 4 edits */
	{
		static const char *const c[] = {"abcdefghijkl"};
		assert_string_equal(suggest_name("abcdXXXXijkl", c, 1), "abcdefghijkl");
		assert_null(suggest_name("abcdXXXXXjkl", c, 1));
	}
}

/* The one decoder: strict as Python's and jansson's. */
/* PyYAML's timestamps: a space before the zone, one-digit month and day. */
static void test_date_yaml(void **state)
{
	(void)state;
	assert_true(date_yaml_valid("2024-01-01"));
	assert_true(date_yaml_valid("2024-1-2"));
	assert_true(date_yaml_valid("2024-01-01 10:00:00 +02:00"));
	assert_true(date_yaml_valid("2024-01-01t10:00:00.123456789Z"));
	assert_true(date_yaml_valid("2024-01-01 \t 1:00:00-5"));
	assert_true(date_yaml_valid("2024-02-29"));
	assert_false(date_yaml_valid("2023-02-29"));
	assert_false(date_yaml_valid("2024-01-01 24:00:00"));
	assert_false(date_yaml_valid("2024-01-01 10:00:60"));
	assert_false(date_yaml_valid("2024-01-01 10:00:00 +24:00"));
	assert_false(date_yaml_valid("2024-01-01 10:00"));
	assert_false(date_yaml_valid("24-01-01"));
	assert_false(date_yaml_valid(NULL));
}

static void test_utf8_decode(void **state)
{
	(void)state;
	uint32_t cp = 0;
	assert_int_equal(utf8_decode((const unsigned char *)"a", 1, &cp), 1);
	assert_int_equal(cp, 'a');
	assert_int_equal(utf8_decode((const unsigned char *)"\0", 1, &cp), 1);
	assert_int_equal(cp, 0);
	assert_int_equal(utf8_decode((const unsigned char *)"\xc3\xa9", 2, &cp), 2);
	assert_int_equal(cp, 0xE9);
	assert_int_equal(utf8_decode((const unsigned char *)"\xe2\x82\xac", 3, &cp), 3);
	assert_int_equal(cp, 0x20AC);
	assert_int_equal(utf8_decode((const unsigned char *)"\xf0\x9f\x98\x80", 4, &cp), 4);
	assert_int_equal(cp, 0x1F600);
	assert_int_equal(utf8_decode((const unsigned char *)"\xf4\x8f\xbf\xbf", 4, NULL), 4);
	/* truncated by n, though the bytes follow */
	assert_int_equal(utf8_decode((const unsigned char *)"\xe2\x82\xac", 2, &cp), 0);
	assert_int_equal(utf8_decode((const unsigned char *)"a", 0, &cp), 0);
	/* overlong forms, surrogates, past U+10FFFF, stray bytes */
	assert_int_equal(utf8_decode((const unsigned char *)"\xc0\x80", 2, &cp), 0);
	assert_int_equal(utf8_decode((const unsigned char *)"\xc1\xbf", 2, &cp), 0);
	assert_int_equal(utf8_decode((const unsigned char *)"\xe0\x80\x80", 3, &cp), 0);
	assert_int_equal(utf8_decode((const unsigned char *)"\xf0\x80\x80\x80", 4, &cp), 0);
	assert_int_equal(utf8_decode((const unsigned char *)"\xed\xa0\x80", 3, &cp), 0);
	assert_int_equal(utf8_decode((const unsigned char *)"\xf4\x90\x80\x80", 4, &cp), 0);
	assert_int_equal(utf8_decode((const unsigned char *)"\xf5\x80\x80\x80", 4, &cp), 0);
	assert_int_equal(utf8_decode((const unsigned char *)"\x80", 1, &cp), 0);
	assert_int_equal(utf8_decode((const unsigned char *)"\xc3"
	                                                    "a",
	                             2, &cp),
	                 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cron_valid_expressions),
	    cmocka_unit_test(test_cron_croniter_fields),
	    cmocka_unit_test(test_cron_field_count),
	    cmocka_unit_test(test_cron_ranges),
	    cmocka_unit_test(test_cron_syntax),
	    cmocka_unit_test(test_cron_presets),
	    cmocka_unit_test(test_cron_why_truncation),
	    cmocka_unit_test(test_date_iso),
	    cmocka_unit_test(test_date_relative),
	    cmocka_unit_test(test_airflow_id),
	    cmocka_unit_test(test_edit_distance),
	    cmocka_unit_test(test_suggest_name),
	    cmocka_unit_test(test_utf8_decode),
	    cmocka_unit_test(test_date_yaml),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
