/* Reconciliation of a batch of parse results with the database, in one
 * transaction with a fixed number of multi-row statements: reads the rows the
 * batch touches, computes what they must be, and writes only the difference. */
#include "sync/sync.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "log/log.h"
#include "util/strmap.h"
#include "util/xalloc.h"
#include "util/clock.h"

/* Rows per multi-row statement: keeps every statement under the smallest
 * placeholder limit (SQLite 32766) whatever the batch size. */
#define ROWS_PER_STMT 400

/* ------------------------------------------------------------------------ */
/* Small containers                                                          */

/* Parameters of one statement, with the strings they point to. */
typedef struct pbuf {
	store_param *p;
	size_t n, cap;
	char **owned;
	size_t nowned, capowned;
} pbuf;

static void pb_add(pbuf *b, store_param v)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		b->p = xrealloc(b->p, b->cap * sizeof(*b->p));
	}
	b->p[b->n++] = v;
}

static void pb_text(pbuf *b, const char *s)
{
	pb_add(b, store_p_text(s));
}

/* Text the buffer keeps alive until pb_reset. */
static void pb_text_own(pbuf *b, char *s)
{
	if (b->nowned == b->capowned) {
		b->capowned = b->capowned ? b->capowned * 2 : 16;
		b->owned = xrealloc(b->owned, b->capowned * sizeof(char *));
	}
	b->owned[b->nowned++] = s;
	pb_add(b, store_p_text(s));
}

static void pb_reset(pbuf *b)
{
	for (size_t i = 0; i < b->nowned; i++)
		free(b->owned[i]);
	b->n = 0;
	b->nowned = 0;
}

static void pb_free(pbuf *b)
{
	pb_reset(b);
	free(b->p);
	free(b->owned);
	memset(b, 0, sizeof(*b));
}

static bool truthy(const char *v)
{
	return v && (v[0] == 't' || v[0] == 'T' || v[0] == '1');
}

static char *file_key(const char *bundle, const char *rel)
{
	return xasprintf("%s\x1f%s", bundle, rel);
}

/* ------------------------------------------------------------------------ */
/* What the batch says                                                       */

typedef struct want_dag {
	size_t file;         /* index in the batch */
	const dag_result *g; /* NULL for a DAG with errors */
	const char *dag_id;
} want_dag;

typedef struct file_plan {
	char *stacktrace; /* NULL: no import error */
	char **extra;     /* E034 lines added by ownership */
	size_t nextra;
	bool *claimed; /* per res->dags[i]: keeps its id */
	uint64_t digest;
	char digest_hex[17];
	char source_hex[17];
	bool changed; /* the result differs from what the database holds */
	bool restamp; /* same result from changed sources: parse_stat only */
	bool had_error_row;
	char *db_stacktrace;
} file_plan;

typedef struct db_dag {
	char *bundle, *rel;
	bool stale, has_errors;
	char *hash; /* serialized_dag.dag_hash, NULL if none */
	bool exists;
} db_dag;

typedef struct batch {
	sync_file *files;
	size_t n;
	file_plan *plan;
	strmap filemap; /* bundle\x1frel -> file index */
	strmap dagmap;  /* dag_id -> index in dbd */
	db_dag *dbd;
	size_t ndbd, capdbd;
	strmap ps_digest; /* file key -> index in digests */
	char **digests;   /* parse_stat.result_hash */
	char **sources;   /* parse_stat.file_hash: the source hash */
	size_t ndigests;
	sync_stats *st;
	store_conn *c;
	double now;
} batch;

static void count(batch *b, bool write)
{
	if (b->st) {
		b->st->statements++;
		if (write)
			b->st->writes++;
	}
}

static int run(batch *b, const char *sql, pbuf *p, bool write, store_error *err)
{
	count(b, write);
	return store_exec(b->c, sql, p->p, p->n, err);
}

static void in_list(strbuf *s, size_t n)
{
	sb_addc(s, '(');
	for (size_t i = 0; i < n; i++)
		sb_adds(s, i ? ",?" : "?");
	sb_addc(s, ')');
}

/* "(bc = ? AND fc IN (?,..)) OR ..." with one group per bundle, for the files
 * of the batch (all, or the changed ones only): a form every dialect answers
 * with a range scan of the (bundle, file) index, where a long OR of pairs
 * makes PostgreSQL and MariaDB scan the bundle's rows. */
static void where_files(strbuf *s, pbuf *p, const batch *b, const char *bc, const char *fc,
                        bool changed_only)
{
	bool *done = xcalloc(b->n ? b->n : 1, sizeof(bool));
	bool first = true;
	for (size_t f = 0; f < b->n; f++) {
		if (done[f] || (changed_only && !b->plan[f].changed))
			continue;
		const char *bundle = b->files[f].bundle;
		sb_printf(s, "%s(%s = ? AND %s IN (", first ? "" : " OR ", bc, fc);
		first = false;
		pb_text(p, bundle);
		bool comma = false;
		for (size_t g = f; g < b->n; g++) {
			if (done[g] || (changed_only && !b->plan[g].changed) ||
			    strcmp(b->files[g].bundle, bundle) != 0)
				continue;
			done[g] = true;
			sb_adds(s, comma ? ",?" : "?");
			comma = true;
			pb_text(p, b->files[g].rel);
		}
		sb_adds(s, "))");
	}
	free(done);
}

/* ------------------------------------------------------------------------ */
/* Reads                                                                     */

/* parse_stat of a file: its result digest and its source hash */
static int row_digest(void *ud, size_t ncols, const char *const *v)
{
	batch *b = ud;
	if (ncols < 4 || !v[0] || !v[1])
		return 0;
	char *k = file_key(v[0], v[1]);
	b->digests = xrealloc(b->digests, (b->ndigests + 1) * sizeof(char *));
	b->sources = xrealloc(b->sources, (b->ndigests + 1) * sizeof(char *));
	b->digests[b->ndigests] = xstrdup(v[2] ? v[2] : "");
	b->sources[b->ndigests] = xstrdup(v[3] ? v[3] : "");
	strmap_put(&b->ps_digest, k, b->ndigests++);
	free(k);
	return 0;
}

static db_dag *dbd_add(batch *b, const char *dag_id)
{
	size_t i;
	if (strmap_get(&b->dagmap, dag_id, &i))
		return &b->dbd[i];
	if (b->ndbd == b->capdbd) {
		b->capdbd = b->capdbd ? b->capdbd * 2 : 64;
		b->dbd = xrealloc(b->dbd, b->capdbd * sizeof(*b->dbd));
	}
	db_dag *d = &b->dbd[b->ndbd];
	memset(d, 0, sizeof(*d));
	strmap_put(&b->dagmap, dag_id, b->ndbd++);
	return d;
}

