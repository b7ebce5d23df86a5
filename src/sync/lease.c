/* File leases between processors (PostgreSQL, MySQL/MariaDB): claims before
 * parsing, renewal with the heartbeat, release on a clean stop, and the fence
 * every write transaction passes. Every time is the database's: a processor's
 * own clock never decides whether a lease has expired. */
#include "sync/lease.h"

#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "sync/apply.h"
#include "sync/plan.h"
#include "util/clock.h"
#include "util/strmap.h"
#include "util/xalloc.h"

/* The database's time, and the database's time plus ? seconds. */
static const char *sql_now(store_dialect d)
{
	return d == STORE_PG ? "clock_timestamp()" : "NOW(6)";
}

static const char *sql_now_plus(store_dialect d)
{
	return d == STORE_PG ? "(clock_timestamp() + make_interval(secs => ?))"
	                     : "(NOW(6) + INTERVAL ? SECOND)";
}

/* An interval of `secs` seconds, as SQL (a constant the process made). */
static const char *interval_sql(store_dialect d, int secs)
{
	static __thread char buf[64];
	snprintf(buf, sizeof buf,
	         d == STORE_PG ? "make_interval(secs => %d)" : "INTERVAL %d SECOND", secs);
	return buf;
}

static char *fkey(const char *a, const char *b)
{
	return xasprintf("%s\x1f%s", a, b);
}

static bool truthy(const char *v)
{
	return v && (v[0] == 't' || v[0] == 'T' || v[0] == '1');
}

static int int_row(void *ud, size_t ncols, const char *const *v)
{
	if (ncols > 0 && v[0])
		*(size_t *)ud = (size_t)strtoull(v[0], NULL, 10);
	return 1;
}

/* A lease row as read under lock. */
typedef struct lrow {
	bool found;
	bool expired; /* expires_at in the past, or no owner */
	/* free or expired for more than lease_s (or since a time not known) */
	bool long_free;
	char owner[96];
	int64_t token;
} lrow;

typedef struct lread {
	strmap idx; /* bundle \x1f rel -> index in rows */
	lrow *rows;
} lread;

static int row_lease(void *ud, size_t ncols, const char *const *v)
{
	lread *r = ud;
	if (ncols < 5 || !v[0] || !v[1])
		return 0;
	char *k = fkey(v[0], v[1]);
	size_t i;
	if (strmap_get(&r->idx, k, &i)) {
		lrow *l = &r->rows[i];
		l->found = true;
		snprintf(l->owner, sizeof(l->owner), "%s", v[2] ? v[2] : "");
		l->token = v[3] ? strtoll(v[3], NULL, 10) : 0;
		l->expired = !v[2] || truthy(v[4]);
		l->long_free = l->expired && ncols > 5 && truthy(v[5]);
	}
	free(k);
	return 0;
}

/* Reads (and locks, with `lock` as the suffix) the lease rows of files. */
static int read_rows(store_conn *c, sync_stats *st, const lease_file *files, size_t n, int lease_s,
                     const char *lock, lread *r, store_error *err)
{
	store_dialect d = store_conn_dialect(c);
	r->rows = xcalloc(n ? n : 1, sizeof(lrow));
	sync_pair *pp = xcalloc(n ? n : 1, sizeof(sync_pair));
	for (size_t i = 0; i < n; i++) {
		char *k = fkey(files[i].bundle, files[i].rel);
		strmap_put(&r->idx, k, i);
		free(k);
		pp[i] = (sync_pair){files[i].bundle, files[i].rel};
	}
	/* a free lease's expires_at is when it became free */
	char *sql = xasprintf("SELECT bundle_name, relative_fileloc, owner, token, CASE WHEN "
	                      "expires_at IS NULL OR expires_at < %s THEN 1 ELSE 0 END, CASE "
	                      "WHEN expires_at IS NULL OR expires_at < %s - %s THEN 1 ELSE 0 END "
	                      "FROM file_lease WHERE ",
	                      sql_now(d), sql_now(d), interval_sql(d, lease_s));
	int rc = apply_pairs(c, st, sql, NULL, 0, "bundle_name", "relative_fileloc", pp, n, lock,
	                     row_lease, r, err);
	free(sql);
	free(pp);
	return rc;
}

