/* Unit tests of the dag-factory schema: one test per diagnostic code, the
 * defaults chain, task groups, references and hash stability. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dagfile/catalog.h"
#include "dagfile/dagfile.h"

#include <xxhash.h>

static catalog *cat;

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

static dagfile_result parse_in(const char *root, const char *path, const char *yaml)
{
	static const char *const pools[] = {"default_pool", "etl_pool"};
	dagfile_opts o = {.cat = cat, .bundle_root = root, .pools = pools, .npools = 2};
	dagfile_result r;
	dagfile_parse_text(path, yaml, strlen(yaml), &o, &r);
	return r;
}

static dagfile_result parse(const char *yaml)
{
	return parse_in("/nonexistent-dagproc-test", "/nonexistent-dagproc-test/dag.yml", yaml);
}

static const diag *find_diag(const dagfile_result *r, const char *code)
{
	const diag *ds = code[0] == 'W' ? r->warnings : r->errors;
	size_t n = code[0] == 'W' ? r->nwarnings : r->nerrors;
	for (size_t i = 0; i < n; i++)
		if (strcmp(ds[i].code, code) == 0)
			return &ds[i];
	return NULL;
}

static void print_diags(const dagfile_result *r)
{
	for (size_t i = 0; i < r->nerrors; i++)
		print_message("  error %s %u:%u %s\n", r->errors[i].code, r->errors[i].line,
		              r->errors[i].col, r->errors[i].message);
	for (size_t i = 0; i < r->nwarnings; i++)
		print_message("  warning %s %u:%u %s\n", r->warnings[i].code, r->warnings[i].line,
		              r->warnings[i].col, r->warnings[i].message);
}

/* Asserts the code is reported at line:col (col 0 = any) and, when `contains`
 * is given, that the message holds it. */
static void expect(const dagfile_result *r, const char *code, uint32_t line, uint32_t col,
                   const char *contains)
{
	const diag *ds = code[0] == 'W' ? r->warnings : r->errors;
	size_t n = code[0] == 'W' ? r->nwarnings : r->nerrors;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(ds[i].code, code) || (line && ds[i].line != line) ||
		    (col && ds[i].col != col))
			continue;
		if (contains && !strstr(ds[i].message, contains))
			continue;
		return;
	}
	print_message("expected %s at %u:%u containing '%s'; got:\n", code, line, col,
	              contains ? contains : "");
	print_diags(r);
	fail();
}

static void expect_clean(const dagfile_result *r)
{
	if (r->nerrors) {
		print_diags(r);
		fail();
	}
}

static const dag_result *find_dag(const dagfile_result *r, const char *id)
{
	for (size_t i = 0; i < r->ndags; i++)
		if (strcmp(r->dags[i].dag_id, id) == 0)
			return &r->dags[i];
	return NULL;
}

static const dag_task *find_task(const dag_result *g, const char *id)
{
	for (size_t i = 0; g && i < g->ntasks; i++)
		if (strcmp(g->tasks[i].task_id, id) == 0)
			return &g->tasks[i];
	return NULL;
}

/* "a,b" == the task's sorted upstream list */
static void expect_upstream(const dag_result *g, const char *task, const char *ups)
{
	const dag_task *t = find_task(g, task);
	assert_non_null(t);
	char buf[512] = "";
	for (size_t i = 0; i < t->nupstream; i++) {
		if (i)
			strncat(buf, ",", sizeof(buf) - strlen(buf) - 1);
		strncat(buf, t->upstream[i], sizeof(buf) - strlen(buf) - 1);
	}
	assert_string_equal(buf, ups);
}

#define BASH "airflow.providers.standard.operators.bash.BashOperator"

/* ---------------------------------------------------------------------- */

static void test_valid_dag(void **state)
{
	(void)state;
	dagfile_result r = parse("etl:\n"
	                         "  schedule: '0 3 * * *'\n"
	                         "  start_date: 2024-01-01\n"
	                         "  tags: [a, b]\n"
	                         "  tasks:\n"
	                         "    - task_id: extract\n"
	                         "      operator: " BASH "\n"
	                         "      bash_command: echo 1\n"
	                         "    - task_id: load\n"
	                         "      operator: " BASH "\n"
	                         "      bash_command: echo 2\n"
	                         "      dependencies: [extract]\n");
	expect_clean(&r);
	assert_int_equal(r.nwarnings, 0);
	const dag_result *g = find_dag(&r, "etl");
	assert_non_null(g);
	assert_string_equal(g->schedule, "0 3 * * *");
	assert_int_equal(g->ntasks, 2);
	assert_int_equal(g->ntags, 2);
	expect_upstream(g, "load", "extract");
	expect_upstream(g, "extract", "");
	dagfile_result_free(&r);
}

static void test_e001_syntax(void **state)
{
	(void)state;
	dagfile_result r = parse("a:\n  b: [1, 2\n");
	assert_non_null(find_diag(&r, "E001"));
	assert_int_equal(r.ndags, 0);
	dagfile_result_free(&r);
}

static void test_e002_shapes(void **state)
{
	(void)state;
	dagfile_result r = parse("- a\n- b\n");
	expect(&r, "E002", 1, 1, "top level");
	dagfile_result_free(&r);
	r = parse("dag_a: 5\n");
	expect(&r, "E002", 1, 8, "must be a mapping");
	dagfile_result_free(&r);
	r = parse("dag_a:\n  tasks: 7\n");
	expect(&r, "E002", 2, 10, "list or a mapping");
	dagfile_result_free(&r);
	r = parse("dag_a:\n  tasks:\n    - just a string\n");
	expect(&r, "E002", 3, 7, NULL);
	dagfile_result_free(&r);
}

static void test_e003_bad_input(void **state)
{
	(void)state;
	dagfile_result r = parse("a: \"\xff\xfe\"\n");
	expect(&r, "E003", 0, 0, "UTF-8");
	dagfile_result_free(&r);
	/* a billion laughs stays small */
	dagfile_result r2 = parse("a: &a [x,x,x,x,x,x,x,x,x,x]\n"
	                          "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
	                          "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
	                          "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
	                          "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
	                          "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
	                          "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
	                          "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
	                          "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h,*h]\n");
	expect(&r2, "E003", 0, 0, "alias");
	dagfile_result_free(&r2);
}

static void test_e003_too_large(void **state)
{
	(void)state;
	char dir[] = "/tmp/dagproc-schema-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof(path), "%s/big.yml", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < 3000; i++)
		fprintf(f, "# padding line %d\n", i);
	fclose(f);
	dagfile_opts o = {.cat = cat, .bundle_root = dir, .max_file_size = 1024};
	dagfile_result r;
	dagfile_parse(path, &o, &r);
	expect(&r, "E003", 0, 0, "max_file_size");
	dagfile_result_free(&r);
	snprintf(path, sizeof(path), "%s/missing.yml", dir);
	dagfile_parse(path, &o, &r);
	expect(&r, "E003", 0, 0, "cannot read");
	dagfile_result_free(&r);
	snprintf(path, sizeof(path), "%s/big.yml", dir);
	unlink(path);
	rmdir(dir);
}

