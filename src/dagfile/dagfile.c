/* One DAG file in, one parse result out: reading with limits, the defaults.yml
 * chain, YAML loading, the schema, hashing, and ordering the diagnostics. */
#include "dagfile/dagfile.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "dagfile/schema.h"
#include "dagfile/yaml.h"
#include "util/fsutil.h"
#include "util/xalloc.h"

#define DEFAULTS_MAX 32

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void add_diag(diag **arr, size_t *n, const char *code, uint32_t line, uint32_t col,
                     const char *dag_id, const char *wtype, char *msg)
{
	*arr = xrealloc(*arr, (*n + 1) * sizeof(**arr));
	diag *d = &(*arr)[(*n)++];
	memset(d, 0, sizeof(*d));
	snprintf(d->code, sizeof(d->code), "%s", code);
	d->line = line;
	d->col = col;
	d->dag_id = dag_id ? xstrdup(dag_id) : NULL;
	d->warning_type = wtype;
	d->message = msg;
}

void dagfile_add_error(dagfile_result *r, const char *code, uint32_t line, uint32_t col,
                       const char *dag_id, const char *fmt, ...)
{
	strbuf b;
	sb_init(&b);
	va_list ap;
	va_start(ap, fmt);
	sb_vprintf(&b, fmt, ap);
	va_end(ap);
	add_diag(&r->errors, &r->nerrors, code, line, col, dag_id, NULL, sb_detach(&b));
}

static char *yaml_error_text(const ydoc *doc)
{
	if (doc->context && doc->context[0])
		return xasprintf("%s (%s at line %u, column %u)", doc->error ? doc->error : "error",
		                 doc->context, doc->context_line, doc->context_col);
	return xstrdup(doc->error ? doc->error : "invalid YAML");
}

static void mark_origin(ynode *n, uint16_t origin, int depth)
{
	if (!n || depth > 256 || n->origin == origin)
		return;
	n->origin = origin;
	if (n->kind == YN_SEQ)
		for (size_t i = 0; i < n->n; i++)
			mark_origin(n->items[i], origin, depth + 1);
	else if (n->kind == YN_MAP)
		for (size_t i = 0; i < n->n; i++) {
			mark_origin(n->pairs[i].key, origin, depth + 1);
			mark_origin(n->pairs[i].val, origin, depth + 1);
		}
}

/* The folder that ends the defaults.yml / .dagignore walk when no bundle root is
 * given: the top of the enclosing git work tree, else the filesystem root. */
static bool is_walk_top(const char *dir, const char *root)
{
	if (root)
		return strcmp(dir, root) == 0;
	if (strcmp(dir, "/") == 0 || strcmp(dir, ".") == 0)
		return true;
	char *git = fs_path_join(dir, ".git");
	struct stat st;
	bool top = stat(git, &st) == 0;
	free(git);
	return top;
}

typedef struct defaults_chain {
	ydoc docs[DEFAULTS_MAX];
	schema_defaults defs[DEFAULTS_MAX];
	char *paths[DEFAULTS_MAX];
	size_t n;
} defaults_chain;

static void chain_free(defaults_chain *c)
{
	for (size_t i = 0; i < c->n; i++) {
		yaml_doc_free(&c->docs[i]);
		free(c->paths[i]);
	}
	c->n = 0;
}

/* Loads defaults.yml (or .yaml) from the file's folder up to the root, nearest
 * first. Problems are E050 errors of the file. */
static void chain_load(defaults_chain *c, const char *path, const dagfile_opts *opts,
                       dagfile_result *res)
{
	char *root = NULL;
	if (opts->bundle_root) {
		root = realpath(opts->bundle_root, NULL);
		if (!root)
			root = xstrdup(opts->bundle_root);
	}
	char *abs = realpath(path, NULL);
	char *dir = fs_dirname(abs ? abs : path);
	free(abs);
	size_t max = opts->max_file_size ? opts->max_file_size : (size_t)10 << 20;
	for (int guard = 0; guard < 256 && c->n < DEFAULTS_MAX; guard++) {
		static const char *const names[] = {"defaults.yml", "defaults.yaml"};
		for (size_t k = 0; k < 2; k++) {
			char *p = fs_path_join(dir, names[k]);
			char *text = NULL;
			size_t len = 0;
			if (fs_read_file(p, max, &text, &len) != 0) {
				if (errno != ENOENT && errno != ENOTDIR)
					dagfile_add_error(
					    res, "E050", 0, 0, NULL, "invalid defaults file %s: %s",
					    p, errno == EFBIG ? "file too large" : strerror(errno));
				free(p);
				continue;
			}
			ydoc *doc = &c->docs[c->n];
			if (yaml_load(doc, text, len) != 0) {
				char *m = yaml_error_text(doc);
				dagfile_add_error(res, "E050", 0, 0, NULL,
				                  "invalid defaults file %s:%u:%u: %s", p,
				                  doc->error_line, doc->error_col, m);
				free(m);
				yaml_doc_free(doc);
				free(p);
			} else if (doc->root && doc->root->kind != YN_MAP &&
			           doc->root->kind != YN_NULL) {
				dagfile_add_error(
				    res, "E050", 0, 0, NULL,
				    "invalid defaults file %s: the top level must be a "
				    "mapping, not a %s",
				    p, ynode_kind_name(doc->root->kind));
				yaml_doc_free(doc);
				free(p);
			} else if (!doc->root || doc->root->kind == YN_NULL) {
				yaml_doc_free(doc);
				free(p);
			} else {
				mark_origin(doc->root, (uint16_t)(c->n + 1), 0);
				c->paths[c->n] = p;
				c->defs[c->n].path = p;
				c->defs[c->n].root = doc->root;
				c->n++;
			}
			free(text);
			break; /* defaults.yml wins over defaults.yaml in one folder */
		}
		if (is_walk_top(dir, root))
			break;
		char *up = fs_dirname(dir);
		bool same = strcmp(up, dir) == 0;
		free(dir);
		dir = up;
		if (same)
			break;
	}
	free(dir);
	free(root);
}

