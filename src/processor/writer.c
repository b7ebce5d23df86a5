/* The writer thread: drains the pending table in batches (sync_write), one
 * transaction each, retried with capped backoff for as long as it takes; reads
 * the stored fingerprints at start, writes the heartbeat, and runs the stale
 * DAG check. Nothing on the main loop waits for it. */
#include "processor/proc_int.h"

typedef struct known_ctx {
	processor *p;
	const char *bundle;
	strmap *seen;
	const char *root;
	size_t marked;
} known_ctx;

static void on_known(void *ud, const char *rel)
{
	known_ctx *k = ud;
	if (strmap_get(k->seen, rel, NULL))
		return;
	/* in the database, not in the snapshot: deleted while we were away, or
	 * rows of a file this processor never had. Unless it is a DAG file on
	 * disk now (new since the snapshot, or not yet seen by a scan that
	 * relies on the rescan): the scan decides about those. */
	char *abs = xasprintf("%s/%s", k->root ? k->root : ".", rel);
	struct stat st;
	if (k->root && stat(abs, &st) == 0 && S_ISREG(st.st_mode) &&
	    walk_file_is_dag(k->root, rel)) {
		free(abs);
		return;
	}
	pend *e = xcalloc(1, sizeof(*e));
	e->key = pkey(k->bundle, rel);
	e->bundle = xstrdup(k->bundle);
	e->rel = xstrdup(rel);
	e->abs = abs;
	e->deleted = true;
	e->parsed_at = clock_epoch();
	pthread_mutex_lock(&k->p->mu);
	size_t i;
	if (!strmap_get(&k->p->pidx, e->key, &i))
		pending_put_locked(k->p, e);
	else
		pend_free(e); /* never counted */
	pthread_mutex_unlock(&k->p->mu);
	k->marked++;
}

/* What the tables hold of each recorded file, to decide whether its stored
 * source hash may skip its parse at start (load_fingerprints). */
typedef struct fp_row {
	uint64_t hash;
	long dag_count;      /* parse_stat: the DAGs it held when written */
	bool errors;         /* parse_stat: it had import errors */
	long live, live_err; /* dag: live rows at the file, those flagged with errors */
	bool ie_row;         /* import_error: a row for it */
	bool e034;           /* that row refuses a DAG id another file holds */
} fp_row;

typedef struct fp_load {
	strmap idx; /* bundle \x1f rel -> index in rows */
	fp_row *rows;
	size_t n, cap;
} fp_load;

static fp_row *fp_at(fp_load *l, const char *bundle, const char *rel, bool add)
{
	char *k = pkey(bundle, rel);
	size_t i;
	fp_row *r = NULL;
	if (strmap_get(&l->idx, k, &i)) {
		r = &l->rows[i];
	} else if (add) {
		VEC_GROW(l->rows, l->n, l->cap);
		r = &l->rows[l->n];
		memset(r, 0, sizeof(*r));
		strmap_put(&l->idx, k, l->n++);
	}
	free(k);
	return r;
}

static int row_fp_stat(void *ud, size_t ncols, const char *const *v)
{
	if (ncols < 5 || !v[0] || !v[1] || !v[2] || !*v[2])
		return 0;
	fp_row *r = fp_at(ud, v[0], v[1], true);
	r->hash = strtoull(v[2], NULL, 16);
	r->dag_count = v[3] ? strtol(v[3], NULL, 10) : 0;
	r->errors = v[4] && strtol(v[4], NULL, 10) > 0;
	return 0;
}

static int row_fp_live(void *ud, size_t ncols, const char *const *v)
{
	if (ncols < 4 || !v[0] || !v[1])
		return 0;
	fp_row *r = fp_at(ud, v[0], v[1], false);
	if (r) {
		long n = v[3] ? strtol(v[3], NULL, 10) : 0;
		r->live += n;
		if (v[2] && (v[2][0] == 't' || v[2][0] == '1'))
			r->live_err += n;
	}
	return 0;
}

static int row_fp_ie(void *ud, size_t ncols, const char *const *v)
{
	if (ncols < 3 || !v[0] || !v[1])
		return 0;
	fp_row *r = fp_at(ud, v[0], v[1], false);
	if (r) {
		r->ie_row = true;
		r->e034 = v[2] && v[2][0] == '1';
	}
	return 0;
}