static void test_e010_no_operator(void **state)
{
	(void)state;
	dagfile_result r = parse("d:\n"
	                         "  tasks:\n"
	                         "    - task_id: t1\n"
	                         "      bash_command: echo\n");
	expect(&r, "E010", 3, 7, "neither 'operator' nor 'decorator'");
	assert_null(find_dag(&r, "d"));
	assert_int_equal(r.nerror_dag_ids, 1);
	dagfile_result_free(&r);
}

static void test_e011_e012_operator_paths(void **state)
{
	(void)state;
	dagfile_result r =
	    parse("d:\n"
	          "  tasks:\n"
	          "    - task_id: t1\n"
	          "      operator: airflow.operators.http_operator.SimpleHttpOperator\n"
	          "    - task_id: t2\n"
	          "      operator: airflow.providers.http.operators.http.SimpleHttpOperator\n");
	expect(&r, "E011", 4, 17, "No module named 'airflow.operators.http_operator'");
	expect(&r, "E012", 6, 17, "cannot import name 'SimpleHttpOperator'");
	dagfile_result_free(&r);
}

static void test_e013_unknown_argument(void **state)
{
	(void)state;
	dagfile_result r = parse("d:\n"
	                         "  tasks:\n"
	                         "    - task_id: t1\n"
	                         "      operator: " BASH "\n"
	                         "      bash_command: echo\n"
	                         "      retires: 3\n");
	expect(&r, "E013", 6, 7, "did you mean 'retries'");
	/* the suggestion is data too, for a fix to use */
	const diag *e = find_diag(&r, "E013");
	assert_non_null(e->suggestion);
	assert_string_equal(e->suggestion, "retries");
	dagfile_result_free(&r);
}

static void test_e014_missing_required(void **state)
{
	(void)state;
	dagfile_result r = parse("d:\n"
	                         "  tasks:\n"
	                         "    - task_id: t1\n"
	                         "      operator: " BASH "\n");
	expect(&r, "E014", 3, 7, "bash_command");
	dagfile_result_free(&r);
	/* default_args may supply it */
	r = parse("d:\n"
	          "  default_args: {bash_command: echo}\n"
	          "  tasks:\n"
	          "    - task_id: t1\n"
	          "      operator: " BASH "\n");
	expect_clean(&r);
	dagfile_result_free(&r);
}

static void test_e015_wrong_type(void **state)
{
	(void)state;
	dagfile_result r = parse("d:\n"
	                         "  max_active_runs: lots\n"
	                         "  tasks:\n"
	                         "    - task_id: t1\n"
	                         "      operator: " BASH "\n"
	                         "      bash_command: echo\n"
	                         "      retries: many\n");
	expect(&r, "E015", 7, 16, "retries");
	expect(&r, "E015", 2, 20, "max_active_runs");
	dagfile_result_free(&r);
	/* a Jinja string is fine in a templated field, a number string for an int */
	r = parse("d:\n"
	          "  tasks:\n"
	          "    - task_id: t1\n"
	          "      operator: " BASH "\n"
	          "      bash_command: \"{{ params.cmd }}\"\n"
	          "      retries: '3'\n");
	expect_clean(&r);
	dagfile_result_free(&r);
}

static void test_e020_unknown_dependency(void **state)
{
	(void)state;
	dagfile_result r = parse("d:\n"
	                         "  tasks:\n"
	                         "    - task_id: extract\n"
	                         "      operator: " BASH "\n"
	                         "      bash_command: echo\n"
	                         "    - task_id: load\n"
	                         "      operator: " BASH "\n"
	                         "      bash_command: echo\n"
	                         "      dependencies: [extarct]\n");
	expect(&r, "E020", 9, 22, "unknown task or group 'extarct' (did you mean 'extract'?)");
	dagfile_result_free(&r);
}

static void test_e021_cycle(void **state)
{
	(void)state;
	dagfile_result r = parse("d:\n"
	                         "  default_args: {bash_command: echo}\n"
	                         "  tasks:\n"
	                         "    a: {operator: " BASH ", dependencies: [c]}\n"
	                         "    b: {operator: " BASH ", dependencies: [a]}\n"
	                         "    c: {operator: " BASH ", dependencies: [b]}\n");
	const diag *d = find_diag(&r, "E021");
	assert_non_null(d);
	/* the cycle is named in full and closes on itself */
	assert_non_null(strstr(d->message, "->"));
	const char *m = strstr(d->message, "cycle: ");
	assert_non_null(m);
	m += 7;
	char first[8] = {m[0], 0};
	size_t ml = strlen(m);
	assert_true(ml > 1 && m[ml - 1] == first[0]);
	assert_non_null(strstr(d->message, "a -> b") ? strstr(d->message, "a -> b")
	                                             : strstr(d->message, "b -> c"));
	dagfile_result_free(&r);
}

static void test_e022_duplicates(void **state)
{
	(void)state;
	dagfile_result r = parse("d:\n"
	                         "  default_args: {bash_command: echo}\n"
	                         "  tasks:\n"
	                         "    - {task_id: a, operator: " BASH "}\n"
	                         "    - {task_id: a, operator: " BASH "}\n");
	expect(&r, "E022", 5, 17, "duplicate task 'a'");
	dagfile_result_free(&r);
}

static void test_e023_missing_id(void **state)
{
	(void)state;
	dagfile_result r = parse("d:\n"
	                         "  task_groups:\n"
	                         "    - tooltip: no name\n"
	                         "  tasks:\n"
	                         "    - operator: " BASH "\n");
	expect(&r, "E023", 3, 7, "group_name");
	expect(&r, "E023", 5, 7, "task_id");
	dagfile_result_free(&r);
}

static void test_e024_groups(void **state)
{
	(void)state;
	dagfile_result r = parse("d:\n"
	                         "  default_args: {bash_command: echo}\n"
	                         "  task_groups:\n"
	                         "    g1: {parent_group_name: g2}\n"
	                         "    g2: {parent_group_name: g1}\n"
	                         "    g3: {}\n"
	                         "  tasks:\n"
	                         "    t: {operator: " BASH ", task_group_name: g4}\n");
	expect(&r, "E024", 0, 0, "own ancestor");
	expect(&r, "E024", 8, 0, "unknown task group 'g4'");
	dagfile_result_free(&r);
	/* a group that is its own parent, then a lookup that walks the groups
	 * (found by make fuzz: the group had no id) */
	r = parse("d:\n"
	          "  task_groups:\n"
	          "    - {group_name: g2, parent_group_name: g2}\n"
	          "  tasks:\n"
	          "    - {task_id: t1, operator: " BASH
	          ", bash_command: echo, dependencies: [nope]}\n");
	expect(&r, "E024", 3, 0, "own ancestor");
	expect(&r, "E020", 5, 0, "'nope'");
	dagfile_result_free(&r);
}

