/* `dagproc check`: the linter. Parses files and folders without a database and
 * prints compiler-style diagnostics or the JSON of SPEC §1. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle/walk.h"
#include "cli/check_int.h"
#include "cli/cli.h"
#include "config/config.h"
#include "dagfile/codes.h"
#include "dagfile/dagenv.h"
#include "dagfile/dagfile.h"
#include "dagfile/fix.h"
#include "dagfile/schema.h"
#include "dagfile/yaml.h"
#include "util/fsutil.h"
#include "util/strmap.h"
#include "util/utf8.h"
#include "util/xalloc.h"

#ifndef DAGPROC_VERSION
#define DAGPROC_VERSION "0.1.0"
#endif

typedef struct colours {
	const char *bold, *red, *yellow, *blue, *reset;
} colours;

typedef enum check_format { FMT_TEXT, FMT_JSON, FMT_SARIF, FMT_GITHUB } check_format;

/* Work spread over threads, item by item: parsing, then rendering. */
typedef struct check_job {
	check_item *items;
	size_t n;
	atomic_size_t next;
	const dagfile_opts *base;
	void (*fn)(struct check_job *j, size_t i);
	check_format format;
	const colours *c;
	/* rendering: the items rendered so far, for printing in order while
	 * the rest render (each output is freed once printed) */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned char *rendered;
} check_job;

static void *check_worker(void *arg)
{
	check_job *j = arg;
	for (;;) {
		size_t i = atomic_fetch_add(&j->next, 1);
		if (i >= j->n)
			break;
		j->fn(j, i);
	}
	return NULL;
}

static size_t thread_count(size_t n)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t nthreads = cpus > 0 ? (size_t)cpus : 1;
	if (nthreads > 16)
		nthreads = 16;
	if (nthreads > n)
		nthreads = n ? n : 1;
	return nthreads;
}

/* Starts up to `want` threads on the job's items; returns how many started. */
static size_t start_workers(check_job *job, pthread_t *th, size_t want)
{
	atomic_init(&job->next, 0);
	size_t started = 0;
	for (size_t i = 0; i < want; i++)
		if (pthread_create(&th[started], NULL, check_worker, job) == 0)
			started++;
	return started;
}