static int row_dag(void *ud, size_t ncols, const char *const *v)
{
	batch *b = ud;
	if (ncols < 5 || !v[0])
		return 0;
	db_dag *d = dbd_add(b, v[0]);
	d->exists = true;
	free(d->bundle);
	free(d->rel);
	d->bundle = xstrdup(v[1] ? v[1] : "");
	d->rel = xstrdup(v[2] ? v[2] : "");
	d->stale = truthy(v[3]);
	d->has_errors = truthy(v[4]);
	return 0;
}

static int row_hash(void *ud, size_t ncols, const char *const *v)
{
	batch *b = ud;
	size_t i;
	if (ncols < 2 || !v[0] || !strmap_get(&b->dagmap, v[0], &i))
		return 0;
	free(b->dbd[i].hash);
	b->dbd[i].hash = xstrdup(v[1] ? v[1] : "");
	return 0;
}

/* Every DAG id the batch mentions, deduplicated, in a stable order. */
static char **batch_dag_ids(const batch *b, size_t *n)
{
	strmap seen = {0};
	char **ids = NULL;
	size_t k = 0;
	for (size_t f = 0; f < b->n; f++) {
		const dagfile_result *r = b->files[f].res;
		if (!r)
			continue;
		for (size_t i = 0; i < r->ndags + r->nerror_dag_ids; i++) {
			const char *id =
			    i < r->ndags ? r->dags[i].dag_id : r->error_dag_ids[i - r->ndags];
			if (strmap_get(&seen, id, NULL))
				continue;
			strmap_put(&seen, id, k);
			ids = xrealloc(ids, (k + 1) * sizeof(char *));
			ids[k++] = (char *)id;
		}
	}
	strmap_free(&seen);
	*n = k;
	return ids;
}