static void test_e030_schedule(void **state)
{
	(void)state;
	static const char *const bad[] = {"'61 * * * *'", "'* * *'", "'@sometimes'", "42",
	                                  "'0 3 * * FUNDAY'"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char y[256];
		snprintf(y, sizeof(y), "d:\n  schedule: %s\n", bad[i]);
		dagfile_result r = parse(y);
		expect(&r, "E030", 2, 13, NULL);
		dagfile_result_free(&r);
	}
	static const char *const good[] = {"'*/15 0-6,22 1 JAN-MAR MON-FRI'",
	                                   "'@daily'",
	                                   "'@continuous'",
	                                   "' None  '",
	                                   "null",
	                                   "{__type__: datetime.timedelta, hours: 1}",
	                                   "['s3://bucket/a', 's3://bucket/b']",
	                                   ("{datasets: ['a'], timetable: {__type__: "
	                                    "airflow.timetables.trigger.CronTriggerTimetable, "
	                                    "cron: '0 1 * * *', timezone: UTC}}")};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char y[512];
		snprintf(y, sizeof(y), "d:\n  schedule: %s\n", good[i]);
		dagfile_result r = parse(y);
		if (r.nerrors)
			print_message("schedule %s\n", good[i]);
		expect_clean(&r);
		dagfile_result_free(&r);
	}
}

static void test_e030_timetable_cron(void **state)
{
	(void)state;
	dagfile_result r = parse("d:\n"
	                         "  schedule:\n"
	                         "    __type__: airflow.timetables.trigger.CronTriggerTimetable\n"
	                         "    cron: '0 25 * * *'\n"
	                         "    timezone: UTC\n");
	expect(&r, "E030", 4, 11, "hour");
	dagfile_result_free(&r);
	r = parse("d:\n"
	          "  schedule:\n"
	          "    __type__: airflow.timetables.trigger.CronTriggerTimetable\n"
	          "    __args__: ['0 1 * * 3']\n"
	          "    timezone: UTC\n");
	expect_clean(&r);
	dagfile_result_free(&r);
}

static void test_e031_removed_keys(void **state)
{
	(void)state;
	dagfile_result r = parse("d:\n  schedule_interval: '@daily'\n");
	expect(&r, "E031", 2, 3, "use 'schedule'");
	dagfile_result_free(&r);
	r = parse("d:\n  timetable: {__type__: x}\n");
	expect(&r, "E031", 2, 3, NULL);
	dagfile_result_free(&r);
}

static void test_e032_dates(void **state)
{
	(void)state;
	dagfile_result r = parse("d:\n"
	                         "  start_date: '2024-02-30'\n"
	                         "  default_args:\n"
	                         "    end_date: \"205-01-01-01\"\n");
	expect(&r, "E032", 2, 15, "start_date");
	expect(&r, "E032", 4, 15, "end_date");
	dagfile_result_free(&r);
	/* an unquoted impossible date is still a YAML date to the loader */
	r = parse("d:\n  start_date: 2024-13-45\n");
	expect(&r, "E032", 2, 15, "2024-13-45");
	dagfile_result_free(&r);
	r = parse("d:\n  start_date: 2 days\n  end_date: 2024-01-01T10:00:00+02:00\n");
	expect_clean(&r);
	dagfile_result_free(&r);
}

static void test_e033_ids(void **state)
{
	(void)state;
	dagfile_result r =
	    parse("'bad id!':\n  tasks: {}\n"
	          "good:\n"
	          "  tasks:\n"
	          "    - task_id: 'wait:'\n"
	          "      operator: airflow.providers.standard.operators.empty.EmptyOperator\n");
	expect(&r, "E033", 1, 1, "DAG id");
	expect(&r, "E033", 5, 16, "task id");
	dagfile_result_free(&r);
}

static void test_e040_paths(void **state)
{
	(void)state;
	dagfile_result r =
	    parse("d:\n"
	          "  doc_md_file_path: relative/doc.md\n"
	          "  tasks:\n"
	          "    - task_id: t\n"
	          "      operator: airflow.providers.standard.operators.python.PythonOperator\n"
	          "      python_callable_name: f\n"
	          "      python_callable_file: /nonexistent/f.py\n"
	          "      on_success_callback_file: /etc/hostname\n");
	expect(&r, "E040", 2, 21, "absolute");
	expect(&r, "E040", 7, 29, "not found");
	/* a lone half of a callback pair is passed to the operator */
	expect(&r, "E013", 8, 7, "'on_success_callback_file'");
	dagfile_result_free(&r);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void rm_file(const char *dir, const char *name)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	unlink(p);
}

static void test_e050_and_defaults_chain(void **state)
{
	(void)state;
	char root[] = "/tmp/dagproc-chain-XXXXXX";
	assert_non_null(mkdtemp(root));
	char sub[300];
	snprintf(sub, sizeof(sub), "%s/team", root);
	assert_int_equal(mkdir(sub, 0755), 0);
	write_file(root, "defaults.yml",
	           "default_args: {owner: root_owner, retries: 1, start_date: 2024-01-01}\n"
	           "tags: [company]\n"
	           "schedule: '@daily'\n");
	write_file(sub, "defaults.yml", "default_args: {owner: team_owner}\ntags: [team]\n");
	char path[400];
	snprintf(path, sizeof(path), "%s/dag.yml", sub);
	dagfile_result r = parse_in(root, path,
	                            "d:\n"
	                            "  tags: [mine]\n"
	                            "  tasks:\n"
	                            "    - task_id: t\n"
	                            "      operator: " BASH "\n"
	                            "      bash_command: echo\n");
	expect_clean(&r);
	const dag_result *g = find_dag(&r, "d");
	assert_non_null(g);
	/* nearest owner wins; schedule from the root; tags unioned */
	assert_string_equal(g->owners, "team_owner");
	assert_string_equal(g->schedule, "@daily");
	assert_int_equal(g->ntags, 3);
	/* retries from the root's default_args survive the key-by-key merge */
	assert_non_null(strstr(g->json, "\"retries\":1"));
	dagfile_result_free(&r);

	/* the `default` block beats defaults.yml, the DAG beats `default` */
	r = parse_in(root, path,
	             "default:\n  schedule: '@hourly'\n  default_args: {owner: block}\n"
	             "a:\n  tasks: {}\n"
	             "b:\n  schedule: '0 1 * * *'\n  tasks: {}\n");
	expect_clean(&r);
	assert_string_equal(find_dag(&r, "a")->schedule, "@hourly");
	assert_string_equal(find_dag(&r, "b")->schedule, "0 1 * * *");
	dagfile_result_free(&r);

	/* a broken defaults.yml is E050 */
	write_file(sub, "defaults.yml", "default_args: [unclosed\n");
	r = parse_in(root, path, "d:\n  tasks: {}\n");
	expect(&r, "E050", 0, 0, "defaults.yml");
	dagfile_result_free(&r);

	rm_file(sub, "defaults.yml");
	rm_file(root, "defaults.yml");
	rmdir(sub);
	rmdir(root);
}

/* The processor computes a file's source hash from the scanner's raw content
 * hashes (dagfile_fingerprint) and skips the parse when it matches the one
 * stored: both sides must agree exactly, and an unchanged expected hash must
 * skip the parse. */