static void run_parallel(check_job *job)
{
	size_t nthreads = thread_count(job->n);
	pthread_t *th = xcalloc(nthreads, sizeof(*th));
	/* this thread works too: nthreads - 1 more */
	size_t started = start_workers(job, th, nthreads - 1);
	check_worker(job);
	for (size_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	free(th);
}

static void parse_one(check_job *j, size_t i)
{
	{
		dagfile_opts o = *j->base;
		o.bundle_root = j->items[i].root;
		dagfile_parse(j->items[i].abs, &o, &j->items[i].res);
		/* check reports hashes, not the serialized DAGs: free them early */
		for (size_t d = 0; d < j->items[i].res.ndags; d++) {
			free(j->items[i].res.dags[d].json);
			j->items[i].res.dags[d].json = NULL;
			j->items[i].res.dags[d].json_len = 0;
		}
		/* show the path as the user gave it */
		free(j->items[i].res.path);
		j->items[i].res.path = xstrdup(j->items[i].shown);
	}
}

/* The folder that bounds the defaults.yml and .dagignore walk for a file given
 * on its own: a configured bundle that holds it, else the enclosing git work
 * tree, else the filesystem root. */
static char *root_for_file(const char *abs, const char *const *bundles, size_t nbundles)
{
	for (size_t i = 0; i < nbundles; i++) {
		char *b = realpath(bundles[i], NULL);
		if (!b)
			continue;
		size_t bl = strlen(b);
		if (strncmp(abs, b, bl) == 0 && abs[bl] == '/')
			return b;
		free(b);
	}
	char *dir = fs_dirname(abs);
	for (;;) {
		char *git = fs_path_join(dir, ".git");
		struct stat st;
		bool top = stat(git, &st) == 0;
		free(git);
		if (top || strcmp(dir, "/") == 0)
			return dir;
		char *up = fs_dirname(dir);
		free(dir);
		dir = up;
	}
}

static const char *rel_below(const char *abs, const char *root)
{
	size_t rl = strlen(root);
	if (strcmp(root, "/") == 0)
		return abs + 1;
	if (strncmp(abs, root, rl) == 0 && abs[rl] == '/')
		return abs + rl + 1;
	return abs;
}

/* E034: within one folder argument, a correct DAG whose id an earlier file (in
 * path order) already defined correctly loses it. */
static void apply_unique_ids(check_item *items, size_t n)
{
	strmap owner = {0}; /* "group\x1fdag_id" -> item index */
	for (size_t i = 0; i < n; i++) {
		dagfile_result *r = &items[i].res;
		for (size_t d = 0; d < r->ndags;) {
			const char *id = r->dags[d].dag_id;
			char *key = xasprintf("%d\x1f%s", items[i].group, id);
			size_t holder;
			if (!strmap_get(&owner, key, &holder)) {
				strmap_put(&owner, key, i);
				free(key);
				d++;
				continue;
			}
			free(key);
			dagfile_add_error(
			    r, "E034", r->dags[d].line, r->dags[d].col ? r->dags[d].col : 1, id,
			    "DAG id '%s' is already defined by %s", id, items[holder].shown);
			dagfile_sort_diags(r);
			/* the DAG is no longer correct: drop it from the result */
			dag_result gone = r->dags[d];
			memmove(&r->dags[d], &r->dags[d + 1],
			        (r->ndags - d - 1) * sizeof(dag_result));
			r->ndags--;
			r->dags[r->ndags] = gone; /* keep it allocated for freeing */
			r->error_dag_ids =
			    xrealloc(r->error_dag_ids, (r->nerror_dag_ids + 1) * sizeof(char *));
			r->error_dag_ids[r->nerror_dag_ids++] = xstrdup(id);
		}
	}
	strmap_free(&owner);
}

/* ------------------------------------------------------------------------ */
/* Text output                                                               */

/* Where each line of a text starts, found once per file: a file with many
 * diagnostics is not scanned again for each one. */
typedef struct line_index {
	size_t *start; /* start[k]: offset of line k + 1 */
	size_t n;
} line_index;

static void line_index_build(line_index *li, const char *text, size_t len)
{
	size_t cap = 64;
	li->start = xmalloc(cap * sizeof(size_t));
	li->n = 0;
	li->start[li->n++] = 0;
	for (const char *p = text; (p = memchr(p, '\n', len - (size_t)(p - text))) != NULL;) {
		p++;
		if (li->n == cap) {
			cap *= 2;
			li->start = xrealloc(li->start, cap * sizeof(size_t));
		}
		li->start[li->n++] = (size_t)(p - text);
	}
}

static void print_source_line(strbuf *out, const char *text, size_t len, const line_index *li,
                              uint32_t line, uint32_t col, const colours *c)
{
	if (line == 0 || line > li->n)
		return;
	size_t i = li->start[line - 1];
	if (i >= len)
		return;
	size_t end = i;
	while (end < len && text[end] != '\n' && text[end] != '\r')
		end++;
	sb_printf(out, "%s%5u |%s %.*s\n", c->blue, line, c->reset, (int)(end - i), text + i);
	sb_printf(out, "%s      |%s ", c->blue, c->reset);
	/* the caret sits under column col, counted in characters; tabs kept */
	uint32_t k = 1;
	for (size_t p = i; p < end && k < col; p++) {
		unsigned char ch = (unsigned char)text[p];
		if ((ch & 0xC0) == 0x80)
			continue;
		sb_addc(out, ch == '\t' ? '\t' : ' ');
		k++;
	}
	sb_printf(out, "%s^%s\n", c->bold, c->reset);
}

static char *render_text(const check_item *it, const colours *c)
{
	const dagfile_result *r = &it->res;
	if (!r->nerrors && !r->nwarnings)
		return NULL;
	strbuf out;
	sb_init(&out);
	char *text = NULL;
	size_t len = 0;
	/* the file as written: positions point into it, not into its text after $VAR
	 * expansion (which would also print the variables' values) */
	if (fs_read_file(it->abs, (size_t)64 << 20, &text, &len) != 0)
		text = NULL;
	line_index li = {0};
	if (text)
		line_index_build(&li, text, len);
	for (int pass = 0; pass < 2; pass++) {
		const diag *ds = pass ? r->warnings : r->errors;
		size_t nd = pass ? r->nwarnings : r->nerrors;
		for (size_t k = 0; k < nd; k++) {
			const diag *d = &ds[k];
			if (d->line)
				sb_printf(&out, "%s%s:%u:%u:%s ", c->bold, r->path, d->line, d->col,
				          c->reset);
			else
				sb_printf(&out, "%s%s:%s ", c->bold, r->path, c->reset);
			sb_printf(&out, "%s%s[%s]:%s %s", pass ? c->yellow : c->red,
			          pass ? "warning" : "error", d->code, c->reset, d->message);
			if (d->dag_id)
				sb_printf(&out, " [dag %s]", d->dag_id);
			sb_addc(&out, '\n');
			if (d->line && text)
				print_source_line(&out, text, len, &li, d->line, d->col, c);
		}
	}
	free(li.start);
	free(text);
	return sb_detach(&out);
}

/* ------------------------------------------------------------------------ */
/* JSON output (SPEC §1)                                                     */

/* A JSON string, or null for NULL. Bytes that are not UTF-8 (a file name can
 * hold any) become U+FFFD, so the document stays valid JSON. */
static void json_str(strbuf *b, const char *s)
{
	if (!s) {
		sb_adds(b, "null");
		return;
	}
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, k;
	while (u[i] && u[i] < 0x80) /* ASCII, and its length: most of every document */
		i++;
	size_t n = u[i] ? i + strlen(s + i) : i;
	while (i < n && (k = utf8_decode(u + i, n - i, NULL)) != 0) {
		i += k;
		while (i < n && u[i] < 0x80)
			i++;
	}
	if (i == n) {
		serialize_string(b, s, n);
		return;
	}
	strbuf clean;
	sb_init(&clean);
	for (i = 0; i < n;) {
		k = utf8_decode(u + i, n - i, NULL);
		if (k) {
			sb_add(&clean, s + i, k);
			i += k;
		} else {
			sb_add(&clean, "\xef\xbf\xbd", 3);
			i++;
		}
	}
	serialize_string(b, clean.data, clean.len);
	sb_free(&clean);
}

static void json_key(strbuf *b, const char *key, bool first)
{
	sb_adds(b, first ? "\"" : ",\"");
	sb_adds(b, key);
	sb_add(b, "\":", 2);
}

static void json_int_or_null(strbuf *b, unsigned v)
{
	if (v)
		sb_printf(b, "%u", v);
	else
		sb_adds(b, "null");
}

/* The text a file's fixes are found in (read again: the parse does not keep
 * it); NULL when no diagnostic of the file has a fix, or the file is gone. */
typedef struct fix_text {
	char *data;
	size_t len;
	dagfile_text_cursor cur; /* diagnostics come sorted: one walk */
} fix_text;

static void read_fix_text(const check_item *it, fix_text *ft)
{
	const dagfile_result *r = &it->res;
	bool fixes = false;
	for (size_t k = 0; k < r->nerrors && !fixes; k++)
		fixes = r->errors[k].fix_from != NULL;
	for (size_t k = 0; k < r->nwarnings && !fixes; k++)
		fixes = r->warnings[k].fix_from != NULL;
	if (fixes && fs_read_file(it->abs, (size_t)1 << 30, &ft->data, &ft->len) != 0)
		ft->data = NULL;
}

static void fix_json(strbuf *b, const diag *d, fix_text *ft)
{
	fix_edit e;
	if (!ft || !ft->data || !dagfile_fix_edit_next(&ft->cur, ft->data, ft->len, d, &e))
		return;
	json_key(b, "fix", false);
	sb_addc(b, '{');
	json_key(b, "description", true);
	char *what = xasprintf("replace '%s' with '%s'", d->fix_from, e.new_text);
	json_str(b, what);
	free(what);
	json_key(b, "edits", false);
	sb_adds(b, "[{");
	json_key(b, "line", true);
	json_int_or_null(b, e.line);
	json_key(b, "col", false);
	json_int_or_null(b, e.col);
	json_key(b, "end_line", false);
	json_int_or_null(b, e.end_line);
	json_key(b, "end_col", false);
	json_int_or_null(b, e.end_col);
	json_key(b, "new_text", false);
	json_str(b, e.new_text);
	sb_adds(b, "}]}");
}

static void diag_json(strbuf *b, const diag *d, bool warning, fix_text *ft)
{
	sb_addc(b, '{');
	json_key(b, "code", true);
	json_str(b, d->code);
	if (warning) {
		json_key(b, "dag_id", false);
		json_str(b, d->dag_id);
		json_key(b, "warning_type", false);
		json_str(b, d->warning_type ? d->warning_type : "");
	}
	json_key(b, "line", false);
	json_int_or_null(b, d->line);
	json_key(b, "column", false);
	json_int_or_null(b, d->col);
	if (!warning) {
		json_key(b, "dag_id", false);
		json_str(b, d->dag_id);
	}
	json_key(b, "message", false);
	json_str(b, d->message);
	fix_json(b, d, ft);
	sb_addc(b, '}');
}

/* One file's object of SPEC §1, written straight into text (keys in this
 * order; a tree of JSON values was a tenth of check's time). */
static char *render_json(const check_item *it)
{
	const dagfile_result *r = &it->res;
	fix_text ft = {0};
	read_fix_text(it, &ft);
	strbuf b;
	sb_init(&b);
	sb_addc(&b, '{');
	json_key(&b, "path", true);
	json_str(&b, r->path);
	json_key(&b, "dags", false);
	sb_addc(&b, '[');
	for (size_t d = 0; d < r->ndags; d++) {
		const dag_result *g = &r->dags[d];
		sb_adds(&b, d ? ",{" : "{");
		json_key(&b, "dag_id", true);
		json_str(&b, g->dag_id);
		json_key(&b, "schedule", false);
		json_str(&b, g->schedule);
		json_key(&b, "tags", false);
		sb_addc(&b, '[');
		for (size_t t = 0; t < g->ntags; t++) {
			if (t)
				sb_addc(&b, ',');
			json_str(&b, g->tags[t]);
		}
		sb_addc(&b, ']');
		char hex[33];
		dagfile_hash_hex(g->hash, hex);
		json_key(&b, "hash", false);
		json_str(&b, hex);
		json_key(&b, "tasks", false);
		sb_addc(&b, '[');
		for (size_t t = 0; t < g->ntasks; t++) {
			const dag_task *tk = &g->tasks[t];
			sb_adds(&b, t ? ",{" : "{");
			json_key(&b, "task_id", true);
			json_str(&b, tk->task_id);
			json_key(&b, "operator", false);
			json_str(&b, tk->operator);
			if (tk->decorator) {
				json_key(&b, "decorator", false);
				sb_adds(&b, "true");
			}
			json_key(&b, "upstream", false);
			sb_addc(&b, '[');
			for (size_t u = 0; u < tk->nupstream; u++) {
				if (u)
					sb_addc(&b, ',');
				json_str(&b, tk->upstream[u]);
			}
			sb_adds(&b, "]}");
		}
		sb_adds(&b, "]}");
	}
	sb_addc(&b, ']');
	json_key(&b, "errors", false);
	sb_addc(&b, '[');
	for (size_t k = 0; k < r->nerrors; k++) {
		if (k)
			sb_addc(&b, ',');
		diag_json(&b, &r->errors[k], false, &ft);
	}
	sb_addc(&b, ']');
	json_key(&b, "warnings", false);
	sb_addc(&b, '[');
	for (size_t k = 0; k < r->nwarnings; k++) {
		if (k)
			sb_addc(&b, ',');
		diag_json(&b, &r->warnings[k], true, &ft);
	}
	sb_adds(&b, "]}");
	free(ft.data);
	return sb_detach(&b);
}

/* ------------------------------------------------------------------------ */
/* SARIF 2.1.0 (GitHub code scanning) and GitHub workflow commands           */

/* A path as a URI reference: bytes other than RFC 3986's unreserved ones and
 * '/' percent-encoded; an absolute path becomes a file:// URI. */
static void uri_of_path(strbuf *b, const char *path)
{
	/* "./dags/x.yml" and "dags/x.yml" are one file to code scanning */
	while (path[0] == '.' && path[1] == '/')
		path += 2;
	if (path[0] == '/')
		sb_adds(b, "file://");
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~/", *p))
			sb_addc(b, (char)*p);
		else
			sb_printf(b, "%%%02X", *p);
	}
}

