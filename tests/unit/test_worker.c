/* Unit tests of the worker pool: the wire format, and real worker processes
 * (the built dagproc binary) parsing, timing out, crashing and running out of
 * memory. The binary is $DAGPROC_BIN, else ../dagproc next to this test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dagfile/dagenv.h"
#include "dagfile/dagfile.h"
#include "log/log.h"
#include "util/xalloc.h"
#include "worker/proto.h"
#include "worker/worker.h"

static char bin[PATH_MAX];
static char dir[PATH_MAX];

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *write_file(const char *name, const char *text)
{
	char *p = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return p;
}

#define MAX_JOBS 32

typedef struct collected {
	size_t n;
	uint64_t ids[MAX_JOBS];
	dagfile_result *res[MAX_JOBS];
} collected;

static void on_done(void *ud, uint64_t job_id, dagfile_result *res)
{
	collected *c = ud;
	assert_true(c->n < MAX_JOBS);
	c->ids[c->n] = job_id;
	c->res[c->n] = res;
	c->n++;
}

static void collected_free(collected *c)
{
	for (size_t i = 0; i < c->n; i++)
		worker_result_free(c->res[i]);
	memset(c, 0, sizeof(*c));
}

static dagfile_result *result_for(collected *c, uint64_t id)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->ids[i] == id)
			return c->res[i];
	return NULL;
}

/* Runs the pool's loop as the processor would until c has `want` results or
 * `max_s` seconds passed. Returns the number of results. */
static size_t run_until(wpool *p, collected *c, size_t want, double max_s)
{
	double end = now_s() + max_s;
	while (c->n < want && now_s() < end) {
		struct pollfd fds[16];
		int n = wpool_pollfds(p, fds, 16);
		double d = wpool_next_deadline(p);
		double left = end - now_s();
		if (d < 0 || d > left)
			d = left;
		int ms = d <= 0 ? 0 : (int)(d * 1000) + 1;
		int r = poll(fds, (nfds_t)n, ms);
		assert_true(r >= 0 || errno == EINTR);
		wpool_process(p);
	}
	return c->n;
}

/* Drives the loop for a while without expecting anything. */
static void run_for(wpool *p, collected *c, double s)
{
	run_until(p, c, SIZE_MAX, s);
}

static wpool *new_pool(int n, double timeout_s, int mem_mb, collected *c)
{
	static const char *const pools[] = {"default_pool", "etl"};
	wpool_opts o = {.nworkers = n,
	                .memory_limit_mb = mem_mb,
	                .timeout_s = timeout_s,
	                .exe = bin,
	                .pools = pools,
	                .npools = 2,
	                .max_file_size = 10u << 20};
	char *err = NULL;
	wpool *p = wpool_new(&o, on_done, c, &err);
	if (!p)
		fprintf(stderr, "wpool_new: %s\n", err);
	assert_non_null(p);
	assert_null(err);
	return p;
}

static void assert_single_e004(const dagfile_result *r, const char *needle)
{
	assert_non_null(r);
	assert_int_equal(r->ndags, 0);
	assert_int_equal(r->nerrors, 1);
	assert_string_equal(r->errors[0].code, "E004");
	if (!strstr(r->errors[0].message, needle))
		fail_msg("E004 message '%s' lacks '%s'", r->errors[0].message, needle);
}

static const char *good_yaml =
    "etl:\n"
    "  schedule: \"0 3 * * *\"\n"
    "  start_date: 2024-01-01\n"
    "  tasks:\n"
    "    - task_id: extract\n"
    "      operator: airflow.providers.standard.operators.bash.BashOperator\n"
    "      bash_command: echo hi\n"
    "    - task_id: load\n"
    "      operator: airflow.providers.standard.operators.bash.BashOperator\n"
    "      bash_command: echo load\n"
    "      dependencies: [extract]\n";

/* ------------------------------------------------------------------------ */
/* Wire format                                                               */

static void fill_dag(dag_result *g, const char *id, size_t json_len)
{
	memset(g, 0, sizeof(*g));
	g->dag_id = xstrdup(id);
	g->schedule = xstrdup("@daily");
	g->json = xmalloc(json_len + 1);
	for (size_t i = 0; i < json_len; i++)
		g->json[i] = (char)('a' + i % 26);
	g->json[json_len] = '\0';
	g->json_len = json_len;
	for (int i = 0; i < 16; i++)
		g->hash[i] = (uint8_t)(i * 17 + 3);
	g->ntasks = 2;
	g->tasks = xcalloc(2, sizeof(*g->tasks));
	g->tasks[0].task_id = xstrdup("a");
	g->tasks[0].operator= xstrdup("airflow.providers.standard.operators.bash.BashOperator");
	g->tasks[1].task_id = xstrdup("grp.b");
	g->tasks[1].operator= xstrdup("");
	g->tasks[1].decorator = true;
	g->tasks[1].nupstream = 1;
	g->tasks[1].upstream = xcalloc(1, sizeof(char *));
	g->tasks[1].upstream[0] = xstrdup("a");
	g->ntags = 2;
	g->tags = xcalloc(2, sizeof(char *));
	g->tags[0] = xstrdup("");
	g->tags[1] = xstrdup("t\xc3\xa9l\xc3\xa9");
	g->description = NULL;
	g->owners = xstrdup("alice,bob");
	g->max_active_tasks = -1;
	g->max_active_runs = 16;
	g->is_paused_upon_creation = true;
	g->has_paused_upon_creation = true;
	g->line = 42;
}