static void test_source_hash_contract(void **state)
{
	(void)state;
	char root[] = "/tmp/dagproc-fp-XXXXXX";
	assert_non_null(mkdtemp(root));
	char sub[300], path[400];
	snprintf(sub, sizeof(sub), "%s/team", root);
	assert_int_equal(mkdir(sub, 0755), 0);
	const char *defs_root = "default_args: {owner: a}\n";
	const char *defs_sub = "default_args: {retries: 2}\n";
	const char *dag =
	    "d:\n  tasks:\n    - {task_id: t, operator: " BASH ", bash_command: echo}\n";
	write_file(root, "defaults.yml", defs_root);
	write_file(sub, "defaults.yaml", defs_sub);
	snprintf(path, sizeof(path), "%s/dag.yml", sub);
	write_file(sub, "dag.yml", dag);
	dagfile_opts o = {.cat = cat, .bundle_root = root, .options_hash = 42};
	dagfile_result r;
	dagfile_parse(path, &o, &r);
	expect_clean(&r);
	dagfile_fp_input file = {.raw_hash = XXH3_64bits(dag, strlen(dag))};
	dagfile_fp_input defs[2] = {{.raw_hash = XXH3_64bits(defs_sub, strlen(defs_sub))},
	                            {.raw_hash = XXH3_64bits(defs_root, strlen(defs_root))}};
	uint64_t local = dagfile_fingerprint(42, path, &file, defs, 2);
	assert_true(r.source_hash == local);
	assert_false(r.unchanged);
	/* the same inputs and the expected hash: not parsed */
	o.expect_source_hash = local;
	dagfile_result r2;
	dagfile_parse(path, &o, &r2);
	assert_true(r2.unchanged);
	assert_int_equal(r2.ndags, 0);
	/* another option set, or another defaults text: another hash */
	o.expect_source_hash = 0;
	o.options_hash = 43;
	dagfile_result r3;
	dagfile_parse(path, &o, &r3);
	assert_true(r3.source_hash != local);
	/* a file not there when read: E003 with a source hash of its own (no
	 * input), never the file's, so the processor parses it again when the
	 * scanner still has the file (it was created again meanwhile) */
	rm_file(sub, "dag.yml");
	o.options_hash = 42;
	dagfile_result r4;
	dagfile_parse(path, &o, &r4);
	assert_int_equal(r4.nerrors, 1);
	assert_string_equal(r4.errors[0].code, "E003");
	assert_true(r4.source_hash != 0 && r4.source_hash != local);
	dagfile_result_free(&r4);
	dagfile_result_free(&r);
	dagfile_result_free(&r2);
	dagfile_result_free(&r3);
	rm_file(sub, "defaults.yaml");
	rm_file(root, "defaults.yml");
	rmdir(sub);
	rmdir(root);
}

static void test_default_block_tasks_merge_by_id(void **state)
{
	(void)state;
	dagfile_result r = parse("default:\n"
	                         "  tasks:\n"
	                         "    - task_id: extract\n"
	                         "      operator: " BASH "\n"
	                         "      bash_command: echo e\n"
	                         "    - task_id: load\n"
	                         "      operator: " BASH "\n"
	                         "      dependencies: [extract]\n"
	                         "d:\n"
	                         "  tasks:\n"
	                         "    - task_id: load\n"
	                         "      bash_command: echo l\n");
	expect_clean(&r);
	const dag_result *g = find_dag(&r, "d");
	assert_non_null(g);
	assert_int_equal(g->ntasks, 2);
	expect_upstream(g, "load", "extract");
	dagfile_result_free(&r);
}

static void test_groups_wiring(void **state)
{
	(void)state;
	dagfile_result r =
	    parse("d:\n"
	          "  default_args: {bash_command: echo}\n"
	          "  task_groups:\n"
	          "    - group_name: outer\n"
	          "      dependencies: [start]\n"
	          "    - group_name: inner\n"
	          "      parent_group_name: outer\n"
	          "  tasks:\n"
	          "    - {task_id: start, operator: " BASH "}\n"
	          "    - {task_id: a, operator: " BASH ", task_group_name: outer}\n"
	          "    - {task_id: b, operator: " BASH ", task_group_name: outer,"
	          " dependencies: [a]}\n"
	          "    - {task_id: c, operator: " BASH ", task_group_name: inner}\n"
	          "    - {task_id: end, operator: " BASH ", dependencies: [outer]}\n");
	expect_clean(&r);
	const dag_result *g = find_dag(&r, "d");
	assert_non_null(g);
	/* ids are prefixed with their groups */
	assert_non_null(find_task(g, "outer.a"));
	assert_non_null(find_task(g, "outer.inner.c"));
	/* the group's dependency goes to its roots: a and the nested c, not b */
	expect_upstream(g, "outer.a", "start");
	expect_upstream(g, "outer.inner.c", "start");
	expect_upstream(g, "outer.b", "outer.a");
	/* a dependency on the group means its leaves: b and c */
	expect_upstream(g, "end", "outer.b,outer.inner.c");
	dagfile_result_free(&r);
}

static void test_references(void **state)
{
	(void)state;
	dagfile_result r =
	    parse("d:\n"
	          "  tasks:\n"
	          "    numbers: {decorator: airflow.sdk.task, python_callable: m.f}\n"
	          "    double: {decorator: airflow.sdk.task, python_callable: m.g,"
	          " x: +numbers, y: \"+numbers['k']\", cmd: 'date +%s'}\n"
	          "    mapped:\n"
	          "      operator: " BASH "\n"
	          "      partial: {bash_command: echo}\n"
	          "      expand: {env: numbers.output}\n"
	          "    bad: {decorator: airflow.sdk.task, v: +nope}\n");
	expect(&r, "E020", 9, 43, "'nope'");
	dagfile_result_free(&r);
	r = parse("d:\n"
	          "  tasks:\n"
	          "    numbers: {decorator: airflow.sdk.task, python_callable: m.f}\n"
	          "    double: {decorator: airflow.sdk.task, python_callable: m.g, x: +numbers,"
	          " cmd: 'date +%s'}\n"
	          "    mapped:\n"
	          "      operator: " BASH "\n"
	          "      partial: {bash_command: echo}\n"
	          "      expand: {env: XcomArg(numbers)}\n");
	expect_clean(&r);
	const dag_result *g = find_dag(&r, "d");
	expect_upstream(g, "double", "numbers");
	expect_upstream(g, "mapped", "numbers");
	dagfile_result_free(&r);
}

