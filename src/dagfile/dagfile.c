/* One DAG file in, one parse result out: reading with limits, the defaults.yml
 * chain, YAML loading, the schema, hashing, and ordering the diagnostics. */
#include "dagfile/dagfile.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "dagfile/dagenv.h"
#include "dagfile/schema.h"
#include "dagfile/yaml.h"
#include "util/fsutil.h"
#include "util/xalloc.h"
#include "util/clock.h"

#define DEFAULTS_MAX 32

void dagfile_push_diag(diag **arr, size_t *n, const char *code, uint32_t line, uint32_t col,
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
	dagfile_push_diag(&r->errors, &r->nerrors, code, line, col, dag_id, NULL, sb_detach(&b));
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
	/* the files found, before parsing: nearest first */
	char *found_paths[DEFAULTS_MAX];
	char *found_texts[DEFAULTS_MAX];
	size_t found_lens[DEFAULTS_MAX];
	size_t nfound;
} defaults_chain;

static void chain_free(defaults_chain *c)
{
	for (size_t i = 0; i < c->n; i++) {
		yaml_doc_free(&c->docs[i]);
		free(c->paths[i]);
	}
	c->n = 0;
	for (size_t i = 0; i < c->nfound; i++) {
		free(c->found_paths[i]);
		free(c->found_texts[i]);
	}
	c->nfound = 0;
}

/* defaults.yml files are shared by every file of their folder and below: each
 * thread keeps the last ones it read, and reuses a text while the file's
 * (device, inode, size, mtime) are unchanged: one stat instead of an open, a
 * read and a close per defaults file per DAG file. */
#define DEFAULTS_CACHE 32

typedef struct dcache_entry {
	char *path;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	char *text;
	size_t len;
} dcache_entry;

typedef struct dcache {
	dcache_entry e[DEFAULTS_CACHE];
	size_t next;
} dcache;

static pthread_key_t dcache_key;
static pthread_once_t dcache_once = PTHREAD_ONCE_INIT;

static void dcache_destroy(void *p)
{
	dcache *c = p;
	for (size_t i = 0; i < DEFAULTS_CACHE; i++) {
		free(c->e[i].path);
		free(c->e[i].text);
	}
	free(c);
}

static void dcache_init(void)
{
	pthread_key_create(&dcache_key, dcache_destroy);
}

/* Like fs_read_file, through the thread's cache: 0, or -1 with errno. */
static int read_defaults(const char *path, size_t max, char **text, size_t *len)
{
	pthread_once(&dcache_once, dcache_init);
	dcache *c = pthread_getspecific(dcache_key);
	if (!c) {
		c = xcalloc(1, sizeof(*c));
		pthread_setspecific(dcache_key, c);
	}
	struct stat st;
	if (stat(path, &st) != 0)
		return -1;
	for (size_t i = 0; i < DEFAULTS_CACHE; i++) {
		dcache_entry *e = &c->e[i];
		if (e->path && strcmp(e->path, path) == 0 && e->dev == st.st_dev &&
		    e->ino == st.st_ino && e->size == st.st_size &&
		    e->mtime.tv_sec == st.st_mtim.tv_sec &&
		    e->mtime.tv_nsec == st.st_mtim.tv_nsec && e->len <= max) {
			*text = xstrndup(e->text, e->len);
			*len = e->len;
			return 0;
		}
	}
	if (fs_read_file(path, max, text, len) != 0)
		return -1;
	dcache_entry *e = &c->e[c->next++ % DEFAULTS_CACHE];
	free(e->path);
	free(e->text);
	e->path = xstrdup(path);
	e->dev = st.st_dev;
	e->ino = st.st_ino;
	e->size = st.st_size;
	e->mtime = st.st_mtim;
	e->text = xstrndup(*text, *len);
	e->len = *len;
	return 0;
}

/* Reads defaults.yml (or .yaml) from the file's folder up to the root, nearest
 * first. Unreadable ones are E050 errors of the file. */