static void add_diag(diag **arr, size_t *n, const char *code, const char *dag_id, const char *msg,
                     const char *wtype)
{
	*arr = xrealloc(*arr, (*n + 1) * sizeof(**arr));
	diag *d = &(*arr)[(*n)++];
	memset(d, 0, sizeof(*d));
	snprintf(d->code, sizeof(d->code), "%s", code);
	d->line = (uint32_t)*n * 3;
	d->col = 7;
	d->dag_id = dag_id ? xstrdup(dag_id) : NULL;
	d->message = xstrdup(msg);
	d->warning_type = wtype;
}

static void sample_result(dagfile_result *r, size_t big)
{
	memset(r, 0, sizeof(*r));
	r->path = xstrdup("dags/etl.yml");
	r->ndags = 2;
	r->dags = xcalloc(2, sizeof(*r->dags));
	fill_dag(&r->dags[0], "etl", big);
	fill_dag(&r->dags[1], "", 0);
	add_diag(&r->errors, &r->nerrors, "E020", "etl", "task 'load' depends on 'x'", NULL);
	add_diag(&r->errors, &r->nerrors, "E001", NULL, "", NULL);
	add_diag(&r->warnings, &r->nwarnings, "W001", "etl", "pools", "non-existent pool");
	add_diag(&r->warnings, &r->nwarnings, "W009", "etl", "odd", "some new type");
	r->nerror_dag_ids = 1;
	r->error_dag_ids = xcalloc(1, sizeof(char *));
	r->error_dag_ids[0] = xstrdup("broken");
	r->parse_seconds = 0.125;
}

static void assert_str_eq_null(const char *a, const char *b)
{
	if (!a || !b)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

static void assert_diags_equal(const diag *a, const diag *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(a[i].code, b[i].code);
		assert_int_equal(a[i].line, b[i].line);
		assert_int_equal(a[i].col, b[i].col);
		assert_str_eq_null(a[i].dag_id, b[i].dag_id);
		assert_string_equal(a[i].message, b[i].message);
		assert_str_eq_null(a[i].warning_type, b[i].warning_type);
	}
}

/* Equal in every field the sync module reads (the path aside). */
static void assert_results_equal(const dagfile_result *a, const dagfile_result *b)
{
	assert_int_equal(a->ndags, b->ndags);
	for (size_t i = 0; i < a->ndags; i++) {
		const dag_result *x = &a->dags[i], *y = &b->dags[i];
		assert_string_equal(x->dag_id, y->dag_id);
		assert_str_eq_null(x->schedule, y->schedule);
		assert_int_equal(x->json_len, y->json_len);
		assert_memory_equal(x->json, y->json, x->json_len);
		assert_int_equal(y->json[y->json_len], '\0');
		assert_memory_equal(x->hash, y->hash, 16);
		/* the count crosses, the tasks themselves are in the JSON */
		assert_int_equal(x->ntasks, y->ntasks);
		assert_null(y->tasks);
		assert_int_equal(x->ntags, y->ntags);
		for (size_t k = 0; k < x->ntags; k++)
			assert_string_equal(x->tags[k], y->tags[k]);
		assert_str_eq_null(x->description, y->description);
		assert_str_eq_null(x->owners, y->owners);
		assert_int_equal(x->max_active_tasks, y->max_active_tasks);
		assert_int_equal(x->max_active_runs, y->max_active_runs);
		assert_int_equal(x->is_paused_upon_creation, y->is_paused_upon_creation);
		assert_int_equal(x->has_paused_upon_creation, y->has_paused_upon_creation);
		assert_int_equal(x->line, y->line);
	}
	assert_int_equal(a->nerrors, b->nerrors);
	assert_diags_equal(a->errors, b->errors, a->nerrors);
	assert_int_equal(a->nwarnings, b->nwarnings);
	assert_diags_equal(a->warnings, b->warnings, a->nwarnings);
	assert_int_equal(a->nerror_dag_ids, b->nerror_dag_ids);
	for (size_t i = 0; i < a->nerror_dag_ids; i++)
		assert_string_equal(a->error_dag_ids[i], b->error_dag_ids[i]);
}

