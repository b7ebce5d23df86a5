/* status/health.c: the readiness reason, the state in words, and the status
 * file of `dagproc healthcheck` (issue 14). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "status/health.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/dagproc-health.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];
	while (d && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(dir);
	return 0;
}

static size_t files_in_dir(void)
{
	size_t n = 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	if (d)
		closedir(d);
	return n;
}

/* A driver's message that is not UTF-8 (another encoding, or cut in the
 * middle of a character) made jansson refuse the whole document: the status
 * file was no longer written, and healthcheck --live failed during the very
 * database outage that it must ride out. */
static void test_file_with_a_message_that_is_not_utf8(void **state)
{
	(void)state;
	char path[128];
	snprintf(path, sizeof path, "%s/status", dir);
	proc_stats s;
	memset(&s, 0, sizeof s);
	s.heartbeat = 1000.5;
	s.db_down_since = 990;
	s.files = 3210;
	s.pending = 17;
	snprintf(s.db_error, sizeof s.db_error, "conexi\xf3n rechazada \xe2\x82");
	assert_int_equal(health_file_write(path, &s, "host:1"), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(files_in_dir(), 1); /* no temporary file left */

	proc_stats r;
	long pid = 0;
	char *inst = NULL, *err = NULL;
	assert_int_equal(health_file_read(path, &r, &pid, &inst, &err), 0);
	assert_int_equal(pid, (long)getpid());
	assert_string_equal(inst, "host:1");
	assert_string_equal(r.db_error, "conexi?n rechazada ??");
	assert_true(r.heartbeat == 1000.5);
	assert_int_equal(r.files, 3210);
	assert_int_equal(r.pending, 17);
	free(inst);
}

static void test_missing_and_bad_files(void **state)
{
	(void)state;
	char path[128];
	proc_stats r;
	long pid;
	char *inst = NULL, *err = NULL;
	snprintf(path, sizeof path, "%s/none", dir);
	assert_int_equal(health_file_read(path, &r, &pid, &inst, &err), -1);
	assert_non_null(strstr(err, "no processor running here"));
	free(err);
	err = NULL;
	snprintf(path, sizeof path, "%s/bad", dir);
	FILE *f = fopen(path, "w");
	fputs("{\"pid\": \"x\"}", f);
	fclose(f);
	assert_int_equal(health_file_read(path, &r, &pid, &inst, &err), -1);
	assert_non_null(strstr(err, "not a status file"));
	free(err);
}

static void test_words_and_readiness(void **state)
{
	(void)state;
	proc_stats s;
	memset(&s, 0, sizeof s);
	s.files = 3210;
	s.db_up = false;
	s.db_down_since = 100;
	s.synced = true;
	s.pending = 17;
	snprintf(s.db_error, sizeof s.db_error, "Connection refused\nIs the server running?");
	char words[512];
	health_words(&s, 142, words, sizeof words);
	assert_string_equal(words, "3,210 DAG files, database unreachable for 42 s: Connection "
	                           "refused Is the server running?, 17 results pending");
	s.db_up = true;
	s.pending = 0;
	health_words(&s, 142, words, sizeof words);
	assert_string_equal(words, "3,210 DAG files, in sync");

	strbuf why;
	sb_init(&why);
	health_ready_why(&s, true, NULL, 0, 142, &why);
	assert_int_equal(why.len, 0); /* ready */
	/* down since the earlier of the processor's and the ping's view */
	health_ready_why(&s, false, "timeout\nexpired", 130, 142, &why);
	assert_string_equal(why.data, "database unreachable for 42 s: timeout expired");
	sb_free(&why);
	sb_init(&why);
	s.db_up = false;
	s.db_schema = true;
	s.db_down_since = 140;
	health_ready_why(&s, true, NULL, 0, 142, &why);
	assert_non_null(strstr(why.data, "database tables not dagproc's schema for 2 s"));
	sb_free(&why);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_file_with_a_message_that_is_not_utf8),
	    cmocka_unit_test(test_missing_and_bad_files),
	    cmocka_unit_test(test_words_and_readiness),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
