/* Reconciliation of a batch of parse results with the database, in one
 * transaction: read the rows the batch touches (apply.c), compute what they
 * must be (plan.c), claim the leases of the files it writes (lease.c), write
 * the difference (apply.c). Also the isolation of data errors by splitting a
 * batch, and the reads the processor needs at start. */
#include "sync/sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/log.h"
#include "sync/apply.h"
#include "sync/lease.h"
#include "sync/plan.h"
#include "util/strmap.h"
#include "util/xalloc.h"

void sync_requeue_add(sync_requeue *rq, char *key)
{
	for (size_t i = 0; i < rq->n; i++)
		if (strcmp(rq->keys[i], key) == 0) {
			free(key);
			return;
		}
	VEC_PUSH(rq->keys, rq->n, rq->cap, key);
}

void sync_requeue_free(sync_requeue *rq)
{
	for (size_t i = 0; i < rq->n; i++)
		free(rq->keys[i]);
	free(rq->keys);
	memset(rq, 0, sizeof(*rq));
}

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

static int cmp_file(const void *a, const void *b)
{
	const sync_file *x = a, *y = b;
	int c = strcmp(x->bundle, y->bundle);
	return c ? c : strcmp(x->rel, y->rel);
}

int sync_apply(store_conn *c, sync_file *files, size_t n, sync_stats *st, sync_requeue *rq,
               store_error *err)
{
	store_error_clear(err);
	if (n == 0)
		return 0;
	/* path order decides who gets a contested DAG id within the batch */
	qsort(files, n, sizeof(*files), cmp_file);
	for (size_t f = 0; f < n; f++) {
		files[f].foreign = false;
		files[f].foreign_owner[0] = '\0';
	}
	plan_current cur = {0};
	plan_out o = {0};
	sync_requeue found = {0};
	sync_stats local = {0};
	int rc = -1;
	local.statements++;
	if (store_begin_write(c, err) != 0)
		goto out;
	/* several processors: one writer at a time, and only files under lease */
	if (lease_fence(c, files[0].lease_owner, files[0].lease_seconds, files, n, &local, err) !=
	        0 ||
	    apply_read(c, files, n, &cur, &local, err) != 0)
		goto fail;
	plan_make(files, n, &cur, &o);
	if (!plan_out_empty(&o) && apply_write(c, files, n, &o, &local, err) != 0)
		goto fail;
	if (lease_forget(c, files[0].lease_owner, files, n, err) != 0)
		goto fail;
	if (rq && apply_find_refused(c, files, n, &o, &found, &local, err) != 0)
		goto fail;
	local.statements++;
	if (store_commit(c, err) != 0)
		goto out;
	for (size_t f = 0; f < n; f++) {
		if (files[f].foreign)
			local.foreign++;
		else if (o.files[f].writes)
			local.files_changed++;
		else
			local.files_unchanged++;
	}
	if (st) {
		st->statements += local.statements;
		st->writes += local.writes;
		st->files_changed += local.files_changed;
		st->files_unchanged += local.files_unchanged;
		st->dags_upserted += local.dags_upserted;
		st->serialized_written += local.serialized_written;
		st->foreign += local.foreign;
	}
	for (size_t i = 0; rq && i < found.n; i++) {
		sync_requeue_add(rq, found.keys[i]);
		found.keys[i] = NULL;
	}
	rc = 0;
	goto out;
fail:
	store_rollback(c);
out:
	sync_requeue_free(&found);
	plan_out_free(&o, n);
	plan_current_free(&cur);
	return rc;
}

/* The database's reason as one line of printable ASCII, for an import error. */
static char *one_line(const char *msg)
{
	char *s = xstrdup(msg);
	for (char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = *p == '\n' || *p == '\t' || *p == '\r' ? ' ' : '?';
	size_t l = strlen(s);
	while (l && s[l - 1] == ' ')
		s[--l] = '\0';
	return s;
}

/* 0 written; -1 failed (the whole batch is to be retried); -2 written but
 * for one or more files the database refuses to record at all. */
static int write_range(pool *p, sync_file *files, size_t n, sync_stats *st, sync_requeue *rq,
                       store_error *err, int depth)
{
	store_conn *c = NULL;
	if (pool_acquire(p, &c, err) != 0) {
		/* a connection refused for good (authentication, no such database) is
		 * the database refusing, never the batch's data */
		if (err->cls == STORE_PERMANENT)
			err->cls = STORE_REFUSED;
		return -1;
	}
	int rc = sync_apply(c, files, n, st, rq, err);
	pool_release(p, c);
	if (rc == 0)
		return 0;
	if (err->cls != STORE_PERMANENT)
		return -1; /* transient or refused: the caller retries the whole batch */
	if (depth > 64) {
		err->cls = STORE_REFUSED;
		return -1;
	}
	if (n == 1) {
		if (files[0].store_failure || files[0].deleted) {
			/* not even the file's plain record can be stored: the database
			 * refuses it; nothing is dropped, the caller retries with
			 * backoff, and the rest of the batch goes on (-2) */
			err->cls = STORE_REFUSED;
			return -2;
		}
		/* record the file with an import error that says why; its DAG rows
		 * stay as they were */
		char *why = one_line(err->message);
		files[0].store_failure = why;
		rc = write_range(p, files, 1, st, rq, err, depth + 1);
		files[0].store_failure = NULL;
		if (rc == 0) {
			log_error("%s/%s could not be stored: %s", files[0].bundle, files[0].rel,
			          why);
			if (st)
				st->isolated_failures++;
		}
		free(why);
		return rc;
	}
	size_t half = n / 2;
	rc = write_range(p, files, half, st, rq, err, depth + 1);
	if (rc == -1)
		return -1;
	store_error first = *err;
	int rc2 = write_range(p, files + half, n - half, st, rq, err, depth + 1);
	if (rc2 == 0 && rc == -2)
		*err = first; /* the refusal of one file in the first half */
	return rc2 == -1 ? -1 : rc2 == -2 ? -2 : rc;
}

int sync_write(pool *p, sync_file *files, size_t n, sync_stats *st, sync_requeue *rq,
               store_error *err)
{
	store_error_clear(err);
	return write_range(p, files, n, st, rq, err, 0) == 0 ? 0 : -1;
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