static void test_roundtrip(void **state)
{
	(void)state;
	dagfile_result r, back;
	sample_result(&r, 3u << 20); /* a 3 MiB JSON */
	strbuf b;
	sb_init(&b);
	wproto_encode_result(&b, 0x1122334455667788ull, &r);
	assert_int_equal(wproto_frame_len((unsigned char *)b.data), b.len - WPROTO_HEADER);
	assert_int_equal(wproto_payload_type(b.data + WPROTO_HEADER, b.len - WPROTO_HEADER),
	                 WPROTO_RESULT);
	uint64_t id = 0;
	assert_int_equal(
	    wproto_decode_result(b.data + WPROTO_HEADER, b.len - WPROTO_HEADER, &id, &back), 0);
	assert_true(id == 0x1122334455667788ull);
	assert_string_equal(back.path, r.path);
	assert_results_equal(&r, &back);
	assert_null(back.dags[0].description);
	assert_string_equal(back.dags[1].dag_id, "");
	assert_string_equal(back.errors[1].message, "");
	/* known warning types come back as the parser's literals' equals */
	assert_string_equal(back.warnings[1].warning_type, "some new type");
	assert_true(back.parse_seconds == 0.125);
	dagfile_result_free(&back);
	dagfile_result_free(&r);
	sb_free(&b);
}

/* Every truncation and a few corruptions are rejected without leaks. */
static void test_decode_rejects_garbage(void **state)
{
	(void)state;
	dagfile_result r, back;
	sample_result(&r, 100);
	strbuf b;
	sb_init(&b);
	wproto_encode_result(&b, 7, &r);
	const char *pl = b.data + WPROTO_HEADER;
	size_t n = b.len - WPROTO_HEADER;
	uint64_t id;
	for (size_t k = 0; k < n; k++)
		assert_int_equal(wproto_decode_result(pl, k, &id, &back), -1);
	/* trailing bytes */
	sb_addc(&b, 'x');
	assert_int_equal(wproto_decode_result(b.data + WPROTO_HEADER, n + 1, &id, &back), -1);
	/* a huge DAG count right after the id and path */
	char *bad = xmalloc(n);
	memcpy(bad, pl, n);
	size_t at = 1 + 8 + 4 + strlen(r.path);
	memset(bad + at, 0xff, 3);
	assert_int_equal(wproto_decode_result(bad, n, &id, &back), -1);
	/* wrong type */
	bad[0] = WPROTO_JOB;
	assert_int_equal(wproto_decode_result(bad, n, &id, &back), -1);
	free(bad);
	dagfile_result_free(&r);
	sb_free(&b);
}

/* A frame that is well formed but holds NULL where the model never has one (an
 * error DAG id, a tag) or a duration that is not a number is
 * malformed: sync would crash on the NULL, /metrics would sum the NaN for ever. */
static void test_decode_rejects_nulls(void **state)
{
	(void)state;
	for (int which = 0; which < 3; which++) {
		dagfile_result r, back;
		sample_result(&r, 100);
		if (which == 0) {
			free(r.error_dag_ids[0]);
			r.error_dag_ids[0] = NULL;
		} else if (which == 1) {
			assert_true(r.dags[0].ntags > 0);
			free(r.dags[0].tags[0]);
			r.dags[0].tags[0] = NULL;
		} else {
			r.parse_seconds = NAN;
		}
		strbuf b;
		sb_init(&b);
		wproto_encode_result(&b, 7, &r);
		uint64_t id;
		assert_int_equal(
		    wproto_decode_result(b.data + WPROTO_HEADER, b.len - WPROTO_HEADER, &id, &back),
		    -1);
		dagfile_result_free(&r);
		sb_free(&b);
	}
}

static void test_init_and_job_roundtrip(void **state)
{
	(void)state;
	char *cats[] = {"/etc/a.yml", ""};
	char *pools[] = {"default_pool"};
	wproto_init in = {.memory_limit_mb = 512,
	                  .max_file_size = 10u << 20,
	                  .log_level = LOG_WARNING,
	                  .catalog_files = cats,
	                  .ncatalog_files = 2,
	                  .pools = pools,
	                  .npools = 1,
	                  .strict_catalog = true};
	strbuf b;
	sb_init(&b);
	wproto_encode_init(&b, &in);
	wproto_init out;
	assert_int_equal(wproto_decode_init(b.data + 4, b.len - 4, &out), 0);
	assert_int_equal(out.memory_limit_mb, 512);
	assert_true(out.max_file_size == 10u << 20);
	assert_int_equal(out.log_level, LOG_WARNING);
	assert_int_equal(out.ncatalog_files, 2);
	assert_string_equal(out.catalog_files[1], "");
	assert_int_equal(out.nunchecked, 0);
	assert_string_equal(out.pools[0], "default_pool");
	assert_true(out.strict_catalog);
	assert_int_equal(out.nenv_deny, 0);
	wproto_init_free(&out);
	/* the environment policy travels too */
	char *deny[] = {"MY_*"}, *allow[] = {"PUBLIC_TOKEN", "X"}, *present[] = {"DB_PASSWORD"};
	in.env_deny = deny;
	in.nenv_deny = 1;
	in.env_allow = allow;
	in.nenv_allow = 2;
	in.env_present = present;
	in.nenv_present = 1;
	b.len = 0;
	wproto_encode_init(&b, &in);
	assert_int_equal(wproto_decode_init(b.data + 4, b.len - 4, &out), 0);
	assert_int_equal(out.nenv_deny, 1);
	assert_string_equal(out.env_deny[0], "MY_*");
	assert_int_equal(out.nenv_allow, 2);
	assert_string_equal(out.env_allow[1], "X");
	assert_int_equal(out.nenv_present, 1);
	assert_string_equal(out.env_present[0], "DB_PASSWORD");
	wproto_init_free(&out);

	b.len = 0;
	wproto_encode_job(&b, 99, "/x/y.yml", NULL, 0xfeedfacecafebeefull);
	wproto_job j;
	assert_int_equal(wproto_decode_job(b.data + 4, b.len - 4, &j), 0);
	assert_true(j.job_id == 99);
	assert_string_equal(j.path, "/x/y.yml");
	assert_null(j.bundle_root);
	assert_true(j.expect_hash == 0xfeedfacecafebeefull);
	wproto_job_free(&j);
	assert_int_equal(wproto_decode_job(b.data + 4, b.len - 5, &j), -1);
	sb_free(&b);
}