static void lread_free(lread *r)
{
	strmap_free(&r->idx);
	free(r->rows);
}

static int cmp_lease_file(const void *a, const void *b)
{
	const lease_file *x = a, *y = b;
	int c = strcmp(x->bundle, y->bundle);
	return c ? c : strcmp(x->rel, y->rel);
}

/* Rows for files that have none yet (free: no owner, token 0). In path
 * order, the order of every writer's inserts (sync_apply sorts its files so):
 * two claims of the same new files in other orders each waited for a row
 * the other had inserted, until lock_timeout ended both. */
static int insert_missing(store_conn *c, sync_stats *st, const lease_file *unsorted, size_t n,
                          store_error *err)
{
	lease_file *files = xmalloc((n ? n : 1) * sizeof(*files));
	memcpy(files, unsorted, n * sizeof(*files));
	qsort(files, n, sizeof(*files), cmp_lease_file);
	static const char *const cols[] = {"bundle_name", "relative_fileloc", "token",
	                                   "expires_at"};
	store_dialect d = store_conn_dialect(c);
	/* bounded: three parameters a row */
	size_t per = (store_max_params(c) - 8) / 3;
	if (per > 250)
		per = 250;
	for (size_t start = 0; start < n; start += per) {
		size_t m = n - start < per ? n - start : per;
		/* free since now */
		const char *now = sql_now(d);
		size_t one = strlen(now) + 16;
		char *vals = xmalloc(m * one + 1), *o = vals;
		for (size_t i = 0; i < m; i++)
			o += snprintf(o, one + 1, "%s(?, ?, ?, %s)", i ? ", " : "", now);
		char *sql = xasprintf(
		    "INSERT %sINTO file_lease (%s, %s, %s, %s) VALUES %s%s",
		    d == STORE_MYSQL ? "IGNORE " : "", cols[0], cols[1], cols[2], cols[3], vals,
		    d == STORE_MYSQL ? ""
		                     : " ON CONFLICT (bundle_name, relative_fileloc) "
		                       "DO NOTHING");
		store_param *p = xcalloc(m * 3, sizeof(*p));
		for (size_t i = 0; i < m; i++) {
			p[3 * i] = store_p_text(files[start + i].bundle);
			p[3 * i + 1] = store_p_text(files[start + i].rel);
			p[3 * i + 2] = store_p_int(0);
		}
		if (st)
			st->statements++, st->writes++;
		int rc = store_exec(c, sql, p, m * 3, err);
		free(p);
		free(sql);
		free(vals);
		if (rc != 0) {
			free(files);
			return -1;
		}
	}
	free(files);
	return 0;
}

/* UPDATE file_lease SET <set> WHERE [owner = ? AND] <pairs>, bounded. */
static int update_pairs(store_conn *c, sync_stats *st, const char *set, const store_param *fixed,
                        size_t nfixed, const lease_file *files, const size_t *idx, size_t n,
                        store_error *err)
{
	if (!n)
		return 0;
	sync_pair *pp = xcalloc(n, sizeof(sync_pair));
	for (size_t i = 0; i < n; i++)
		pp[i] = (sync_pair){files[idx[i]].bundle, files[idx[i]].rel};
	char *sql = xasprintf("UPDATE file_lease SET %s WHERE ", set);
	int rc = apply_pairs(c, st, sql, fixed, nfixed, "bundle_name", "relative_fileloc", pp, n,
	                     NULL, NULL, NULL, err);
	free(sql);
	free(pp);
	return rc;
}