/* The source hashes of the files whose rows agree with their recorded
 * result, so that an unchanged file may skip its parse at start: its import
 * error row present exactly when it had errors; at least its DAG count of
 * live rows pointing at it, all flagged with errors when it had errors and
 * exactly that many, none flagged, when it had none. Any other file (a DAG
 * row left stale by a rename, a row moved to another file) is parsed and
 * written again, and so is a file refused with E034 (the id may be free now).
 * Three scans joined here: a correlated subquery per file makes SQLite pick
 * the is_stale index and go quadratic. */
static int load_fingerprints(store_conn *c, strmap *fp, store_error *err)
{
	fp_load l = {0};
	store_param live = store_p_bool(false), e034 = store_p_text("%error[E034]%");
	int rc = store_query(c,
	                     "SELECT bundle_name, relative_fileloc, file_hash, dag_count, "
	                     "import_error_count FROM parse_stat",
	                     NULL, 0, row_fp_stat, &l, err);
	if (rc == 0)
		rc = store_query(
		    c,
		    "SELECT bundle_name, relative_fileloc, has_import_errors, count(*) "
		    "FROM dag WHERE is_stale = ? GROUP BY bundle_name, relative_fileloc, "
		    "has_import_errors",
		    &live, 1, row_fp_live, &l, err);
	if (rc == 0)
		rc = store_query(c,
		                 "SELECT bundle_name, filename, CASE WHEN stacktrace LIKE ? THEN 1 "
		                 "ELSE 0 END FROM import_error",
		                 &e034, 1, row_fp_ie, &l, err);
	if (rc == 0) {
		for (size_t k = 0; k < l.idx.cap; k++) {
			if (!l.idx.keys[k])
				continue;
			const fp_row *r = &l.rows[l.idx.vals[k]];
			bool agree = r->errors
			                 ? r->ie_row && !r->e034 && r->live_err == r->live &&
			                       r->live >= r->dag_count
			                 : !r->ie_row && !r->live_err && r->live == r->dag_count;
			if (agree)
				strmap_put(fp, l.idx.keys[k], (size_t)r->hash);
		}
	}
	strmap_free(&l.idx);
	free(l.rows);
	return rc;
}

/* Compares what the database holds of each bundle's files with `seen` (one
 * set per bundle), and queues the files that are gone as deleted: their DAGs
 * become stale, their errors and statistics go. Writer thread; the bundle
 * names and roots do not change while the processor runs. */
static int mark_gone_files(processor *p, store_conn *c, strmap *seen, store_error *err)
{
	int rc = 0;
	for (size_t b = 0; b < p->nknown && rc == 0; b++) {
		const char *name = p->known_bundles[b];
		known_ctx k = {.p = p,
		               .bundle = name,
		               .seen = &seen[b],
		               .root = scan_bundle_root(p->scan, name)};
		rc = sync_known_files(c, name, on_known, &k, err);
		if (rc == 0 && k.marked)
			log_info("bundle %s: %zu file%s recorded in the database %s gone; "
			         "marking their DAGs stale",
			         name, k.marked, k.marked == 1 ? "" : "s",
			         k.marked == 1 ? "is" : "are");
	}
	return rc;
}

void free_snapshot(strmap *sets, size_t n)
{
	if (!sets)
		return;
	for (size_t b = 0; b < n; b++)
		strmap_free(&sets[b]);
	free(sets);
}

/* The periodic check of stale_dag_threshold, with the loop's latest snapshot.
 * A failure is left to the next one (the batches report the database's state). */
static void writer_sweep(processor *p, strmap *snap)
{
	store_conn *c = NULL;
	store_error err;
	if (pool_acquire(p->db, &c, &err) == 0) {
		if (mark_gone_files(p, c, snap, &err) != 0)
			log_debug("stale DAG check not done: %s", err.message);
		pool_release(p->db, c);
	}
	free_snapshot(snap, p->nknown);
}

/* First contact: the schema and the source hashes of the files as last
 * written (while the loop's first scan runs), then, once that scan is done,
 * the files deleted while the processor was down. */
