/* Reads and writes of a sync, each statement cut to the connection's limits: a
 * batch of any size (a file with 40 DAGs of 2,000 tags) becomes as many
 * statements as the limits require and no more. */
#include "sync/apply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/strmap.h"
#include "util/xalloc.h"

/* Rows per statement at most, whatever the limits allow: large enough to
 * amortise a round trip, small enough to keep a statement's parse cheap. */
#define MAX_ROWS 250

static void count(sync_stats *st, bool write)
{
	if (st) {
		st->statements++;
		if (write)
			st->writes++;
	}
}

static bool truthy(const char *v)
{
	return v && (v[0] == 't' || v[0] == 'T' || v[0] == '1');
}

/* ------------------------------------------------------------------------ */
/* Statements built a row (or a key) at a time                               */

typedef struct pbuf {
	store_param *p;
	size_t n, cap;
	char **owned;
	size_t nowned, capowned;
	size_t bytes;
} pbuf;

static void pb_add(pbuf *b, store_param v)
{
	VEC_PUSH(b->p, b->n, b->cap, v);
	b->bytes += v.type == STORE_P_TEXT ? strlen(v.s) + 8 : 24;
}

static void pb_text(pbuf *b, const char *s)
{
	pb_add(b, store_p_text(s));
}

static void pb_own(pbuf *b, char *s)
{
	VEC_PUSH(b->owned, b->nowned, b->capowned, s);
	pb_text(b, s);
}

static void pb_reset(pbuf *b)
{
	for (size_t i = 0; i < b->nowned; i++)
		free(b->owned[i]);
	b->n = 0;
	b->nowned = 0;
	b->bytes = 0;
}

static void pb_free(pbuf *b)
{
	pb_reset(b);
	free(b->p);
	free(b->owned);
	memset(b, 0, sizeof(*b));
}

/* Whether a statement holding b can take `params` more parameters of about
 * `bytes` bytes. An empty statement takes anything (one row over the byte
 * limit is the server's to refuse: a data error of that file). */
static bool fits(store_conn *c, const pbuf *b, size_t rows, size_t params, size_t bytes)
{
	if (!b->n)
		return true;
	return rows < MAX_ROWS && b->n + params + 8 <= store_max_params(c) &&
	       b->bytes + bytes <= store_max_bytes(c);
}

static size_t text_bytes(const char *s)
{
	return s ? strlen(s) + 8 : 24;
}

/* A multi-row upsert into one table. */
typedef struct upsert {
	store_conn *c;
	sync_stats *st;
	const char *table;
	const char *const *cols;
	size_t ncols, nkey;
	pbuf p;
	size_t rows;
} upsert;

static int up_flush(upsert *u, store_error *err)
{
	if (!u->rows)
		return 0;
	char *sql = store_sql_upsert(store_conn_dialect(u->c), u->table, u->cols, u->ncols, u->nkey,
	                             u->rows);
	count(u->st, true);
	int rc = store_exec(u->c, sql, u->p.p, u->p.n, err);
	free(sql);
	pb_reset(&u->p);
	u->rows = 0;
	return rc;
}

/* Makes room for a row of about `bytes` bytes (flushing what is there if it
 * would not fit); the caller then adds its ncols parameters and calls up_row. */
static int up_room(upsert *u, size_t bytes, store_error *err)
{
	if (!fits(u->c, &u->p, u->rows, u->ncols, bytes))
		return up_flush(u, err);
	return 0;
}

static void up_row(upsert *u)
{
	u->rows++;
}

/* ------------------------------------------------------------------------ */
/* WHERE (a = ? AND b IN (?,..)) OR ...: pairs grouped by their first column */

static int cmp_pair(const void *x, const void *y)
{
	const sync_pair *p = x, *q = y;
	int c = strcmp(p->a, q->a);
	return c ? c : strcmp(p->b, q->b);
}