static void chain_read(defaults_chain *c, const char *path, const dagfile_opts *opts,
                       dagfile_result *res)
{
	char *root = NULL;
	char *dir = NULL;
	if (opts->bundle_root) {
		/* the usual case, the file given as root/rel: walk up textually,
		 * without resolving every component (realpath is a syscall each) */
		size_t rl = strlen(opts->bundle_root);
		while (rl > 1 && opts->bundle_root[rl - 1] == '/')
			rl--;
		if (strncmp(path, opts->bundle_root, rl) == 0 && path[rl] == '/' &&
		    !strstr(path + rl, "/../")) {
			root = xstrndup(opts->bundle_root, rl);
			dir = fs_dirname(path);
		} else {
			root = realpath(opts->bundle_root, NULL);
			if (!root)
				root = xstrdup(opts->bundle_root);
		}
	}
	if (!dir) {
		char *abs = realpath(path, NULL);
		dir = fs_dirname(abs ? abs : path);
		free(abs);
	}
	size_t max = opts->max_file_size ? opts->max_file_size : (size_t)10 << 20;
	for (int guard = 0; guard < 256 && c->nfound < DEFAULTS_MAX; guard++) {
		static const char *const names[] = {"defaults.yml", "defaults.yaml"};
		for (size_t k = 0; k < 2; k++) {
			char *p = fs_path_join(dir, names[k]);
			char *text = NULL;
			size_t len = 0;
			if (read_defaults(p, max, &text, &len) != 0) {
				if (errno != ENOENT && errno != ENOTDIR)
					dagfile_add_error(
					    res, "E050", 0, 0, NULL, "invalid defaults file %s: %s",
					    p, errno == EFBIG ? "file too large" : strerror(errno));
				free(p);
				continue;
			}
			c->found_paths[c->nfound] = p;
			c->found_texts[c->nfound] = text;
			c->found_lens[c->nfound] = len;
			c->nfound++;
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

/* dag-factory merges default_args key by key and unions tags across the
 * chain: anything else there stops it (AttributeError, TypeError). */
static bool defaults_shape_ok(const ynode *root, const char *path, dagfile_result *res)
{
	const ynode *da = ynode_get(root, "default_args");
	if (da && da->kind != YN_MAP) {
		dagfile_add_error(
		    res, "E050", 0, 0, NULL,
		    "invalid defaults file %s:%u:%u: 'default_args' must be a mapping, "
		    "not a %s",
		    path, da->line, da->col, ynode_kind_name(da->kind));
		return false;
	}
	const ynode *tags = ynode_get(root, "tags");
	if (tags && tags->kind != YN_SEQ) {
		dagfile_add_error(res, "E050", 0, 0, NULL,
		                  "invalid defaults file %s:%u:%u: 'tags' must be a list, not a %s",
		                  path, tags->line, tags->col, ynode_kind_name(tags->kind));
		return false;
	}
	return true;
}

/* Parses the defaults files read by chain_read. */
static void chain_parse(defaults_chain *c, dagfile_result *res)
{
	for (size_t i = 0; i < c->nfound; i++) {
		const char *p = c->found_paths[i];
		ydoc *doc = &c->docs[c->n];
		if (yaml_load(doc, c->found_texts[i], c->found_lens[i]) != 0) {
			char *m = yaml_error_text(doc);
			dagfile_add_error(res, "E050", 0, 0, NULL,
			                  "invalid defaults file %s:%u:%u: %s", p, doc->error_line,
			                  doc->error_col, m);
			free(m);
			yaml_doc_free(doc);
		} else if (doc->root && doc->root->kind != YN_MAP && doc->root->kind != YN_NULL) {
			dagfile_add_error(res, "E050", 0, 0, NULL,
			                  "invalid defaults file %s: the top level must be a "
			                  "mapping, not a %s",
			                  p, ynode_kind_name(doc->root->kind));
			yaml_doc_free(doc);
		} else if (!doc->root || doc->root->kind == YN_NULL) {
			yaml_doc_free(doc);
		} else if (!defaults_shape_ok(doc->root, p, res)) {
			yaml_doc_free(doc);
		} else {
			mark_origin(doc->root, (uint16_t)(c->n + 1), 0);
			c->paths[c->n] = xstrdup(p);
			c->defs[c->n].path = c->paths[c->n];
			c->defs[c->n].root = doc->root;
			c->n++;
		}
	}
}

/* One input of the fingerprint: the XXH3-64 of its bytes as stored, and when
 * it has a '$' also of its text with $VAR expanded (the environment is an
 * input too). Files without '$' need only their raw hash, which the scanner
 * already has: the processor computes the fingerprint of such a file without
 * reading it again (dagfile_fingerprint). */
static void hash_input(dagfile_fp_input *in, const char *text, size_t len)
{
	in->raw_hash = XXH3_64bits(text, len);
	in->dollar = memchr(text, '$', len) != NULL;
	in->expanded_hash = 0;
	if (in->dollar) {
		size_t n;
		char *e = yaml_expand_env(text, len, &n);
		/* what $VAR may read, and which denied variables are set, change the
		 * result (W005) without changing the expanded text */
		in->expanded_hash = XXH3_64bits_withSeed(e, n, dagenv_hash());
		free(e);
	}
}

uint64_t dagfile_fingerprint(uint64_t options_hash, const char *path, const dagfile_fp_input *file,
                             const dagfile_fp_input *defaults, size_t ndefaults)
{
	XXH3_state_t *h = XXH3_createState();
	XXH3_64bits_reset(h);
	XXH3_64bits_update(h, &options_hash, sizeof(options_hash));
	XXH3_64bits_update(h, path, strlen(path) + 1);
	for (size_t i = 0; i <= ndefaults; i++) {
		const dagfile_fp_input *in = i == 0 ? file : &defaults[i - 1];
		uint64_t v[2] = {in->raw_hash, in->dollar ? in->expanded_hash : 0};
		XXH3_64bits_update(h, v, sizeof(v));
	}
	uint64_t n = ndefaults;
	XXH3_64bits_update(h, &n, sizeof(n));
	uint64_t r = XXH3_64bits_digest(h);
	XXH3_freeState(h);
	return r ? r : 1; /* 0 means "none" */
}

/* ---- W005: a $VAR DAG files may not read ---- */

static bool has_dag(const dagfile_result *r, const char *id)
{
	for (size_t i = 0; i < r->ndags; i++)
		if (strcmp(r->dags[i].dag_id, id) == 0)
			return true;
	for (size_t i = 0; i < r->nerror_dag_ids; i++)
		if (strcmp(r->error_dag_ids[i], id) == 0)
			return true;
	return false;
}

static void env_warning(dagfile_result *out, const char *dag_id, const yenv_denied *v,
                        const char *where)
{
	/* one per variable and DAG (a DAG's warnings of one type are merged in the table) */
	char *head = xasprintf("$%s ", v->name);
	for (size_t i = 0; i < out->nwarnings; i++) {
		const diag *d = &out->warnings[i];
		if (strcmp(d->code, "W005") == 0 && (d->dag_id == NULL) == (dag_id == NULL) &&
		    (!dag_id || strcmp(d->dag_id, dag_id) == 0) &&
		    strncmp(d->message, head, strlen(head)) == 0) {
			free(head);
			return;
		}
	}
	free(head);
	dagfile_push_diag(&out->warnings, &out->nwarnings, "W005", where ? 0 : v->line,
	                  where ? 0 : v->col, dag_id, "environment",
	                  xasprintf("$%s is not expanded%s%s: DAG files may not read the "
	                            "processor's own settings or variables that look like "
	                            "secrets ([core] dag_env_deny, dag_env_allow); left as "
	                            "written",
	                            v->name, where ? " in " : "", where ? where : ""));
}

/* Each denied variable of the file warns the DAG it appears in (the top-level key
 * above it); one in the `default` block, outside any DAG or in a defaults.yml
 * warns every DAG of the file (or the file, when it has no DAG). */
static void add_env_warnings(dagfile_result *out, const ydoc *doc, const defaults_chain *c)
{
	const ynode *root = doc->root && doc->root->kind == YN_MAP ? doc->root : NULL;
	for (size_t k = 0; k <= c->n; k++) {
		const ydoc *d = k == 0 ? doc : &c->docs[k - 1];
		const char *where = k == 0 ? NULL : c->paths[k - 1];
		for (size_t i = 0; i < d->n_env_denied; i++) {
			const yenv_denied *v = &d->env_denied[i];
			const char *owner = NULL;
			for (size_t p = 0; k == 0 && root && p < root->n; p++) {
				const ynode *key = root->pairs[p].key;
				if (key->line > v->line ||
				    (key->line == v->line && key->col > v->col))
					break;
				owner = ynode_is_scalar(key) ? key->str : NULL;
			}
			if (owner && has_dag(out, owner)) {
				env_warning(out, owner, v, where);
				continue;
			}
			size_t n = out->ndags + out->nerror_dag_ids;
			for (size_t j = 0; j < n; j++)
				env_warning(out,
				            j < out->ndags ? out->dags[j].dag_id
				                           : out->error_dag_ids[j - out->ndags],
				            v, where);
			if (n == 0)
				env_warning(out, NULL, v, where);
		}
	}
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
	free(d->suggestion);
	free(d->fix_from);
}

/* Sorts by position and drops repeats of one node's diagnostic (a `default`
 * block node belongs to every DAG and is reported once). */
static void tidy(diag *arr, size_t *n)
{
	if (*n < 2)
		return;
	qsort(arr, *n, sizeof(*arr), cmp_diag);
	/* one node reported for several DAGs (a `default` block, an anchor):
	 * its fix holds only if it is certain for every one of them */
	for (size_t i = 0; i < *n;) {
		size_t j = i + 1;
		bool some = arr[i].fix_from != NULL, all = some;
		while (j < *n && arr[j].line == arr[i].line && arr[j].col == arr[i].col &&
		       arr[j].line != 0 && strcmp(arr[j].code, arr[i].code) == 0) {
			some |= arr[j].fix_from != NULL;
			all &=
			    arr[j].fix_from != NULL &&
			    (!arr[i].fix_from || strcmp(arr[j].suggestion, arr[i].suggestion) == 0);
			j++;
		}
		if (some && !all)
			for (size_t k = i; k < j; k++) {
				free(arr[k].fix_from);
				arr[k].fix_from = NULL;
			}
		i = j;
	}
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

void dagfile_sort_diags(dagfile_result *r)
{
	if (r->nerrors > 1)
		qsort(r->errors, r->nerrors, sizeof(*r->errors), cmp_diag);
	if (r->nwarnings > 1)
		qsort(r->warnings, r->nwarnings, sizeof(*r->warnings), cmp_diag);
}

void dagfile_parse_text(const char *path, const char *text, size_t len, const dagfile_opts *opts,
                        dagfile_result *out)
{
	double t0 = clock_mono();
	memset(out, 0, sizeof(*out));
	out->path = xstrdup(path);
	ydoc doc;
	memset(&doc, 0, sizeof(doc));
	bool loaded = false;
	defaults_chain chain;
	chain.n = 0;
	chain.nfound = 0;

	/* the fingerprint of every input of the parse */
	chain_read(&chain, path, opts, out);
	dagfile_fp_input fin, dins[DEFAULTS_MAX];
	hash_input(&fin, text ? text : "", text ? len : 0);
	for (size_t i = 0; i < chain.nfound; i++)
		hash_input(&dins[i], chain.found_texts[i], chain.found_lens[i]);
	out->source_hash = dagfile_fingerprint(opts->options_hash, path, &fin, dins, chain.nfound);
	if (opts->expect_source_hash && opts->expect_source_hash == out->source_hash &&
	    !out->nerrors) {
		out->unchanged = true;
		goto out;
	}

	loaded = true;
	if (yaml_load(&doc, text, len) != 0) {
		char *m = yaml_error_text(&doc);
		dagfile_push_diag(&out->errors, &out->nerrors,
		                  doc.error_code ? doc.error_code : "E001", doc.error_line,
		                  doc.error_col, NULL, NULL, m);
		goto out;
	}
	if (out->nerrors) {
		/* an unreadable defaults.yml: its DAGs cannot be built as meant */
		goto out;
	}
	chain_parse(&chain, out);
	if (out->nerrors)
		goto out; /* a broken defaults.yml, likewise */
	schema_process(&doc, path, chain.defs, chain.n, opts, out);
	add_env_warnings(out, &doc, &chain);
	for (size_t i = 0; i < out->ndags; i++) {
		XXH128_hash_t hh = XXH3_128bits(out->dags[i].json, out->dags[i].json_len);
		XXH128_canonical_t c;
		XXH128_canonicalFromHash(&c, hh);
		memcpy(out->dags[i].hash, c.digest, 16);
	}
	tidy(out->errors, &out->nerrors);
	tidy(out->warnings, &out->nwarnings);
out:
	chain_free(&chain);
	if (loaded)
		yaml_doc_free(&doc);
	out->parse_seconds = clock_mono() - t0;
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
		if (e == ENOENT || e == ENOTDIR) {
			/* not there when read (deleted, perhaps to be created again):
			 * the fingerprint of no input, which differs from the file's
			 * if it is back, so the processor parses it again (on_done) */
			dagfile_fp_input none;
			hash_input(&none, "", 0);
			out->source_hash =
			    dagfile_fingerprint(opts->options_hash, path, &none, NULL, 0);
		}
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
	for (size_t i = 0; g->tasks && i < g->ntasks; i++) {
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

/* The operator catalog compiled into the binary (tools/embed.c). */
struct embedded_file {
	const char *name;
	const char *data;
	size_t len;
};
extern const struct embedded_file builtin_catalog[];

uint64_t dagfile_options_hash(const char *const *catalog_files, size_t ncatalog,
                              const char *const *unchecked, size_t nunchecked, bool strict_catalog,
                              const char *const *pools, size_t npools, size_t max_file_size)
{
	XXH3_state_t *h = XXH3_createState();
	XXH3_64bits_reset(h);
	static const char rev[] = DAGFILE_RESULTS_REVISION;
	XXH3_64bits_update(h, rev, sizeof(rev));
	for (const struct embedded_file *e = builtin_catalog; e->name; e++)
		XXH3_64bits_update(h, e->data, e->len);
	for (size_t i = 0; i < ncatalog; i++) {
		char *text = NULL;
		size_t len = 0;
		XXH3_64bits_update(h, catalog_files[i], strlen(catalog_files[i]) + 1);
		if (fs_read_file(catalog_files[i], (size_t)64 << 20, &text, &len) == 0)
			XXH3_64bits_update(h, text, len);
		free(text);
	}
	for (size_t i = 0; i < nunchecked; i++)
		XXH3_64bits_update(h, unchecked[i], strlen(unchecked[i]) + 1);
	const char strict = strict_catalog ? 'S' : 's';
	XXH3_64bits_update(h, &strict, 1);
	XXH3_64bits_update(h, "\x1e", 1);
	for (size_t i = 0; i < npools; i++)
		XXH3_64bits_update(h, pools[i], strlen(pools[i]) + 1);
	XXH3_64bits_update(h, &max_file_size, sizeof(max_file_size));
	uint64_t v = XXH3_64bits_digest(h);
	XXH3_freeState(h);
	return v;
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
