/* Leases: several processors on one PostgreSQL or MySQL database. A file is
 * written only by the processor holding its lease (file_lease rows, renewed
 * with the heartbeat, taken over once expired). No-ops on SQLite. */
#include "sync/lease.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/strmap.h"
#include "util/xalloc.h"

typedef struct foreign_ctx {
	sync_file *files;
	strmap map; /* bundle \x1f rel -> batch index */
	size_t marked;
} foreign_ctx;

static int row_foreign(void *ud, size_t ncols, const char *const *v)
{
	foreign_ctx *x = ud;
	if (ncols < 3 || !v[0] || !v[1] || !v[2])
		return 0;
	char *k = xasprintf("%s\x1f%s", v[0], v[1]);
	size_t f;
	if (strmap_get(&x->map, k, &f) && !x->files[f].foreign) {
		sync_file *sf = &x->files[f];
		sf->foreign = true;
		snprintf(sf->foreign_owner, sizeof(sf->foreign_owner), "%s", v[2]);
		x->marked++;
	}
	free(k);
	return 0;
}

/* "(bundle_name = ? AND relative_fileloc IN (?,..)) OR ..." for the files
 * flagged in want (files sorted by bundle) */
static void where_wanted(strbuf *s, store_param **p, size_t *np, const sync_file *files, size_t n,
                         const bool *want)
{
	bool first = true;
	for (size_t f = 0; f < n;) {
		size_t g = f;
		bool any = false;
		for (; g < n && strcmp(files[g].bundle, files[f].bundle) == 0; g++)
			any |= want[g];
		if (any) {
			sb_printf(s, "%s(bundle_name = ? AND relative_fileloc IN (",
			          first ? "" : " OR ");
			first = false;
			*p = xrealloc(*p, (*np + 1 + (g - f)) * sizeof(**p));
			(*p)[(*np)++] = store_p_text(files[f].bundle);
			bool comma = false;
			for (size_t h = f; h < g; h++) {
				if (!want[h])
					continue;
				sb_adds(s, comma ? ",?" : "?");
				comma = true;
				(*p)[(*np)++] = store_p_text(files[h].rel);
			}
			sb_adds(s, "))");
		}
		f = g;
	}
}

int sync_claim_leases(store_conn *c, sync_file *files, size_t n, const bool *want, size_t *marked,
                      sync_stats *st, store_error *err)
{
	*marked = 0;
	const char *owner = n ? files[0].lease_owner : NULL;
	if (!owner || store_conn_dialect(c) == STORE_SQLITE)
		return 0;
	size_t nwant = 0;
	for (size_t f = 0; f < n; f++)
		nwant += want[f];
	if (!nwant)
		return 0;
	double t = clock_epoch();
	char now[32], until[32];
	store_format_ts(t, now, sizeof(now));
	store_format_ts(t + SYNC_LEASE_SECONDS, until, sizeof(until));
	int rc = -1;
	store_param *p = NULL;
	size_t np = 0;
	strbuf s;
	sb_init(&s);
	/* new leases; existing rows are left to the UPDATE below */
	{
		bool my = store_conn_dialect(c) == STORE_MYSQL;
		char *vals = store_sql_placeholders(nwant, 4);
		sb_printf(&s,
		          "INSERT %sINTO file_lease (bundle_name, relative_fileloc, owner, "
		          "expires_at) VALUES %s%s",
		          my ? "IGNORE " : "", vals,
		          my ? "" : " ON CONFLICT (bundle_name, relative_fileloc) DO NOTHING");
		free(vals);
		p = xcalloc(nwant * 4, sizeof(*p));
		for (size_t f = 0; f < n; f++) {
			if (!want[f])
				continue;
			p[np++] = store_p_text(files[f].bundle);
			p[np++] = store_p_text(files[f].rel);
			p[np++] = store_p_text(owner);
			p[np++] = store_p_text(until);
		}
		if (st)
			st->statements++, st->writes++;
		if (store_exec(c, s.data, p, np, err) != 0)
			goto out;
	}
	sb_free(&s);
	np = 0;
	sb_adds(&s, "UPDATE file_lease SET owner = ?, expires_at = ? WHERE (owner = ? OR "
	            "expires_at < ?) AND (");
	p = xrealloc(p, 4 * sizeof(*p));
	p[np++] = store_p_text(owner);
	p[np++] = store_p_text(until);
	p[np++] = store_p_text(owner);
	p[np++] = store_p_text(now);
	where_wanted(&s, &p, &np, files, n, want);
	sb_addc(&s, ')');
	if (st)
		st->statements++, st->writes++;
	if (store_exec(c, s.data, p, np, err) != 0)
		goto out;
	sb_free(&s);
	np = 0;
	sb_adds(&s, "SELECT bundle_name, relative_fileloc, owner FROM file_lease WHERE owner <> ? "
	            "AND (");
	p[np++] = store_p_text(owner);
	where_wanted(&s, &p, &np, files, n, want);
	sb_addc(&s, ')');
	foreign_ctx x = {.files = files};
	for (size_t f = 0; f < n; f++) {
		char *k = xasprintf("%s\x1f%s", files[f].bundle, files[f].rel);
		strmap_put(&x.map, k, f);
		free(k);
	}
	if (st)
		st->statements++;
	int r = store_query(c, s.data, p, np, row_foreign, &x, err);
	strmap_free(&x.map);
	if (r != 0)
		goto out;
	*marked = x.marked;
	rc = 0;
out:
	sb_free(&s);
	free(p);
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

typedef struct owner_acc {
	sync_known_fn fn;
	void *ud;
} owner_acc;

static int row_owner(void *ud, size_t ncols, const char *const *v)
{
	owner_acc *a = ud;
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
	owner_acc a = {fn, ud};
	return store_query(c, "SELECT DISTINCT owner FROM file_lease WHERE expires_at >= ?", &p, 1,
	                   row_owner, &a, err);
}