static void test_w001_w002_w003(void **state)
{
	(void)state;
	dagfile_result r = parse("d:\n"
	                         "  concurrency: 3\n"
	                         "  descripton: typo\n"
	                         "  tasks:\n"
	                         "    - task_id: t\n"
	                         "      operator: airflow.operators.bash.BashOperator\n"
	                         "      bash_command: echo\n"
	                         "      pool: no_such_pool\n");
	expect_clean(&r);
	expect(&r, "W002", 2, 3, "concurrency");
	expect(&r, "W003", 3, 3, "did you mean 'description'");
	expect(&r, "W002", 6, 17, "deprecated");
	expect(&r, "W001", 8, 13, "no_such_pool");
	assert_string_equal(find_diag(&r, "W001")->warning_type, "non-existent pool");
	assert_string_equal(find_diag(&r, "W003")->warning_type, "unknown key");
	assert_non_null(find_dag(&r, "d"));
	dagfile_result_free(&r);
}

static void test_broken_dag_does_not_hide_others(void **state)
{
	(void)state;
	dagfile_result r = parse("good:\n"
	                         "  tasks:\n"
	                         "    - {task_id: t, operator: " BASH ", bash_command: echo}\n"
	                         "bad:\n"
	                         "  tasks:\n"
	                         "    - {task_id: t, operator: airflow.operators.nope.Op}\n");
	expect(&r, "E011", 6, 30, NULL);
	assert_non_null(find_dag(&r, "good"));
	assert_null(find_dag(&r, "bad"));
	assert_string_equal(r.errors[0].dag_id, "bad");
	dagfile_result_free(&r);
}

static void test_hash_stability(void **state)
{
	(void)state;
	dagfile_result a = parse("d:\n"
	                         "  schedule: '@daily'\n"
	                         "  description: x\n"
	                         "  tasks:\n"
	                         "    - task_id: t1\n"
	                         "      operator: " BASH "\n"
	                         "      bash_command: echo 1\n"
	                         "      retries: 2\n"
	                         "    - task_id: t2\n"
	                         "      operator: " BASH "\n"
	                         "      bash_command: echo 2\n");
	/* keys and tasks reordered, tasks as a mapping: same DAG */
	dagfile_result b = parse("d:\n"
	                         "  tasks:\n"
	                         "    t2:\n"
	                         "      bash_command: echo 2\n"
	                         "      operator: " BASH "\n"
	                         "    t1:\n"
	                         "      retries: 2\n"
	                         "      bash_command: echo 1\n"
	                         "      operator: " BASH "\n"
	                         "  description: x\n"
	                         "  schedule: '@daily'\n");
	dagfile_result c = parse("d:\n"
	                         "  schedule: '@daily'\n"
	                         "  description: x\n"
	                         "  tasks:\n"
	                         "    - task_id: t1\n"
	                         "      operator: " BASH "\n"
	                         "      bash_command: echo one\n"
	                         "      retries: 2\n"
	                         "    - task_id: t2\n"
	                         "      operator: " BASH "\n"
	                         "      bash_command: echo 2\n");
	expect_clean(&a);
	expect_clean(&b);
	expect_clean(&c);
	assert_int_equal(a.ndags, 1);
	assert_int_equal(b.ndags, 1);
	assert_string_equal(a.dags[0].json, b.dags[0].json);
	assert_memory_equal(a.dags[0].hash, b.dags[0].hash, 16);
	assert_memory_not_equal(a.dags[0].hash, c.dags[0].hash, 16);
	/* sorted keys in the canonical JSON */
	const char *j = a.dags[0].json;
	assert_true(strstr(j, "\"dag_id\"") < strstr(j, "\"description\""));
	assert_true(strstr(j, "\"description\"") < strstr(j, "\"schedule\""));
	dagfile_result_free(&a);
	dagfile_result_free(&b);
	dagfile_result_free(&c);
}

/* Integers at their bounds and keys in byte order, in a task's canonical JSON
 * (serialize.c writes integers without printf and sorts up to 16 keys itself:
 * both must give what they gave before, or every stored dag_hash changes). */
static void test_canonical_ints_and_key_order(void **state)
{
	(void)state;
	dagfile_result r = parse("d:\n"
	                         "  tasks:\n"
	                         "    - task_id: t\n"
	                         "      operator: " BASH "\n"
	                         "      bash_command: echo\n"
	                         "      env: {Zed: 0, a: -1, B: -9223372036854775808, "
	                         "b: 9223372036854775807, _x: 10, aa: 1000000007, A: -42}\n");
	expect_clean(&r);
	assert_non_null(strstr(r.dags[0].json,
	                       "\"env\":{\"A\":-42,\"B\":-9223372036854775808,\"Zed\":0,"
	                       "\"_x\":10,\"a\":-1,\"aa\":1000000007,"
	                       "\"b\":9223372036854775807}"));
	dagfile_result_free(&r);
	/* a key with an escaped NUL is written up to the NUL, as it always was (the
	 * review of the speed-up found it written whole: every such DAG's hash changed) */
	r = parse("d:\n"
	          "  tasks:\n"
	          "    - task_id: t\n"
	          "      operator: " BASH "\n"
	          "      bash_command: echo\n"
	          "      env: {\"a\\0b\": '1'}\n");
	assert_int_equal(r.ndags, 1);
	assert_non_null(strstr(r.dags[0].json, "\"env\":{\"a\":\"1\"}"));
	dagfile_result_free(&r);
}

static void test_join_and_types_are_data(void **state)
{
	(void)state;
	dagfile_result r =
	    parse("d:\n"
	          "  dagrun_timeout: {__type__: datetime.timedelta, hours: 2}\n"
	          "  tasks:\n"
	          "    - task_id: t\n"
	          "      operator: " BASH "\n"
	          "      bash_command: {__join__: ['echo ', hello]}\n"
	          "      execution_timeout: {__type__: datetime.timedelta, minuts: 5}\n");
	expect(&r, "E015", 7, 57, "did you mean 'minutes'");
	dagfile_result_free(&r);
	r = parse("d:\n"
	          "  tasks:\n"
	          "    - task_id: t\n"
	          "      operator: " BASH "\n"
	          "      bash_command: {__join__: ['echo ', hello]}\n");
	expect_clean(&r);
	assert_non_null(strstr(r.dags[0].json, "\"bash_command\":\"echo hello\""));
	dagfile_result_free(&r);
}

/* prefix_group_id as Airflow's TaskGroup applies it: a group's id takes its
 * parent's prefix_group_id, its tasks the group's own (the old code used the
 * child's flag and built g.a and g.h.b here). */
static void test_prefix_group_id_of_the_parent(void **state)
{
	(void)state;
	dagfile_result r = parse("d:\n"
	                         "  task_groups:\n"
	                         "    g:\n"
	                         "      prefix_group_id: false\n"
	                         "    h:\n"
	                         "      parent_group_name: g\n"
	                         "  tasks:\n"
	                         "    a:\n"
	                         "      operator: " BASH "\n"
	                         "      bash_command: echo\n"
	                         "      task_group_name: g\n"
	                         "    b:\n"
	                         "      operator: " BASH "\n"
	                         "      bash_command: echo\n"
	                         "      task_group_name: h\n"
	                         "      dependencies: [a]\n");
	expect_clean(&r);
	const dag_result *g = find_dag(&r, "d");
	assert_non_null(g);
	assert_non_null(find_task(g, "a"));
	assert_non_null(find_task(g, "h.b"));
	expect_upstream(g, "h.b", "a");
	dagfile_result_free(&r);
}