static int writer_prepare(processor *p, bool *prepared, store_error *err)
{
	store_conn *c = NULL;
	if (pool_acquire(p->db, &c, err) != 0)
		return -1;
	strmap fp = {0};
	int rc = store_migrate(c, err);
	/* on a shared database the others count this processor before its
	 * first claim (they take their fair share, not every file) */
	if (rc == 0 && p->leases)
		leases_beat_now(p, c);
	if (rc == 0)
		rc = load_fingerprints(c, &fp, err);
	pool_release(p->db, c); /* not held while the scan runs */
	if (rc == 0) {
		pthread_mutex_lock(&p->mu);
		if (!p->fp_ready) {
			p->fp = fp;
			p->fp_ready = true;
			memset(&fp, 0, sizeof(fp));
		}
		while (!p->known_ready && !p->stop_writer)
			wait_locked(p, 1.0);
		bool stop = p->stop_writer;
		pthread_mutex_unlock(&p->mu);
		wake_loop(p);
		if (stop) {
			store_error_set(err, STORE_TRANSIENT, "stop", false,
			                "the processor is stopping");
			rc = -1;
		} else if ((rc = pool_acquire(p->db, &c, err)) == 0) {
			rc = mark_gone_files(p, c, p->known, err);
			pool_release(p->db, c);
		}
	}
	if (rc == 0)
		*prepared = true;
	strmap_free(&fp);
	return rc;
}