/* A result's fix (SARIF 2.1.0 §3.55): the same edit as check --format json's,
 * columns in code points as the run's columnKind says. */
static void sarif_fix(strbuf *b, const char *uri, const diag *d, fix_text *ft)
{
	fix_edit e;
	if (!ft || !ft->data || !dagfile_fix_edit_next(&ft->cur, ft->data, ft->len, d, &e))
		return;
	sb_adds(b, ",\"fixes\":[{\"description\":{\"text\":");
	char *what = xasprintf("replace '%s' with '%s'", d->fix_from, e.new_text);
	json_str(b, what);
	free(what);
	sb_adds(b, "},\"artifactChanges\":[{\"artifactLocation\":{\"uri\":");
	json_str(b, uri);
	sb_printf(b,
	          "},\"replacements\":[{\"deletedRegion\":{\"startLine\":%u,\"startColumn\":%u,"
	          "\"endLine\":%u,\"endColumn\":%u},\"insertedContent\":{\"text\":",
	          e.line, e.col, e.end_line, e.end_col);
	json_str(b, e.new_text);
	sb_adds(b, "}}]}]}]");
}

static void sarif_result(strbuf *b, const char *path, const diag *d, bool warning, fix_text *ft)
{
	const diag_code *dc = diag_code_find(d->code);
	sb_adds(b, "{\"ruleId\":");
	json_str(b, d->code);
	if (dc)
		sb_printf(b, ",\"ruleIndex\":%zu", (size_t)(dc - diag_codes));
	sb_printf(b, ",\"level\":\"%s\",\"message\":{\"text\":", warning ? "warning" : "error");
	if (d->dag_id) {
		char *m = xasprintf("%s [dag %s]", d->message, d->dag_id);
		json_str(b, m);
		free(m);
	} else {
		json_str(b, d->message);
	}
	sb_adds(b, "},\"locations\":[{\"physicalLocation\":{\"artifactLocation\":{\"uri\":");
	strbuf uri;
	sb_init(&uri);
	uri_of_path(&uri, path);
	json_str(b, uri.data);
	sb_addc(b, '}');
	/* GitHub wants a region: a file-level diagnostic (unreadable, too
	 * large) points at the first line */
	sb_printf(b, ",\"region\":{\"startLine\":%u", d->line ? d->line : 1);
	if (d->line && d->col)
		sb_printf(b, ",\"startColumn\":%u", d->col);
	sb_addc(b, '}');
	sb_adds(b, "}}]");
	sarif_fix(b, uri.data, d, ft);
	sb_free(&uri);
	sb_addc(b, '}');
}