/* concurrency: dag-factory passes it to DAG() as max_active_tasks (the
 * binary of 11470b4 said it was ignored and stored the default) */
static void test_concurrency_is_max_active_tasks(void **state)
{
	(void)state;
	dagfile_result r = parse("d:\n"
	                         "  concurrency: 3\n"
	                         "  tasks:\n"
	                         "    a:\n"
	                         "      operator: " BASH "\n"
	                         "      bash_command: echo\n");
	expect(&r, "W002", 2, 3, "max_active_tasks");
	const dag_result *g = find_dag(&r, "d");
	assert_non_null(g);
	assert_int_equal(g->max_active_tasks, 3);
	dagfile_result_free(&r);
}

/* "Did you mean" is bounded per DAG (issue 13): every unknown reference is
 * still an error, the first SCH_MAX_SUGGESTIONS (100) with a suggestion */
static void test_suggestions_bounded(void **state)
{
	(void)state;
	char *y = malloc(200000);
	size_t off = (size_t)sprintf(y, "d:\n  tasks:\n");
	off += (size_t)sprintf(y + off, "    - task_id: extract\n      operator: " BASH
	                                "\n      bash_command: echo\n");
	for (int i = 0; i < 150; i++)
		off +=
		    (size_t)sprintf(y + off,
		                    "    - task_id: t%d\n      operator: " BASH
		                    "\n      bash_command: echo\n      dependencies: [extrakt]\n",
		                    i);
	dagfile_result r = parse(y);
	size_t e020 = 0, near = 0;
	for (size_t i = 0; i < r.nerrors; i++) {
		if (strcmp(r.errors[i].code, "E020") != 0)
			continue;
		e020++;
		if (strstr(r.errors[i].message, "did you mean 'extract'"))
			near++;
	}
	assert_int_equal(e020, 150);
	assert_int_equal(near, 100);
	dagfile_result_free(&r);
	free(y);
}

/* Issue 13: 50,000 nested task groups, parsed on a thread with a 256 KiB
 * stack. The parent chains were resolved by recursion (a segfault here) and
 * every group id held its whole prefix (memory quadratic in the depth); the
 * first group whose id passes 250 characters is now E033 at its position,
 * once, and the groups below it take their names as ids. */
static void *parse_deep(void *arg)
{
	dagfile_result *r = arg;
	enum { N = 50000 };
	char *y = malloc((size_t)N * 48 + 512);
	size_t off = (size_t)sprintf(y, "d:\n  task_groups:\n    g0: {}\n");
	for (int i = 1; i < N; i++)
		off += (size_t)sprintf(y + off, "    g%d: {parent_group_name: g%d}\n", i, i - 1);
	off += (size_t)sprintf(y + off,
	                       "  tasks:\n    - task_id: t\n      operator: " BASH
	                       "\n      bash_command: echo\n      task_group_name: g%d\n",
	                       N - 1);
	*r = parse(y);
	free(y);
	return NULL;
}

static void test_deep_group_nesting(void **state)
{
	(void)state;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	pthread_t th;
	dagfile_result r;
	assert_int_equal(pthread_create(&th, &attr, parse_deep, &r), 0);
	pthread_join(th, NULL);
	pthread_attr_destroy(&attr);
	print_diags(&r);
	assert_int_equal(r.nerrors, 1);
	/* g0.g1...g64 is 249 characters: g65 would pass 250 (line 3 + 65) */
	assert_string_equal(r.errors[0].code, "E033");
	assert_int_equal(r.errors[0].line, 68);
	assert_non_null(strstr(r.errors[0].message, "task group 'g65' nested 65 levels deep"));
	assert_int_equal(r.ndags, 0);
	dagfile_result_free(&r);
}

/* Issue 13: 1,001 tasks depending on a group of 1,000 are 1,001,000 edges
 * (the group_fanin file of `make bench` made 9 million and 1.7 GB): past
 * SCH_MAX_EDGES, E003 at the dependency that passes it, once. */
static void test_edge_limit(void **state)
{
	(void)state;
	enum { G = 1000, D = 1001 };
	char *y = malloc((size_t)(G + D) * 160 + 512);
	size_t off = (size_t)sprintf(y, "d:\n  task_groups:\n    big: {}\n  tasks:\n");
	for (int i = 0; i < G; i++)
		off += (size_t)sprintf(y + off,
		                       "    - {task_id: in%d, operator: " BASH
		                       ", bash_command: echo, task_group_name: big}\n",
		                       i);
	for (int i = 0; i < D; i++)
		off += (size_t)sprintf(y + off,
		                       "    - {task_id: out%d, operator: " BASH
		                       ", bash_command: echo, dependencies: [big]}\n",
		                       i);
	dagfile_result r = parse(y);
	assert_int_equal(r.nerrors, 1);
	assert_string_equal(r.errors[0].code, "E003");
	/* the last task's dependency passes the limit: line 4 + G + D */
	assert_int_equal(r.errors[0].line, 4 + G + D);
	assert_non_null(strstr(r.errors[0].message, "more than 1,000,000 edges"));
	assert_int_equal(r.ndags, 0);
	dagfile_result_free(&r);
	free(y);
}

/* Issue 11: each class of wrong verdict found on real files, as dag-factory 1.1
 * on Airflow 3.1 decides it. `must` codes are reported, `mustnot` codes are
 * not. 36 of these 38 cases gave the wrong verdict before issue 11 (checked
 * with the binary of commit 11470b4); the other two guard the neighbours. */
typedef struct fidelity_case {
	const char *name, *yaml, *must, *mustnot;
} fidelity_case;