/* What a claim weighs: the live processors and the leases each holds. */
typedef struct share_ctx {
	const char *me;
	size_t live;      /* heartbeat within lease_s, me counted even before its first */
	size_t held;      /* leases me holds (the rows: files gone since count too) */
	size_t min_other; /* the fewest another live processor holds; SIZE_MAX alone */
	bool me_seen;
} share_ctx;

static int row_share(void *ud, size_t ncols, const char *const *v)
{
	share_ctx *s = ud;
	if (ncols < 2 || !v[0])
		return 0;
	size_t n = v[1] ? (size_t)strtoull(v[1], NULL, 10) : 0;
	s->live++;
	if (strcmp(v[0], s->me) == 0)
		s->me_seen = true;
	else if (n < s->min_other)
		s->min_other = n;
	return 0;
}

/* Inside the caller's transaction. */
static int share_state(store_conn *c, const char *me, int lease_s, share_ctx *s, store_error *err)
{
	store_dialect d = store_conn_dialect(c);
	char *sql = xasprintf("SELECT dp.instance_name, (SELECT count(*) FROM file_lease fl WHERE "
	                      "fl.owner = dp.instance_name) FROM dag_processor dp WHERE "
	                      "dp.stopped_at IS NULL AND dp.latest_heartbeat >= %s",
	                      d == STORE_PG ? "clock_timestamp() - make_interval(secs => ?)"
	                                    : "NOW(6) - INTERVAL ? SECOND");
	store_param ls = store_p_int(lease_s), mep = store_p_text(me);
	*s = (share_ctx){.me = me, .min_other = SIZE_MAX};
	int rc = store_query(c, sql, &ls, 1, row_share, s, err);
	free(sql);
	if (rc == 0)
		rc = store_query(c, "SELECT count(*) FROM file_lease WHERE owner = ?", &mep, 1,
		                 int_row, &s->held, err);
	if (!s->me_seen)
		s->live++;
	return rc;
}

/* How many free files me may take: up to its fair share, ceil(total / live).
 * A free file is never refused by every live processor, though: the one
 * holding the fewest (ties included; alone, any) takes it over its share.
 * Shares alone would leave a file to nobody whenever each processor's count
 * reached its share early (rows of files deleted since, scans that differ
 * for a moment), as two processors on 40 files holding 20 and 21 do with a
 * 41st; the sweep gives back what is over share + 1 of the files that
 * exist. */
static size_t share_allows(const share_ctx *s, size_t total, size_t *share)
{
	*share = (total + s->live - 1) / s->live;
	if (s->min_other == SIZE_MAX)
		return SIZE_MAX;
	size_t n = *share > s->held ? *share - s->held : 0;
	if (s->held <= s->min_other && n < s->min_other + 1 - s->held)
		n = s->min_other + 1 - s->held;
	return n;
}

typedef struct hash_ctx {
	strmap idx;
	lease_state *out;
} hash_ctx;

static int row_hash(void *ud, size_t ncols, const char *const *v)
{
	hash_ctx *h = ud;
	if (ncols < 3 || !v[0] || !v[1] || !v[2])
		return 0;
	char *k = fkey(v[0], v[1]);
	size_t i;
	if (strmap_get(&h->idx, k, &i))
		snprintf(h->out[i].hash, sizeof(h->out[i].hash), "%s", v[2]);
	free(k);
	return 0;
}