/* Appends the condition for pairs[0..n) (sorted by a) to s and p. */
static void where_pairs(strbuf *s, pbuf *p, const char *ca, const char *cb, const sync_pair *pairs,
                        size_t n)
{
	for (size_t i = 0; i < n;) {
		sb_printf(s, "%s(%s = ? AND %s IN (", i ? " OR " : "", ca, cb);
		pb_text(p, pairs[i].a);
		size_t j = i;
		for (; j < n && strcmp(pairs[j].a, pairs[i].a) == 0; j++) {
			sb_adds(s, j > i ? ",?" : "?");
			pb_text(p, pairs[j].b);
		}
		sb_adds(s, "))");
		i = j;
	}
}

/* How many pairs from pairs[0..n) one statement takes (at least one). */
static size_t pairs_chunk(store_conn *c, const sync_pair *pairs, size_t n, size_t extra_params)
{
	size_t params = extra_params + 8, bytes = 0, k = 0;
	while (k < n && k < MAX_ROWS) {
		size_t add = 2, b = text_bytes(pairs[k].a) + text_bytes(pairs[k].b);
		if (k && (params + add > store_max_params(c) || bytes + b > store_max_bytes(c)))
			break;
		params += add;
		bytes += b;
		k++;
	}
	return k ? k : 1;
}

int apply_pairs(store_conn *c, sync_stats *st, const char *prefix, const store_param *fixed,
                size_t nfixed, const char *ca, const char *cb, sync_pair *pairs, size_t n,
                const char *suffix, store_row_fn fn, void *ud, store_error *err)
{
	if (n)
		qsort(pairs, n, sizeof(*pairs), cmp_pair);
	for (size_t start = 0; start < n;) {
		size_t k = pairs_chunk(c, pairs + start, n - start, nfixed);
		strbuf s;
		pbuf p = {0};
		sb_init(&s);
		sb_adds(&s, prefix);
		for (size_t i = 0; i < nfixed; i++)
			pb_add(&p, fixed[i]);
		sb_addc(&s, '(');
		where_pairs(&s, &p, ca, cb, pairs + start, k);
		sb_addc(&s, ')');
		if (suffix)
			sb_adds(&s, suffix);
		count(st, fn == NULL);
		int rc = fn ? store_query(c, s.data, p.p, p.n, fn, ud, err)
		            : store_exec(c, s.data, p.p, p.n, err);
		sb_free(&s);
		pb_free(&p);
		if (rc != 0)
			return -1;
		start += k;
	}
	return 0;
}

/* apply_pairs without fixed parameters or suffix */
static int run_pairs(store_conn *c, sync_stats *st, const char *prefix, const char *ca,
                     const char *cb, sync_pair *pairs, size_t n, store_row_fn fn, void *ud,
                     store_error *err)
{
	return apply_pairs(c, st, prefix, NULL, 0, ca, cb, pairs, n, NULL, fn, ud, err);
}