/* One file's diagnostics, errors then warnings, each written by one():
 * NULL when the file has none. */
typedef void (*diag_writer)(strbuf *b, const char *path, const diag *d, bool warning, fix_text *ft);

static char *render_diags(const check_item *it, diag_writer one)
{
	const dagfile_result *r = &it->res;
	if (!r->nerrors && !r->nwarnings)
		return NULL;
	fix_text ft = {0};
	read_fix_text(it, &ft);
	strbuf b;
	sb_init(&b);
	for (int pass = 0; pass < 2; pass++) {
		const diag *ds = pass ? r->warnings : r->errors;
		size_t nd = pass ? r->nwarnings : r->nerrors;
		for (size_t k = 0; k < nd; k++)
			one(&b, r->path, &ds[k], pass == 1, &ft);
	}
	free(ft.data);
	return sb_detach(&b);
}

/* SARIF results, comma-separated */
static void sarif_one(strbuf *b, const char *path, const diag *d, bool warning, fix_text *ft)
{
	if (b->len)
		sb_adds(b, ",\n        ");
	sarif_result(b, path, d, warning, ft);
}

static void sarif_header(FILE *out)
{
	strbuf b;
	sb_init(&b);
	sb_adds(&b, "{\n  \"$schema\": \"https://json.schemastore.org/sarif-2.1.0.json\",\n"
	            "  \"version\": \"2.1.0\",\n  \"runs\": [{\n    \"tool\": {\"driver\": {"
	            "\"name\": \"dagproc\", \"version\": \"" DAGPROC_VERSION "\",\n"
	            "      \"rules\": [");
	for (size_t i = 0; i < diag_ncodes; i++) {
		const diag_code *dc = &diag_codes[i];
		sb_adds(&b, i ? ",\n        {\"id\":" : "\n        {\"id\":");
		json_str(&b, dc->code);
		sb_adds(&b, ",\"name\":");
		json_str(&b, dc->name);
		sb_adds(&b, ",\"shortDescription\":{\"text\":");
		json_str(&b, dc->summary);
		sb_adds(&b, "},\"help\":{\"text\":");
		json_str(&b, dc->help);
		sb_printf(&b, "},\"defaultConfiguration\":{\"level\":\"%s\"}}",
		          dc->code[0] == 'W' ? "warning" : "error");
	}
	sb_adds(&b, "]}},\n    \"columnKind\": \"unicodeCodePoints\",\n    \"results\": [");
	fwrite(b.data, 1, b.len, out);
	sb_free(&b);
}