/* The blocking reader copes with a frame written one byte at a time, and
 * rejects a length above the cap. */
static void test_read_frame_short_reads(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(pipe(sv), 0);
	strbuf f;
	sb_init(&f);
	wproto_encode_job(&f, 5, "/a.yml", "/", 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		for (size_t i = 0; i < f.len; i++) {
			if (wproto_write_all(sv[1], f.data + i, 1) != 0)
				_exit(1);
			usleep(200);
		}
		unsigned char huge[4] = {0xff, 0xff, 0xff, 0x7f};
		_exit(wproto_write_all(sv[1], huge, 4) != 0);
	}
	close(sv[1]);
	strbuf in;
	sb_init(&in);
	assert_int_equal(wproto_read_frame(sv[0], &in), 1);
	wproto_job j;
	assert_int_equal(wproto_decode_job(in.data, in.len, &j), 0);
	assert_string_equal(j.path, "/a.yml");
	assert_string_equal(j.bundle_root, "/");
	wproto_job_free(&j);
	assert_int_equal(wproto_read_frame(sv[0], &in), -1);
	assert_int_equal(errno, EMSGSIZE);
	close(sv[0]);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	sb_free(&in);
	sb_free(&f);
}

/* ------------------------------------------------------------------------ */
/* Real workers                                                              */

static void test_pool_matches_in_process(void **state)
{
	(void)state;
	static const struct {
		const char *name, *text;
	} files[] = {
	    {"good.yml", NULL},
	    {"bad_yaml.yml", "etl: [unclosed\n"},
	    {"unknown_dep.yml",
	     "a:\n  tasks:\n    - task_id: t1\n"
	     "      operator: airflow.providers.standard.operators.empty.EmptyOperator\n"
	     "      dependencies: [t0]\n"},
	    {"pool_warn.yml",
	     "b:\n  schedule: \"@daily\"\n  tags: [x, y]\n  tasks:\n"
	     "    t:\n"
	     "      operator: airflow.providers.standard.operators.empty.EmptyOperator\n"
	     "      pool: nope\n"},
	    {"no_module.yml", "c:\n  tasks:\n    - task_id: t\n      operator: mycompany.ops.Op\n"},
	    {"empty.yml", ""},
	};
	size_t nf = sizeof(files) / sizeof(files[0]);
	char *paths[8];
	for (size_t i = 0; i < nf; i++)
		paths[i] = write_file(files[i].name, files[i].text ? files[i].text : good_yaml);
	char *missing = xasprintf("%s/does_not_exist.yml", dir);

	collected c = {0};
	wpool *p = new_pool(2, 10, 0, &c);
	size_t submitted = 0;
	double end = now_s() + 10;
	while (c.n < nf + 1 && now_s() < end) {
		while (submitted < nf + 1 && wpool_has_idle(p)) {
			const char *path = submitted < nf ? paths[submitted] : missing;
			assert_int_equal(wpool_submit(p, 100 + submitted, path, dir), 0);
			submitted++;
		}
		if (submitted < nf + 1)
			assert_int_equal(wpool_submit(p, 999, "/x.yml", NULL), -1);
		run_until(p, &c, c.n + 1, end - now_s());
	}
	assert_int_equal(c.n, nf + 1);

	char *err = NULL;
	catalog *cat = catalog_load(NULL, 0, &err);
	assert_non_null(cat);
	static const char *const pools[] = {"default_pool", "etl"};
	dagfile_opts o = {.cat = cat,
	                  .bundle_root = dir,
	                  .pools = pools,
	                  .npools = 2,
	                  .max_file_size = 10u << 20};
	for (size_t i = 0; i < nf + 1; i++) {
		const char *path = i < nf ? paths[i] : missing;
		dagfile_result want;
		dagfile_parse(path, &o, &want);
		const dagfile_result *got = result_for(&c, 100 + i);
		assert_non_null(got);
		assert_string_equal(got->path, path);
		assert_results_equal(&want, got);
		dagfile_result_free(&want);
	}
	/* the files exercise what they should */
	assert_int_equal(result_for(&c, 100)->ndags, 1);
	assert_int_equal(result_for(&c, 100)->dags[0].ntasks, 2);
	assert_string_equal(result_for(&c, 101)->errors[0].code, "E001");
	assert_string_equal(result_for(&c, 103)->warnings[0].code, "W001");
	assert_ptr_equal(result_for(&c, 103)->warnings[0].warning_type,
	                 result_for(&c, 103)->warnings[0].warning_type);

	struct wpool_stats st;
	wpool_stats(p, &st);
	assert_int_equal(st.jobs_done, nf + 1);
	assert_int_equal(st.restarts, 0);
	assert_int_equal(st.crashes, 0);
	assert_int_equal(st.idle, 2);

	catalog_free(cat);
	wpool_free(p);
	collected_free(&c);
	for (size_t i = 0; i < nf; i++) {
		unlink(paths[i]);
		free(paths[i]);
	}
	free(missing);
}