static const fidelity_case fidelity_cases[] = {
    {"cron 6 fields with ?",
     "d:\n"
     "  schedule: '0 0 * * ? *'\n"
     "  tasks:\n"
     "    - task_id: t\n"
     "      operator: airflow.providers.standard.operators.bash.BashOperator\n"
     "      bash_command: echo\n",
     "W006", "E030"},
    {"cron 7 fields",
     "d:\n"
     "  schedule: '0 0 12 * * * 2030'\n"
     "  tasks:\n"
     "    - task_id: t\n"
     "      operator: airflow.providers.standard.operators.bash.BashOperator\n"
     "      bash_command: echo\n",
     "W006", "E030"},
    {"standard decorators",
     "d:\n"
     "  tasks:\n"
     "    - task_id: t\n"
     "      decorator: airflow.providers.standard.decorators.python.python_task\n"
     "      python_callable: m.f\n",
     "", "E011 E012"},
    {"common.sql check operator",
     "d:\n"
     "  tasks:\n"
     "    - task_id: t\n"
     "      operator: airflow.providers.common.sql.operators.sql.SQLCheckOperator\n"
     "      sql: select 1\n"
     "      conn_id: c\n",
     "", "E011 E012"},
    {"SqlSensor",
     "d:\n"
     "  tasks:\n"
     "    - task_id: t\n"
     "      operator: airflow.providers.common.sql.sensors.sql.SqlSensor\n"
     "      sql: select 1\n"
     "      conn_id: c\n",
     "", "E011 E012"},
    {"BranchSQLOperator",
     "d:\n"
     "  tasks:\n"
     "    - task_id: t\n"
     "      operator: airflow.providers.common.sql.operators.sql.BranchSQLOperator\n"
     "      sql: select 1\n"
     "      conn_id: c\n"
     "      follow_task_ids_if_true: [a]\n"
     "      follow_task_ids_if_false: [b]\n",
     "", "E011 E012"},
    {"kubernetes job operator",
     "d:\n"
     "  tasks:\n"
     "    - task_id: t\n"
     "      operator: airflow.providers.cncf.kubernetes.operators.job.KubernetesJobOperator\n",
     "", "E011 E012"},
    {"spark_kubernetes",
     "d:\n"
     "  tasks:\n"
     "    - task_id: t\n"
     "      operator: "
     "airflow.providers.cncf.kubernetes.operators.spark_kubernetes.SparkKubernetesOperator\n"
     "      application_file: a.yaml\n",
     "", "E011 E012"},
    {"common.io FileTransferOperator",
     "d:\n"
     "  tasks:\n"
     "    - task_id: t\n"
     "      operator: airflow.providers.common.io.operators.file_transfer.FileTransferOperator\n"
     "      src: a\n"
     "      dst: b\n",
     "", "E011 E012"},
    {"python_callable_file in default_args",
     "d:\n"
     "  default_args:\n"
     "    python_callable_file: relative.py\n"
     "  tasks:\n"
     "    - task_id: t\n"
     "      operator: airflow.providers.standard.operators.bash.BashOperator\n"
     "      bash_command: echo\n",
     "", "E040"},
    {"task_group_name without task_groups",
     "d:\n"
     "  tasks:\n"
     "    - task_id: t\n"
     "      operator: airflow.providers.standard.operators.bash.BashOperator\n"
     "      bash_command: echo\n"
     "      task_group_name: g\n",
     "W003", "E024"},
    {"AssetOrTimeSchedule",
     "d:\n"
     "  schedule:\n"
     "    __type__: airflow.timetables.assets.AssetOrTimeSchedule\n"
     "    timetable:\n"
     "      __type__: airflow.timetables.trigger.CronTriggerTimetable\n"
     "      cron: '0 0 * * *'\n"
     "      timezone: UTC\n"
     "    assets:\n"
     "      - __type__: airflow.sdk.Asset\n"
     "        uri: s3://x\n"
     "  tasks:\n"
     "    - task_id: t\n"
     "      operator: airflow.providers.standard.operators.bash.BashOperator\n"
     "      bash_command: echo\n",
     "", "E030 E015"},
    {"builtins.list schedule",
     "d:\n"
     "  schedule:\n"
     "    __type__: builtins.list\n"
     "    items:\n"
     "      - __type__: airflow.sdk.Asset\n"
     "        uri: s3://x\n"
     "  tasks:\n"
     "    - task_id: t\n"
     "      operator: airflow.providers.standard.operators.bash.BashOperator\n"
     "      bash_command: echo\n",
     "", "E030 E015"},
    {"__join__ at DAG level",
     "d:\n"
     "  description:\n"
     "    __join__: ['a', 'b']\n"
     "  tags:\n"
     "    - __join__: ['x', 'y']\n"
     "  tasks:\n"
     "    - task_id: t\n"
     "      operator: airflow.providers.standard.operators.bash.BashOperator\n"
     "      bash_command: echo\n",
     "", "E015"},
    {"timestamp with a space before the zone",
     "d:\n"
     "  start_date: 2024-01-01 10:00:00 +02:00\n"
     "  tasks:\n"
     "    - task_id: t\n"
     "      operator: airflow.providers.standard.operators.bash.BashOperator\n"
     "      bash_command: echo\n",
     "", "E032"},
    {"datetime.date constructor",
     "d:\n"
     "  start_date:\n"
     "    __type__: datetime.date\n"
     "    year: 2024\n"
     "    month: 1\n"
     "    day: 1\n"
     "  tasks:\n"
     "    - task_id: t\n"
     "      operator: airflow.providers.standard.operators.bash.BashOperator\n"
     "      bash_command: echo\n",
     "", "E032 E015"},
    {"FullLoader python/tuple tag",
     "d:\n"
     "  tasks:\n"
     "    - task_id: t\n"
     "      operator: airflow.providers.standard.operators.bash.BashOperator\n"
     "      bash_command: echo\n"
     "      env: !!python/tuple [a, b]\n",
     "", "E001"},
    {"provider outside the catalog",
     "d:\n"
     "  tasks:\n"
     "    - task_id: t\n"
     "      operator: dbt_provider.operators.DbtRunOperator\n",
     "W004", "E011 E012"},
    {"dagrun_timeout_sec",
     "d:\n"
     "  dagrun_timeout_sec: 600\n"
     "  tasks:\n"
     "    - task_id: t\n"
     "      operator: airflow.providers.standard.operators.bash.BashOperator\n"
     "      bash_command: echo\n",
     "W003", ""},
    {"execution_timeout_secs in a task",
     "d:\n"
     "  tasks:\n"
     "    - task_id: t\n"
     "      operator: airflow.providers.standard.operators.bash.BashOperator\n"
     "      bash_command: echo\n"
     "      execution_timeout_secs: 60\n",
     "E013", ""},
    {"retry_delay_secs in a task",
     "d:\n"
     "  tasks:\n"
     "    - task_id: t\n"
     "      operator: airflow.providers.standard.operators.bash.BashOperator\n"
     "      bash_command: echo\n"
     "      retry_delay_secs: 60\n",
     "E013", ""},
    {"sla_secs in a task",
     "d:\n"
     "  tasks:\n"
     "    - task_id: t\n"
     "      operator: airflow.providers.standard.operators.bash.BashOperator\n"
     "      bash_command: echo\n"
     "      sla_secs: 60\n",
     "E013", ""},
    {"concurrency names max_active_tasks",
     "d:\n"
     "  concurrency: 3\n"
     "  tasks:\n"
     "    - task_id: t\n"
     "      operator: airflow.providers.standard.operators.bash.BashOperator\n"
     "      bash_command: echo\n",
     "W002", ""},
    {"expand with a +task string",
     "d:\n"
     "  tasks:\n"
     "    - task_id: a\n"
     "      operator: airflow.providers.standard.operators.bash.BashOperator\n"
     "      bash_command: echo\n"
     "    - task_id: t\n"
     "      operator: airflow.providers.standard.operators.bash.BashOperator\n"
     "      expand:\n"
     "        bash_command: +a\n",
     "E015", ""},
    {"expand key unknown to the operator",
     "d:\n"
     "  tasks:\n"
     "    - task_id: t\n"
     "      operator: airflow.providers.standard.operators.bash.BashOperator\n"
     "      expand:\n"
     "        no_such_arg: [1, 2]\n",
     "E013", ""},
    {"task key repeating a partial key",
     "d:\n"
     "  tasks:\n"
     "    - task_id: t\n"
     "      operator: airflow.providers.standard.operators.bash.BashOperator\n"
     "      bash_command: x\n"
     "      partial: {bash_command: y}\n"
     "      expand: {env: [{}]}\n",
     "E013", ""},
    {"callable without a dot",
     "d:\n"
     "  tasks:\n"
     "    - task_id: t\n"
     "      operator: airflow.providers.standard.operators.python.PythonOperator\n"
     "      python_callable: fn\n",
     "E011", ""},
    {"python_callable_name without file",
     "d:\n"
     "  tasks:\n"
     "    - task_id: t\n"
     "      operator: airflow.providers.standard.operators.python.PythonOperator\n"
     "      python_callable_name: fn\n",
     "E040", ""},
    {"decorator task without a callable",
     "d:\n"
     "  tasks:\n"
     "    - task_id: t\n"
     "      decorator: airflow.providers.standard.decorators.python.python_task\n",
     "E014", ""},
    {"relative template_searchpath",
     "d:\n"
     "  template_searchpath: relative/dir\n"
     "  tasks:\n"
     "    - task_id: t\n"
     "      operator: airflow.providers.standard.operators.bash.BashOperator\n"
     "      bash_command: echo\n",
     "E040", ""},
    {"relative date in weeks",
     "d:\n"
     "  start_date: 1 week\n"
     "  tasks:\n"
     "    - task_id: t\n"
     "      operator: airflow.providers.standard.operators.bash.BashOperator\n"
     "      bash_command: echo\n",
     "E032", ""},
    {"unknown task group key",
     "d:\n"
     "  task_groups:\n"
     "    g:\n"
     "      tooltipp: x\n"
     "  tasks:\n"
     "    - task_id: t\n"
     "      operator: airflow.providers.standard.operators.bash.BashOperator\n"
     "      bash_command: echo\n"
     "      task_group_name: g\n",
     "E013", ""},
    {"DAG-level on_retry_callback",
     "d:\n"
     "  on_retry_callback: m.f\n"
     "  tasks:\n"
     "    - task_id: t\n"
     "      operator: airflow.providers.standard.operators.bash.BashOperator\n"
     "      bash_command: echo\n",
     "W003", ""},
    {"owner_links not passed to DAG()",
     "d:\n"
     "  owner_links: {a: b}\n"
     "  tasks:\n"
     "    - task_id: t\n"
     "      operator: airflow.providers.standard.operators.bash.BashOperator\n"
     "      bash_command: echo\n",
     "W003", ""},
    {"execution_delta: banana",
     "d:\n"
     "  tasks:\n"
     "    - task_id: t\n"
     "      operator: airflow.providers.standard.sensors.external_task.ExternalTaskSensor\n"
     "      external_dag_id: x\n"
     "      execution_delta: banana\n",
     "E015", ""},
    {"variables_as_arguments supplies a required argument",
     "d:\n"
     "  tasks:\n"
     "    - task_id: t\n"
     "      operator: airflow.providers.standard.operators.bash.BashOperator\n"
     "      variables_as_arguments:\n"
     "        - {variable: v, attribute: bash_command}\n",
     "", "E014"},
    {"non-string DAG ids colliding",
     "1:\n"
     "  tasks:\n"
     "    - task_id: t\n"
     "      operator: airflow.providers.standard.operators.bash.BashOperator\n"
     "      bash_command: echo\n"
     "true:\n"
     "  tasks:\n"
     "    - task_id: t\n"
     "      operator: airflow.providers.standard.operators.bash.BashOperator\n"
     "      bash_command: echo\n",
     "E033", ""},
    {"NUL in a task id",
     "d:\n"
     "  tasks:\n"
     "    - task_id: \"a\\0b\"\n"
     "      operator: airflow.providers.standard.operators.bash.BashOperator\n"
     "      bash_command: echo\n",
     "E033", ""},
};

