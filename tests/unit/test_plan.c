/* The plan of a sync (src/sync/plan.c) as a pure function: parse results and
 * the rows the database holds in, row changes out. Each test is one rule of
 * SPEC §3 / §5, checked without a database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dagfile/catalog.h"
#include "dagfile/dagfile.h"
#include "sync/plan.h"
#include "util/xalloc.h"

#define BASH "airflow.providers.standard.operators.bash.BashOperator"

static catalog *cat;

/* The batch under test: up to 8 files. */
typedef struct tbatch {
	sync_file f[8];
	dagfile_result res[8];
	char loc[8][64];
	size_t n;
	plan_current cur;
	plan_out out;
} tbatch;

/* One DAG file text defining the given DAG ids (comma-separated), each with
 * one task; an id ending in '!' is broken (an unknown dependency). */
static char *yaml_of(const char *ids)
{
	strbuf s;
	sb_init(&s);
	char *copy = xstrdup(ids);
	for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ",")) {
		size_t l = strlen(tok);
		bool broken = l && tok[l - 1] == '!';
		if (broken)
			tok[l - 1] = '\0';
		sb_printf(&s,
		          "%s:\n  tags: [t_%s]\n  tasks:\n    - {task_id: t, operator: " BASH
		          ", bash_command: echo %s%s}\n",
		          tok, tok, tok, broken ? ", dependencies: [nope]" : "");
	}
	free(copy);
	if (!s.len)
		sb_adds(&s, "{}\n");
	return sb_detach(&s);
}

/* Adds a file to the batch: ids as yaml_of, or NULL for a deleted file. */
static void add_file(tbatch *b, const char *rel, const char *ids)
{
	size_t i = b->n++;
	snprintf(b->loc[i], sizeof(b->loc[i]), "/b/%s", rel);
	sync_file *f = &b->f[i];
	memset(f, 0, sizeof(*f));
	f->bundle = "dags-folder";
	f->rel = strchr(b->loc[i], '/') + 3;
	f->fileloc = b->loc[i];
	if (!ids) {
		f->deleted = true;
		return;
	}
	char *y = yaml_of(ids);
	dagfile_opts o = {.cat = cat, .bundle_root = "/nonexistent"};
	dagfile_parse_text(b->loc[i], y, strlen(y), &o, &b->res[i]);
	free(y);
	f->res = &b->res[i];
	f->source_hash = 1;
}

/* A dag row the database holds: file rel, flags "s" stale, "e" errors. */
static void add_row(tbatch *b, const char *id, const char *rel, const char *flags)
{
	plan_current *c = &b->cur;
	if (!c->mem.head)
		arena_init(&c->mem);
	plan_dag_row r = {
	    .dag_id = arena_strdup(&c->mem, id),
	    .bundle = "dags-folder",
	    .rel = arena_strdup(&c->mem, rel),
	    .fileloc = arena_printf(&c->mem, "/b/%s", rel),
	    .stale = strchr(flags, 's') != NULL,
	    .has_errors = strchr(flags, 'e') != NULL,
	    .hash = "old-hash",
	    .display_name = arena_strdup(&c->mem, id),
	    .timetable = "None",
	    .max_active_tasks = "16",
	    .max_active_runs = "16",
	};
	VEC_PUSH(c->dags, c->ndags, c->capdags, r);
}

static void run_plan(tbatch *b)
{
	if (!b->cur.files)
		b->cur.files = xcalloc(8, sizeof(plan_file_row));
	if (!b->cur.mem.head)
		arena_init(&b->cur.mem);
	plan_make(b->f, b->n, &b->cur, &b->out);
}

static void done(tbatch *b)
{
	plan_out_free(&b->out, b->n);
	plan_current_free(&b->cur);
	for (size_t i = 0; i < b->n; i++)
		if (b->f[i].res)
			dagfile_result_free(&b->res[i]);
}

/* ---- reading the plan ---- */

/* "rel" of the dag row written for id, or NULL. */
static const char *written_at(const tbatch *b, const char *id)
{
	for (size_t i = 0; i < b->out.ndags; i++)
		if (strcmp(b->out.dags[i].g->dag_id, id) == 0)
			return b->f[b->out.dags[i].file].rel;
	return NULL;
}

/* The flags update of id: "s" stale, "e" errors, "" live and clean; NULL: none. */
static const char *flags_of(const tbatch *b, const char *id)
{
	for (size_t i = 0; i < b->out.nflags; i++)
		if (strcmp(b->out.flags[i].dag_id, id) == 0)
			return b->out.flags[i].stale ? (b->out.flags[i].has_errors ? "se" : "s")
			                             : (b->out.flags[i].has_errors ? "e" : "");
	return NULL;
}