/* The source hashes the files' last writer recorded (parse_stat). */
static int stored_hashes(store_conn *c, const lease_file *files, const size_t *idx, size_t n,
                         lease_state *out, store_error *err)
{
	if (!n)
		return 0;
	hash_ctx h = {.out = out};
	sync_pair *pp = xcalloc(n, sizeof(sync_pair));
	for (size_t i = 0; i < n; i++) {
		char *k = fkey(files[idx[i]].bundle, files[idx[i]].rel);
		strmap_put(&h.idx, k, idx[i]);
		free(k);
		pp[i] = (sync_pair){files[idx[i]].bundle, files[idx[i]].rel};
	}
	/* not for a file refused with E034: the id may be free now, it is parsed */
	store_param e034 = store_p_text("%error[E034]%");
	int rc = apply_pairs(
	    c, NULL,
	    "SELECT ps.bundle_name, ps.relative_fileloc, ps.file_hash FROM "
	    "parse_stat ps WHERE NOT EXISTS (SELECT 1 FROM import_error ie WHERE "
	    "ie.bundle_name = ps.bundle_name AND ie.filename = ps.relative_fileloc "
	    "AND ie.stacktrace LIKE ?) AND ",
	    &e034, 1, "ps.bundle_name", "ps.relative_fileloc", pp, n, NULL, row_hash, &h, err);
	free(pp);
	strmap_free(&h.idx);
	return rc;
}

int lease_claim(store_conn *c, const char *me, int lease_s, const lease_file *files, size_t n,
                size_t total, lease_state *out, lease_weigh *w, store_error *err)
{
	memset(out, 0, n * sizeof(*out));
	lease_weigh local;
	if (!w)
		w = &local;
	*w = (lease_weigh){.live = 1, .total = total};
	store_dialect d = store_conn_dialect(c);
	if (d == STORE_SQLITE) {
		for (size_t i = 0; i < n; i++)
			out[i].token = 1;
		return 0;
	}
	if (!n)
		return 0;
	lread r = {0};
	size_t *take = xcalloc(n, sizeof(size_t)), *mine = xcalloc(n, sizeof(size_t));
	size_t ntake = 0, nmine = 0;
	int rc = -1;
	if (store_begin(c, err) != 0)
		goto out;
	/* rows locked by another claim right now are skipped: that one decides */
	share_ctx sh;
	if (share_state(c, me, lease_s, &sh, err) != 0 ||
	    insert_missing(c, NULL, files, n, err) != 0 ||
	    read_rows(c, NULL, files, n, lease_s, " FOR UPDATE SKIP LOCKED", &r, err) != 0)
		goto fail;
	size_t max_new = share_allows(&sh, total, &w->share);
	w->live = sh.live;
	w->held = sh.held;
	for (size_t i = 0; i < n; i++) {
		lrow *l = &r.rows[i];
		if (!l->found)
			continue; /* being claimed by someone else */
		if (strcmp(l->owner, me) == 0) {
			out[i].token = l->token; /* mine: still the same epoch */
			mine[nmine++] = i;
		} else if (l->expired) {
			/* over the share, a file nobody took for lease_s is taken
			 * all the same: shares count processors, not what each one
			 * can see (its bundles, its scan) */
			if (ntake < max_new || l->long_free) {
				out[i].token = l->token + 1;
				take[ntake++] = i;
			} else {
				out[i].over_share = true;
				w->refused++;
			}
		} else {
			snprintf(out[i].owner, sizeof(out[i].owner), "%s", l->owner);
		}
	}
	char *plus = xasprintf("owner = ?, token = token + 1, expires_at = %s", sql_now_plus(d));
	store_param tp[2] = {store_p_text(me), store_p_int(lease_s)};
	int r1 = update_pairs(c, NULL, plus, tp, 2, files, take, ntake, err);
	free(plus);
	if (r1 != 0 || stored_hashes(c, files, take, ntake, out, err) != 0)
		goto fail;
	char *renew = xasprintf("expires_at = %s", sql_now_plus(d));
	store_param rp = store_p_int(lease_s);
	r1 = update_pairs(c, NULL, renew, &rp, 1, files, mine, nmine, err);
	free(renew);
	if (r1 != 0 || store_commit(c, err) != 0)
		goto fail;
	rc = 0;
	goto out;
fail:
	store_rollback(c);
	memset(out, 0, n * sizeof(*out));
	w->refused = 0;
out:
	lread_free(&r);
	free(take);
	free(mine);
	return rc;
}