static int cmp_diag(const void *a, const void *b)
{
	const diag *x = a, *y = b;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return strcmp(x->code, y->code);
}

static void free_diag(diag *d)
{
	free(d->dag_id);
	free(d->message);
}

/* Sorts by position and drops repeats of one node's diagnostic (a `default`
 * block node belongs to every DAG and is reported once). */
static void tidy(diag *arr, size_t *n)
{
	if (*n < 2)
		return;
	qsort(arr, *n, sizeof(*arr), cmp_diag);
	size_t w = 1;
	for (size_t i = 1; i < *n; i++) {
		diag *p = &arr[w - 1];
		if (arr[i].line == p->line && arr[i].col == p->col &&
		    strcmp(arr[i].code, p->code) == 0 && strcmp(arr[i].message, p->message) == 0 &&
		    arr[i].line != 0 && ((arr[i].dag_id == NULL) == (p->dag_id == NULL)) &&
		    arr[i].code[0] == 'E') {
			free_diag(&arr[i]);
			continue;
		}
		arr[w++] = arr[i];
	}
	*n = w;
}

void dagfile_parse_text(const char *path, const char *text, size_t len, const dagfile_opts *opts,
                        dagfile_result *out)
{
	double t0 = now_seconds();
	memset(out, 0, sizeof(*out));
	out->path = xstrdup(path);
	ydoc doc;
	defaults_chain chain;
	chain.n = 0;
	if (yaml_load(&doc, text, len) != 0) {
		char *m = yaml_error_text(&doc);
		add_diag(&out->errors, &out->nerrors, doc.error_code ? doc.error_code : "E001",
		         doc.error_line, doc.error_col, NULL, NULL, m);
		goto out;
	}
	chain_load(&chain, path, opts, out);
	if (out->nerrors) {
		/* a broken defaults.yml: its DAGs cannot be built as meant */
		goto out;
	}
	schema_process(&doc, path, chain.defs, chain.n, opts, out);
	for (size_t i = 0; i < out->ndags; i++) {
		XXH128_hash_t h = XXH3_128bits(out->dags[i].json, out->dags[i].json_len);
		XXH128_canonical_t c;
		XXH128_canonicalFromHash(&c, h);
		memcpy(out->dags[i].hash, c.digest, 16);
	}
	tidy(out->errors, &out->nerrors);
	tidy(out->warnings, &out->nwarnings);
out:
	chain_free(&chain);
	yaml_doc_free(&doc);
	out->parse_seconds = now_seconds() - t0;
}

void dagfile_parse(const char *path, const dagfile_opts *opts, dagfile_result *out)
{
	size_t max = opts->max_file_size ? opts->max_file_size : (size_t)10 << 20;
	char *text = NULL;
	size_t len = 0;
	if (fs_read_file(path, max, &text, &len) != 0) {
		int e = errno;
		memset(out, 0, sizeof(*out));
		out->path = xstrdup(path);
		if (e == EFBIG)
			dagfile_add_error(out, "E003", 0, 0, NULL,
			                  "file is larger than max_file_size (%zu MiB)", max >> 20);
		else
			dagfile_add_error(out, "E003", 0, 0, NULL, "cannot read file: %s",
			                  strerror(e));
		return;
	}
	dagfile_parse_text(path, text, len, opts, out);
	free(text);
}

static void free_dag(dag_result *g)
{
	free(g->dag_id);
	free(g->schedule);
	free(g->json);
	free(g->description);
	free(g->owners);
	for (size_t i = 0; i < g->ntasks; i++) {
		free(g->tasks[i].task_id);
		free(g->tasks[i].operator);
		for (size_t k = 0; k < g->tasks[i].nupstream; k++)
			free(g->tasks[i].upstream[k]);
		free(g->tasks[i].upstream);
	}
	free(g->tasks);
	for (size_t i = 0; i < g->ntags; i++)
		free(g->tags[i]);
	free(g->tags);
}

void dagfile_result_free(dagfile_result *r)
{
	if (!r)
		return;
	free(r->path);
	for (size_t i = 0; i < r->ndags; i++)
		free_dag(&r->dags[i]);
	free(r->dags);
	for (size_t i = 0; i < r->nerrors; i++)
		free_diag(&r->errors[i]);
	free(r->errors);
	for (size_t i = 0; i < r->nwarnings; i++)
		free_diag(&r->warnings[i]);
	free(r->warnings);
	for (size_t i = 0; i < r->nerror_dag_ids; i++)
		free(r->error_dag_ids[i]);
	free(r->error_dag_ids);
	memset(r, 0, sizeof(*r));
}

void dagfile_hash_hex(const uint8_t hash[16], char out[33])
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < 16; i++) {
		out[2 * i] = hex[hash[i] >> 4];
		out[2 * i + 1] = hex[hash[i] & 15];
	}
	out[32] = '\0';
}