static bool is_released(const tbatch *b, const char *id)
{
	for (size_t i = 0; i < b->out.nreleased; i++)
		if (strcmp(b->out.released[i], id) == 0)
			return true;
	return false;
}

static const char *stacktrace_of(const tbatch *b, size_t f)
{
	return b->out.files[f].stacktrace;
}

static bool has_ie_write(const tbatch *b, size_t f, bool deletion)
{
	for (size_t i = 0; i < b->out.nies; i++)
		if (b->out.ies[i].file == f && (b->out.ies[i].text == NULL) == deletion)
			return true;
	return false;
}

/* ---- the rules ---- */

static void test_new_files_write_their_dags(void **state)
{
	(void)state;
	tbatch b = {0};
	add_file(&b, "a.yml", "etl,reports");
	run_plan(&b);
	assert_string_equal(written_at(&b, "etl"), "a.yml");
	assert_string_equal(written_at(&b, "reports"), "a.yml");
	assert_int_equal(b.out.nser, 2);
	assert_int_equal(b.out.ntag_ins, 2);
	assert_int_equal(b.out.nstat_put, 1);
	assert_null(stacktrace_of(&b, 0));
	assert_int_equal(b.out.nies, 0);
	done(&b);
}

/* Invariant 3: a DAG that vanished from its file, and every DAG of a deleted
 * file, go stale; their rows are kept (a flags update, no deletion). */
static void test_vanished_and_deleted_go_stale(void **state)
{
	(void)state;
	tbatch b = {0};
	add_file(&b, "a.yml", "etl");
	add_file(&b, "b.yml", NULL);
	add_row(&b, "etl", "a.yml", "");
	add_row(&b, "reports", "a.yml", "");
	add_row(&b, "ml", "b.yml", "");
	run_plan(&b);
	assert_string_equal(flags_of(&b, "reports"), "s");
	assert_string_equal(flags_of(&b, "ml"), "s");
	assert_null(flags_of(&b, "etl"));
	assert_true(is_released(&b, "reports"));
	assert_true(is_released(&b, "ml"));
	assert_false(is_released(&b, "etl"));
	assert_int_equal(b.out.nstat_del, 0); /* no stat row was read for b.yml */
	done(&b);
}

/* A DAG moving from one file to another in the same batch stays live at its
 * new file, whichever file sorts first (the bug of issue 9, cause 1). */
static void test_dag_moves_between_files_in_both_path_orders(void **state)
{
	(void)state;
	for (int order = 0; order < 2; order++) {
		tbatch b = {0};
		const char *from = order ? "b.yml" : "a.yml", *to = order ? "a.yml" : "b.yml";
		/* the batch is sorted by path, as sync_apply sorts it */
		if (order) {
			add_file(&b, "a.yml", "etl,moved");
			add_file(&b, "b.yml", "other");
		} else {
			add_file(&b, "a.yml", "etl");
			add_file(&b, "b.yml", "other,moved");
		}
		add_row(&b, "moved", from, "");
		run_plan(&b);
		assert_string_equal(written_at(&b, "moved"), to);
		assert_null(flags_of(&b, "moved")); /* never marked stale */
		assert_null(stacktrace_of(&b, 0));
		assert_null(stacktrace_of(&b, 1));
		assert_true(is_released(&b, "moved"));
		done(&b);
	}
}

/* mv a.yml b.yml: the old path deleted and the new one created in one batch. */
static void test_rename(void **state)
{
	(void)state;
	tbatch b = {0};
	add_file(&b, "a.yml", NULL);
	add_file(&b, "b.yml", "etl");
	add_row(&b, "etl", "a.yml", "");
	b.cur.files = xcalloc(8, sizeof(plan_file_row));
	b.cur.files[0].has_stat = true;
	b.cur.files[0].stacktrace = NULL;
	run_plan(&b);
	assert_string_equal(written_at(&b, "etl"), "b.yml");
	assert_null(flags_of(&b, "etl"));
	assert_int_equal(b.out.nstat_del, 1);
	assert_int_equal(b.out.stat_del[0], 0);
	done(&b);
}

/* Two files exchange their DAGs. */
static void test_swap(void **state)
{
	(void)state;
	tbatch b = {0};
	add_file(&b, "a.yml", "two");
	add_file(&b, "b.yml", "one");
	add_row(&b, "one", "a.yml", "");
	add_row(&b, "two", "b.yml", "");
	run_plan(&b);
	assert_string_equal(written_at(&b, "one"), "b.yml");
	assert_string_equal(written_at(&b, "two"), "a.yml");
	assert_int_equal(b.out.nflags, 0);
	assert_null(stacktrace_of(&b, 0));
	assert_null(stacktrace_of(&b, 1));
	done(&b);
}