void *writer_main(void *arg)
{
	processor *p = arg;
	bool prepared = false;
	unsigned failed = 0;
	pend **batch = xcalloc(WRITER_BATCH, sizeof(*batch));
	sync_file *files = xcalloc(WRITER_BATCH, sizeof(*files));
	/* the writer never takes the signals meant for the main loop */
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop_writer && prepared && (p->npend == 0 || !leases_may_write(p)) &&
		       !p->sweep) {
			pthread_mutex_unlock(&p->mu);
			leases_writer_work(p);
			pthread_mutex_lock(&p->mu);
			if (p->stop_writer || p->sweep || p->nwant || p->nunhold)
				continue;
			if (p->npend && leases_may_write(p))
				break;
			wait_locked(p, p->leases ? 0.25 : 1.0);
		}
		if (p->stop_writer)
			break;
		/* a partial batch waits a moment for the results still arriving (a
		 * first sync, a burst of edits): fewer, fuller transactions */
		if (prepared && p->npend < WRITER_BATCH && !p->sweep) {
			double until = clock_mono() +
			               (atomic_load_explicit(&p->queued_hint, memory_order_relaxed)
			                    ? WRITER_GATHER_BUSY_SECONDS
			                    : WRITER_GATHER_SECONDS);
			/* over the limit, parsing waits for this batch: no gathering;
			 * claims are never kept waiting (parsing waits for them) */
			while (!p->stop_writer && !p->sweep && p->npend < WRITER_BATCH &&
			       p->pend_bytes <= PENDING_SOFT_LIMIT && !p->nwant &&
			       clock_mono() < until)
				wait_locked(p, until - clock_mono());
		}
		if (prepared && (p->nwant || p->nunhold)) {
			pthread_mutex_unlock(&p->mu);
			leases_writer_work(p);
			pthread_mutex_lock(&p->mu);
			if (p->npend < WRITER_BATCH && !p->sweep && !p->stop_writer)
				continue; /* gather again: the claims' files are being parsed */
		}
		if (p->stop_writer)
			break;
		/* the snapshot first: every result pending now is of a file it has
		 * (the loop takes it between results), a later one may not be */
		if (prepared && p->sweep) {
			strmap *snap = p->sweep;
			p->sweep = NULL;
			pthread_mutex_unlock(&p->mu);
			writer_sweep(p, snap);
			pthread_mutex_lock(&p->mu);
			continue;
		}
		size_t n = 0;
		if (prepared) {
			while (n < WRITER_BATCH && p->npend > 0)
				batch[n++] = pending_take_locked(p, 0);
			p->inflight = n;
		}
		size_t backlog = p->npend + n;
		pthread_mutex_unlock(&p->mu);

		store_error err;
		sync_stats s = {0};
		sync_requeue rq = {0};
		int rc;
		writer_set_state(p, prepared ? WRITER_WRITING : WRITER_CONNECTING);
		if (!prepared) {
			rc = writer_prepare(p, &prepared, &err);
			if (rc != 0 && strcmp(err.code, STORE_CODE_FOREIGN) == 0 &&
			    !atomic_load(&p->fatal)) {
				snprintf(p->fatal_msg, sizeof p->fatal_msg, "%s", err.message);
				atomic_store(&p->fatal, true);
				wake_loop(p);
			}
			if (rc != 0) {
				pthread_mutex_lock(&p->mu);
				if (p->stop_writer)
					break; /* with mu held, as the loop's other exits */
				pthread_mutex_unlock(&p->mu);
			}
		} else {
			for (size_t i = 0; i < n; i++) {
				pend *e = batch[i];
				files[i] =
				    (sync_file){.bundle = e->bundle,
				                .rel = e->rel,
				                .fileloc = e->abs,
				                .deleted = e->deleted,
				                .res = e->res,
				                .mtime = e->mtime,
				                .size = e->size,
				                .parsed_at = e->parsed_at,
				                .source_hash = e->source_hash,
				                .lease_owner = p->leases ? p->instance : NULL,
				                .lease_seconds = p->lease_s,
				                .lease_token = e->token};
			}
			rc = sync_write(p->db, files, n, &s, &rq, &err);
			record_write(p, &s, rc == 0, &err);
			if (rc == 0 && s.foreign)
				leases_foreign(p, files, n);
			leases_writer_work(p);
		}

		pthread_mutex_lock(&p->mu);
		if (rq.n) {
			/* files refused with E034 for an id that is free now; also
			 * when the batch failed: the part that released the id has
			 * committed, and its retry releases nothing again */
			for (size_t i = 0; i < rq.n; i++) {
				VEC_GROW(p->reparse, p->nreparse, p->capreparse);
				p->reparse[p->nreparse++] = rq.keys[i];
				rq.keys[i] = NULL;
			}
		}
		sync_requeue_free(&rq);
		if (rc == 0) {
			for (size_t i = 0; i < n; i++)
				pend_release_locked(p, batch[i]);
			p->inflight = 0;
			pthread_mutex_unlock(&p->mu);
			stats_lock(p);
			bool was_down = !p->st.db_up;
			stats_unlock(p);
			if (failed || was_down)
				db_came_back(p, s.files_changed + s.files_unchanged);
			failed = 0;
			writer_set_state(p, WRITER_IDLE);
			/* wake the loop: --once may be done now */
			wake_loop(p);
			pthread_mutex_lock(&p->mu);
			continue;
		}
		/* the batch goes back under any newer results */
		for (size_t i = 0; i < n; i++) {
			size_t k;
			if (strmap_get(&p->pidx, batch[i]->key, &k))
				pend_release_locked(p, batch[i]);
			else
				pending_put_locked(p, batch[i]);
		}
		p->inflight = 0;
		pthread_mutex_unlock(&p->mu);
		failed++;
		if (err.cls == STORE_PERMANENT)
			log_error("database write failed (%s): %s; will retry", err.code,
			          err.message);
		db_went_down(p, &err, backlog);
		writer_set_state(p, WRITER_BACKOFF);
		double delay = retry_next_delay(&p->retry, failed, retry_random());
		pthread_mutex_lock(&p->mu);
		double until = clock_mono() + delay;
		while (!p->stop_writer && clock_mono() < until)
			wait_locked(p, until - clock_mono());
	}
	pthread_mutex_unlock(&p->mu);
	/* a clean stop (and the end of a --once pass) gives the files up at
	 * once, rather than after the leases expire (bounded: the loop waits
	 * DRAIN_SECONDS for this thread) */
	if (prepared)
		leases_release_all(p);
	free(batch);
	free(files);
	return NULL;
}

void stop_writer(processor *p)
{
	if (!p->writer_started)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop_writer = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += DRAIN_SECONDS;
	if (pthread_timedjoin_np(p->writer, NULL, &ts) != 0) {
		log_warn("the database write in flight did not finish within %d s; exiting "
		         "without it",
		         DRAIN_SECONDS);
		/* the thread still uses the pool, the pending table and the
		 * processor itself: they are left to the process exit */
		p->writer_abandoned = true;
	}
	p->writer_started = false;
}