static void test_timeout(void **state)
{
	(void)state;
	char *slow = write_file("slow.yml", good_yaml);
	char *good = write_file("good2.yml", good_yaml);
	collected c = {0};
	wpool *p = new_pool(1, 0.5, 0, &c);
	double t0 = now_s();
	assert_int_equal(wpool_submit(p, 1, slow, dir), 0);
	assert_false(wpool_has_idle(p));
	double d = wpool_next_deadline(p);
	assert_true(d > 0 && d <= 0.5); /* a loaded machine may be slow to get here */
	assert_int_equal(run_until(p, &c, 1, 5), 1);
	double took = now_s() - t0;
	assert_true(took >= 0.5); /* not before the timeout; run_until bounds the rest */
	assert_single_e004(c.res[0], "parse timed out after 0.5 s");
	assert_string_equal(c.res[0]->path, slow);

	/* the pool goes on with a fresh worker */
	assert_true(wpool_has_idle(p));
	assert_int_equal(wpool_submit(p, 2, good, dir), 0);
	assert_int_equal(run_until(p, &c, 2, 5), 2);
	assert_int_equal(c.res[1]->nerrors, 0);
	assert_int_equal(c.res[1]->ndags, 1);
	struct wpool_stats st;
	wpool_stats(p, &st);
	assert_int_equal(st.timeouts, 1);
	assert_int_equal(st.restarts, 1);
	assert_int_equal(st.crashes, 0);
	assert_int_equal(st.jobs_done, 2);
	wpool_free(p);
	collected_free(&c);
	unlink(slow);
	unlink(good);
	free(slow);
	free(good);
}

static void test_crash(void **state)
{
	(void)state;
	char *boom = write_file("boom.yml", good_yaml);
	char *good = write_file("good3.yml", good_yaml);
	collected c = {0};
	wpool *p = new_pool(1, 5, 0, &c);
	/* a worker that has done a job is not "dead on arrival": no backoff */
	assert_int_equal(wpool_submit(p, 1, good, dir), 0);
	assert_int_equal(run_until(p, &c, 1, 5), 1);
	assert_int_equal(wpool_submit(p, 2, boom, dir), 0);
	assert_int_equal(run_until(p, &c, 2, 5), 2);
	assert_single_e004(c.res[1], "worker died: killed by signal 6 (SIGABRT)");
	assert_true(wpool_has_idle(p));
	assert_int_equal(wpool_submit(p, 3, good, dir), 0);
	assert_int_equal(run_until(p, &c, 3, 5), 3);
	assert_int_equal(c.res[2]->ndags, 1);
	struct wpool_stats st;
	wpool_stats(p, &st);
	assert_int_equal(st.crashes, 1);
	assert_int_equal(st.restarts, 1);
	assert_int_equal(st.spawn_failures, 0);
	wpool_free(p);
	collected_free(&c);
	unlink(boom);
	unlink(good);
	free(boom);
	free(good);
}