/* A workflow command's value: %, CR and LF escaped; in a property also ':'
 * and ',' (what the Actions runner unescapes). */
static void gh_escape(strbuf *b, const char *s, bool property)
{
	for (; *s; s++) {
		if (*s == '%')
			sb_adds(b, "%25");
		else if (*s == '\r')
			sb_adds(b, "%0D");
		else if (*s == '\n')
			sb_adds(b, "%0A");
		else if (property && *s == ':')
			sb_adds(b, "%3A");
		else if (property && *s == ',')
			sb_adds(b, "%2C");
		else
			sb_addc(b, *s);
	}
}

static void github_one(strbuf *b, const char *path, const diag *d, bool warning, fix_text *ft)
{
	(void)ft; /* annotations carry no fix */
	sb_printf(b, "::%s file=", warning ? "warning" : "error");
	gh_escape(b, path, true);
	if (d->line)
		sb_printf(b, ",line=%u", d->line);
	if (d->line && d->col)
		sb_printf(b, ",col=%u", d->col);
	sb_printf(b, ",title=%s::", d->code);
	gh_escape(b, d->message, false);
	if (d->dag_id) {
		sb_adds(b, " [dag ");
		gh_escape(b, d->dag_id, false);
		sb_addc(b, ']');
	}
	sb_addc(b, '\n');
}