int lease_release(store_conn *c, const char *me, const lease_file *files, size_t n,
                  store_error *err)
{
	if (store_conn_dialect(c) == STORE_SQLITE)
		return 0;
	store_param p = store_p_text(me);
	/* free from now on: expires_at says since when */
	char *sql =
	    xasprintf("UPDATE file_lease SET owner = NULL, expires_at = %s WHERE owner = ?%s",
	              sql_now(store_conn_dialect(c)), n ? " AND " : "");
	if (!n) {
		int rc = store_exec(c, sql, &p, 1, err);
		free(sql);
		return rc;
	}
	sync_pair *pp = xcalloc(n, sizeof(sync_pair));
	for (size_t i = 0; i < n; i++)
		pp[i] = (sync_pair){files[i].bundle, files[i].rel};
	int rc = apply_pairs(c, NULL, sql, &p, 1, "bundle_name", "relative_fileloc", pp, n, NULL,
	                     NULL, NULL, err);
	free(sql);
	free(pp);
	return rc;
}

int lease_heartbeat(store_conn *c, const lease_beat *b, int lease_s, size_t *live, size_t *held,
                    store_error *err)
{
	store_dialect d = store_conn_dialect(c);
	*live = 1;
	*held = 0;
	static const char *const cols[] = {"instance_name", "hostname",         "pid",
	                                   "started_at",    "latest_heartbeat", "version",
	                                   "files_held",    "stopped_at"};
	char started[32], now[32];
	store_format_ts(b->started_at, started, sizeof(started));
	store_format_ts(clock_epoch(), now, sizeof(now));
	store_param me = store_p_text(b->me);
	int rc = -1;
	char *sql = NULL;
	if (store_begin(c, err) != 0)
		return -1;
	if (d != STORE_SQLITE) {
		sql = xasprintf("UPDATE file_lease SET expires_at = %s WHERE owner = ?",
		                sql_now_plus(d));
		store_param p[2] = {store_p_int(lease_s), store_p_text(b->me)};
		if (store_exec(c, sql, p, 2, err) != 0 ||
		    store_query(c, "SELECT count(*) FROM file_lease WHERE owner = ?", &me, 1,
		                int_row, held, err) != 0)
			goto fail;
		free(sql);
		sql = NULL;
	}
	store_param v[8] = {store_p_text(b->me),         store_p_text(b->host),
	                    store_p_int(b->pid),         store_p_text(started),
	                    store_p_text(now),           store_p_text(b->version),
	                    store_p_int((int64_t)*held), store_p_null()};
	sql = store_sql_upsert(d, "dag_processor", cols, 8, 1, 1);
	if (store_exec(c, sql, v, 8, err) != 0)
		goto fail;
	free(sql);
	sql = NULL;
	if (d != STORE_SQLITE) {
		/* the heartbeat on the database's clock, like the leases */
		sql = xasprintf(
		    "UPDATE dag_processor SET latest_heartbeat = %s WHERE instance_name = ?",
		    sql_now(d));
		if (store_exec(c, sql, &me, 1, err) != 0)
			goto fail;
		free(sql);
		sql = xasprintf("DELETE FROM dag_processor WHERE latest_heartbeat < %s",
		                d == STORE_PG ? "clock_timestamp() - interval '1 day'"
		                              : "NOW(6) - INTERVAL 1 DAY");
		if (store_exec(c, sql, NULL, 0, err) != 0)
			goto fail;
		free(sql);
		sql = xasprintf("SELECT count(*) FROM dag_processor WHERE stopped_at IS NULL AND "
		                "latest_heartbeat >= %s",
		                d == STORE_PG ? "clock_timestamp() - make_interval(secs => ?)"
		                              : "NOW(6) - INTERVAL ? SECOND");
		store_param ls = store_p_int(lease_s);
		if (store_query(c, sql, &ls, 1, int_row, live, err) != 0)
			goto fail;
	}
	if (store_commit(c, err) != 0)
		goto out;
	rc = 0;
	goto out;
fail:
	store_rollback(c);
out:
	free(sql);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* The fence of a write transaction                                          */

static int lock_writers(store_conn *c, sync_stats *st, store_error *err)
{
	size_t got = 0;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (st)
			st->statements++;
		if (store_query(c, "SELECT id FROM sync_lock WHERE id = 1 FOR UPDATE", NULL, 0,
		                int_row, &got, err) != 0)
			return -1;
		if (got)
			return 0;
		/* a schema whose row went missing: put it back once */
		if (store_exec(
		        c,
		        store_conn_dialect(c) == STORE_MYSQL
		            ? "INSERT IGNORE INTO sync_lock (id) VALUES (1)"
		            : "INSERT INTO sync_lock (id) VALUES (1) ON CONFLICT (id) DO NOTHING",
		        NULL, 0, err) != 0)
			return -1;
	}
	return 0;
}