static void test_killed_externally(void **state)
{
	(void)state;
	char *slow = write_file("slow_kill.yml", good_yaml);
	char *good = write_file("good4.yml", good_yaml);
	collected c = {0};
	wpool *p = new_pool(2, 30, 0, &c);
	assert_int_equal(wpool_submit(p, 1, slow, dir), 0);
	run_for(p, &c, 0.1);
	assert_int_equal(c.n, 0);
	/* round-robin from slot 0: the first job went to worker 0 */
	pid_t victim = wpool_worker_pid(p, 0);
	assert_true(victim > 0);
	assert_int_equal(kill(victim, SIGKILL), 0);
	assert_int_equal(run_until(p, &c, 1, 5), 1);
	assert_int_equal(c.ids[0], 1);
	assert_single_e004(c.res[0], "worker died: killed by signal 9 (SIGKILL)");
	/* replaced (after the short backoff of a worker that died young), and
	 * both workers take jobs */
	run_for(p, &c, 0.3);
	struct wpool_stats st;
	wpool_stats(p, &st);
	assert_int_equal(st.idle, 2);
	assert_true(wpool_worker_pid(p, 0) != victim);
	assert_int_equal(wpool_submit(p, 2, good, dir), 0);
	assert_int_equal(wpool_submit(p, 3, good, dir), 0);
	assert_int_equal(run_until(p, &c, 3, 5), 3);
	assert_int_equal(result_for(&c, 2)->ndags, 1);
	assert_int_equal(result_for(&c, 3)->ndags, 1);
	wpool_stats(p, &st);
	assert_int_equal(st.crashes, 1);
	assert_int_equal(st.restarts, 1);
	wpool_free(p);
	collected_free(&c);
	unlink(slow);
	unlink(good);
	free(slow);
	free(good);
}

/* An idle worker killed between two loop turns is replaced at submit time and
 * the next file is not blamed for it. */
static void test_idle_worker_killed(void **state)
{
	(void)state;
	char *good = write_file("good8.yml", good_yaml);
	collected c = {0};
	wpool *p = new_pool(1, 5, 0, &c);
	assert_int_equal(wpool_submit(p, 1, good, dir), 0);
	assert_int_equal(run_until(p, &c, 1, 5), 1);
	pid_t victim = wpool_worker_pid(p, 0);
	assert_int_equal(kill(victim, SIGKILL), 0);
	usleep(100 * 1000);
	assert_int_equal(wpool_submit(p, 2, good, dir), 0);
	assert_true(wpool_worker_pid(p, 0) != victim);
	assert_int_equal(run_until(p, &c, 2, 5), 2);
	assert_int_equal(c.res[1]->nerrors, 0);
	assert_int_equal(c.res[1]->ndags, 1);
	struct wpool_stats st;
	wpool_stats(p, &st);
	assert_int_equal(st.crashes, 1);
	assert_int_equal(st.restarts, 1);
	wpool_free(p);
	collected_free(&c);
	unlink(good);
	free(good);
}

static void test_out_of_memory(void **state)
{
	(void)state;
	char *hog = write_file("hog.yml", good_yaml);
	char *good = write_file("good5.yml", good_yaml);
	collected c = {0};
	wpool *p = new_pool(1, 10, 96, &c);
	assert_int_equal(wpool_submit(p, 1, hog, dir), 0);
	assert_int_equal(run_until(p, &c, 1, 10), 1);
	assert_single_e004(c.res[0], "worker ran out of memory (limit 96 MiB)");
	run_for(p, &c, 0.3); /* died young: respawned after the backoff */
	assert_true(wpool_has_idle(p));
	assert_int_equal(wpool_submit(p, 2, good, dir), 0);
	assert_int_equal(run_until(p, &c, 2, 5), 2);
	assert_int_equal(c.res[1]->ndags, 1);
	struct wpool_stats st;
	wpool_stats(p, &st);
	assert_int_equal(st.ooms, 1);
	assert_int_equal(st.crashes, 1);
	wpool_free(p);
	collected_free(&c);
	unlink(hog);
	unlink(good);
	free(hog);
	free(good);
}

/* A limit the worker can parse under: real files still parse with RLIMIT_AS set. */
static void test_memory_limit_allows_parsing(void **state)
{
	(void)state;
	char *good = write_file("good6.yml", good_yaml);
	collected c = {0};
	wpool *p = new_pool(1, 10, 128, &c);
	assert_int_equal(wpool_submit(p, 1, good, dir), 0);
	assert_int_equal(run_until(p, &c, 1, 5), 1);
	assert_int_equal(c.res[0]->nerrors, 0);
	assert_int_equal(c.res[0]->ndags, 1);
	wpool_free(p);
	collected_free(&c);
	unlink(good);
	free(good);
}

/* wpool_free kills and reaps everything, busy or idle: no zombie is left. */
static void test_free_reaps(void **state)
{
	(void)state;
	char *slow = write_file("slow_free.yml", good_yaml);
	collected c = {0};
	wpool *p = new_pool(3, 30, 0, &c);
	assert_int_equal(wpool_submit(p, 1, slow, dir), 0);
	run_for(p, &c, 0.05);
	pid_t pids[3];
	for (int i = 0; i < 3; i++) {
		pids[i] = wpool_worker_pid(p, i);
		assert_true(pids[i] > 0);
	}
	wpool_free(p);
	assert_int_equal(c.n, 0);
	for (int i = 0; i < 3; i++) {
		int st;
		assert_int_equal(waitpid(pids[i], &st, WNOHANG), -1);
		assert_int_equal(errno, ECHILD);
		assert_int_equal(kill(pids[i], 0), -1);
		assert_int_equal(errno, ESRCH);
	}
	unlink(slow);
	free(slow);
}

/* Workers parse below the daemon's CPU priority (issue 13, item 3): the loop,
 * the writer and a database server on the machine come first. Seen failing
 * before the change (the worker at the daemon's nice value). */