static void render_one(check_job *j, size_t i)
{
	check_item *it = &j->items[i];
	char *out;
	switch (j->format) {
	case FMT_JSON:
		out = render_json(it);
		break;
	case FMT_SARIF:
		out = render_diags(it, sarif_one);
		break;
	case FMT_GITHUB:
		out = render_diags(it, github_one);
		break;
	default:
		out = render_text(it, j->c);
	}
	pthread_mutex_lock(&j->mu);
	it->out = out;
	j->rendered[i] = 1;
	pthread_cond_broadcast(&j->cv);
	pthread_mutex_unlock(&j->mu);
}

/* The item's output once a renderer has written it. */
static char *wait_rendered(check_job *j, size_t i)
{
	pthread_mutex_lock(&j->mu);
	while (!j->rendered[i])
		pthread_cond_wait(&j->cv, &j->mu);
	char *out = j->items[i].out;
	j->items[i].out = NULL;
	pthread_mutex_unlock(&j->mu);
	return out;
}

/* Writes the items in order as they are rendered, then the summary:
 * {"files": [...], "summary": {...}} or the text summary line. Output is one
 * file at a time, each freed once written, so a large bundle's output is never
 * held in memory as a whole. */
static void print_all(FILE *out, check_job *job)
{
	check_item *items = job->items;
	size_t n = job->n;
	check_format format = job->format;
	size_t ndags = 0, ntasks = 0, nerr = 0, nwarn = 0;
	bool json = format == FMT_JSON, any = false;
	if (json)
		fputs("{\n  \"files\": [", out);
	if (format == FMT_SARIF)
		sarif_header(out);
	for (size_t i = 0; i < n; i++) {
		const dagfile_result *r = &items[i].res;
		ndags += r->ndags;
		for (size_t d = 0; d < r->ndags; d++)
			ntasks += r->dags[d].ntasks;
		nerr += r->nerrors;
		nwarn += r->nwarnings;
		if (json)
			fputs(i ? ",\n    " : "\n    ", out);
		char *text = wait_rendered(job, i);
		if (text) {
			if (format == FMT_SARIF)
				fputs(any ? ",\n        " : "\n        ", out);
			fputs(text, out);
			any = true;
			free(text);
		}
	}
	if (format == FMT_SARIF) {
		fprintf(out, "%s]\n  }]\n}\n", any ? "\n    " : "");
		return;
	}
	if (json) {
		fprintf(out,
		        "%s],\n  \"summary\": {\"files\": %zu, \"dags\": %zu, \"tasks\": %zu, "
		        "\"errors\": %zu, \"warnings\": %zu}\n}\n",
		        n ? "\n  " : "", n, ndags, ntasks, nerr, nwarn);
		return;
	}
	fprintf(out, "%zu file%s, %zu DAG%s, %zu task%s: %zu error%s, %zu warning%s\n", n,
	        n == 1 ? "" : "s", ndags, ndags == 1 ? "" : "s", ntasks, ntasks == 1 ? "" : "s",
	        nerr, nerr == 1 ? "" : "s", nwarn, nwarn == 1 ? "" : "s");
}

