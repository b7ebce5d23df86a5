/* `dagproc lsp`: the language server. The main thread reads and answers
 * messages; one analysis thread parses the open documents that changed, newest
 * version only, and publishes their diagnostics, so reading never waits on a
 * parse and a newer change supersedes a stale analysis. */
#include "lsp/lsp.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "dagfile/catalog.h"
#include "dagfile/codes.h"
#include "dagfile/fix.h"
#include "dagfile/jsonschema.h"
#include "util/fsutil.h"
#include "util/strmap.h"
#include "util/xalloc.h"

/* JSON-RPC and LSP error codes */
#define RPC_PARSE_ERROR            -32700
#define RPC_INVALID_REQUEST        -32600
#define RPC_METHOD_NOT_FOUND       -32601
#define RPC_INVALID_PARAMS         -32602
#define LSP_SERVER_NOT_INITIALIZED -32002

#define HEADER_MAX 8192

#ifndef DAGPROC_VERSION
#define DAGPROC_VERSION "0.1.0"
#endif

/* ---- positions ---- */

/* The length of an LSP line terminator at t[i] (\n, \r\n, \r), or 0. */
static size_t lsp_break(const char *t, size_t len, size_t i)
{
	if (t[i] == '\n')
		return 1;
	if (t[i] == '\r')
		return i + 1 < len && t[i + 1] == '\n' ? 2 : 1;
	return 0;
}

size_t lsp_offset(const char *text, size_t len, unsigned line, unsigned character)
{
	size_t i = 0;
	for (unsigned l = 0; l < line;) {
		if (i >= len)
			return len;
		size_t b = lsp_break(text, len, i);
		if (b) {
			i += b;
			l++;
		} else {
			i++;
		}
	}
	unsigned u = 0;
	while (i < len && !lsp_break(text, len, i) && u < character) {
		unsigned char c = (unsigned char)text[i];
		size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
		if (i + n > len)
			n = len - i;
		u += n == 4 ? 2 : 1; /* outside the BMP: a surrogate pair */
		i += n;
	}
	return i;
}

unsigned lsp_character(const char *text, size_t len, size_t off, unsigned *line)
{
	unsigned l = 0;
	size_t ls = 0;
	if (off > len)
		off = len;
	for (size_t i = 0; i < off;) {
		size_t b = lsp_break(text, len, i);
		if (b) {
			i += b;
			if (i <= off) {
				l++;
				ls = i;
			}
		} else {
			i++;
		}
	}
	unsigned u = 0;
	for (size_t i = ls; i < off;) {
		unsigned char c = (unsigned char)text[i];
		size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
		u += n == 4 ? 2 : 1;
		i += n;
	}
	*line = l;
	return u;
}

/* Line starts of a text, LSP's way, for the positions of many diagnostics
 * (one scan of the text, not one per diagnostic). */
typedef struct lineidx {
	size_t *start;
	size_t n;
} lineidx;

static lineidx lines_of(const char *t, size_t len)
{
	lineidx x = {0};
	size_t cap = 64;
	x.start = xmalloc(cap * sizeof(size_t));
	x.start[x.n++] = 0;
	for (size_t i = 0; i < len;) {
		size_t b = lsp_break(t, len, i);
		if (!b) {
			i++;
			continue;
		}
		i += b;
		if (x.n == cap) {
			cap *= 2;
			x.start = xrealloc(x.start, cap * sizeof(size_t));
		}
		x.start[x.n++] = i;
	}
	return x;
}