static void test_worker_priority(void **state)
{
	(void)state;
	collected c = {0};
	wpool *p = new_pool(1, 5, 0, &c);
	char *good = write_file("good8.yml", good_yaml);
	assert_int_equal(wpool_submit(p, 1, good, dir), 0);
	assert_int_equal(run_until(p, &c, 1, 5), 1);
	errno = 0;
	int mine = getpriority(PRIO_PROCESS, 0);
	assert_int_equal(errno, 0);
	errno = 0;
	int theirs = getpriority(PRIO_PROCESS, (id_t)wpool_worker_pid(p, 0));
	assert_int_equal(errno, 0);
	/* ten below the daemon, but no lower than nice 10 for a daemon that is
	 * niced already (review: a daemon at 10 put its workers at 19) */
	int floor = mine > 10 ? mine : 10;
	assert_int_equal(theirs, mine + 10 < floor ? mine + 10 : floor);
	wpool_free(p);
	collected_free(&c);
	unlink(good);
	free(good);
}

/* A worker inherits only 0, 1, 2 and its socket, even from a parent with
 * descriptors that are not close-on-exec. */
static void test_worker_fds(void **state)
{
	(void)state;
	int leak = open("/dev/null", O_RDONLY); /* no O_CLOEXEC on purpose */
	assert_true(leak >= 0);
	collected c = {0};
	wpool *p = new_pool(1, 5, 0, &c);
	char *good = write_file("good7.yml", good_yaml);
	/* after a job the worker has surely exec'd and set itself up */
	assert_int_equal(wpool_submit(p, 1, good, dir), 0);
	assert_int_equal(run_until(p, &c, 1, 5), 1);
	char fddir[64];
	snprintf(fddir, sizeof(fddir), "/proc/%d/fd", (int)wpool_worker_pid(p, 0));
	DIR *d = opendir(fddir);
	assert_non_null(d);
	int nfd = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		long fd = strtol(e->d_name, NULL, 10);
		if (fd > WORKER_FD)
			fail_msg("worker has fd %ld open", fd);
		nfd++;
	}
	closedir(d);
	assert_int_equal(nfd, 4);
	wpool_free(p);
	collected_free(&c);
	close(leak);
	unlink(good);
	free(good);
}

/* Issue 10: a worker's environment holds none of the variables DAG files may not
 * read (the processor's settings, secret-looking names), yet a reference to one gets
 * its W005 from the worker, and an allowed variable is expanded. */
static void test_worker_environment(void **state)
{
	(void)state;
	setenv("DAGPROC__DATABASE__SQL_CONN", "postgresql://u:pw-in-env@h/db", 1);
	setenv("TEST_WORKER_DB_PASSWORD", "hunter2-in-env", 1);
	setenv("TEST_WORKER_PLAIN", "plain-value", 1);
	setenv("TEST_WORKER_ALLOWED_TOKEN", "allowed-value", 1);
	static const char *const allow[] = {"TEST_WORKER_ALLOWED_*"};
	dagenv_configure(NULL, 0, allow, 1);
	static const char *const pools[] = {"default_pool"};
	wpool_opts o = {.nworkers = 1,
	                .timeout_s = 5,
	                .exe = bin,
	                .pools = pools,
	                .npools = 1,
	                .max_file_size = 10u << 20,
	                .env_allow = allow,
	                .nenv_allow = 1};
	collected c = {0};
	char *err = NULL;
	wpool *p = wpool_new(&o, on_done, &c, &err);
	assert_non_null(p);
	char *f = write_file(
	    "envdag.yml",
	    "envdag:\n"
	    "  description: \"$TEST_WORKER_PLAIN ${DAGPROC__DATABASE__SQL_CONN} "
	    "$TEST_WORKER_DB_PASSWORD $TEST_WORKER_ALLOWED_TOKEN\"\n"
	    "  tasks:\n"
	    "    - task_id: t\n"
	    "      operator: airflow.providers.standard.operators.empty.EmptyOperator\n");
	assert_int_equal(wpool_submit(p, 1, f, dir), 0);
	assert_int_equal(run_until(p, &c, 1, 5), 1);
	const dagfile_result *r = c.res[0];
	assert_int_equal(r->ndags, 1);
	assert_non_null(strstr(r->dags[0].json, "plain-value ${DAGPROC__DATABASE__SQL_CONN} "
	                                        "$TEST_WORKER_DB_PASSWORD allowed-value"));
	size_t w005 = 0;
	for (size_t i = 0; i < r->nwarnings; i++)
		if (strcmp(r->warnings[i].code, "W005") == 0) {
			w005++;
			assert_string_equal(r->warnings[i].dag_id, "envdag");
		}
	assert_int_equal(w005, 2);

	/* the worker process's own environment */
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/environ", (int)wpool_worker_pid(p, 0));
	char *env = NULL;
	size_t n = 0;
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	char buf[4096];
	size_t k;
	strbuf sb;
	sb_init(&sb);
	while ((k = fread(buf, 1, sizeof buf, fp)) > 0)
		sb_add(&sb, buf, k);
	fclose(fp);
	n = sb.len;
	env = sb_detach(&sb);
	bool plain = false, hook = false;
	for (size_t i = 0; i < n; i += strlen(env + i) + 1) {
		const char *e = env + i;
		if (strncmp(e, "DAGPROC__", 9) == 0 || strstr(e, "PASSWORD") ||
		    strstr(e, "pw-in-env"))
			fail_msg("the worker's environment holds %s", e);
		plain |= strcmp(e, "TEST_WORKER_PLAIN=plain-value") == 0;
		hook |= strncmp(e, "DAGPROC_TEST_WORKER_HOOK=", 25) == 0;
	}
	assert_true(plain);
	assert_true(hook);
	free(env);
	wpool_free(p);
	collected_free(&c);
	unlink(f);
	free(f);
	dagenv_reset();
	unsetenv("DAGPROC__DATABASE__SQL_CONN");
	unsetenv("TEST_WORKER_DB_PASSWORD");
	unsetenv("TEST_WORKER_PLAIN");
	unsetenv("TEST_WORKER_ALLOWED_TOKEN");
}