/* ------------------------------------------------------------------------ */

void cli_check_usage(FILE *f)
{
	fputs("usage: dagproc check [--format text|json|sarif|github] [--config FILE] PATH...\n"
	      "\n"
	      "Parses and validates dag-factory YAML DAG files without any database.\n"
	      "Folders are walked recursively, honouring .dagignore files; a file that is\n"
	      "not a DAG file (defaults.yml, an ignored file) is skipped.\n"
	      "\n"
	      "  --format FORMAT  text: compiler-style diagnostics (the default);\n"
	      "                   json: one object per file (SPEC §1);\n"
	      "                   sarif: SARIF 2.1.0, for GitHub code scanning;\n"
	      "                   github: GitHub Actions workflow commands (annotations)\n"
	      "  --config FILE    configuration file (operator catalogs, pools)\n"
	      "\n"
	      "Exit status: 0 no import errors, 1 import errors found, 2 usage or I/O error.\n",
	      f);
}

static void add_item(check_item **items, size_t *n, size_t *cap, char *shown, char *abs,
                     const char *root, int group)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*items = xrealloc(*items, *cap * sizeof(**items));
	}
	check_item *it = &(*items)[(*n)++];
	memset(it, 0, sizeof(*it));
	it->shown = shown;
	it->abs = abs;
	it->root = xstrdup(root);
	it->group = group;
}

/* The catalog and parse options of check and fix; 0, or 2 with a message. */
int check_setup(const struct dagproc_config *cfg, const char *cmd, catalog **catp,
                dagfile_opts *opts)
{
	char *err = NULL;
	dagenv_configure((const char *const *)cfg->core.dag_env_deny.v, cfg->core.dag_env_deny.n,
	                 (const char *const *)cfg->core.dag_env_allow.v, cfg->core.dag_env_allow.n);
	catalog *cat = catalog_load((const char *const *)cfg->core.operator_catalog.v,
	                            cfg->core.operator_catalog.n, &err);
	if (!cat) {
		fprintf(stderr, "dagproc %s: %s\n", cmd,
		        err ? err : "cannot load the operator catalog");
		free(err);
		return 2;
	}
	catalog_set_unchecked(cat, (const char *const *)cfg->core.unchecked_operator_modules.v,
	                      cfg->core.unchecked_operator_modules.n);
	catalog_set_strict(cat, cfg->core.strict_catalog);
	*opts = (dagfile_opts){.cat = cat,
	                       .pools = (const char *const *)cfg->core.pools.v,
	                       .npools = cfg->core.pools.n,
	                       .max_file_size = (size_t)cfg->dag_processor.max_file_size << 20};
	*catp = cat;
	return 0;
}

/* The DAG files named by argv[first..argc-1] (files, or folders walked with
 * their .dagignore); 0, or 2 when one could not be read (said on stderr). */
int check_collect(int argc, char **argv, int first, const struct dagproc_config *cfg,
                  const char *cmd, check_item **itemsp, size_t *np)
{
	int rc = 0;
	const char *bundles[1] = {cfg->core.dags_folder};
	check_item *items = NULL;
	size_t n = 0, cap = 0;
	for (int a = first; a < argc; a++) {
		const char *arg = argv[a];
		struct stat st;
		if (stat(arg, &st) != 0) {
			fprintf(stderr, "dagproc %s: %s: %s\n", cmd, arg, strerror(errno));
			rc = 2;
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			walk_list wl = {0};
			if (walk_bundle(arg, &wl) != 0) {
				fprintf(stderr, "dagproc %s: %s: %s\n", cmd, arg, strerror(errno));
				rc = 2;
				continue;
			}
			for (size_t i = 0; i < wl.n; i++) {
				char *shown = fs_path_join(arg, wl.files[i].rel);
				add_item(&items, &n, &cap, shown, xstrdup(wl.files[i].abs), arg, a);
			}
			walk_list_free(&wl);
			continue;
		}
		char *abs = realpath(arg, NULL);
		if (!abs) {
			fprintf(stderr, "dagproc %s: %s: %s\n", cmd, arg, strerror(errno));
			rc = 2;
			continue;
		}
		char *root = root_for_file(abs, bundles, cfg->core.dags_folder ? 1 : 0);
		if (!walk_file_is_dag(root, rel_below(abs, root))) {
			free(root);
			free(abs);
			continue;
		}
		add_item(&items, &n, &cap, xstrdup(arg), abs, root, a);
		free(root);
	}
	*itemsp = items;
	*np = n;
	return rc;
}