static int read_state(batch *b, store_error *err)
{
	pbuf p = {0};
	strbuf s;
	int rc = -1;
	sb_init(&s);

	/* parse_stat digests of the batch's files */
	sb_adds(&s, "SELECT bundle_name, relative_fileloc, result_hash, file_hash FROM parse_stat "
	            "WHERE ");
	where_files(&s, &p, b, "bundle_name", "relative_fileloc", false);
	count(b, false);
	if (store_query(b->c, s.data, p.p, p.n, row_digest, b, err) != 0)
		goto out;

	/* dag rows: the batch's files' DAGs and every id the batch defines */
	size_t nids;
	char **ids = batch_dag_ids(b, &nids);
	sb_free(&s);
	pb_reset(&p);
	/* two queries, each on its own index: an OR of the two conditions
	 * makes MariaDB scan the table */
	sb_adds(&s, "SELECT dag_id, bundle_name, relative_fileloc, is_stale, has_import_errors "
	            "FROM dag WHERE ");
	where_files(&s, &p, b, "bundle_name", "relative_fileloc", false);
	count(b, false);
	if (store_query(b->c, s.data, p.p, p.n, row_dag, b, err) != 0) {
		free(ids);
		goto out;
	}
	if (nids) {
		sb_free(&s);
		pb_reset(&p);
		sb_adds(&s,
		        "SELECT dag_id, bundle_name, relative_fileloc, is_stale, has_import_errors "
		        "FROM dag WHERE dag_id IN ");
		in_list(&s, nids);
		for (size_t i = 0; i < nids; i++)
			pb_text(&p, ids[i]);
		count(b, false);
		if (store_query(b->c, s.data, p.p, p.n, row_dag, b, err) != 0) {
			free(ids);
			goto out;
		}
	}
	free(ids);
	rc = 0;
out:
	sb_free(&s);
	pb_free(&p);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Plan                                                                      */

char *sync_stacktrace(const char *rel, const dagfile_result *res, const char *store_failure)
{
	strbuf s;
	sb_init(&s);
	if (res) {
		for (size_t i = 0; i < res->nerrors; i++) {
			const diag *d = &res->errors[i];
			sb_printf(&s, "%s:%u:%u: error[%s]: %s\n", rel, d->line ? d->line : 1,
			          d->col ? d->col : 1, d->code, d->message);
		}
	}
	if (store_failure)
		sb_printf(&s, "%s:1:1: error[E003]: could not be stored: %s\n", rel, store_failure);
	if (!s.len)
		return NULL;
	return sb_detach(&s);
}

static bool file_is_batch_owner(const batch *b, const db_dag *d, size_t *fi)
{
	char *k = file_key(d->bundle, d->rel);
	bool hit = strmap_get(&b->filemap, k, fi);
	free(k);
	return hit;
}

/* Whether file fi of the batch still defines dag_id correctly. */
static bool defines_correctly(const batch *b, size_t fi, const char *dag_id)
{
	const dagfile_result *r = b->files[fi].res;
	if (!r)
		return false;
	for (size_t i = 0; i < r->ndags; i++)
		if (strcmp(r->dags[i].dag_id, dag_id) == 0)
			return true;
	return false;
}

static void plan_ownership(batch *b)
{
	strmap claimed = {0}; /* dag_id -> file index that holds it in this batch */
	/* 1: ids recorded in the database keep their file while it still defines
	 *    them correctly */
	for (size_t f = 0; f < b->n; f++) {
		const dagfile_result *r = b->files[f].res;
		b->plan[f].claimed = xcalloc(r && r->ndags ? r->ndags : 1, sizeof(bool));
	}
	for (size_t f = 0; f < b->n; f++) {
		const dagfile_result *r = b->files[f].res;
		if (!r)
			continue;
		for (size_t i = 0; i < r->ndags; i++) {
			const char *id = r->dags[i].dag_id;
			size_t di, owner;
			if (!strmap_get(&b->dagmap, id, &di) || !b->dbd[di].exists)
				continue;
			db_dag *d = &b->dbd[di];
			if (d->stale || d->has_errors)
				continue;
			if (file_is_batch_owner(b, d, &owner)) {
				if (owner == f && !strmap_get(&claimed, id, NULL)) {
					b->plan[f].claimed[i] = true;
					strmap_put(&claimed, id, f);
				}
			}
		}
	}
	/* 2: the rest, in batch order (the caller sorts by path) */
	for (size_t f = 0; f < b->n; f++) {
		const dagfile_result *r = b->files[f].res;
		if (!r)
			continue;
		for (size_t i = 0; i < r->ndags; i++) {
			if (b->plan[f].claimed[i])
				continue;
			const char *id = r->dags[i].dag_id;
			size_t di, owner, holder;
			const char *other = NULL;
			char *other_buf = NULL;
			if (strmap_get(&claimed, id, &holder)) {
				other_buf = xasprintf("%s", b->files[holder].rel);
			} else if (strmap_get(&b->dagmap, id, &di) && b->dbd[di].exists &&
			           !b->dbd[di].stale && !b->dbd[di].has_errors) {
				db_dag *d = &b->dbd[di];
				bool in_batch = file_is_batch_owner(b, d, &owner);
				if (!in_batch || defines_correctly(b, owner, id))
					other_buf = xasprintf("%s", d->rel);
			}
			other = other_buf;
			if (other) {
				file_plan *pl = &b->plan[f];
				pl->extra = xrealloc(pl->extra, (pl->nextra + 1) * sizeof(char *));
				pl->extra[pl->nextra++] = xasprintf(
				    "%s:%u:1: error[E034]: DAG id '%s' is already defined "
				    "by %s\n",
				    b->files[f].rel, r->dags[i].line ? r->dags[i].line : 1, id,
				    other);
				free(other_buf);
				continue;
			}
			b->plan[f].claimed[i] = true;
			strmap_put(&claimed, id, f);
		}
	}
	strmap_free(&claimed);
}

static void digest_add(XXH3_state_t *h, const char *s)
{
	if (!s)
		s = "\x01null";
	XXH3_64bits_update(h, s, strlen(s) + 1);
}

static void plan_files(batch *b)
{
	XXH3_state_t *h = XXH3_createState();
	for (size_t f = 0; f < b->n; f++) {
		sync_file *sf = &b->files[f];
		file_plan *pl = &b->plan[f];
		const dagfile_result *r = sf->res;
		if (sf->deleted || !r) {
			pl->changed = true;
			continue;
		}
		char *st = sync_stacktrace(sf->rel, r, sf->store_failure);
		if (pl->nextra) {
			strbuf s;
			sb_init(&s);
			if (st)
				sb_adds(&s, st);
			for (size_t i = 0; i < pl->nextra; i++)
				sb_adds(&s, pl->extra[i]);
			free(st);
			st = sb_detach(&s);
		}
		pl->stacktrace = st;
		XXH3_64bits_reset(h);
		digest_add(h, sf->fileloc);
		digest_add(h, st);
		for (size_t i = 0; i < r->ndags; i++) {
			const dag_result *g = &r->dags[i];
			char hex[33];
			dagfile_hash_hex(g->hash, hex);
			digest_add(h, pl->claimed[i] ? "claimed" : "refused");
			digest_add(h, g->dag_id);
			digest_add(h, hex);
			digest_add(h, g->description);
			digest_add(h, g->owners);
			digest_add(h, g->schedule);
		}
		for (size_t i = 0; i < r->nerror_dag_ids; i++)
			digest_add(h, r->error_dag_ids[i]);
		for (size_t i = 0; i < r->nwarnings; i++) {
			digest_add(h, r->warnings[i].dag_id);
			digest_add(h, r->warnings[i].code);
			digest_add(h, r->warnings[i].message);
		}
		pl->digest = XXH3_64bits_digest(h);
		snprintf(pl->digest_hex, sizeof(pl->digest_hex), "%016" PRIx64, pl->digest);
		char *k = file_key(sf->bundle, sf->rel);
		size_t di;
		snprintf(pl->source_hex, sizeof(pl->source_hex), "%016" PRIx64, sf->source_hash);
		bool known = strmap_get(&b->ps_digest, k, &di);
		pl->changed = !(known && strcmp(b->digests[di], pl->digest_hex) == 0);
		pl->restamp =
		    !pl->changed && sf->source_hash && strcmp(b->sources[di], pl->source_hex) != 0;
		free(k);
	}
	XXH3_freeState(h);
}

/* ------------------------------------------------------------------------ */
/* Writes                                                                    */

typedef struct rowset {
	pbuf p;
	size_t rows;
	size_t width;
} rowset;

static int flush_upsert(batch *b, rowset *rs, const char *table, const char *const *cols,
                        size_t ncols, size_t nkey, store_error *err)
{
	if (!rs->rows)
		return 0;
	char *sql = store_sql_upsert(store_conn_dialect(b->c), table, cols, ncols, nkey, rs->rows);
	int rc = run(b, sql, &rs->p, true, err);
	free(sql);
	pb_reset(&rs->p);
	rs->rows = 0;
	return rc;
}

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

/* Rows read for the changed files: import errors, tags, warnings. */
typedef struct cur_rows {
	strmap ie; /* file key -> index in ie_text */
	char **ie_text;
	size_t nie;
	strmap tags;  /* dag_id\x1fname -> 1 */
	strmap warns; /* dag_id\x1ftype -> index in warn_msg */
	char **warn_msg;
	size_t nwarn;
	char **warn_keys;
} cur_rows;

static int row_ie(void *ud, size_t ncols, const char *const *v)
{
	cur_rows *c = ud;
	if (ncols < 3 || !v[0] || !v[1])
		return 0;
	char *k = file_key(v[0], v[1]);
	c->ie_text = xrealloc(c->ie_text, (c->nie + 1) * sizeof(char *));
	c->ie_text[c->nie] = xstrdup(v[2] ? v[2] : "");
	strmap_put(&c->ie, k, c->nie++);
	free(k);
	return 0;
}

static int row_tag(void *ud, size_t ncols, const char *const *v)
{
	cur_rows *c = ud;
	if (ncols < 2 || !v[0] || !v[1])
		return 0;
	char *k = file_key(v[0], v[1]);
	strmap_put(&c->tags, k, 1);
	free(k);
	return 0;
}

static int row_warn(void *ud, size_t ncols, const char *const *v)
{
	cur_rows *c = ud;
	if (ncols < 3 || !v[0] || !v[1])
		return 0;
	char *k = file_key(v[0], v[1]);
	c->warn_msg = xrealloc(c->warn_msg, (c->nwarn + 1) * sizeof(char *));
	c->warn_keys = xrealloc(c->warn_keys, (c->nwarn + 1) * sizeof(char *));
	c->warn_msg[c->nwarn] = xstrdup(v[2] ? v[2] : "");
	c->warn_keys[c->nwarn] = xstrdup(k);
	strmap_put(&c->warns, k, c->nwarn++);
	free(k);
	return 0;
}

static void cur_free(cur_rows *c)
{
	strmap_free(&c->ie);
	for (size_t i = 0; i < c->nie; i++)
		free(c->ie_text[i]);
	free(c->ie_text);
	strmap_free(&c->tags);
	strmap_free(&c->warns);
	for (size_t i = 0; i < c->nwarn; i++) {
		free(c->warn_msg[i]);
		free(c->warn_keys[i]);
	}
	free(c->warn_msg);
	free(c->warn_keys);
}

/* Ids whose rows the changed files govern: their correct DAGs, their DAGs with
 * errors that have a row they own, and DAGs they owned that are gone. */
typedef struct idset {
	char **ids;
	size_t n;
	strmap map;
} idset;

static void idset_add(idset *s, const char *id)
{
	if (strmap_get(&s->map, id, NULL))
		return;
	strmap_put(&s->map, id, s->n);
	s->ids = xrealloc(s->ids, (s->n + 1) * sizeof(char *));
	s->ids[s->n++] = (char *)id;
}

static void idset_free(idset *s)
{
	strmap_free(&s->map);
	free(s->ids);
}

static int read_current(batch *b, const idset *all, cur_rows *cur, store_error *err)
{
	pbuf p = {0};
	strbuf s;
	int rc = -1;
	sb_init(&s);
	size_t nchanged = 0;
	for (size_t f = 0; f < b->n; f++)
		if (b->plan[f].changed)
			nchanged++;
	if (nchanged) {
		sb_adds(&s, "SELECT bundle_name, filename, stacktrace FROM import_error WHERE ");
		where_files(&s, &p, b, "bundle_name", "filename", true);
		count(b, false);
		if (store_query(b->c, s.data, p.p, p.n, row_ie, cur, err) != 0)
			goto out;
	}
	if (all->n) {
		for (int q = 0; q < 3; q++) {
			static const char *const sqls[] = {
			    "SELECT dag_id, dag_hash FROM serialized_dag WHERE dag_id IN ",
			    "SELECT dag_id, name FROM dag_tag WHERE dag_id IN ",
			    ("SELECT dag_id, warning_type, message FROM dag_warning WHERE dag_id "
			     "IN ")};
			sb_free(&s);
			pb_reset(&p);
			sb_adds(&s, sqls[q]);
			in_list(&s, all->n);
			for (size_t i = 0; i < all->n; i++)
				pb_text(&p, all->ids[i]);
			count(b, false);
			int r = q == 0   ? store_query(b->c, s.data, p.p, p.n, row_hash, b, err)
			        : q == 1 ? store_query(b->c, s.data, p.p, p.n, row_tag, cur, err)
			                 : store_query(b->c, s.data, p.p, p.n, row_warn, cur, err);
			if (r != 0)
				goto out;
		}
	}
	rc = 0;
out:
	sb_free(&s);
	pb_free(&p);
	return rc;
}

/* DELETE FROM table WHERE (c1 = ? AND c2 = ?) OR ..., in chunks */
static int delete_pairs(batch *b, const char *table, const char *c1, const char *c2, char **keys,
                        size_t n, store_error *err)
{
	for (size_t start = 0; start < n; start += ROWS_PER_STMT) {
		size_t m = n - start < ROWS_PER_STMT ? n - start : ROWS_PER_STMT;
		strbuf s;
		pbuf p = {0};
		sb_init(&s);
		/* grouped by the first column: (c1 = ? AND c2 IN (...)) OR ... */
		sb_printf(&s, "DELETE FROM %s WHERE ", table);
		bool *done = xcalloc(m, sizeof(bool));
		for (size_t i = 0; i < m; i++) {
			if (done[i])
				continue;
			const char *k = keys[start + i];
			size_t l1 = (size_t)(strchr(k, '\x1f') - k);
			sb_printf(&s, "%s(%s = ? AND %s IN (", i ? " OR " : "", c1, c2);
			pb_text_own(&p, xstrndup(k, l1));
			bool comma = false;
			for (size_t j = i; j < m; j++) {
				const char *kj = keys[start + j];
				if (done[j] || strncmp(kj, k, l1 + 1) != 0)
					continue;
				done[j] = true;
				sb_adds(&s, comma ? ",?" : "?");
				comma = true;
				pb_text_own(&p, xstrdup(kj + l1 + 1));
			}
			sb_adds(&s, "))");
		}
		free(done);
		int rc = run(b, s.data, &p, true, err);
		sb_free(&s);
		pb_free(&p);
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* UPDATE dag SET <set> WHERE dag_id IN (...), in chunks */
static int update_ids(batch *b, const char *set, const store_param *setp, size_t nsetp, char **ids,
                      size_t n, store_error *err)
{
	for (size_t start = 0; start < n; start += ROWS_PER_STMT) {
		size_t m = n - start < ROWS_PER_STMT ? n - start : ROWS_PER_STMT;
		strbuf s;
		pbuf p = {0};
		sb_init(&s);
		sb_printf(&s, "UPDATE dag SET %s WHERE dag_id IN ", set);
		in_list(&s, m);
		for (size_t i = 0; i < nsetp; i++)
			pb_add(&p, setp[i]);
		for (size_t i = 0; i < m; i++)
			pb_text(&p, ids[start + i]);
		int rc = run(b, s.data, &p, true, err);
		sb_free(&s);
		pb_free(&p);
		if (rc != 0)
			return -1;
	}
	return 0;
}

static void add_key(char ***arr, size_t *n, char *k)
{
	*arr = xrealloc(*arr, (*n + 1) * sizeof(char *));
	(*arr)[(*n)++] = k;
}

static void free_keys(char **arr, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(arr[i]);
	free(arr);
}

static size_t count_tasks(const dagfile_result *r, const bool *claimed)
{
	size_t n = 0;
	for (size_t i = 0; i < r->ndags; i++)
		if (claimed[i])
			n += r->dags[i].ntasks;
	return n;
}

/* The desired warnings of one DAG, merged per warning_type. */
static char *warning_text(const dagfile_result *r, const char *dag_id, const char *wtype)
{
	strbuf s;
	sb_init(&s);
	for (size_t i = 0; i < r->nwarnings; i++) {
		const diag *d = &r->warnings[i];
		if (!d->dag_id || strcmp(d->dag_id, dag_id) || !d->warning_type ||
		    strcmp(d->warning_type, wtype))
			continue;
		if (s.len)
			sb_addc(&s, '\n');
		sb_adds(&s, d->message);
	}
	return s.len ? sb_detach(&s) : (sb_free(&s), NULL);
}

/* The end of one table's changes: the remaining upsert rows, then the
 * deletions (keys "a\x1fb" on columns c1, c2), which are freed. */
static int flush_and_delete(batch *b, rowset *rs, const char *table, const char *const *cols,
                            size_t ncols, size_t nkey, const char *c1, const char *c2, char ***del,
                            size_t *ndel, store_error *err)
{
	if (flush_upsert(b, rs, table, cols, ncols, nkey, err) != 0 ||
	    delete_pairs(b, table, c1, c2, *del, *ndel, err) != 0)
		return -1;
	free_keys(*del, *ndel);
	*del = NULL;
	*ndel = 0;
	return 0;
}

static int write_changes(batch *b, store_error *err)
{
	int rc = -1;
	char ts[32];
	store_format_ts(b->now, ts, sizeof(ts));
	idset all = {0};     /* ids whose rows we govern */
	idset live = {0};    /* ids that stay non-stale after this batch */
	idset correct = {0}; /* the correct DAGs this batch writes */
	cur_rows cur = {0};
	rowset rs = {0};
	char **stale = NULL, **errs = NULL, **paused = NULL, **del = NULL;
	size_t nstale = 0, nerrs = 0, npaused = 0, ndel = 0;
	char ptsbuf[32];

	/* what the changed files govern */
	for (size_t f = 0; f < b->n; f++) {
		if (!b->plan[f].changed)
			continue;
		const dagfile_result *r = b->files[f].res;
		if (r) {
			for (size_t i = 0; i < r->ndags; i++)
				if (b->plan[f].claimed[i]) {
					idset_add(&all, r->dags[i].dag_id);
					idset_add(&live, r->dags[i].dag_id);
					idset_add(&correct, r->dags[i].dag_id);
				}
		}
		for (size_t d = 0; d < b->ndbd; d++) {
			db_dag *dd = &b->dbd[d];
			if (!dd->exists || strcmp(dd->bundle, b->files[f].bundle) ||
			    strcmp(dd->rel, b->files[f].rel))
				continue;
			const char *id = NULL;
			for (size_t k = 0; k < b->dagmap.cap; k++)
				if (b->dagmap.keys[k] && b->dagmap.vals[k] == d)
					id = b->dagmap.keys[k];
			if (!id || strmap_get(&live.map, id, NULL))
				continue;
			bool with_error = false;
			for (size_t i = 0; r && i < r->nerror_dag_ids; i++)
				if (strcmp(r->error_dag_ids[i], id) == 0)
					with_error = true;
			/* a correct DAG refused by E034 also keeps its row as "with errors"
			 * only if this file owned it; otherwise it is somebody else's */
			for (size_t i = 0; r && i < r->ndags; i++)
				if (!b->plan[f].claimed[i] && strcmp(r->dags[i].dag_id, id) == 0)
					with_error = true;
			idset_add(&all, id);
			if (with_error) {
				idset_add(&live, id);
				if (!dd->has_errors || dd->stale)
					add_key(&errs, &nerrs, xstrdup(id));
			} else if (!dd->stale) {
				add_key(&stale, &nstale, xstrdup(id));
			}
		}
	}
	if (read_current(b, &all, &cur, err) != 0)
		goto out;

	/* bundles */
	for (size_t f = 0; f < b->n; f++) {
		if (!b->plan[f].changed || !b->files[f].res)
			continue;
		bool dup = false;
		for (size_t g = 0; g < f && !dup; g++)
			dup = b->plan[g].changed && b->files[g].res &&
			      strcmp(b->files[g].bundle, b->files[f].bundle) == 0;
		if (dup)
			continue;
		pb_text(&rs.p, b->files[f].bundle);
		pb_add(&rs.p, store_p_bool(true));
		rs.rows++;
	}
	if (flush_upsert(b, &rs, "dag_bundle", bundle_cols, 2, 1, err) != 0)
		goto out;

	/* dag rows of correct DAGs */
	for (size_t f = 0; f < b->n; f++) {
		if (!b->plan[f].changed || !b->files[f].res)
			continue;
		const sync_file *sf = &b->files[f];
		const dagfile_result *r = sf->res;
		store_format_ts(sf->parsed_at ? sf->parsed_at : b->now, ptsbuf, sizeof(ptsbuf));
		for (size_t i = 0; i < r->ndags; i++) {
			if (!b->plan[f].claimed[i])
				continue;
			const dag_result *g = &r->dags[i];
			pb_text(&rs.p, g->dag_id);
			pb_text(&rs.p, sf->bundle);
			pb_text(&rs.p, sf->fileloc);
			pb_text(&rs.p, sf->rel);
			pb_add(&rs.p, store_p_bool(false));
			pb_add(&rs.p, store_p_bool(b->plan[f].stacktrace != NULL));
			pb_text_own(&rs.p, xstrdup(ptsbuf));
			pb_add(&rs.p, store_p_double(r->parse_seconds));
			pb_text(&rs.p, g->description);
			pb_text(&rs.p, g->dag_id);
			pb_text(&rs.p, g->schedule ? g->schedule : "None");
			pb_add(&rs.p, g->max_active_tasks >= 0 ? store_p_int(g->max_active_tasks)
			                                       : store_p_int(16));
			pb_add(&rs.p, g->max_active_runs >= 0 ? store_p_int(g->max_active_runs)
			                                      : store_p_int(16));
			pb_text(&rs.p, g->owners);
			rs.rows++;
			size_t di;
			bool existed = strmap_get(&b->dagmap, g->dag_id, &di) && b->dbd[di].exists;
			if (!existed && g->has_paused_upon_creation && g->is_paused_upon_creation)
				add_key(&paused, &npaused, xstrdup(g->dag_id));
			if (b->st)
				b->st->dags_upserted++;
			if (rs.rows == ROWS_PER_STMT / 4 &&
			    flush_upsert(b, &rs, "dag", dag_cols, DAG_NCOLS, 1, err) != 0)
				goto out;
		}
	}
	if (flush_upsert(b, &rs, "dag", dag_cols, DAG_NCOLS, 1, err) != 0)
		goto out;
	if (npaused) {
		store_param t = store_p_bool(true);
		if (update_ids(b, "is_paused = ?", &t, 1, paused, npaused, err) != 0)
			goto out;
	}
	if (nerrs) {
		store_param t[2] = {store_p_bool(true), store_p_bool(false)};
		if (update_ids(b, "has_import_errors = ?, is_stale = ?", t, 2, errs, nerrs, err) !=
		    0)
			goto out;
	}
	/* deleted files: every DAG they owned is stale */
	for (size_t f = 0; f < b->n; f++) {
		if (!b->files[f].deleted)
			continue;
		for (size_t d = 0; d < b->ndbd; d++) {
			db_dag *dd = &b->dbd[d];
			if (!dd->exists || dd->stale || strcmp(dd->bundle, b->files[f].bundle) ||
			    strcmp(dd->rel, b->files[f].rel))
				continue;
			for (size_t k = 0; k < b->dagmap.cap; k++)
				if (b->dagmap.keys[k] && b->dagmap.vals[k] == d &&
				    !strmap_get(&live.map, b->dagmap.keys[k], NULL)) {
					bool dup = false;
					for (size_t q = 0; q < nstale && !dup; q++)
						dup = strcmp(stale[q], b->dagmap.keys[k]) == 0;
					if (!dup)
						add_key(&stale, &nstale,
						        xstrdup(b->dagmap.keys[k]));
				}
		}
	}
	if (nstale) {
		store_param t = store_p_bool(true);
		if (update_ids(b, "is_stale = ?", &t, 1, stale, nstale, err) != 0)
			goto out;
	}

	/* serialized_dag where the hash changed */
	for (size_t f = 0; f < b->n; f++) {
		if (!b->plan[f].changed || !b->files[f].res)
			continue;
		const dagfile_result *r = b->files[f].res;
		for (size_t i = 0; i < r->ndags; i++) {
			if (!b->plan[f].claimed[i])
				continue;
			const dag_result *g = &r->dags[i];
			char hex[33];
			dagfile_hash_hex(g->hash, hex);
			size_t di;
			if (strmap_get(&b->dagmap, g->dag_id, &di) && b->dbd[di].hash &&
			    strcmp(b->dbd[di].hash, hex) == 0)
				continue;
			pb_text(&rs.p, g->dag_id);
			pb_text_own(&rs.p, xstrdup(hex));
			pb_text(&rs.p, g->json);
			pb_text_own(&rs.p, xstrdup(ts));
			pb_text_own(&rs.p, xstrdup(ts));
			rs.rows++;
			if (b->st)
				b->st->serialized_written++;
			if (rs.rows == 50 &&
			    flush_upsert(b, &rs, "serialized_dag", ser_cols, 5, 1, err) != 0)
				goto out;
		}
	}
	if (flush_upsert(b, &rs, "serialized_dag", ser_cols, 5, 1, err) != 0)
		goto out;

	/* tags: insert the missing ones, delete the ones gone */
	{
		strmap want = {0};
		for (size_t f = 0; f < b->n; f++) {
			if (!b->plan[f].changed || !b->files[f].res)
				continue;
			const dagfile_result *r = b->files[f].res;
			for (size_t i = 0; i < r->ndags; i++) {
				if (!b->plan[f].claimed[i])
					continue;
				const dag_result *g = &r->dags[i];
				for (size_t t = 0; t < g->ntags; t++) {
					char *k = file_key(g->dag_id, g->tags[t]);
					if (!strmap_get(&want, k, NULL)) {
						strmap_put(&want, k, 1);
						if (!strmap_get(&cur.tags, k, NULL)) {
							pb_text(&rs.p, g->dag_id);
							pb_text(&rs.p, g->tags[t]);
							rs.rows++;
						}
					}
					free(k);
				}
			}
		}
		for (size_t k = 0; k < cur.tags.cap; k++) {
			const char *key = cur.tags.keys[k];
			if (!key || strmap_get(&want, key, NULL))
				continue;
			/* only tags of the correct DAGs this batch writes */
			char *sep = strchr(key, '\x1f');
			char *id = xstrndup(key, (size_t)(sep - key));
			if (strmap_get(&correct.map, id, NULL))
				add_key(&del, &ndel, xstrdup(key));
			free(id);
		}
		strmap_free(&want);
		if (flush_and_delete(b, &rs, "dag_tag", tag_cols, 2, 2, "dag_id", "name", &del,
		                     &ndel, err) != 0)
			goto out;
	}

	/* import errors */
	for (size_t f = 0; f < b->n; f++) {
		if (!b->plan[f].changed)
			continue;
		const sync_file *sf = &b->files[f];
		char *k = file_key(sf->bundle, sf->rel);
		size_t ci;
		bool has = strmap_get(&cur.ie, k, &ci);
		const char *want = sf->deleted ? NULL : b->plan[f].stacktrace;
		if (!want) {
			if (has)
				add_key(&del, &ndel, k);
			else
				free(k);
			continue;
		}
		free(k);
		if (has && strcmp(cur.ie_text[ci], want) == 0)
			continue;
		pb_text(&rs.p, sf->bundle);
		pb_text(&rs.p, sf->rel);
		pb_text(&rs.p, want);
		pb_text_own(&rs.p, xstrdup(ts));
		rs.rows++;
		if (rs.rows == 50 && flush_upsert(b, &rs, "import_error", ie_cols, 4, 2, err) != 0)
			goto out;
	}
	if (flush_and_delete(b, &rs, "import_error", ie_cols, 4, 2, "bundle_name", "filename", &del,
	                     &ndel, err) != 0)
		goto out;

	/* warnings of the DAGs we govern: exactly those of the latest parse of
	 * each live DAG */
	{
		strmap want = {0};
		for (size_t f = 0; f < b->n; f++) {
			const dagfile_result *r = b->files[f].res;
			if (!b->plan[f].changed || !r)
				continue;
			for (size_t i = 0; i < r->nwarnings; i++) {
				const diag *d = &r->warnings[i];
				if (!d->dag_id || !d->warning_type ||
				    !strmap_get(&live.map, d->dag_id, NULL))
					continue;
				char *k = file_key(d->dag_id, d->warning_type);
				if (strmap_get(&want, k, NULL)) {
					free(k);
					continue;
				}
				strmap_put(&want, k, 1);
				char *msg = warning_text(r, d->dag_id, d->warning_type);
				size_t ci;
				if (strmap_get(&cur.warns, k, &ci) &&
				    strcmp(cur.warn_msg[ci], msg) == 0) {
					free(msg);
					free(k);
					continue;
				}
				free(k);
				pb_text(&rs.p, d->dag_id);
				pb_text(&rs.p, d->warning_type);
				pb_text_own(&rs.p, msg);
				pb_text_own(&rs.p, xstrdup(ts));
				rs.rows++;
				if (rs.rows == 100 && flush_upsert(b, &rs, "dag_warning", warn_cols,
				                                   4, 2, err) != 0) {
					strmap_free(&want);
					goto out;
				}
			}
		}
		for (size_t i = 0; i < cur.nwarn; i++)
			if (!strmap_get(&want, cur.warn_keys[i], NULL))
				add_key(&del, &ndel, xstrdup(cur.warn_keys[i]));
		strmap_free(&want);
		if (flush_and_delete(b, &rs, "dag_warning", warn_cols, 4, 2, "dag_id",
		                     "warning_type", &del, &ndel, err) != 0)
			goto out;
	}

	/* parse_stat, also for a result unchanged by a change of its sources (a
	 * comment, a reformatted file) so that a restart knows it */
	for (size_t f = 0; f < b->n; f++) {
		if (!b->plan[f].changed && !b->plan[f].restamp)
			continue;
		const sync_file *sf = &b->files[f];
		if (sf->deleted || !sf->res) {
			add_key(&del, &ndel, file_key(sf->bundle, sf->rel));
			continue;
		}
		const dagfile_result *r = sf->res;
		size_t ndags = 0;
		for (size_t i = 0; i < r->ndags; i++)
			ndags += b->plan[f].claimed[i];
		store_format_ts(sf->parsed_at ? sf->parsed_at : b->now, ptsbuf, sizeof(ptsbuf));
		pb_text(&rs.p, sf->bundle);
		pb_text(&rs.p, sf->rel);
		pb_text(&rs.p, sf->source_hash ? b->plan[f].source_hex : NULL);
		pb_text(&rs.p, b->plan[f].digest_hex);
		pb_add(&rs.p, store_p_int(sf->size));
		pb_add(&rs.p, store_p_double(sf->mtime));
		pb_add(&rs.p, store_p_double(r->parse_seconds));
		pb_add(&rs.p, store_p_int((int64_t)ndags));
		pb_add(&rs.p, store_p_int((int64_t)count_tasks(r, b->plan[f].claimed)));
		pb_add(&rs.p, store_p_int(b->plan[f].stacktrace ? 1 : 0));
		pb_add(&rs.p, store_p_int((int64_t)r->nwarnings));
		pb_text_own(&rs.p, xstrdup(ptsbuf));
		pb_text_own(&rs.p, xstrdup(ts));
		rs.rows++;
		if (b->st && b->plan[f].changed)
			b->st->files_changed++;
		if (rs.rows == ROWS_PER_STMT / 13 &&
		    flush_upsert(b, &rs, "parse_stat", ps_cols, 13, 2, err) != 0)
			goto out;
	}
	if (flush_and_delete(b, &rs, "parse_stat", ps_cols, 13, 2, "bundle_name",
	                     "relative_fileloc", &del, &ndel, err) != 0)
		goto out;
	rc = 0;
out:
	pb_free(&rs.p);
	free_keys(stale, nstale);
	free_keys(errs, nerrs);
	free_keys(paused, npaused);
	free_keys(del, ndel);
	idset_free(&all);
	idset_free(&live);
	idset_free(&correct);
	cur_free(&cur);
	return rc;
}

/* ------------------------------------------------------------------------ */

static void batch_free(batch *b)
{
	for (size_t f = 0; f < b->n && b->plan; f++) {
		file_plan *pl = &b->plan[f];
		free(pl->stacktrace);
		for (size_t i = 0; i < pl->nextra; i++)
			free(pl->extra[i]);
		free(pl->extra);
		free(pl->claimed);
		free(pl->db_stacktrace);
	}
	free(b->plan);
	strmap_free(&b->filemap);
	strmap_free(&b->dagmap);
	for (size_t i = 0; i < b->ndbd; i++) {
		free(b->dbd[i].bundle);
		free(b->dbd[i].rel);
		free(b->dbd[i].hash);
	}
	free(b->dbd);
	strmap_free(&b->ps_digest);
	for (size_t i = 0; i < b->ndigests; i++) {
		free(b->digests[i]);
		free(b->sources[i]);
	}
	free(b->digests);
	free(b->sources);
}

/* ------------------------------------------------------------------------ */
/* Leases: several processors on one PostgreSQL or MySQL database            */

static int row_foreign(void *ud, size_t ncols, const char *const *v)
{
	batch *b = ud;
	if (ncols < 3 || !v[0] || !v[1] || !v[2])
		return 0;
	char *k = file_key(v[0], v[1]);
	size_t f;
	if (strmap_get(&b->filemap, k, &f)) {
		sync_file *sf = &b->files[f];
		sf->foreign = true;
		snprintf(sf->foreign_owner, sizeof(sf->foreign_owner), "%s", v[2]);
		b->plan[f].changed = false;
		b->plan[f].restamp = false;
	}
	free(k);
	return 0;
}

/* Before anything is written, the batch's processor takes the lease of every
 * file it is about to write: new leases are inserted, its own and expired ones
 * are (re)taken; a file whose lease another live processor holds is left out
 * of the batch and reported foreign. The rows lock in the transaction, so two
 * processors never write one file at once. */
static int claim_leases(batch *b, store_error *err)
{
	const char *owner = b->files[0].lease_owner;
	if (!owner || store_conn_dialect(b->c) == STORE_SQLITE)
		return 0;
	size_t nchanged = 0;
	for (size_t f = 0; f < b->n; f++)
		if (b->plan[f].changed || b->plan[f].restamp)
			nchanged++;
	if (!nchanged)
		return 0;
	char now[32], until[32];
	store_format_ts(b->now, now, sizeof(now));
	store_format_ts(b->now + SYNC_LEASE_SECONDS, until, sizeof(until));
	static const char *const cols[] = {"bundle_name", "relative_fileloc", "owner",
	                                   "expires_at"};
	rowset rs = {0};
	int rc = -1;
	for (size_t f = 0; f < b->n; f++) {
		if (!b->plan[f].changed && !b->plan[f].restamp)
			continue;
		pb_text(&rs.p, b->files[f].bundle);
		pb_text(&rs.p, b->files[f].rel);
		pb_text(&rs.p, owner);
		pb_text(&rs.p, until);
		rs.rows++;
	}
	/* new leases; existing rows are left to the UPDATE below */
	{
		char *vals = store_sql_placeholders(rs.rows, 4);
		bool my = store_conn_dialect(b->c) == STORE_MYSQL;
		char *sql =
		    xasprintf("INSERT %sINTO file_lease (%s, %s, %s, %s) VALUES %s%s",
		              my ? "IGNORE " : "", cols[0], cols[1], cols[2], cols[3], vals,
		              my ? "" : " ON CONFLICT (bundle_name, relative_fileloc) DO NOTHING");
		int r0 = run(b, sql, &rs.p, true, err);
		free(sql);
		free(vals);
		if (r0 != 0)
			goto out;
	}
	strbuf s;
	pbuf p = {0};
	sb_init(&s);
	sb_adds(
	    &s,
	    "UPDATE file_lease SET owner = ?, expires_at = ? WHERE (owner = ? OR expires_at < ?)"
	    " AND (");
	pb_text(&p, owner);
	pb_text(&p, until);
	pb_text(&p, owner);
	pb_text(&p, now);
	where_files(&s, &p, b, "bundle_name", "relative_fileloc", true);
	sb_addc(&s, ')');
	int r = run(b, s.data, &p, true, err);
	sb_free(&s);
	pb_reset(&p);
	if (r != 0) {
		pb_free(&p);
		goto out;
	}
	sb_adds(
	    &s,
	    "SELECT bundle_name, relative_fileloc, owner FROM file_lease WHERE owner <> ? AND (");
	pb_text(&p, owner);
	where_files(&s, &p, b, "bundle_name", "relative_fileloc", true);
	sb_addc(&s, ')');
	count(b, false);
	r = store_query(b->c, s.data, p.p, p.n, row_foreign, b, err);
	sb_free(&s);
	pb_free(&p);
	if (r != 0)
		goto out;
	rc = 0;
out:
	pb_free(&rs.p);
	return rc;
}

static int cmp_file(const void *a, const void *b)
{
	const sync_file *x = a, *y = b;
	int c = strcmp(x->bundle, y->bundle);
	return c ? c : strcmp(x->rel, y->rel);
}

int sync_apply(store_conn *c, sync_file *files, size_t n, sync_stats *st, store_error *err)
{
	store_error_clear(err);
	if (n == 0)
		return 0;
	/* path order decides who keeps a contested DAG id within the batch */
	qsort(files, n, sizeof(*files), cmp_file);
	batch b = {.files = files, .n = n, .st = st, .c = c, .now = clock_epoch()};
	b.plan = xcalloc(n, sizeof(file_plan));
	for (size_t f = 0; f < n; f++) {
		files[f].foreign = false;
		files[f].foreign_owner[0] = '\0';
		char *k = file_key(files[f].bundle, files[f].rel);
		strmap_put(&b.filemap, k, f);
		free(k);
	}
	int rc = -1;
	count(&b, false);
	if (store_begin_write(c, err) != 0)
		goto out;
	if (read_state(&b, err) != 0)
		goto fail;
	plan_ownership(&b);
	plan_files(&b);
	if (claim_leases(&b, err) != 0)
		goto fail;
	bool any = false;
	for (size_t f = 0; f < n; f++) {
		if (b.plan[f].changed || b.plan[f].restamp)
			any = true;
		if (files[f].foreign) {
			if (st)
				st->foreign++;
		} else if (!b.plan[f].changed && st) {
			st->files_unchanged++;
		}
	}
	if (any && write_changes(&b, err) != 0)
		goto fail;
	count(&b, false);
	if (store_commit(c, err) != 0)
		goto out;
	rc = 0;
	goto out;
fail:
	store_rollback(c);
out:
	batch_free(&b);
	return rc;
}

static int write_range(pool *p, sync_file *files, size_t n, sync_stats *st, store_error *err,
                       int depth)
{
	store_conn *c = NULL;
	if (pool_acquire(p, &c, err) != 0)
		return -1;
	sync_stats local = {0};
	int rc = sync_apply(c, files, n, &local, err);
	pool_release(p, c);
	if (rc == 0) {
		if (st) {
			st->statements += local.statements;
			st->writes += local.writes;
			st->files_changed += local.files_changed;
			st->files_unchanged += local.files_unchanged;
			st->dags_upserted += local.dags_upserted;
			st->serialized_written += local.serialized_written;
			st->foreign += local.foreign;
		}
		return 0;
	}
	if (err->cls != STORE_PERMANENT || depth > 64)
		return -1;
	if (n == 1) {
		if (files[0].store_failure || files[0].deleted) {
			/* not even the plain record can be stored: reported, and left to the
			 * file's next parse, so that the rest of the batch goes on */
			log_error("%s/%s could not be stored: %s", files[0].bundle, files[0].rel,
			          err->message);
			if (st)
				st->dropped++;
			return 0;
		}
		/* record the file with an import error that says why */
		char *why = xstrdup(err->message);
		files[0].store_failure = why;
		dagfile_result empty = {0};
		const dagfile_result *orig = files[0].res;
		files[0].res = &empty;
		rc = write_range(p, files, 1, st, err, depth + 1);
		files[0].res = orig;
		files[0].store_failure = NULL;
		free(why);
		if (rc == 0 && st)
			st->isolated_failures++;
		return rc;
	}
	/* permanent errors end at single files (recorded or dropped there): what
	 * comes back from a half is transient, and the whole batch is retried */
	size_t half = n / 2;
	if (write_range(p, files, half, st, err, depth + 1) != 0)
		return -1;
	return write_range(p, files + half, n - half, st, err, depth + 1);
}

int sync_write(pool *p, sync_file *files, size_t n, sync_stats *st, store_error *err)
{
	store_error_clear(err);
	return write_range(p, files, n, st, err, 0);
}

typedef struct known_acc {
	sync_known_fn fn;
	void *ud;
	strmap seen;
} known_acc;

static int row_known(void *ud, size_t ncols, const char *const *v)
{
	known_acc *a = ud;
	if (ncols < 1 || !v[0] || strmap_get(&a->seen, v[0], NULL))
		return 0;
	strmap_put(&a->seen, v[0], 1);
	a->fn(a->ud, v[0]);
	return 0;
}

int sync_known_files(store_conn *c, const char *bundle, sync_known_fn fn, void *ud,
                     store_error *err)
{
	static const char *const sqls[] = {
	    "SELECT DISTINCT relative_fileloc FROM dag WHERE bundle_name = ? AND is_stale = ?",
	    "SELECT filename FROM import_error WHERE bundle_name = ?",
	    "SELECT relative_fileloc FROM parse_stat WHERE bundle_name = ?",
	};
	known_acc a = {.fn = fn, .ud = ud};
	int rc = 0;
	for (size_t q = 0; q < 3 && rc == 0; q++) {
		store_param p[2] = {store_p_text(bundle), store_p_bool(false)};
		rc = store_query(c, sqls[q], p, q == 0 ? 2 : 1, row_known, &a, err);
	}
	strmap_free(&a.seen);
	return rc;
}

int sync_heartbeat_leases(store_conn *c, const char *owner, store_error *err)
{
	if (store_conn_dialect(c) == STORE_SQLITE)
		return 0;
	char until[32];
	store_format_ts(clock_epoch() + SYNC_LEASE_SECONDS, until, sizeof(until));
	store_param p[2] = {store_p_text(until), store_p_text(owner)};
	return store_exec(c, "UPDATE file_lease SET expires_at = ? WHERE owner = ?", p, 2, err);
}

int sync_release_leases(store_conn *c, const char *owner, store_error *err)
{
	if (store_conn_dialect(c) == STORE_SQLITE)
		return 0;
	store_param p = store_p_text(owner);
	return store_exec(c, "DELETE FROM file_lease WHERE owner = ?", &p, 1, err);
}

typedef struct dead_acc {
	sync_known_fn fn;
	void *ud;
} dead_acc;

static int row_dead(void *ud, size_t ncols, const char *const *v)
{
	dead_acc *a = ud;
	if (ncols >= 1 && v[0])
		a->fn(a->ud, v[0]);
	return 0;
}

int sync_live_owners(store_conn *c, sync_known_fn fn, void *ud, store_error *err)
{
	if (store_conn_dialect(c) == STORE_SQLITE)
		return 0;
	char now[32];
	store_format_ts(clock_epoch(), now, sizeof(now));
	store_param p = store_p_text(now);
	dead_acc a = {fn, ud};
	return store_query(c, "SELECT DISTINCT owner FROM file_lease WHERE expires_at >= ?", &p, 1,
	                   row_dead, &a, err);
}