static json_t *position_idx(const lineidx *x, const char *t, size_t len, size_t off)
{
	if (off > len)
		off = len;
	size_t lo = 0, hi = x->n; /* the last start <= off */
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (x->start[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	unsigned u = 0;
	for (size_t i = x->start[lo]; i < off;) {
		unsigned char c = (unsigned char)t[i];
		size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
		u += n == 4 ? 2 : 1;
		i += n;
	}
	return json_pack("{s:I,s:I}", "line", (json_int_t)lo, "character", (json_int_t)u);
}

static json_t *position(const char *text, size_t len, size_t off)
{
	unsigned line;
	unsigned ch = lsp_character(text, len, off, &line);
	return json_pack("{s:I,s:I}", "line", (json_int_t)line, "character", (json_int_t)ch);
}

static json_t *range_of(const char *text, size_t len, size_t a, size_t b)
{
	return json_pack("{s:o,s:o}", "start", position(text, len, a), "end",
	                 position(text, len, b));
}

/* ---- the server's state ---- */

typedef struct doc {
	char *uri, *path;
	char *text;
	size_t len;
	long version;
	uint64_t gen;      /* bumped at every change */
	bool dirty;        /* to analyse */
	json_t *published; /* the diagnostics of the last analysis (LSP form) */
	/* the fixes of that analysis: byte spans in the text analysed */
	fix_edit *fixes;
	char **fix_text, **fix_title;
	json_t **fix_diag;
	size_t nfixes;
	uint64_t fixes_gen; /* the gen they belong to */
} doc;

typedef struct server {
	int in, out;
	const dagfile_opts *opts;
	const char *codes_url;
	char *root; /* the workspace folder, or NULL */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_mutex_t out_mu;
	doc **docs;
	size_t ndocs, capdocs;
	bool stop;
	bool initialized, shutdown;
	/* generations of document texts, server-wide: a document closed and
	 * opened again never reuses one (its old analysis would pass for new) */
	uint64_t gen_clock;
	/* input buffer */
	char *buf;
	size_t blen, bcap;
	bool eof;
} server;

static void send_json(server *s, json_t *msg)
{
	json_object_set_new(msg, "jsonrpc", json_string("2.0"));
	char *body = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	if (!body)
		return;
	size_t n = strlen(body);
	char head[64];
	int hl = snprintf(head, sizeof(head), "Content-Length: %zu\r\n\r\n", n);
	pthread_mutex_lock(&s->out_mu);
	const char *parts[2] = {head, body};
	size_t lens[2] = {(size_t)hl, n};
	for (int p = 0; p < 2; p++) {
		size_t off = 0;
		while (off < lens[p]) {
			ssize_t w = write(s->out, parts[p] + off, lens[p] - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				break;
			off += (size_t)w;
		}
	}
	pthread_mutex_unlock(&s->out_mu);
	free(body);
}

static void reply(server *s, json_t *id, json_t *result)
{
	send_json(s, json_pack("{s:O?,s:o}", "id", id, "result", result ? result : json_null()));
}

static void reply_error(server *s, json_t *id, int code, const char *msg)
{
	send_json(s, json_pack("{s:O?,s:{s:i,s:s}}", "id", id ? id : json_null(), "error", "code",
	                       code, "message", msg));
}

static void notify(server *s, const char *method, json_t *params)
{
	send_json(s, json_pack("{s:s,s:o}", "method", method, "params", params));
}

/* ---- documents ---- */

static int hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	                              : -1;
}

/* The path of a file:// URI (percent-decoded), or NULL. */
static char *uri_path(const char *uri)
{
	if (strncmp(uri, "file://", 7) != 0)
		return NULL;
	const char *p = uri + 7;
	if (*p != '/') {
		const char *slash = strchr(p, '/'); /* file://host/path */
		if (!slash)
			return NULL;
		p = slash;
	}
	char *out = xmalloc(strlen(p) + 1), *o = out;
	for (; *p; p++) {
		if (*p == '%' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
			*o++ = (char)(hexval(p[1]) * 16 + hexval(p[2]));
			p += 2;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}

static doc *find_doc(server *s, const char *uri)
{
	for (size_t i = 0; i < s->ndocs; i++)
		if (strcmp(s->docs[i]->uri, uri) == 0)
			return s->docs[i];
	return NULL;
}

static void clear_fixes(doc *d)
{
	for (size_t i = 0; i < d->nfixes; i++) {
		free(d->fix_text[i]);
		free(d->fix_title[i]);
		json_decref(d->fix_diag[i]);
	}
	free(d->fixes);
	free(d->fix_text);
	free(d->fix_title);
	free(d->fix_diag);
	d->fixes = NULL;
	d->fix_text = d->fix_title = NULL;
	d->fix_diag = NULL;
	d->nfixes = 0;
}

static void free_doc(doc *d)
{
	clear_fixes(d);
	json_decref(d->published);
	free(d->uri);
	free(d->path);
	free(d->text);
	free(d);
}

static bool is_defaults(const char *path)
{
	const char *b = strrchr(path, '/');
	b = b ? b + 1 : path;
	return strcmp(b, "defaults.yml") == 0 || strcmp(b, "defaults.yaml") == 0;
}

/* Marks the open documents in dir (a defaults.yml's folder) and below for a
 * new analysis. With mu held. */
static void touch_below(server *s, const char *dir)
{
	size_t dl = strlen(dir);
	for (size_t i = 0; i < s->ndocs; i++) {
		doc *d = s->docs[i];
		if (d->path && !is_defaults(d->path) && strncmp(d->path, dir, dl) == 0 &&
		    (d->path[dl] == '/' || dl == 1)) {
			d->dirty = true;
			d->gen = ++s->gen_clock;
		}
	}
}

/* ---- analysis (the analysis thread) ---- */

static const char *severity_code(const diag *g, bool warning, int *sev)
{
	*sev = warning ? 2 : 1;
	return g->code;
}

/* The end of the token at off (a key, a path, a value): for the range of a
 * diagnostic without a fix. */
static size_t token_end(const char *t, size_t len, size_t off)
{
	size_t i = off;
	if (i < len && (t[i] == '\'' || t[i] == '"')) {
		char q = t[i++];
		while (i < len && t[i] != q && t[i] != '\n' && t[i] != '\r')
			i++;
		return i < len && t[i] == q ? i + 1 : i;
	}
	while (i < len && t[i] != '\n' && t[i] != '\r' && t[i] != ' ' && t[i] != '\t' &&
	       t[i] != ',' && t[i] != ']' && t[i] != '}' &&
	       !(t[i] == ':' && (i + 1 >= len || t[i + 1] == ' ' || t[i + 1] == '\n')))
		i++;
	if (i == off && i < len && t[i] != '\n' && t[i] != '\r')
		i++;
	return i;
}

typedef struct analysis {
	json_t *diags;
	fix_edit *fixes;
	char **fix_text, **fix_title;
	json_t **fix_diag;
	size_t nfixes, cap;
} analysis;

static void add_diags(server *s, analysis *a, const char *text, size_t len, const lineidx *li,
                      const diag *ds, size_t n, bool warning)
{
	/* diagnostics come sorted: one forward walk over the parser's lines
	 * (its breaks include NEL, LS and PS; LSP's do not) */
	dagfile_text_cursor cur = {0};
	for (size_t i = 0; i < n; i++) {
		const diag *g = &ds[i];
		size_t from = 0, to = 0;
		fix_edit e;
		bool has_fix = false;
		if (g->line) {
			from = dagfile_text_offset_next(&cur, text, len, g->line, g->col);
			if (from == (size_t)-1)
				from = cur.off; /* past its line: the line's start */
			has_fix = g->fix_from && dagfile_fix_edit_next(&cur, text, len, g, &e);
			to = has_fix ? e.end : token_end(text, len, from);
		}
		int sev;
		const char *code = severity_code(g, warning, &sev);
		char *href = xasprintf("%s#%s", s->codes_url, code);
		json_t *range = json_pack("{s:o,s:o}", "start", position_idx(li, text, len, from),
		                          "end", position_idx(li, text, len, to));
		json_t *jd = json_pack("{s:o,s:i,s:s,s:s,s:{s:s},s:s}", "range", range, "severity",
		                       sev, "code", code, "source", "dagproc", "codeDescription",
		                       "href", href, "message", g->message);
		free(href);
		json_array_append(a->diags, jd);
		if (has_fix) {
			if (a->nfixes == a->cap) {
				a->cap = a->cap ? a->cap * 2 : 8;
				a->fixes = xrealloc(a->fixes, a->cap * sizeof(*a->fixes));
				a->fix_text = xrealloc(a->fix_text, a->cap * sizeof(char *));
				a->fix_title = xrealloc(a->fix_title, a->cap * sizeof(char *));
				a->fix_diag = xrealloc(a->fix_diag, a->cap * sizeof(json_t *));
			}
			a->fixes[a->nfixes] = e;
			a->fix_text[a->nfixes] = xstrdup(e.new_text);
			a->fixes[a->nfixes].new_text = a->fix_text[a->nfixes];
			a->fix_title[a->nfixes] =
			    xasprintf("Replace '%s' with '%s' (%s)", g->fix_from, e.new_text, code);
			a->fix_diag[a->nfixes] = json_incref(jd);
			a->nfixes++;
		}
		json_decref(jd);
	}
}

/* The folder that bounds the defaults.yml walk: the workspace folder when the
 * file is in it, else the enclosing git work tree, else the root. */
static char *bundle_root(const server *s, const char *path)
{
	if (s->root) {
		size_t rl = strlen(s->root);
		if (strncmp(path, s->root, rl) == 0 && path[rl] == '/')
			return xstrdup(s->root);
	}
	char *dir = fs_dirname(path);
	for (;;) {
		char *git = fs_path_join(dir, ".git");
		bool top = access(git, F_OK) == 0;
		free(git);
		if (top || strcmp(dir, "/") == 0 || strcmp(dir, ".") == 0)
			return dir;
		char *up = fs_dirname(dir);
		free(dir);
		dir = up;
	}
}

static void *analyse_main(void *arg)
{
	server *s = arg;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		doc *d = NULL;
		for (size_t i = 0; i < s->ndocs && !d; i++)
			if (s->docs[i]->dirty)
				d = s->docs[i];
		if (!d) {
			if (s->stop)
				break;
			pthread_cond_wait(&s->cv, &s->mu);
			continue;
		}
		d->dirty = false;
		uint64_t gen = d->gen;
		long version = d->version;
		char *uri = xstrdup(d->uri);
		char *path = xstrdup(d->path ? d->path : "/untitled.yml");
		char *text = xmalloc(d->len + 1);
		memcpy(text, d->text, d->len);
		text[d->len] = '\0';
		size_t len = d->len;
		pthread_mutex_unlock(&s->mu);

		/* check's verdict on the unsaved text, with the defaults.yml of
		 * the folder chain read from disk */
		dagfile_opts o = *s->opts;
		char *root = bundle_root(s, path);
		o.bundle_root = root;
		dagfile_result r;
		dagfile_parse_text(path, text, len, &o, &r);
		analysis a = {.diags = json_array()};
		lineidx li = lines_of(text, len);
		add_diags(s, &a, text, len, &li, r.errors, r.nerrors, false);
		add_diags(s, &a, text, len, &li, r.warnings, r.nwarnings, true);
		free(li.start);
		dagfile_result_free(&r);
		free(root);

		pthread_mutex_lock(&s->mu);
		doc *now = find_doc(s, uri);
		if (now && now->gen == gen && !s->stop) {
			/* still the newest text: publish */
			clear_fixes(now);
			now->fixes = a.fixes;
			now->fix_text = a.fix_text;
			now->fix_title = a.fix_title;
			now->fix_diag = a.fix_diag;
			now->nfixes = a.nfixes;
			now->fixes_gen = gen;
			json_decref(now->published);
			now->published = json_incref(a.diags);
			json_t *params = json_pack("{s:s,s:I,s:o}", "uri", uri, "version",
			                           (json_int_t)version, "diagnostics", a.diags);
			pthread_mutex_unlock(&s->mu);
			notify(s, "textDocument/publishDiagnostics", params);
			pthread_mutex_lock(&s->mu);
		} else {
			/* superseded by a newer change (or closed): dropped */
			json_decref(a.diags);
			analysis dead = a;
			doc tmp = {.fixes = dead.fixes,
			           .fix_text = dead.fix_text,
			           .fix_title = dead.fix_title,
			           .fix_diag = dead.fix_diag,
			           .nfixes = dead.nfixes};
			clear_fixes(&tmp);
		}
		free(uri);
		free(path);
		free(text);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* ---- requests and notifications ---- */

static const char *str_at(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static void did_open(server *s, json_t *params)
{
	json_t *td = json_object_get(params, "textDocument");
	const char *uri = str_at(td, "uri"), *text = str_at(td, "text");
	if (!uri || !text)
		return;
	pthread_mutex_lock(&s->mu);
	doc *d = find_doc(s, uri);
	if (!d) {
		d = xcalloc(1, sizeof(*d));
		d->uri = xstrdup(uri);
		d->path = uri_path(uri);
		VEC_PUSH(s->docs, s->ndocs, s->capdocs, d);
	}
	free(d->text);
	d->len = json_string_length(json_object_get(td, "text"));
	d->text = xmalloc(d->len + 1);
	memcpy(d->text, text, d->len);
	d->text[d->len] = '\0';
	d->version = (long)json_integer_value(json_object_get(td, "version"));
	d->gen = ++s->gen_clock;
	d->dirty = !is_defaults(d->path ? d->path : "");
	if (d->path && is_defaults(d->path)) {
		char *dir = fs_dirname(d->path);
		touch_below(s, dir);
		free(dir);
	}
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static bool pos_of(json_t *p, unsigned *line, unsigned *ch);

static void did_change(server *s, json_t *params)
{
	json_t *td = json_object_get(params, "textDocument");
	const char *uri = str_at(td, "uri");
	json_t *changes = json_object_get(params, "contentChanges");
	if (!uri || !json_is_array(changes))
		return;
	pthread_mutex_lock(&s->mu);
	doc *d = find_doc(s, uri);
	if (!d) {
		pthread_mutex_unlock(&s->mu);
		return;
	}
	size_t i;
	json_t *ch;
	json_array_foreach(changes, i, ch)
	{
		json_t *tv = json_object_get(ch, "text");
		if (!json_is_string(tv))
			continue;
		const char *nt = json_string_value(tv);
		size_t nl = json_string_length(tv);
		json_t *range = json_object_get(ch, "range");
		size_t a = 0, b = d->len;
		if (range) {
			unsigned l0, c0, l1, c1;
			if (!pos_of(json_object_get(range, "start"), &l0, &c0) ||
			    !pos_of(json_object_get(range, "end"), &l1, &c1))
				continue; /* not a position: the change is not applied */
			a = lsp_offset(d->text, d->len, l0, c0);
			b = lsp_offset(d->text, d->len, l1, c1);
			if (b < a)
				b = a;
		}
		char *t = xmalloc(d->len - (b - a) + nl + 1);
		memcpy(t, d->text, a);
		memcpy(t + a, nt, nl);
		memcpy(t + a + nl, d->text + b, d->len - b);
		d->len = d->len - (b - a) + nl;
		t[d->len] = '\0';
		free(d->text);
		d->text = t;
	}
	json_t *ver = json_object_get(td, "version");
	if (json_is_integer(ver))
		d->version = (long)json_integer_value(ver);
	d->gen = ++s->gen_clock;
	if (d->path && is_defaults(d->path)) {
		/* the documents its folder chain covers: again (it is read from disk
		 * by their analysis once saved; its own text is not a DAG file) */
		char *dir = fs_dirname(d->path);
		touch_below(s, dir);
		free(dir);
	} else {
		d->dirty = true;
	}
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static void did_close(server *s, json_t *params)
{
	const char *uri = str_at(json_object_get(params, "textDocument"), "uri");
	if (!uri)
		return;
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->ndocs; i++) {
		if (strcmp(s->docs[i]->uri, uri) == 0) {
			free_doc(s->docs[i]);
			s->docs[i] = s->docs[--s->ndocs];
			break;
		}
	}
	pthread_mutex_unlock(&s->mu);
	/* closing a file clears its diagnostics */
	notify(s, "textDocument/publishDiagnostics",
	       json_pack("{s:s,s:[]}", "uri", uri, "diagnostics"));
}

static void did_save(server *s, json_t *params)
{
	json_t *td = json_object_get(params, "textDocument");
	const char *uri = str_at(td, "uri");
	if (!uri)
		return;
	pthread_mutex_lock(&s->mu);
	doc *d = find_doc(s, uri);
	if (d && d->path && is_defaults(d->path)) {
		char *dir = fs_dirname(d->path);
		touch_below(s, dir);
		free(dir);
	} else if (d) {
		d->dirty = true;
		d->gen = ++s->gen_clock;
	}
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static void watched_files(server *s, json_t *params)
{
	json_t *changes = json_object_get(params, "changes");
	size_t i;
	json_t *c;
	pthread_mutex_lock(&s->mu);
	json_array_foreach(changes, i, c)
	{
		char *p = uri_path(str_at(c, "uri") ? str_at(c, "uri") : "");
		if (p && is_defaults(p)) {
			char *dir = fs_dirname(p);
			touch_below(s, dir);
			free(dir);
		}
		free(p);
	}
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static bool pos_of(json_t *p, unsigned *line, unsigned *ch)
{
	json_t *l = json_object_get(p, "line"), *c = json_object_get(p, "character");
	if (!json_is_integer(l) || !json_is_integer(c) || json_integer_value(l) < 0 ||
	    json_integer_value(c) < 0 || json_integer_value(l) > INT32_MAX ||
	    json_integer_value(c) > INT32_MAX)
		return false; /* LSP positions are uintegers below 2^31 */
	*line = (unsigned)json_integer_value(l);
	*ch = (unsigned)json_integer_value(c);
	return true;
}

static json_t *code_action(server *s, json_t *params, bool *bad)
{
	const char *uri = str_at(json_object_get(params, "textDocument"), "uri");
	json_t *range = json_object_get(params, "range");
	unsigned l0, c0, l1, c1;
	if (!uri || !pos_of(json_object_get(range, "start"), &l0, &c0) ||
	    !pos_of(json_object_get(range, "end"), &l1, &c1)) {
		*bad = true;
		return NULL;
	}
	json_t *actions = json_array();
	pthread_mutex_lock(&s->mu);
	doc *d = find_doc(s, uri);
	/* the fixes of the text the editor shows: not of an older version */
	if (d && d->fixes_gen == d->gen) {
		size_t a = lsp_offset(d->text, d->len, l0, c0),
		       b = lsp_offset(d->text, d->len, l1, c1);
		for (size_t i = 0; i < d->nfixes; i++) {
			const fix_edit *e = &d->fixes[i];
			if (e->end < a || e->start > b)
				continue;
			json_t *edit = json_pack("{s:o,s:s}", "range",
			                         range_of(d->text, d->len, e->start, e->end),
			                         "newText", e->new_text);
			json_t *changes = json_object();
			json_object_set_new(changes, uri, json_pack("[o]", edit));
			json_array_append_new(actions, json_pack("{s:s,s:s,s:[O],s:b,s:{s:o}}",
			                                         "title", d->fix_title[i], "kind",
			                                         "quickfix", "diagnostics",
			                                         d->fix_diag[i], "isPreferred", 1,
			                                         "edit", "changes", changes));
		}
	}
	pthread_mutex_unlock(&s->mu);
	return actions;
}

/* The line of text holding off: [*ls, *le). */
static void line_at(const char *t, size_t len, size_t off, size_t *ls, size_t *le)
{
	size_t a = off;
	while (a > 0 && t[a - 1] != '\n' && t[a - 1] != '\r')
		a--;
	size_t b = off;
	while (b < len && t[b] != '\n' && t[b] != '\r')
		b++;
	*ls = a;
	*le = b;
}

/* "key: value" of a line, after indentation and a "- ": the key's span and
 * the value's; false when the line is not one. */
static bool key_value(const char *t, size_t ls, size_t le, size_t *ks, size_t *ke, size_t *vs,
                      size_t *ve)
{
	size_t i = ls;
	while (i < le && (t[i] == ' ' || t[i] == '\t'))
		i++;
	if (i + 1 < le && t[i] == '-' && t[i + 1] == ' ') {
		i += 2;
		while (i < le && t[i] == ' ')
			i++;
	}
	*ks = i;
	while (i < le && t[i] != ':' && t[i] != ' ')
		i++;
	*ke = i;
	if (i >= le || t[i] != ':' || *ke == *ks)
		return false;
	i++;
	while (i < le && t[i] == ' ')
		i++;
	if (i < le && (t[i] == '\'' || t[i] == '"'))
		i++;
	if (i < le && t[i] == '&') { /* an anchor */
		while (i < le && t[i] != ' ')
			i++;
		while (i < le && t[i] == ' ')
			i++;
		if (i < le && (t[i] == '\'' || t[i] == '"'))
			i++;
	}
	*vs = i;
	while (i < le && t[i] != ' ' && t[i] != '\'' && t[i] != '"' && t[i] != '#')
		i++;
	*ve = i;
	return true;
}

typedef struct argdoc {
	strbuf *b;
	const cat_operator *base;
	const catalog *cat;
	size_t base_count;
} argdoc;

static void types_md(strbuf *b, unsigned t)
{
	static const char *const names[] = {"str",  "int",  "float",     "bool",    "list",
	                                    "dict", "None", "timedelta", "datetime"};
	if (!t) {
		sb_adds(b, "any");
		return;
	}
	bool first = true;
	for (unsigned i = 0; i < 9; i++)
		if (t & (1u << i)) {
			sb_adds(b, first ? "" : " | ");
			sb_adds(b, names[i]);
			first = false;
		}
}

static void arg_line(const cat_arg *a, void *ud)
{
	argdoc *x = ud;
	if (x->base && x->base->nargs && a >= x->base->args && a < x->base->args + x->base->nargs) {
		x->base_count++;
		return;
	}
	sb_printf(x->b, "- `%s`: ", a->name);
	types_md(x->b, a->types);
	if (a->required)
		sb_adds(x->b, " — required");
	if (a->templated)
		sb_adds(x->b, " — templated");
	sb_addc(x->b, '\n');
}

static json_t *hover(server *s, json_t *params, bool *bad)
{
	const char *uri = str_at(json_object_get(params, "textDocument"), "uri");
	unsigned line, ch;
	if (!uri || !pos_of(json_object_get(params, "position"), &line, &ch)) {
		*bad = true;
		return NULL;
	}
	json_t *out = NULL;
	pthread_mutex_lock(&s->mu);
	doc *d = find_doc(s, uri);
	if (d) {
		size_t off = lsp_offset(d->text, d->len, line, ch), ls, le, ks, ke, vs, ve;
		line_at(d->text, d->len, off, &ls, &le);
		if (key_value(d->text, ls, le, &ks, &ke, &vs, &ve)) {
			char *key = xstrndup(d->text + ks, ke - ks);
			char *val = xstrndup(d->text + vs, ve - vs);
			strbuf b;
			sb_init(&b);
			const cat_operator *op = NULL;
			const char *target = NULL;
			if (off >= vs && off <= ve &&
			    (strcmp(key, "operator") == 0 || strcmp(key, "decorator") == 0)) {
				cat_lookup r = catalog_lookup(s->opts->cat, val, &op, &target);
				if ((r == CAT_FOUND || r == CAT_DEPRECATED) && op) {
					const char *dot = strrchr(op->path, '.');
					sb_printf(&b, "**%s** `%s`\n\n", dot ? dot + 1 : op->path,
					          op->path);
					if (r == CAT_DEPRECATED)
						sb_printf(
						    &b,
						    "Airflow 2 path, deprecated in Airflow 3: use "
						    "`%s`.\n\n",
						    target ? target : op->path);
					sb_adds(&b, "Arguments:\n\n");
					argdoc x = {.b = &b, .cat = s->opts->cat};
					catalog_lookup(s->opts->cat,
					               "airflow.sdk.bases.operator.BaseOperator",
					               &x.base, NULL);
					catalog_each_arg(s->opts->cat, op, arg_line, &x);
					if (x.base_count)
						sb_printf(
						    &b,
						    "\nand BaseOperator's %zu arguments (retries, "
						    "pool, ...).\n",
						    x.base_count);
				}
			} else if (off >= ks && off <= ke) {
				const char *text = dagfile_key_doc(key);
				if (text)
					sb_printf(&b, "**%s**\n\n%s\n", key, text);
			}
			if (b.len)
				out = json_pack("{s:{s:s,s:s},s:o}", "contents", "kind", "markdown",
				                "value", b.data, "range",
				                off >= vs && off <= ve
				                    ? range_of(d->text, d->len, vs, ve)
				                    : range_of(d->text, d->len, ks, ke));
			sb_free(&b);
			free(key);
			free(val);
		}
	}
	pthread_mutex_unlock(&s->mu);
	return out ? out : json_null();
}

/* ---- completion ---- */

typedef struct comp {
	json_t *items;
	const char *detail;
	int kind;
	strmap seen;
} comp;

static void comp_add(comp *c, const char *label, const char *detail, const char *docs)
{
	if (strmap_get(&c->seen, label, NULL))
		return;
	strmap_put(&c->seen, label, 0);
	json_t *it = json_pack("{s:s,s:i}", "label", label, "kind", c->kind);
	if (detail)
		json_object_set_new(it, "detail", json_string(detail));
	if (docs)
		json_object_set_new(it, "documentation", json_string(docs));
	json_array_append_new(c->items, it);
}

static void comp_op(const cat_operator *op, void *ud)
{
	comp_add(ud, op->path, "operator", NULL);
}

static void comp_alias(const char *path, const cat_operator *t, bool deprecated, void *ud)
{
	(void)deprecated;
	(void)t;
	comp_add(ud, path, "Airflow 2 path (deprecated)", NULL);
}

static void comp_arg(const cat_arg *a, void *ud)
{
	strbuf b;
	sb_init(&b);
	types_md(&b, a->types);
	if (a->required)
		sb_adds(&b, ", required");
	comp_add(ud, a->name, b.data, NULL);
	sb_free(&b);
}

static size_t indent_of(const char *t, size_t ls, size_t le, bool *item)
{
	size_t i = ls;
	while (i < le && t[i] == ' ')
		i++;
	*item = i + 1 < le && t[i] == '-' && t[i + 1] == ' ';
	size_t n = i - ls;
	if (*item) {
		i += 2;
		while (i < le && t[i] == ' ')
			i++;
		n = i - ls;
	}
	return n;
}

static bool blank_or_comment(const char *t, size_t ls, size_t le)
{
	size_t i = ls;
	while (i < le && (t[i] == ' ' || t[i] == '\t'))
		i++;
	return i == le || t[i] == '#';
}

static json_t *completion(server *s, json_t *params, bool *bad)
{
	const char *uri = str_at(json_object_get(params, "textDocument"), "uri");
	unsigned line, ch;
	if (!uri || !pos_of(json_object_get(params, "position"), &line, &ch)) {
		*bad = true;
		return NULL;
	}
	comp c = {.items = json_array(), .kind = 10};
	pthread_mutex_lock(&s->mu);
	doc *d = find_doc(s, uri);
	if (d) {
		const char *t = d->text;
		size_t off = lsp_offset(t, d->len, line, ch), ls, le;
		line_at(t, d->len, off, &ls, &le);
		size_t ks, ke, vs, ve;
		bool kv = key_value(t, ls, le, &ks, &ke, &vs, &ve);
		if (kv && off >= vs &&
		    ((ke - ks == 8 && memcmp(t + ks, "operator", 8) == 0) ||
		     (ke - ks == 9 && memcmp(t + ks, "decorator", 9) == 0))) {
			c.kind = 7; /* Class */
			catalog_each_operator(s->opts->cat, comp_op, &c);
			catalog_each_alias(s->opts->cat, comp_alias, &c);
		} else if (!kv || off <= ke) {
			/* a key: which mapping is it in? the nearest line above
			 * with less indentation says */
			bool item;
			size_t ind = indent_of(t, ls, le, &item);
			size_t p = ls;
			size_t pind = 0;
			bool pitem = false, found = false;
			size_t pls = 0, ple = 0;
			/* the operator of this task item, if any line of it names one */
			char *op_name = NULL;
			size_t q = ls;
			while (q > 0) {
				size_t a, b;
				line_at(t, d->len, q - 1, &a, &b);
				q = a;
				if (blank_or_comment(t, a, b))
					continue;
				bool it2;
				size_t in2 = indent_of(t, a, b, &it2);
				size_t k1, k2, v1, v2;
				if (in2 == ind && key_value(t, a, b, &k1, &k2, &v1, &v2) &&
				    k2 - k1 == 8 && memcmp(t + k1, "operator", 8) == 0 && !op_name)
					op_name = xstrndup(t + v1, v2 - v1);
				if (in2 < ind || (it2 && in2 <= ind && !item)) {
					pind = in2;
					pitem = it2;
					pls = a;
					ple = b;
					found = true;
					if (it2 && in2 == ind)
						continue; /* an earlier item of the same list */
					break;
				}
				if (it2 && in2 == ind && !item)
					break; /* this item's first line */
			}
			(void)p;
			(void)pind;
			(void)pitem;
			/* lines below of the same item */
			for (size_t a = le + 1; a < d->len && !op_name;) {
				size_t x, y;
				line_at(t, d->len, a, &x, &y);
				a = y + 1;
				if (blank_or_comment(t, x, y))
					continue;
				bool it2;
				size_t in2 = indent_of(t, x, y, &it2);
				if (in2 < ind || (it2 && in2 == ind))
					break;
				size_t k1, k2, v1, v2;
				if (in2 == ind && key_value(t, x, y, &k1, &k2, &v1, &v2) &&
				    k2 - k1 == 8 && memcmp(t + k1, "operator", 8) == 0)
					op_name = xstrndup(t + v1, v2 - v1);
			}
			char *pkey = NULL;
			size_t k1, k2, v1, v2;
			if (found && key_value(t, pls, ple, &k1, &k2, &v1, &v2))
				pkey = xstrndup(t + k1, k2 - k1);
			bool top_parent = found && indent_of(t, pls, ple, &pitem) == 0 && !pitem;
			if (ind == 0) {
				/* DAG ids: free names */
			} else if (pkey && (strcmp(pkey, "tasks") == 0 || op_name)) {
				size_t n;
				const char *const *tk = sch_task_keys(&n);
				for (size_t i = 0; i < n; i++)
					comp_add(&c, tk[i], "task key", dagfile_key_doc(tk[i]));
				const cat_operator *op = NULL;
				if (op_name) {
					cat_lookup r =
					    catalog_lookup(s->opts->cat, op_name, &op, NULL);
					if (r != CAT_FOUND && r != CAT_DEPRECATED)
						op = NULL;
				}
				if (!op)
					catalog_lookup(s->opts->cat,
					               "airflow.sdk.bases.operator.BaseOperator",
					               &op, NULL);
				catalog_each_arg(s->opts->cat, op, comp_arg, &c);
			} else if (pkey && strcmp(pkey, "default_args") == 0) {
				const cat_operator *op = NULL;
				catalog_lookup(s->opts->cat,
				               "airflow.sdk.bases.operator.BaseOperator", &op,
				               NULL);
				catalog_each_arg(s->opts->cat, op, comp_arg, &c);
			} else if (top_parent) {
				size_t n;
				const char *const *dk = sch_dag_keys(&n);
				for (size_t i = 0; i < n; i++)
					comp_add(&c, dk[i], "DAG key", dagfile_key_doc(dk[i]));
			}
			free(pkey);
			free(op_name);
		}
	}
	pthread_mutex_unlock(&s->mu);
	strmap_free(&c.seen);
	return json_pack("{s:b,s:o}", "isIncomplete", 0, "items", c.items);
}

static json_t *capabilities(void)
{
	return json_pack("{s:{s:{s:b,s:i,s:{s:b}},s:{s:[s,s]},s:b,s:{s:[s]},s:s},s:{s:s,s:s}}",
	                 "capabilities", "textDocumentSync", "openClose", 1, "change", 2, "save",
	                 "includeText", 0, "completionProvider", "triggerCharacters", ".", " ",
	                 "hoverProvider", 1, "codeActionProvider", "codeActionKinds", "quickfix",
	                 "positionEncoding", "utf-16", "serverInfo", "name", "dagproc", "version",
	                 DAGPROC_VERSION);
}

/* One message. Returns -1 to stop: exit (with *code set). */
static int dispatch(server *s, json_t *msg, int *code)
{
	if (!json_is_object(msg)) {
		reply_error(s, NULL, RPC_INVALID_REQUEST, "a message must be a JSON object");
		return 0;
	}
	json_t *id = json_object_get(msg, "id");
	const char *method = str_at(msg, "method");
	const char *ver = str_at(msg, "jsonrpc");
	if (!ver || strcmp(ver, "2.0") != 0 ||
	    (!method && !json_object_get(msg, "result") && !json_object_get(msg, "error"))) {
		reply_error(s, id, RPC_INVALID_REQUEST,
		            "not a JSON-RPC 2.0 request or notification");
		return 0;
	}
	if (!method)
		return 0; /* a response to a request of ours: none are sent */
	bool request = id && !json_is_null(id);
	if (id && !json_is_integer(id) && !json_is_string(id) && !json_is_null(id)) {
		reply_error(s, NULL, RPC_INVALID_REQUEST, "id must be a number or a string");
		return 0;
	}
	json_t *params = json_object_get(msg, "params");
	if (strcmp(method, "exit") == 0) {
		*code = s->shutdown ? 0 : 1;
		return -1;
	}
	if (!s->initialized) {
		if (strcmp(method, "initialize") == 0 && request) {
			const char *root = NULL;
			json_t *wf = json_object_get(params, "workspaceFolders");
			if (json_is_array(wf) && json_array_size(wf))
				root = str_at(json_array_get(wf, 0), "uri");
			if (!root)
				root = str_at(params, "rootUri");
			s->root = root ? uri_path(root) : NULL;
			/* file:///ws/ names the folder /ws */
			for (size_t rl = s->root ? strlen(s->root) : 0;
			     rl > 1 && s->root[rl - 1] == '/'; rl--)
				s->root[rl - 1] = '\0';
			s->initialized = true;
			reply(s, id, capabilities());
		} else if (request) {
			reply_error(s, id, LSP_SERVER_NOT_INITIALIZED,
			            "the server is not initialized: send initialize first");
		}
		return 0;
	}
	if (s->shutdown) {
		if (request)
			reply_error(s, id, RPC_INVALID_REQUEST, "the server is shutting down");
		return 0;
	}
	if (request) {
		bool bad = false;
		json_t *res = NULL;
		if (strcmp(method, "initialize") == 0) {
			reply_error(s, id, RPC_INVALID_REQUEST, "initialize was already received");
			return 0;
		} else if (strcmp(method, "shutdown") == 0) {
			s->shutdown = true;
			res = json_null();
		} else if (strcmp(method, "textDocument/codeAction") == 0) {
			res = code_action(s, params, &bad);
		} else if (strcmp(method, "textDocument/hover") == 0) {
			res = hover(s, params, &bad);
		} else if (strcmp(method, "textDocument/completion") == 0) {
			res = completion(s, params, &bad);
		} else {
			char *m = xasprintf("unknown method '%s'", method);
			reply_error(s, id, RPC_METHOD_NOT_FOUND, m);
			free(m);
			return 0;
		}
		if (bad)
			reply_error(s, id, RPC_INVALID_PARAMS, "missing or invalid params");
		else
			reply(s, id, res);
		return 0;
	}
	if (!json_is_object(params))
		return 0;
	if (strcmp(method, "textDocument/didOpen") == 0)
		did_open(s, params);
	else if (strcmp(method, "textDocument/didChange") == 0)
		did_change(s, params);
	else if (strcmp(method, "textDocument/didClose") == 0)
		did_close(s, params);
	else if (strcmp(method, "textDocument/didSave") == 0)
		did_save(s, params);
	else if (strcmp(method, "workspace/didChangeWatchedFiles") == 0)
		watched_files(s, params);
	/* other notifications ($/cancelRequest, initialized, ...) need nothing */
	return 0;
}

/* ---- framing ---- */

/* Reads more input; false at the end of it. */
static bool fill(server *s)
{
	if (s->eof)
		return false;
	if (s->blen == s->bcap) {
		s->bcap = s->bcap ? s->bcap * 2 : 65536;
		s->buf = xrealloc(s->buf, s->bcap);
	}
	for (;;) {
		ssize_t r = read(s->in, s->buf + s->blen, s->bcap - s->blen);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			s->eof = true;
			return false;
		}
		s->blen += (size_t)r;
		return true;
	}
}

static void consume(server *s, size_t n)
{
	memmove(s->buf, s->buf + n, s->blen - n);
	s->blen -= n;
}

/* After a malformed header block the stream has lost its framing: the input
 * is skipped up to the next line that starts a header block with
 * Content-Length (the body that followed the bad headers is not read as
 * headers). False at the end of the input. */
static bool resync(server *s)
{
	static const char mark[] = "content-length:";
	const size_t ml = sizeof(mark) - 1;
	for (;;) {
		for (size_t i = 0; i + ml <= s->blen; i++) {
			/* anywhere: the unframed body runs straight into the next
			 * message's headers */
			if (strncasecmp(s->buf + i, mark, ml) == 0) {
				consume(s, i);
				return true;
			}
		}
		/* keep a tail that may be the start of the mark */
		if (s->blen > ml)
			consume(s, s->blen - ml);
		if (!fill(s))
			return false;
	}
}

/* Reads one header block. Returns 1 with *len set, 0 for a malformed block
 * (answered), -1 at the end of the input. */
static int read_headers(server *s, size_t *len, bool *have_len)
{
	*have_len = false;
	bool bad = false;
	const char *why = NULL;
	for (;;) {
		char *nl = s->blen ? memchr(s->buf, '\n', s->blen) : NULL;
		if (!nl) {
			if (s->blen > HEADER_MAX) {
				consume(s, s->blen);
				bad = true;
				why = "a header line over 8 kB";
			}
			if (!fill(s))
				return -1;
			continue;
		}
		size_t n = (size_t)(nl - s->buf) + 1;
		size_t l = n - 1;
		if (l && s->buf[l - 1] == '\r')
			l--;
		if (l == 0) {
			consume(s, n);
			if (bad || !*have_len) {
				reply_error(s, NULL, RPC_PARSE_ERROR,
				            why ? why
				                : "a message without a Content-Length header");
				return resync(s) ? 0 : -1;
			}
			return 1;
		}
		char line[256];
		size_t cl = l < sizeof(line) - 1 ? l : sizeof(line) - 1;
		memcpy(line, s->buf, cl);
		line[cl] = '\0';
		consume(s, n);
		char *colon = strchr(line, ':');
		if (!colon) {
			bad = true;
			why = "a header line without ':'";
			continue;
		}
		*colon = '\0';
		if (strcasecmp(line, "Content-Length") == 0) {
			char *v = colon + 1, *end = v;
			while (*v == ' ' || *v == '\t')
				v++;
			size_t x = 0;
			bool digits = *v >= '0' && *v <= '9';
			for (end = v; *end >= '0' && *end <= '9'; end++) {
				if (x > (SIZE_MAX - 9) / 10) {
					digits = false;
					break;
				}
				x = x * 10 + (size_t)(*end - '0');
			}
			while (*end == ' ' || *end == '\t')
				end++;
			if (!digits || *end) {
				bad = true;
				why = "Content-Length is not a number";
				continue;
			}
			if (*have_len && x != *len) {
				bad = true;
				why = "two different Content-Length headers";
				continue;
			}
			*len = x;
			*have_len = true;
		}
	}
}

int lsp_serve(int in_fd, int out_fd, const dagfile_opts *opts, const char *codes_url)
{
	server s = {.in = in_fd, .out = out_fd, .opts = opts, .codes_url = codes_url};
	pthread_mutex_init(&s.mu, NULL);
	pthread_cond_init(&s.cv, NULL);
	pthread_mutex_init(&s.out_mu, NULL);
	pthread_t th;
	bool started = pthread_create(&th, NULL, analyse_main, &s) == 0;
	int code = 1;
	for (;;) {
		size_t len = 0;
		bool have;
		int h = read_headers(&s, &len, &have);
		if (h < 0)
			break; /* the end of the input without exit */
		if (h == 0)
			continue;
		if (len > LSP_MAX_MESSAGE) {
			char m[96];
			snprintf(m, sizeof(m), "a message of %zu bytes, over the limit of %zu", len,
			         LSP_MAX_MESSAGE);
			reply_error(&s, NULL, RPC_PARSE_ERROR, m);
			/* skipped, so that the next message is read */
			while (len > 0) {
				if (!s.blen && !fill(&s))
					break;
				size_t k = s.blen < len ? s.blen : len;
				consume(&s, k);
				len -= k;
			}
			if (s.eof && len)
				break;
			continue;
		}
		while (s.blen < len)
			if (!fill(&s))
				break;
		if (s.blen < len)
			break;
		json_error_t jerr;
		json_t *msg = json_loadb(
		    s.buf, len, JSON_REJECT_DUPLICATES,
		    &jerr); /* no NUL in strings: a URI or method cut at one would name another */
		consume(&s, len);
		if (!msg) {
			char m[256];
			snprintf(m, sizeof(m), "invalid JSON: %s", jerr.text);
			reply_error(&s, NULL, RPC_PARSE_ERROR, m);
			continue;
		}
		int stop = dispatch(&s, msg, &code);
		json_decref(msg);
		if (stop < 0)
			break;
	}
	pthread_mutex_lock(&s.mu);
	s.stop = true;
	for (size_t i = 0; i < s.ndocs; i++)
		s.docs[i]->dirty = false;
	pthread_cond_signal(&s.cv);
	pthread_mutex_unlock(&s.mu);
	if (started)
		pthread_join(th, NULL);
	for (size_t i = 0; i < s.ndocs; i++)
		free_doc(s.docs[i]);
	free(s.docs);
	free(s.buf);
	free(s.root);
	return code;
}