int cli_check(int argc, char **argv, const struct dagproc_config *cfg)
{
	static const struct option longopts[] = {{"format", required_argument, NULL, 'f'},
	                                         {"config", required_argument, NULL, 'c'},
	                                         {"help", no_argument, NULL, 'h'},
	                                         {NULL, 0, NULL, 0}};
	check_format format = FMT_TEXT;
	int rc = 0;
	optind = 1;
	for (;;) {
		int c = getopt_long(argc, argv, "f:c:h", longopts, NULL);
		if (c == -1)
			break;
		switch (c) {
		case 'f':
			if (strcmp(optarg, "json") == 0)
				format = FMT_JSON;
			else if (strcmp(optarg, "text") == 0)
				format = FMT_TEXT;
			else if (strcmp(optarg, "sarif") == 0)
				format = FMT_SARIF;
			else if (strcmp(optarg, "github") == 0)
				format = FMT_GITHUB;
			else {
				fprintf(
				    stderr,
				    "dagproc check: --format must be 'text', 'json', 'sarif' or "
				    "'github', not '%s'\n",
				    optarg);
				return 2;
			}
			break;
		case 'c':
			break; /* read by main before the command runs */
		case 'h':
			cli_check_usage(stdout);
			return 0;
		default:
			cli_check_usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "dagproc check: no PATH given (try 'dagproc help check')\n");
		return 2;
	}

	catalog *cat = NULL;
	dagfile_opts opts;
	if (check_setup(cfg, "check", &cat, &opts) != 0)
		return 2;
	check_item *items = NULL;
	size_t n = 0;
	rc = check_collect(argc, argv, optind, cfg, "check", &items, &n);

	bool tty = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
	colours c = tty ? (colours){"\033[1m", "\033[1;31m", "\033[1;33m", "\033[1;34m", "\033[0m"}
	                : (colours){"", "", "", "", ""};
	check_job job = {
	    .items = items, .n = n, .base = &opts, .fn = parse_one, .format = format, .c = &c};
	run_parallel(&job);
	apply_unique_ids(items, n);
	/* render on every core while this thread prints in order */
	job.fn = render_one;
	job.rendered = xcalloc(n ? n : 1, 1);
	pthread_mutex_init(&job.mu, NULL);
	pthread_cond_init(&job.cv, NULL);
	size_t nthreads = thread_count(n);
	pthread_t *th = xcalloc(nthreads, sizeof(*th));
	size_t started = start_workers(&job, th, nthreads);
	if (!started)
		check_worker(&job); /* no thread: render here, then print */
	print_all(stdout, &job);
	for (size_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	free(th);
	free(job.rendered);
	pthread_mutex_destroy(&job.mu);
	pthread_cond_destroy(&job.cv);
	if (fflush(stdout) != 0 && rc == 0)
		rc = 2;

	bool any_error = false;
	for (size_t i = 0; i < n; i++) {
		if (items[i].res.nerrors)
			any_error = true;
		/* dags dropped by E034 sit past ndags: free them too */
		dagfile_result *r = &items[i].res;
		size_t extra = 0;
		for (size_t k = 0; k < r->nerrors; k++)
			if (strcmp(r->errors[k].code, "E034") == 0)
				extra++;
		r->ndags += extra;
		dagfile_result_free(r);
		free(items[i].shown);
		free(items[i].out);
		free(items[i].abs);
		free(items[i].root);
	}
	free(items);
	catalog_free(cat);
	if (rc == 0 && any_error)
		rc = 1;
	return rc;
}