/* SPEC §5 "DAGs with errors": a recorded DAG that breaks keeps its row and its
 * last good serialization, flagged, non-stale; the file's correct DAGs are
 * written with has_import_errors. A DAG that never parsed gets no row. */
static void test_dag_with_errors_keeps_last_good_version(void **state)
{
	(void)state;
	tbatch b = {0};
	add_file(&b, "a.yml", "etl!,fine,newbie!");
	add_row(&b, "etl", "a.yml", "");
	run_plan(&b);
	assert_string_equal(flags_of(&b, "etl"), "e");
	assert_null(written_at(&b, "etl")); /* no new serialization */
	for (size_t i = 0; i < b.out.nser; i++)
		assert_string_not_equal(b.out.ser[i].g->dag_id, "etl");
	assert_string_equal(written_at(&b, "fine"), "a.yml");
	assert_true(b.out.dags[0].has_errors);
	assert_null(written_at(&b, "newbie"));
	assert_null(flags_of(&b, "newbie"));
	assert_non_null(strstr(stacktrace_of(&b, 0), "error[E020]"));
	assert_false(is_released(&b, "etl"));
	done(&b);
}

/* A stale DAG whose file defines it again with errors comes back, flagged. */
static void test_stale_dag_back_with_errors(void **state)
{
	(void)state;
	tbatch b = {0};
	add_file(&b, "a.yml", "etl!");
	add_row(&b, "etl", "a.yml", "s");
	run_plan(&b);
	assert_string_equal(flags_of(&b, "etl"), "e");
	done(&b);
}

/* E034, the recorded holder keeps the id against a file that sorts first,
 * and against a file of the same batch. */
static void test_e034_recorded_holder_keeps_its_id(void **state)
{
	(void)state;
	tbatch b = {0};
	add_file(&b, "a.yml", "shared,own");
	add_row(&b, "shared", "z.yml", ""); /* z.yml is not in the batch */
	run_plan(&b);
	assert_null(written_at(&b, "shared"));
	assert_string_equal(written_at(&b, "own"), "a.yml");
	assert_non_null(strstr(stacktrace_of(&b, 0),
	                       "error[E034]: DAG id 'shared' is already defined by z.yml"));
	assert_true(b.out.dags[0].has_errors); /* 'own' is flagged with its file's error */
	done(&b);

	/* both in the batch, the recorded one sorting last */
	tbatch c = {0};
	add_file(&c, "a.yml", "shared");
	add_file(&c, "z.yml", "shared");
	add_row(&c, "shared", "z.yml", "");
	run_plan(&c);
	assert_null(stacktrace_of(&c, 1));
	assert_non_null(strstr(stacktrace_of(&c, 0), "already defined by z.yml"));
	done(&c);
}

/* E034 the other way: the holder gives the id up (deleted, or the DAG
 * removed) and another file of the batch takes it; with no recorded holder
 * the path that sorts first wins. */
static void test_e034_holder_lets_go(void **state)
{
	(void)state;
	tbatch b = {0};
	add_file(&b, "a.yml", "shared");
	add_file(&b, "z.yml", NULL);
	add_row(&b, "shared", "z.yml", "");
	run_plan(&b);
	assert_string_equal(written_at(&b, "shared"), "a.yml");
	assert_null(stacktrace_of(&b, 0));
	assert_true(is_released(&b, "shared"));
	done(&b);

	tbatch c = {0};
	add_file(&c, "b.yml", "shared");
	add_file(&c, "c.yml", "shared");
	run_plan(&c);
	assert_string_equal(written_at(&c, "shared"), "b.yml");
	assert_non_null(strstr(stacktrace_of(&c, 1), "already defined by b.yml"));
	done(&c);
}

/* A live DAG with errors still holds its id: a correct definition elsewhere
 * is refused until the holder's file lets it go. */
static void test_holder_with_errors_keeps_its_id(void **state)
{
	(void)state;
	tbatch b = {0};
	add_file(&b, "a.yml", "shared!");
	add_file(&b, "b.yml", "shared");
	add_row(&b, "shared", "a.yml", "e");
	run_plan(&b);
	assert_null(written_at(&b, "shared"));
	assert_non_null(strstr(stacktrace_of(&b, 1), "already defined by a.yml"));
	done(&b);
}

/* A file that cannot be stored is recorded by its import error alone: its
 * DAG rows stay as they were (not stale), its statistics are not written. */