int lease_fence(store_conn *c, const char *me, int lease_s, sync_file *files, size_t n,
                sync_stats *st, store_error *err)
{
	store_dialect d = store_conn_dialect(c);
	if (d == STORE_SQLITE || !me || !n)
		return 0;
	if (lock_writers(c, st, err) != 0)
		return -1;
	lease_file *lf = xcalloc(n, sizeof(*lf));
	for (size_t i = 0; i < n; i++)
		lf[i] = (lease_file){files[i].bundle, files[i].rel};
	lread r = {0};
	size_t *take = xcalloc(n, sizeof(size_t)), *fresh = xcalloc(n, sizeof(size_t));
	size_t ntake = 0, nfresh = 0;
	int rc = -1;
	if (read_rows(c, st, lf, n, lease_s, " FOR UPDATE", &r, err) != 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		sync_file *f = &files[i];
		const lrow *l = &r.rows[i];
		bool mine = l->found && strcmp(l->owner, me) == 0;
		if (!l->found) {
			fresh[nfresh++] = i; /* nobody ever held it: mine now */
			f->lease_token = 1;
		} else if (mine &&
		           (f->lease_token == 0 || f->lease_token == l->token || f->deleted)) {
			f->lease_token = l->token;
		} else if (l->expired && !mine && (f->lease_token == 0 || f->deleted)) {
			/* a file nobody holds: a deletion is true whoever parsed
			 * the file last (given up since, its lease released, it
			 * has no other holder to write it: the file is gone from
			 * every processor's scan) */
			take[ntake++] = i;
			f->lease_token = l->token + 1;
		} else {
			/* another live holder, or a result parsed under an epoch that
			 * has ended (the lease changed hands since): not written. An
			 * empty owner tells the processor to claim the file again. */
			f->foreign = true;
			snprintf(f->foreign_owner, sizeof(f->foreign_owner), "%s",
			         l->expired || mine ? "" : l->owner);
		}
	}
	if (nfresh) {
		static const char *const cols[] = {"bundle_name", "relative_fileloc", "owner",
		                                   "token"};
		store_param *p = xcalloc(nfresh * 4, sizeof(*p));
		for (size_t k = 0; k < nfresh; k++) {
			p[4 * k] = store_p_text(files[fresh[k]].bundle);
			p[4 * k + 1] = store_p_text(files[fresh[k]].rel);
			p[4 * k + 2] = store_p_text(me);
			p[4 * k + 3] = store_p_int(1);
		}
		char *vals = store_sql_placeholders(nfresh, 4);
		char *sql = xasprintf("INSERT INTO file_lease (%s, %s, %s, %s) VALUES %s", cols[0],
		                      cols[1], cols[2], cols[3], vals);
		if (st)
			st->statements++, st->writes++;
		int r1 = store_exec(c, sql, p, nfresh * 4, err);
		free(sql);
		free(vals);
		free(p);
		if (r1 != 0)
			goto out;
		char *renew = xasprintf("expires_at = %s", sql_now_plus(d));
		store_param rp = store_p_int(lease_s);
		r1 = update_pairs(c, st, renew, &rp, 1, lf, fresh, nfresh, err);
		free(renew);
		if (r1 != 0)
			goto out;
	}
	char *plus = xasprintf("owner = ?, token = token + 1, expires_at = %s", sql_now_plus(d));
	store_param tp[2] = {store_p_text(me), store_p_int(lease_s)};
	int r2 = update_pairs(c, st, plus, tp, 2, lf, take, ntake, err);
	free(plus);
	if (r2 != 0)
		goto out;
	rc = 0;
out:
	lread_free(&r);
	free(take);
	free(fresh);
	free(lf);
	return rc;
}