/* `prefix (?,?,..)` over ids in bounded chunks, after the fixed parameters. */
static int run_ids(store_conn *c, sync_stats *st, const char *prefix, const store_param *fixed,
                   size_t nfixed, const char *const *ids, size_t n, store_row_fn fn, void *ud,
                   store_error *err)
{
	for (size_t start = 0; start < n;) {
		strbuf s;
		pbuf p = {0};
		sb_init(&s);
		sb_adds(&s, prefix);
		sb_addc(&s, '(');
		for (size_t i = 0; i < nfixed; i++)
			pb_add(&p, fixed[i]);
		size_t k = 0;
		while (start + k < n && k < MAX_ROWS &&
		       (k == 0 || (p.n + 9 <= store_max_params(c) &&
		                   p.bytes + text_bytes(ids[start + k]) <= store_max_bytes(c)))) {
			sb_adds(&s, k ? ",?" : "?");
			pb_text(&p, ids[start + k]);
			k++;
		}
		sb_addc(&s, ')');
		count(st, fn == NULL);
		int rc = fn ? store_query(c, s.data, p.p, p.n, fn, ud, err)
		            : store_exec(c, s.data, p.p, p.n, err);
		sb_free(&s);
		pb_free(&p);
		if (rc != 0)
			return -1;
		start += k;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Reads                                                                     */

typedef struct rctx {
	const sync_file *files;
	size_t n;
	plan_current *cur;
	strmap filemap; /* bundle \x1f rel -> batch index */
	strmap seen;    /* dag ids already read */
} rctx;

static char *fkey(const char *a, const char *b)
{
	return xasprintf("%s\x1f%s", a, b);
}

static const char *dup(plan_current *cur, const char *s)
{
	return s ? arena_strdup(&cur->mem, s) : NULL;
}

#define DAG_SELECT                                                                                 \
	"SELECT d.dag_id, d.bundle_name, d.relative_fileloc, d.fileloc, d.is_stale, "              \
	"d.has_import_errors, d.description, d.dag_display_name, d.timetable_summary, d.owners, "  \
	"d.max_active_tasks, d.max_active_runs, s.dag_hash FROM dag d LEFT JOIN serialized_dag s " \
	"ON s.dag_id = d.dag_id WHERE "

static int row_dag(void *ud, size_t ncols, const char *const *v)
{
	rctx *r = ud;
	if (ncols < 13 || !v[0] || strmap_get(&r->seen, v[0], NULL))
		return 0;
	strmap_put(&r->seen, v[0], r->cur->ndags);
	plan_current *cur = r->cur;
	plan_dag_row d = {
	    .dag_id = dup(cur, v[0]),
	    .bundle = dup(cur, v[1] ? v[1] : ""),
	    .rel = dup(cur, v[2] ? v[2] : ""),
	    .fileloc = dup(cur, v[3]),
	    .stale = truthy(v[4]),
	    .has_errors = truthy(v[5]),
	    .description = dup(cur, v[6]),
	    .display_name = dup(cur, v[7]),
	    .timetable = dup(cur, v[8]),
	    .owners = dup(cur, v[9]),
	    .max_active_tasks = dup(cur, v[10]),
	    .max_active_runs = dup(cur, v[11]),
	    .hash = dup(cur, v[12]),
	};
	VEC_PUSH(cur->dags, cur->ndags, cur->capdags, d);
	return 0;
}

static int row_ie(void *ud, size_t ncols, const char *const *v)
{
	rctx *r = ud;
	size_t f;
	if (ncols < 3 || !v[0] || !v[1])
		return 0;
	char *k = fkey(v[0], v[1]);
	if (strmap_get(&r->filemap, k, &f))
		r->cur->files[f].stacktrace = dup(r->cur, v[2] ? v[2] : "");
	free(k);
	return 0;
}

static int row_stat(void *ud, size_t ncols, const char *const *v)
{
	rctx *r = ud;
	size_t f;
	if (ncols < 4 || !v[0] || !v[1])
		return 0;
	char *k = fkey(v[0], v[1]);
	if (strmap_get(&r->filemap, k, &f)) {
		plan_file_row *fr = &r->cur->files[f];
		fr->has_stat = true;
		fr->result_hash = dup(r->cur, v[2]);
		fr->source_hash = dup(r->cur, v[3]);
	}
	free(k);
	return 0;
}

static int row_tag(void *ud, size_t ncols, const char *const *v)
{
	plan_current *cur = ud;
	if (ncols < 2 || !v[0] || !v[1])
		return 0;
	plan_tag_row t = {dup(cur, v[0]), dup(cur, v[1])};
	VEC_PUSH(cur->tags, cur->ntags, cur->captags, t);
	return 0;
}

static int row_warn(void *ud, size_t ncols, const char *const *v)
{
	plan_current *cur = ud;
	if (ncols < 3 || !v[0] || !v[1])
		return 0;
	plan_warn_row w = {dup(cur, v[0]), dup(cur, v[1]), dup(cur, v[2] ? v[2] : "")};
	VEC_PUSH(cur->warns, cur->nwarns, cur->capwarns, w);
	return 0;
}

int apply_read(store_conn *c, const sync_file *files, size_t n, plan_current *cur, sync_stats *st,
               store_error *err)
{
	memset(cur, 0, sizeof(*cur));
	arena_init(&cur->mem);
	cur->files = xcalloc(n ? n : 1, sizeof(plan_file_row));
	rctx r = {.files = files, .n = n, .cur = cur};
	sync_pair *fp = NULL;
	size_t nfp = 0, capfp = 0;
	const char **ids = NULL;
	size_t nids = 0, capids = 0;
	strmap idset = {0};
	int rc = -1;
	for (size_t f = 0; f < n; f++) {
		if (files[f].foreign)
			continue;
		char *k = fkey(files[f].bundle, files[f].rel);
		strmap_put(&r.filemap, k, f);
		free(k);
		sync_pair p = {files[f].bundle, files[f].rel};
		VEC_PUSH(fp, nfp, capfp, p);
		const dagfile_result *res = files[f].deleted ? NULL : files[f].res;
		for (size_t i = 0; res && i < res->ndags + res->nerror_dag_ids; i++) {
			const char *id = i < res->ndags ? res->dags[i].dag_id
			                                : res->error_dag_ids[i - res->ndags];
			if (!strmap_get(&idset, id, NULL)) {
				strmap_put(&idset, id, nids);
				VEC_PUSH(ids, nids, capids, id);
			}
		}
	}
	/* the files' statistics and import errors, and the DAG rows they hold;
	 * then the rows of the ids they define (two queries, each on its own
	 * index: an OR of both makes MariaDB scan the table) */
	if (run_pairs(c, st,
	              "SELECT bundle_name, relative_fileloc, result_hash, file_hash FROM "
	              "parse_stat WHERE ",
	              "bundle_name", "relative_fileloc", fp, nfp, row_stat, &r, err) != 0 ||
	    run_pairs(c, st, "SELECT bundle_name, filename, stacktrace FROM import_error WHERE ",
	              "bundle_name", "filename", fp, nfp, row_ie, &r, err) != 0 ||
	    run_pairs(c, st, DAG_SELECT, "d.bundle_name", "d.relative_fileloc", fp, nfp, row_dag,
	              &r, err) != 0)
		goto out;
	if (nids &&
	    run_ids(c, st, DAG_SELECT "d.dag_id IN ", NULL, 0, ids, nids, row_dag, &r, err) != 0)
		goto out;
	/* tags and warnings exist only for DAGs with a row */
	if (cur->ndags) {
		const char **rowids = xcalloc(cur->ndags, sizeof(char *));
		for (size_t i = 0; i < cur->ndags; i++)
			rowids[i] = cur->dags[i].dag_id;
		int r1 = run_ids(c, st, "SELECT dag_id, name FROM dag_tag WHERE dag_id IN ", NULL,
		                 0, rowids, cur->ndags, row_tag, cur, err);
		int r2 = r1 != 0 ? -1
		                 : run_ids(c, st,
		                           "SELECT dag_id, warning_type, message FROM dag_warning "
		                           "WHERE dag_id IN ",
		                           NULL, 0, rowids, cur->ndags, row_warn, cur, err);
		free(rowids);
		if (r2 != 0)
			goto out;
	}
	rc = 0;
out:
	free(fp);
	free(ids);
	strmap_free(&idset);
	strmap_free(&r.filemap);
	strmap_free(&r.seen);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Writes                                                                    */

static const char *const dag_cols[] = {"dag_id",
                                       "bundle_name",
                                       "fileloc",
                                       "relative_fileloc",
                                       "is_stale",
                                       "has_import_errors",
                                       "last_parsed_time",
                                       "last_parse_duration",
                                       "description",
                                       "dag_display_name",
                                       "timetable_summary",
                                       "max_active_tasks",
                                       "max_active_runs",
                                       "owners"};
#define DAG_NCOLS (sizeof(dag_cols) / sizeof(dag_cols[0]))

static const char *const ser_cols[] = {"dag_id", "dag_hash", "data", "created_at", "last_updated"};
static const char *const ie_cols[] = {"bundle_name", "filename", "stacktrace", "timestamp"};
static const char *const warn_cols[] = {"dag_id", "warning_type", "message", "timestamp"};
static const char *const tag_cols[] = {"dag_id", "name"};
static const char *const bundle_cols[] = {"name", "active"};
static const char *const ps_cols[] = {
    "bundle_name",   "relative_fileloc", "file_hash",        "result_hash", "file_size",
    "file_mtime",    "last_duration",    "dag_count",        "task_count",  "import_error_count",
    "warning_count", "last_parsed_time", "last_changed_time"};
#define PS_NCOLS (sizeof(ps_cols) / sizeof(ps_cols[0]))

static void up_init(upsert *u, store_conn *c, sync_stats *st, const char *table,
                    const char *const *cols, size_t ncols, size_t nkey)
{
	*u = (upsert){.c = c, .st = st, .table = table, .cols = cols, .ncols = ncols, .nkey = nkey};
}

static int write_bundles(upsert *u, const sync_file *files, const plan_out *o, store_error *err)
{
	strmap seen = {0};
	int rc = 0;
	for (size_t i = 0; i < o->ndags && rc == 0; i++) {
		const char *b = files[o->dags[i].file].bundle;
		if (strmap_get(&seen, b, NULL))
			continue;
		strmap_put(&seen, b, 1);
		rc = up_room(u, text_bytes(b) + 24, err);
		pb_text(&u->p, b);
		pb_add(&u->p, store_p_bool(true));
		up_row(u);
	}
	strmap_free(&seen);
	return rc == 0 ? up_flush(u, err) : -1;
}

static int write_dags(upsert *u, const sync_file *files, const plan_out *o, store_error *err)
{
	char ts[32];
	for (size_t i = 0; i < o->ndags; i++) {
		const plan_dag_write *w = &o->dags[i];
		const sync_file *sf = &files[w->file];
		const dag_result *g = w->g;
		size_t bytes = text_bytes(g->dag_id) * 2 + text_bytes(sf->bundle) +
		               text_bytes(sf->fileloc) + text_bytes(sf->rel) +
		               text_bytes(g->description) + text_bytes(g->schedule) +
		               text_bytes(g->owners) + 8 * 24;
		if (up_room(u, bytes, err) != 0)
			return -1;
		store_format_ts(sf->parsed_at ? sf->parsed_at : clock_epoch(), ts, sizeof(ts));
		pb_text(&u->p, g->dag_id);
		pb_text(&u->p, sf->bundle);
		pb_text(&u->p, sf->fileloc);
		pb_text(&u->p, sf->rel);
		pb_add(&u->p, store_p_bool(false));
		pb_add(&u->p, store_p_bool(w->has_errors));
		pb_own(&u->p, xstrdup(ts));
		pb_add(&u->p, store_p_double(sf->res->parse_seconds));
		pb_text(&u->p, g->description);
		pb_text(&u->p, g->dag_id);
		pb_text(&u->p, g->schedule ? g->schedule : "None");
		pb_add(&u->p, store_p_int(g->max_active_tasks >= 0 ? g->max_active_tasks : 16));
		pb_add(&u->p, store_p_int(g->max_active_runs >= 0 ? g->max_active_runs : 16));
		pb_text(&u->p, g->owners);
		up_row(u);
		if (u->st)
			u->st->dags_upserted++;
	}
	return up_flush(u, err);
}

static int write_ser(upsert *u, const plan_out *o, const char *ts, store_error *err)
{
	for (size_t i = 0; i < o->nser; i++) {
		const dag_result *g = o->ser[i].g;
		char hex[33];
		dagfile_hash_hex(g->hash, hex);
		if (up_room(u, g->json_len + text_bytes(g->dag_id) + 4 * 40, err) != 0)
			return -1;
		pb_text(&u->p, g->dag_id);
		pb_own(&u->p, xstrdup(hex));
		pb_text(&u->p, g->json);
		pb_text(&u->p, ts);
		pb_text(&u->p, ts);
		up_row(u);
		if (u->st)
			u->st->serialized_written++;
	}
	return up_flush(u, err);
}

/* UPDATE dag SET is_stale = ?, has_import_errors = ? WHERE dag_id IN (...),
 * one statement (or more, bounded) per combination of the two flags */
static int write_flags(store_conn *c, sync_stats *st, const plan_out *o, store_error *err)
{
	for (int combo = 0; combo < 4; combo++) {
		bool stale = combo & 1, errs = combo & 2;
		const char **ids = NULL;
		size_t n = 0, cap = 0;
		for (size_t i = 0; i < o->nflags; i++)
			if (o->flags[i].stale == stale && o->flags[i].has_errors == errs)
				VEC_PUSH(ids, n, cap, o->flags[i].dag_id);
		store_param fixed[2] = {store_p_bool(stale), store_p_bool(errs)};
		int rc = n ? run_ids(c, st,
		                     "UPDATE dag SET is_stale = ?, has_import_errors = ? "
		                     "WHERE dag_id IN ",
		                     fixed, 2, ids, n, NULL, NULL, err)
		           : 0;
		free(ids);
		if (rc != 0)
			return -1;
	}
	if (o->npaused) {
		store_param t = store_p_bool(true);
		if (run_ids(c, st, "UPDATE dag SET is_paused = ? WHERE dag_id IN ", &t, 1,
		            o->paused, o->npaused, NULL, NULL, err) != 0)
			return -1;
	}
	return 0;
}

static int write_tags(upsert *u, const plan_out *o, store_error *err)
{
	for (size_t i = 0; i < o->ntag_ins; i++) {
		if (up_room(u, text_bytes(o->tag_ins[i].dag_id) + text_bytes(o->tag_ins[i].name),
		            err) != 0)
			return -1;
		pb_text(&u->p, o->tag_ins[i].dag_id);
		pb_text(&u->p, o->tag_ins[i].name);
		up_row(u);
	}
	if (up_flush(u, err) != 0)
		return -1;
	if (!o->ntag_del)
		return 0;
	sync_pair *pp = xcalloc(o->ntag_del, sizeof(sync_pair));
	for (size_t i = 0; i < o->ntag_del; i++)
		pp[i] = (sync_pair){o->tag_del[i].dag_id, o->tag_del[i].name};
	int rc = run_pairs(u->c, u->st, "DELETE FROM dag_tag WHERE ", "dag_id", "name", pp,
	                   o->ntag_del, NULL, NULL, err);
	free(pp);
	return rc;
}

static int write_ies(upsert *u, const sync_file *files, const plan_out *o, const char *ts,
                     store_error *err)
{
	sync_pair *del = NULL;
	size_t ndel = 0, capdel = 0;
	int rc = -1;
	for (size_t i = 0; i < o->nies; i++) {
		const sync_file *sf = &files[o->ies[i].file];
		if (!o->ies[i].text) {
			sync_pair p = {sf->bundle, sf->rel};
			VEC_PUSH(del, ndel, capdel, p);
			continue;
		}
		if (up_room(u, text_bytes(o->ies[i].text) + text_bytes(sf->rel) + 64, err) != 0)
			goto out;
		pb_text(&u->p, sf->bundle);
		pb_text(&u->p, sf->rel);
		pb_text(&u->p, o->ies[i].text);
		pb_text(&u->p, ts);
		up_row(u);
	}
	if (up_flush(u, err) != 0)
		goto out;
	if (ndel && run_pairs(u->c, u->st, "DELETE FROM import_error WHERE ", "bundle_name",
	                      "filename", del, ndel, NULL, NULL, err) != 0)
		goto out;
	rc = 0;
out:
	free(del);
	return rc;
}

static int write_warns(upsert *u, const plan_out *o, const char *ts, store_error *err)
{
	sync_pair *del = NULL;
	size_t ndel = 0, capdel = 0;
	int rc = -1;
	for (size_t i = 0; i < o->nwarns; i++) {
		const plan_warn *w = &o->warns[i];
		if (!w->message) {
			sync_pair p = {w->dag_id, w->type};
			VEC_PUSH(del, ndel, capdel, p);
			continue;
		}
		if (up_room(u, text_bytes(w->message) + text_bytes(w->dag_id) + 64, err) != 0)
			goto out;
		pb_text(&u->p, w->dag_id);
		pb_text(&u->p, w->type);
		pb_text(&u->p, w->message);
		pb_text(&u->p, ts);
		up_row(u);
	}
	if (up_flush(u, err) != 0)
		goto out;
	if (ndel && run_pairs(u->c, u->st, "DELETE FROM dag_warning WHERE ", "dag_id",
	                      "warning_type", del, ndel, NULL, NULL, err) != 0)
		goto out;
	rc = 0;
out:
	free(del);
	return rc;
}

static size_t warning_count(const dagfile_result *r)
{
	return r ? r->nwarnings : 0;
}

static int write_stats(upsert *u, const sync_file *files, const plan_out *o, const char *ts,
                       store_error *err)
{
	char pts[32];
	for (size_t i = 0; i < o->nstat_put; i++) {
		size_t f = o->stat_put[i];
		const sync_file *sf = &files[f];
		const plan_file *pf = &o->files[f];
		if (up_room(u, text_bytes(sf->rel) + 13 * 24, err) != 0)
			return -1;
		store_format_ts(sf->parsed_at ? sf->parsed_at : clock_epoch(), pts, sizeof(pts));
		pb_text(&u->p, sf->bundle);
		pb_text(&u->p, sf->rel);
		pb_text(&u->p, sf->source_hash ? pf->source : NULL);
		pb_text(&u->p, pf->digest);
		pb_add(&u->p, store_p_int(sf->size));
		pb_add(&u->p, store_p_double(sf->mtime));
		pb_add(&u->p, store_p_double(sf->res->parse_seconds));
		pb_add(&u->p, store_p_int((int64_t)pf->nclaimed));
		pb_add(&u->p, store_p_int((int64_t)pf->tasks));
		pb_add(&u->p, store_p_int(pf->stacktrace ? 1 : 0));
		pb_add(&u->p, store_p_int((int64_t)warning_count(sf->res)));
		pb_own(&u->p, xstrdup(pts));
		pb_text(&u->p, ts);
		up_row(u);
	}
	if (up_flush(u, err) != 0)
		return -1;
	if (!o->nstat_del)
		return 0;
	sync_pair *del = xcalloc(o->nstat_del, sizeof(sync_pair));
	for (size_t i = 0; i < o->nstat_del; i++)
		del[i] = (sync_pair){files[o->stat_del[i]].bundle, files[o->stat_del[i]].rel};
	int rc = run_pairs(u->c, u->st, "DELETE FROM parse_stat WHERE ", "bundle_name",
	                   "relative_fileloc", del, o->nstat_del, NULL, NULL, err);
	free(del);
	return rc;
}

int apply_write(store_conn *c, const sync_file *files, size_t n, const plan_out *o, sync_stats *st,
                store_error *err)
{
	(void)n;
	char ts[32];
	store_format_ts(clock_epoch(), ts, sizeof(ts));
	upsert u;
	int rc = -1;
	/* dag rows before the rows that refer to them (serialized_dag, dag_tag,
	 * dag_warning have foreign keys to dag); each table's upsert buffer is
	 * freed before the next one starts */
	if (store_bulk_writes(c, true, err) != 0)
		return -1;
	up_init(&u, c, st, "dag_bundle", bundle_cols, 2, 1);
	rc = write_bundles(&u, files, o, err);
	pb_free(&u.p);
	if (rc != 0)
		return -1;
	up_init(&u, c, st, "dag", dag_cols, DAG_NCOLS, 1);
	rc = write_dags(&u, files, o, err);
	pb_free(&u.p);
	if (rc != 0 || write_flags(c, st, o, err) != 0)
		return -1;
	up_init(&u, c, st, "serialized_dag", ser_cols, 5, 1);
	rc = write_ser(&u, o, ts, err);
	pb_free(&u.p);
	if (rc != 0)
		return -1;
	up_init(&u, c, st, "dag_tag", tag_cols, 2, 2);
	rc = write_tags(&u, o, err);
	pb_free(&u.p);
	if (rc != 0)
		return -1;
	up_init(&u, c, st, "import_error", ie_cols, 4, 2);
	rc = write_ies(&u, files, o, ts, err);
	pb_free(&u.p);
	if (rc != 0)
		return -1;
	up_init(&u, c, st, "dag_warning", warn_cols, 4, 2);
	rc = write_warns(&u, o, ts, err);
	pb_free(&u.p);
	if (rc != 0)
		return -1;
	up_init(&u, c, st, "parse_stat", ps_cols, PS_NCOLS, 2);
	rc = write_stats(&u, files, o, ts, err);
	pb_free(&u.p);
	if (rc != 0)
		return -1;
	return store_bulk_writes(c, false, err);
}

/* ------------------------------------------------------------------------ */
/* Files refused with E034 for an id that is free now                        */

typedef struct refused_ctx {
	strmap batch;    /* the batch's files written: their import errors are new */
	strmap released; /* the ids that left their files */
	sync_requeue *rq;
} refused_ctx;

/* Whether a stack trace refuses one of the released ids with E034 (the line
 * plan.c writes: "error[E034]: DAG id '<id>' is already defined by ..."). */
static bool refuses_released(const refused_ctx *r, const char *st)
{
	static const char mark[] = "error[E034]: DAG id '";
	for (const char *p = strstr(st, mark); p; p = strstr(p, mark)) {
		p += sizeof(mark) - 1;
		const char *q = strstr(p, "' is already defined by ");
		if (!q)
			break;
		char *id = xstrndup(p, (size_t)(q - p));
		bool hit = strmap_get(&r->released, id, NULL);
		free(id);
		if (hit)
			return true;
	}
	return false;
}

static int row_refused(void *ud, size_t ncols, const char *const *v)
{
	refused_ctx *r = ud;
	if (ncols < 3 || !v[0] || !v[1] || !v[2] || !refuses_released(r, v[2]))
		return 0;
	char *k = fkey(v[0], v[1]);
	if (strmap_get(&r->batch, k, NULL))
		free(k);
	else
		sync_requeue_add(r->rq, k);
	return 0;
}

int apply_find_refused(store_conn *c, const sync_file *files, size_t n, const plan_out *o,
                       sync_requeue *rq, sync_stats *st, store_error *err)
{
	if (!o->nreleased)
		return 0;
	refused_ctx r = {.rq = rq};
	for (size_t f = 0; f < n; f++) {
		/* a file another processor holds came with the batch but was not
		 * written: its E034 stands until its holder parses it again */
		if (files[f].foreign)
			continue;
		char *k = fkey(files[f].bundle, files[f].rel);
		strmap_put(&r.batch, k, f);
		free(k);
	}
	for (size_t i = 0; i < o->nreleased; i++)
		strmap_put(&r.released, o->released[i], i);
	/* one scan of the import errors that refuse anything, whatever the
	 * number of ids released (only when an id leaves its file) */
	store_param p = store_p_text("%error[E034]%");
	count(st, false);
	size_t before = rq->n;
	int rc = store_query(c,
	                     "SELECT bundle_name, filename, stacktrace FROM import_error WHERE "
	                     "stacktrace LIKE ?",
	                     &p, 1, row_refused, &r, err);
	/* several processors: a refused file another one holds is flagged on
	 * its lease, for its holder to parse again (lease.h, lease_take_reparse) */
	if (rc == 0 && rq->n > before && n && files[0].lease_owner &&
	    store_conn_dialect(c) != STORE_SQLITE) {
		sync_pair *pp = xcalloc(rq->n - before, sizeof(sync_pair));
		char **keys = xcalloc(rq->n - before, sizeof(char *));
		for (size_t i = before; i < rq->n; i++) {
			keys[i - before] = xstrdup(rq->keys[i]);
			char *sep = strchr(keys[i - before], '\x1f');
			*sep = '\0';
			pp[i - before] = (sync_pair){keys[i - before], sep + 1};
		}
		store_param t = store_p_bool(true);
		rc = apply_pairs(c, st, "UPDATE file_lease SET reparse = ? WHERE ", &t, 1,
		                 "bundle_name", "relative_fileloc", pp, rq->n - before, NULL, NULL,
		                 NULL, err);
		for (size_t i = 0; i < rq->n - before; i++)
			free(keys[i]);
		free(keys);
		free(pp);
	}
	strmap_free(&r.batch);
	strmap_free(&r.released);
	return rc;
}