static bool has_code(const dagfile_result *r, const char *code)
{
	return find_diag(r, code) != NULL;
}

static void test_fidelity_classes(void **state)
{
	(void)state;
	int failures = 0;
	for (size_t i = 0; i < sizeof(fidelity_cases) / sizeof(*fidelity_cases); i++) {
		const fidelity_case *c = &fidelity_cases[i];
		dagfile_result r = parse(c->yaml);
		for (int pass = 0; pass < 2; pass++) {
			char list[64];
			snprintf(list, sizeof(list), "%s", pass ? c->mustnot : c->must);
			for (char *save = NULL, *code = strtok_r(list, " ", &save); code;
			     code = strtok_r(NULL, " ", &save)) {
				if (has_code(&r, code) == (pass == 0))
					continue;
				print_message("%s: %s %s\n", c->name, code,
				              pass ? "reported" : "missing");
				print_diags(&r);
				failures++;
			}
		}
		dagfile_result_free(&r);
	}
	assert_int_equal(failures, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid_dag),
	    cmocka_unit_test(test_e001_syntax),
	    cmocka_unit_test(test_e002_shapes),
	    cmocka_unit_test(test_e003_bad_input),
	    cmocka_unit_test(test_e003_too_large),
	    cmocka_unit_test(test_e010_no_operator),
	    cmocka_unit_test(test_e011_e012_operator_paths),
	    cmocka_unit_test(test_e013_unknown_argument),
	    cmocka_unit_test(test_e014_missing_required),
	    cmocka_unit_test(test_e015_wrong_type),
	    cmocka_unit_test(test_e020_unknown_dependency),
	    cmocka_unit_test(test_e021_cycle),
	    cmocka_unit_test(test_e022_duplicates),
	    cmocka_unit_test(test_e023_missing_id),
	    cmocka_unit_test(test_e024_groups),
	    cmocka_unit_test(test_e030_schedule),
	    cmocka_unit_test(test_e030_timetable_cron),
	    cmocka_unit_test(test_e031_removed_keys),
	    cmocka_unit_test(test_e032_dates),
	    cmocka_unit_test(test_e033_ids),
	    cmocka_unit_test(test_e040_paths),
	    cmocka_unit_test(test_e050_and_defaults_chain),
	    cmocka_unit_test(test_source_hash_contract),
	    cmocka_unit_test(test_default_block_tasks_merge_by_id),
	    cmocka_unit_test(test_groups_wiring),
	    cmocka_unit_test(test_references),
	    cmocka_unit_test(test_fidelity_classes),
	    cmocka_unit_test(test_prefix_group_id_of_the_parent),
	    cmocka_unit_test(test_concurrency_is_max_active_tasks),
	    cmocka_unit_test(test_suggestions_bounded),
	    cmocka_unit_test(test_deep_group_nesting),
	    cmocka_unit_test(test_edge_limit),
	    cmocka_unit_test(test_w001_w002_w003),
	    cmocka_unit_test(test_broken_dag_does_not_hide_others),
	    cmocka_unit_test(test_hash_stability),
	    cmocka_unit_test(test_canonical_ints_and_key_order),
	    cmocka_unit_test(test_join_and_types_are_data),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