static int delete_mine(store_conn *c, const char *me, sync_pair *pp, size_t n, store_error *err)
{
	store_param p = store_p_text(me);
	return n ? apply_pairs(c, NULL, "DELETE FROM file_lease WHERE owner = ? AND ", &p, 1,
	                       "bundle_name", "relative_fileloc", pp, n, NULL, NULL, NULL, err)
	         : 0;
}

int lease_forget(store_conn *c, const char *me, const sync_file *files, size_t n, store_error *err)
{
	if (store_conn_dialect(c) == STORE_SQLITE || !me)
		return 0;
	sync_pair *pp = xcalloc(n ? n : 1, sizeof(sync_pair));
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (files[i].deleted && !files[i].foreign)
			pp[m++] = (sync_pair){files[i].bundle, files[i].rel};
	int rc = delete_mine(c, me, pp, m, err);
	free(pp);
	return rc;
}

int lease_drop(store_conn *c, const char *me, const lease_file *files, size_t n, store_error *err)
{
	if (store_conn_dialect(c) == STORE_SQLITE)
		return 0;
	sync_pair *pp = xcalloc(n ? n : 1, sizeof(sync_pair));
	for (size_t i = 0; i < n; i++)
		pp[i] = (sync_pair){files[i].bundle, files[i].rel};
	int rc = delete_mine(c, me, pp, n, err);
	free(pp);
	return rc;
}

typedef struct free_ctx {
	void (*fn)(void *ud, const char *bundle, const char *rel);
	void *ud;
} free_ctx;

static int row_free(void *ud, size_t ncols, const char *const *v)
{
	free_ctx *f = ud;
	if (ncols >= 2 && v[0] && v[1])
		f->fn(f->ud, v[0], v[1]);
	return 0;
}

int lease_free_files(store_conn *c, size_t limit,
                     void (*fn)(void *ud, const char *bundle, const char *rel), void *ud,
                     store_error *err)
{
	store_dialect d = store_conn_dialect(c);
	if (d == STORE_SQLITE)
		return 0;
	char *sql = xasprintf("SELECT bundle_name, relative_fileloc FROM file_lease WHERE owner IS "
	                      "NULL OR expires_at < %s LIMIT %zu",
	                      sql_now(d), limit);
	free_ctx f = {fn, ud};
	int rc = store_query(c, sql, NULL, 0, row_free, &f, err);
	free(sql);
	return rc;
}

int lease_leave(store_conn *c, const char *me, store_error *err)
{
	store_dialect d = store_conn_dialect(c);
	if (d != STORE_SQLITE && lease_release(c, me, NULL, 0, err) != 0)
		return -1;
	/* the row stays (its last heartbeat is history), marked stopped: the
	 * others no longer count it */
	char now[32];
	store_format_ts(clock_epoch(), now, sizeof(now));
	char *sql = xasprintf("UPDATE dag_processor SET stopped_at = %s, files_held = 0 WHERE "
	                      "instance_name = ?",
	                      d == STORE_SQLITE ? "?" : sql_now(d));
	store_param p[2] = {store_p_text(now), store_p_text(me)};
	int rc =
	    d == STORE_SQLITE ? store_exec(c, sql, p, 2, err) : store_exec(c, sql, p + 1, 1, err);
	free(sql);
	return rc;
}