/* A binary that dies at once: jobs get E004 and respawns back off instead of
 * spinning. Also, a missing binary is an error at wpool_new. */
static void test_dead_on_arrival(void **state)
{
	(void)state;
	wpool_opts o = {.nworkers = 1, .timeout_s = 5, .exe = "/nonexistent/dagproc"};
	char *err = NULL;
	assert_null(wpool_new(&o, on_done, NULL, &err));
	assert_non_null(err);
	assert_non_null(strstr(err, "/nonexistent/dagproc"));
	free(err);

	collected c = {0};
	o.exe = "/bin/false";
	wpool *p = wpool_new(&o, on_done, &c, &err);
	assert_non_null(p);
	assert_int_equal(wpool_submit(p, 1, "/x.yml", NULL), 0);
	assert_int_equal(run_until(p, &c, 1, 5), 1);
	assert_single_e004(c.res[0], "worker exited with status 1");
	run_for(p, &c, 1.0);
	struct wpool_stats st;
	wpool_stats(p, &st);
	/* 0.1 + 0.2 + 0.4 s of backoff fit in a second: a handful, not thousands */
	assert_true(st.restarts >= 2 && st.restarts <= 6);
	assert_true(st.spawn_failures >= 2);
	wpool_free(p);
	collected_free(&c);

	/* a bad extra catalog file is reported once, at start */
	char *badcat = write_file("bad_catalog.yml", "operators: [unclosed\n");
	const char *const cats[] = {badcat};
	o.exe = bin;
	o.catalog_files = cats;
	o.ncatalog_files = 1;
	assert_null(wpool_new(&o, on_done, NULL, &err));
	assert_non_null(err);
	free(err);
	unlink(badcat);
	free(badcat);
}

/* ------------------------------------------------------------------------ */

static int find_binary(void)
{
	const char *env = getenv("DAGPROC_BIN");
	if (env && *env) {
		snprintf(bin, sizeof(bin), "%s", env);
		return access(bin, X_OK);
	}
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -1;
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	int k = snprintf(bin, sizeof(bin), "%.*s/../dagproc", PATH_MAX - 64, self);
	if (k < 0 || (size_t)k >= sizeof(bin))
		return -1;
	return access(bin, X_OK);
}

int main(void)
{
	if (find_binary() != 0) {
		fprintf(stderr, "test_worker: dagproc binary not found (set DAGPROC_BIN)\n");
		return 1;
	}
	snprintf(dir, sizeof(dir), "%s/test_worker.XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	setenv("DAGPROC_TEST_WORKER_HOOK", "sleep:slow,crash:boom,alloc:hog", 1);
	/* the pool's warnings about dead workers are expected here */
	log_set_level(LOG_ERROR);

	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip),
	    cmocka_unit_test(test_decode_rejects_garbage),
	    cmocka_unit_test(test_decode_rejects_nulls),
	    cmocka_unit_test(test_init_and_job_roundtrip),
	    cmocka_unit_test(test_read_frame_short_reads),
	    cmocka_unit_test(test_pool_matches_in_process),
	    cmocka_unit_test(test_timeout),
	    cmocka_unit_test(test_crash),
	    cmocka_unit_test(test_killed_externally),
	    cmocka_unit_test(test_idle_worker_killed),
	    cmocka_unit_test(test_out_of_memory),
	    cmocka_unit_test(test_memory_limit_allows_parsing),
	    cmocka_unit_test(test_free_reaps),
	    cmocka_unit_test(test_worker_fds),
	    cmocka_unit_test(test_worker_priority),
	    cmocka_unit_test(test_worker_environment),
	    cmocka_unit_test(test_dead_on_arrival),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	rmdir(dir);
	return rc;
}