static void test_file_that_cannot_be_stored(void **state)
{
	(void)state;
	tbatch b = {0};
	add_file(&b, "a.yml", "etl,poison");
	b.f[0].store_failure = "value too long";
	add_row(&b, "etl", "a.yml", "");
	add_row(&b, "gone", "a.yml", "");
	run_plan(&b);
	assert_int_equal(b.out.ndags, 0);
	assert_int_equal(b.out.nflags, 0);
	assert_int_equal(b.out.nstat_put, 0);
	assert_true(has_ie_write(&b, 0, false));
	assert_non_null(strstr(stacktrace_of(&b, 0),
	                       "a.yml:1:1: error[E003]: could not be stored: value too long"));
	done(&b);
}

/* Invariant 5: a file whose rows already say what it says writes nothing. */
static void test_unchanged_file_writes_nothing(void **state)
{
	(void)state;
	tbatch first = {0};
	add_file(&first, "a.yml", "etl");
	run_plan(&first);
	char digest[17];
	memcpy(digest, first.out.files[0].digest, sizeof(digest));
	const dag_result *g = first.out.dags[0].g;
	char hex[33];
	dagfile_hash_hex(g->hash, hex);

	tbatch b = {0};
	add_file(&b, "a.yml", "etl");
	add_row(&b, "etl", "a.yml", "");
	b.cur.dags[0].hash = hex;
	b.cur.dags[0].owners = g->owners;
	b.cur.dags[0].description = g->description;
	b.cur.dags[0].timetable = g->schedule ? g->schedule : "None";
	b.cur.files = xcalloc(8, sizeof(plan_file_row));
	b.cur.files[0] = (plan_file_row){
	    .has_stat = true, .result_hash = digest, .source_hash = "0000000000000001"};
	plan_tag_row t = {"etl", "t_etl"};
	VEC_PUSH(b.cur.tags, b.cur.ntags, b.cur.captags, t);
	run_plan(&b);
	assert_true(plan_out_empty(&b.out));
	assert_false(b.out.files[0].writes);
	done(&b);
	done(&first);
}

/* A wrong row is repaired even when the file's result did not change: a DAG
 * left stale, a row pointing at another file. */
static void test_wrong_rows_are_rewritten(void **state)
{
	(void)state;
	tbatch b = {0};
	add_file(&b, "b.yml", "etl");
	add_row(&b, "etl", "b.yml", "s");
	run_plan(&b);
	assert_string_equal(written_at(&b, "etl"), "b.yml");
	done(&b);
}

/* Warnings follow the latest parse of each live DAG; a stale DAG has none. */
static void test_warnings(void **state)
{
	(void)state;
	tbatch b = {0};
	add_file(&b, "a.yml", "etl");
	add_row(&b, "etl", "a.yml", "");
	add_row(&b, "old", "a.yml", "");
	plan_warn_row w1 = {"etl", "non-existent pool", "stale message"};
	plan_warn_row w2 = {"old", "deprecated", "x"};
	VEC_PUSH(b.cur.warns, b.cur.nwarns, b.cur.capwarns, w1);
	VEC_PUSH(b.cur.warns, b.cur.nwarns, b.cur.capwarns, w2);
	run_plan(&b);
	/* etl has no warning now, old is stale: both rows go */
	assert_int_equal(b.out.nwarns, 2);
	for (size_t i = 0; i < b.out.nwarns; i++)
		assert_null(b.out.warns[i].message);
	done(&b);
}

static int setup(void **state)
{
	(void)state;
	char *err = NULL;
	cat = catalog_load(NULL, 0, &err);
	return cat ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	catalog_free(cat);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_new_files_write_their_dags),
	    cmocka_unit_test(test_vanished_and_deleted_go_stale),
	    cmocka_unit_test(test_dag_moves_between_files_in_both_path_orders),
	    cmocka_unit_test(test_rename),
	    cmocka_unit_test(test_swap),
	    cmocka_unit_test(test_dag_with_errors_keeps_last_good_version),
	    cmocka_unit_test(test_stale_dag_back_with_errors),
	    cmocka_unit_test(test_e034_recorded_holder_keeps_its_id),
	    cmocka_unit_test(test_e034_holder_lets_go),
	    cmocka_unit_test(test_holder_with_errors_keeps_its_id),
	    cmocka_unit_test(test_file_that_cannot_be_stored),
	    cmocka_unit_test(test_unchanged_file_writes_nothing),
	    cmocka_unit_test(test_wrong_rows_are_rewritten),
	    cmocka_unit_test(test_warnings),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