typedef struct reap_acc {
	char **names;
	size_t n, cap;
} reap_acc;

static int row_reap(void *ud, size_t ncols, const char *const *v)
{
	reap_acc *a = ud;
	if (ncols < 2 || !v[0] || !v[1])
		return 0;
	long pid = strtol(v[1], NULL, 10);
	/* the pid is gone: that processor is dead (a pid reused by another
	 * program leaves it alone, and its lease then expires as usual) */
	if (pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH)
		VEC_PUSH(a->names, a->n, a->cap, xstrdup(v[0]));
	return 0;
}

int lease_reap_local(store_conn *c, const char *me, const char *host, size_t *reaped,
                     store_error *err)
{
	*reaped = 0;
	if (store_conn_dialect(c) == STORE_SQLITE)
		return 0;
	store_param p[2] = {store_p_text(host), store_p_text(me)};
	reap_acc a = {0};
	int rc = store_query(c,
	                     "SELECT instance_name, pid FROM dag_processor WHERE hostname = ? AND "
	                     "instance_name <> ? AND stopped_at IS NULL",
	                     p, 2, row_reap, &a, err);
	for (size_t i = 0; rc == 0 && i < a.n; i++) {
		rc = lease_leave(c, a.names[i], err);
		if (rc == 0)
			(*reaped)++;
	}
	for (size_t i = 0; i < a.n; i++)
		free(a.names[i]);
	free(a.names);
	return rc;
}

typedef struct flagged_acc {
	char **keys; /* bundle, rel, bundle, rel, ... */
	size_t n, cap;
} flagged_acc;

static int row_flagged(void *ud, size_t ncols, const char *const *v)
{
	flagged_acc *a = ud;
	if (ncols < 2 || !v[0] || !v[1])
		return 0;
	VEC_PUSH(a->keys, a->n, a->cap, xstrdup(v[0]));
	VEC_PUSH(a->keys, a->n, a->cap, xstrdup(v[1]));
	return 0;
}

int lease_take_reparse(store_conn *c, const char *me,
                       void (*fn)(void *ud, const char *bundle, const char *rel), void *ud,
                       store_error *err)
{
	if (store_conn_dialect(c) == STORE_SQLITE)
		return 0;
	store_param p[2] = {store_p_text(me), store_p_bool(true)};
	flagged_acc a = {0};
	sync_pair *pp = NULL;
	int rc = -1;
	if (store_begin(c, err) != 0)
		return -1;
	if (store_query(c,
	                "SELECT bundle_name, relative_fileloc FROM file_lease WHERE owner = ? AND "
	                "reparse = ? FOR UPDATE",
	                p, 2, row_flagged, &a, err) != 0)
		goto fail;
	size_t m = a.n / 2;
	for (size_t i = 0; i < m; i++)
		fn(ud, a.keys[2 * i], a.keys[2 * i + 1]);
	/* clears the flags read, and only those: a flag another processor set
	 * since (read committed: a new statement sees it) stays for the next
	 * call */
	pp = xcalloc(m ? m : 1, sizeof(*pp));
	for (size_t i = 0; i < m; i++)
		pp[i] = (sync_pair){a.keys[2 * i], a.keys[2 * i + 1]};
	store_param q[2] = {store_p_bool(false), store_p_text(me)};
	if ((m &&
	     apply_pairs(c, NULL, "UPDATE file_lease SET reparse = ? WHERE owner = ? AND ", q, 2,
	                 "bundle_name", "relative_fileloc", pp, m, NULL, NULL, NULL, err) != 0) ||
	    store_commit(c, err) != 0)
		goto fail;
	rc = 0;
	goto out;
fail:
	store_rollback(c);
out:
	for (size_t i = 0; i < a.n; i++)
		free(a.keys[i]);
	free(a.keys);
	free(pp);
	return rc;
}
