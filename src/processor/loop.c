/* The main loop: signals, inotify, worker sockets and timers; turns scan
 * events into queued parses, dispatches them to idle workers, and hands their
 * results to the pending table. Never waits for the database.
 *
 * Periodic work (each turn, at most 1 s apart):
 *   - heartbeat for /livez;
 *   - full rescan of every bundle every refresh_interval (the inotify safety
 *     net), which also queues every file as due for a reparse;
 *   - every stale_dag_threshold, a snapshot of the files of every bundle for
 *     the writer, which marks stale what the database holds of files that are
 *     not there (rows of a file whose deletion no event of this processor
 *     saw: written by another processor, or before a restore);
 *   - dispatch of due files to idle workers. */
#include "processor/proc_int.h"

#include "status/notify.h"

void on_scan(void *ud, const char *bundle, const char *rel, const char *abs, scan_event ev)
{
	processor *p = ud;
	/* a long scan (the first one, of a large or remote folder) still shows
	 * a live processor to healthcheck and systemd's watchdog */
	if (p->status_path && clock_mono() >= p->next_health) {
		stats_lock(p);
		p->st.heartbeat = clock_epoch();
		stats_unlock(p);
		health_tick(p, false);
	}
	char *k = pkey(bundle, rel);
	uint64_t gen = ++p->gen_clock;
	if (ev == SCAN_DELETED) {
		strmap_del(&p->gens, k); /* a parse still running is of an older file */
		/* its deletion is written: the stored hash no longer describes
		 * rows in the database, and must not skip the parse of a file
		 * that comes back unchanged */
		pthread_mutex_lock(&p->mu);
		bool fp_ready = p->fp_ready;
		pthread_mutex_unlock(&p->mu);
		if (fp_ready)
			strmap_del(&p->fp, k);
		strmap_del(&p->ready, k);
	} else {
		strmap_put(&p->gens, k, (size_t)gen);
	}
	free(k);
	if (ev == SCAN_DELETED) {
		queue_remove(p->queue, bundle, rel);
		/* another processor's file: its holder writes the deletion */
		if (leases_theirs(p, bundle, rel)) {
			leases_leave_deletion(p, bundle, rel);
			log_debug("%s/%s: deleted (left to the processor that holds it)", bundle,
			          rel);
			return;
		}
		int64_t token;
		leases_holds(p, bundle, rel, &token);
		pend *e = xcalloc(1, sizeof(*e));
		e->gen = gen;
		e->token = token;
		e->key = pkey(bundle, rel);
		e->bundle = xstrdup(bundle);
		e->rel = xstrdup(rel);
		e->abs = xstrdup(abs);
		e->deleted = true;
		e->parsed_at = clock_epoch();
		pending_put(p, e);
		log_info("%s/%s: deleted", bundle, rel);
		return;
	}
	/* inotify events of files another processor holds are its to handle */
	if (leases_theirs(p, bundle, rel))
		return;
	const struct scan_file *f = scan_lookup(p->scan, bundle, rel);
	queue_push(p->queue, bundle, rel, QUEUE_CHANGED, f ? f->mtime_ns : 0);
	if (ev == SCAN_CHANGED)
		log_debug("%s/%s: changed", bundle, rel);
}

static void queue_due(void *ud, const struct scan_file *f)
{
	processor *p = ud;
	queue_push(p->queue, f->bundle, f->rel, QUEUE_DUE, f->mtime_ns);
}

static job *job_find(processor *p, uint64_t id, size_t *idx)
{
	for (size_t i = 0; i < p->njobs; i++)
		if (p->jobs[i].id == id) {
			*idx = i;
			return &p->jobs[i];
		}
	return NULL;
}

static void log_result(const char *bundle, const char *rel, const dagfile_result *r)
{
	if (!r->nerrors) {
		log_debug("%s/%s: %zu DAGs, parsed in %.1f ms", bundle, rel, r->ndags,
		          r->parse_seconds * 1e3);
		return;
	}
	const diag *d = &r->errors[0];
	log_info("%s/%s: %zu import error%s; first: %u:%u: error[%s]: %s", bundle, rel, r->nerrors,
	         r->nerrors == 1 ? "" : "s", d->line, d->col, d->code, d->message);
}

static uint64_t local_fingerprint(processor *p, const char *bundle, const char *rel,
                                  const char *abs, const struct scan_file *f);

/* Whether the worker read other bytes than the scanner last saw (its source
 * hash is not the one the scanner's hashes give): a file deleted and created
 * again (the worker found none: the fingerprint of no input), or rewritten
 * in place, while its parse was under way. When the
 * content ends as it was, the scanner sees no change and would queue no new
 * parse, so the result of the bytes in between ("cannot read file", half a
 * file) would stay. Such a result is dropped and the file parsed once more;
 * if that parse disagrees with the same scanner record as well (a record the
 * scanner has not caught up with), its result is taken: no loop. */
static bool read_other_bytes(processor *p, const job *j, const dagfile_result *res)
{
	const struct scan_file *f = scan_lookup(p->scan, j->bundle, j->rel);
	if (!f)
		return false;
	const char *root = scan_bundle_root(p->scan, j->bundle);
	char *abs = xasprintf("%s/%s", root ? root : ".", j->rel);
	uint64_t want = local_fingerprint(p, j->bundle, j->rel, abs, f);
	free(abs);
	char *k = pkey(j->bundle, j->rel);
	size_t seen = 0;
	bool before = p->reread.n && strmap_get(&p->reread, k, &seen);
	/* no source hash: a result the pool made (a crash, a timeout) or a file
	 * too large to read, whose bytes are not in question */
	bool other = want && res->source_hash && res->source_hash != want &&
	             !(before && (uint64_t)seen == want);
	if (other)
		strmap_put(&p->reread, k, (size_t)want);
	else if (before)
		strmap_del(&p->reread, k);
	free(k);
	return other;
}

void on_done(void *ud, uint64_t job_id, dagfile_result *res)
{
	processor *p = ud;
	size_t idx;
	job *j = job_find(p, job_id, &idx);
	if (!j) {
		worker_result_free(res);
		return;
	}
	queue_done(p->queue, j->bundle, j->rel, clock_mono());
	if (res->unchanged) {
		/* the sources are those of the rows already written */
		stats_lock(p);
		p->st.files_skipped++;
		stats_unlock(p);
		worker_result_free(res);
		free(j->bundle);
		free(j->rel);
		p->jobs[idx] = p->jobs[--p->njobs];
		return;
	}
	log_result(j->bundle, j->rel, res);
	stats_lock(p);
	p->st.files_parsed++;
	if (res->nerrors)
		p->st.parse_errors++;
	size_t b = 0;
	while (b < PROC_HIST_BUCKETS - 1 && res->parse_seconds > proc_hist_bounds[b])
		b++;
	p->st.parse_hist[b]++;
	p->st.parse_sum += res->parse_seconds;
	stats_unlock(p);

	/* a file deleted while it was being parsed stays deleted; a file that
	 * changed (or was deleted and created again) meanwhile has a newer parse
	 * queued, whose result must not be overtaken by this one */
	char *k = pkey(j->bundle, j->rel);
	size_t cur_gen = 0;
	bool current = strmap_get(&p->gens, k, &cur_gen) && (uint64_t)cur_gen == j->gen;
	free(k);
	const struct scan_file *f = scan_lookup(p->scan, j->bundle, j->rel);
	if (!f || !current) {
		log_info(
		    "%s/%s: result of an older version dropped (the file changed or went while it "
		    "was parsed)",
		    j->bundle, j->rel);
		worker_result_free(res);
	} else if (read_other_bytes(p, j, res)) {
		log_info("%s/%s: read while it was being replaced or rewritten: parsed again",
		         j->bundle, j->rel);
		worker_result_free(res);
		queue_push(p->queue, j->bundle, j->rel, QUEUE_CHANGED, f->mtime_ns);
	} else {
		pend *e = xcalloc(1, sizeof(*e));
		e->key = pkey(j->bundle, j->rel);
		e->bundle = j->bundle;
		e->rel = j->rel;
		const char *root = scan_bundle_root(p->scan, j->bundle);
		e->abs = xasprintf("%s/%s", root ? root : ".", j->rel);
		e->res = res;
		e->mtime = j->mtime;
		e->size = j->size;
		e->parsed_at = clock_epoch();
		e->source_hash = res->source_hash;
		e->gen = j->gen;
		e->token = j->token;
		j->bundle = j->rel = NULL;
		pending_put(p, e);
	}
	free(j->bundle);
	free(j->rel);
	p->jobs[idx] = p->jobs[--p->njobs];
}

/* The source hash of a file from what the scanner already knows (raw content
 * hashes of the file and its defaults.yml chain), as the worker would compute
 * it; 0 when it cannot be known without the worker (an input with a '$' whose
 * expansion depends on the environment, or an unreadable one). */
static uint64_t local_fingerprint(processor *p, const char *bundle, const char *rel,
                                  const char *abs, const struct scan_file *f)
{
	if (!f->readable || f->dollar)
		return 0;
	dagfile_fp_input file = {.raw_hash = f->hash};
	dagfile_fp_input defs[32];
	size_t n = 0;
	char *dir = xstrdup(rel);
	for (;;) {
		char *slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
		else
			dir[0] = '\0';
		static const char *const names[] = {"defaults.yml", "defaults.yaml"};
		for (size_t k = 0; k < 2; k++) {
			char *d = dir[0] ? xasprintf("%s/%s", dir, names[k]) : xstrdup(names[k]);
			const struct scan_file *df = scan_lookup_defaults(p->scan, bundle, d);
			free(d);
			if (!df)
				continue;
			if (!df->readable || df->dollar || n == 32) {
				free(dir);
				return 0;
			}
			defs[n++] = (dagfile_fp_input){.raw_hash = df->hash};
			break;
		}
		if (!dir[0])
			break;
	}
	free(dir);
	return dagfile_fingerprint(p->options_hash, abs, &file, defs, n);
}

/* The first parses wait a little for the source hashes of the last run
 * (--once: for the database), so that unchanged files are not parsed. The
 * writer wakes the loop when they arrive. */
static bool dispatch_held(processor *p, bool *fp_ready)
{
	pthread_mutex_lock(&p->mu);
	*fp_ready = p->fp_ready;
	bool full = p->pend_bytes > PENDING_SOFT_LIMIT;
	pthread_mutex_unlock(&p->mu);
	if (full)
		return true; /* the writer wakes the loop after each batch */
	return !*fp_ready && (p->opts.once || clock_mono() < p->hold_until);
}

/* Drops the stored hashes of files the first scan did not find: the writer
 * writes their deletion at start (mark_gone_files), so if one comes back, even
 * unchanged, it must be parsed and written again. */
static void prune_fingerprints(processor *p)
{
	for (size_t i = 0; i < p->fp.cap; i++) {
		const char *k = p->fp.keys[i];
		if (!k)
			continue;
		char *b = xstrdup(k);
		char *sep = strchr(b, '\x1f');
		bool gone = !sep || (*sep = '\0', !scan_lookup(p->scan, b, sep + 1));
		free(b);
		if (gone) {
			strmap_del(&p->fp, k);
			i--; /* deletion may move another key into this slot */
		}
	}
	p->fp_pruned = true;
}

/* Whether a file's first parse in this process may be skipped: the source
 * hash its last writer stored (*expect, 0 if none) is the file's as it is
 * now. Such a file is counted as skipped and its stored hash dropped. abs
 * may be NULL (made when needed). */
static bool skip_unchanged(processor *p, bool fp_ready, const char *bundle, const char *rel,
                           const char *abs, const struct scan_file *f, uint64_t *expect)
{
	*expect = 0;
	if (!fp_ready || !p->fp.n)
		return false;
	char *fk = pkey(bundle, rel);
	size_t v;
	if (strmap_get(&p->fp, fk, &v))
		*expect = (uint64_t)v;
	bool same = false;
	if (*expect) {
		char *own = abs ? NULL : xasprintf("%s/%s", scan_bundle_root(p->scan, bundle), rel);
		same = local_fingerprint(p, bundle, rel, abs ? abs : own, f) == *expect;
		free(own);
	}
	if (same) {
		strmap_del(&p->fp, fk);
		stats_lock(p);
		p->st.files_skipped++;
		stats_unlock(p);
	}
	free(fk);
	return same;
}

/* Alone on a shared database, the next claim is asked while granted files
 * still wait for a worker. Otherwise it would be asked only once they are all
 * handed out (they come first in the queue) and answered at the writer's next
 * turn, after the batch it is writing: the workers would wait for both. Looks
 * past the granted files in the queue and gives them back in place. */
static void claim_ahead(processor *p, bool fp_ready)
{
	/* requests are the dispatch's, in their order (a claimed file comes
	 * back as changed) */
	if (!p->leases || !p->ahead || p->asked.n || queue_count(p->queue, QUEUE_REQUESTED))
		return;
	if (!queue_count(p->queue, QUEUE_CHANGED))
		strmap_free(&p->ready); /* nothing granted waits: none of it is left */
	/* asked when half a claim's worth of granted files is left */
	size_t want = leases_claim_ahead(p);
	if (!want || p->ready.n >= want / 2)
		return;
	/* one look per grant: a look that finds only granted files is not
	 * repeated for every result (files queued later are claimed as the
	 * dispatch meets them) */
	p->ahead = false;
	const char **back = xcalloc(want, sizeof(*back) * 2);
	size_t nback = 0, asked = 0;
	const char *bundle, *rel;
	/* granted files are given back as met: at most `want` are looked past */
	while (asked < want && nback < want && queue_pop(p->queue, clock_mono(), &bundle, &rel)) {
		const struct scan_file *f = scan_lookup(p->scan, bundle, rel);
		int64_t token;
		if (!f || leases_theirs(p, bundle, rel) || leases_holds(p, bundle, rel, &token)) {
			/* the dispatch's to decide, in its turn */
			back[2 * nback] = bundle;
			back[2 * nback + 1] = rel;
			nback++;
			continue;
		}
		uint64_t expect;
		if (!skip_unchanged(p, fp_ready, bundle, rel, NULL, f, &expect)) {
			leases_want(p, bundle, rel);
			asked++;
		}
		queue_done(p->queue, bundle, rel, clock_mono());
	}
	for (size_t i = 0; i < nback; i++)
		queue_unpop(p->queue, back[2 * i], back[2 * i + 1]);
	free(back);
	if (asked)
		log_debug("leases: %zu files asked ahead, %zu granted still wait for a worker",
		          asked, p->ready.n);
}

/* files not yet claimed that the dispatch looks past, at the claim limit */
#define DISPATCH_ASIDE 256

static void dispatch(processor *p)
{
	const char *bundle, *rel;
	bool fp_ready;
	const char *aside[2 * DISPATCH_ASIDE];
	size_t naside = 0;
	p->claim_blocked = false;
	if (dispatch_held(p, &fp_ready))
		return;
	if (fp_ready && !p->fp_pruned)
		prune_fingerprints(p);
	while (wpool_has_idle(p->wpool) && queue_pop(p->queue, clock_mono(), &bundle, &rel)) {
		if (p->ready.n) {
			char *rk = pkey(bundle, rel);
			strmap_del(&p->ready, rk);
			free(rk);
		}
		const struct scan_file *f = scan_lookup(p->scan, bundle, rel);
		if (!f) {
			queue_done(p->queue, bundle, rel, clock_mono());
			queue_remove(p->queue, bundle, rel);
			continue;
		}
		if (leases_theirs(p, bundle, rel)) {
			/* another processor holds its lease and parses it */
			queue_done(p->queue, bundle, rel, clock_mono());
			continue;
		}
		const char *root = scan_bundle_root(p->scan, bundle);
		char *abs = xasprintf("%s/%s", root, rel);
		uint64_t expect;
		if (skip_unchanged(p, fp_ready, bundle, rel, abs, f, &expect)) {
			/* no worker, no parse, no lease */
			free(abs);
			queue_done(p->queue, bundle, rel, clock_mono());
			continue;
		}
		int64_t token;
		if (!leases_holds(p, bundle, rel, &token)) {
			/* claimed first, parsed once held (leases_take_news queues it);
			 * a few claims at a time, so that processors starting together
			 * divide the files rather than the first taking them all */
			free(abs);
			if (p->asked.n >= leases_claim_batch(p)) {
				/* at the claim limit: set aside, and look on for files
				 * already granted (a new file or a request at the head
				 * must not keep them from the idle workers) */
				aside[2 * naside] = bundle;
				aside[2 * naside + 1] = rel;
				if (++naside == DISPATCH_ASIDE)
					break;
				continue;
			}
			queue_done(p->queue, bundle, rel, clock_mono());
			leases_want(p, bundle, rel);
			continue;
		}
		if (expect) {
			/* the hash of the last run applies to this process's first
			 * parse of the file only: later parses (changes, the periodic
			 * reparse) parse */
			char *fk = pkey(bundle, rel);
			strmap_del(&p->fp, fk);
			free(fk);
		}
		uint64_t id = ++p->next_job;
		if (wpool_submit_ex(p->wpool, id, abs, root, expect) != 0) {
			free(abs);
			queue_done(p->queue, bundle, rel, 0);
			queue_push(p->queue, bundle, rel, QUEUE_CHANGED, f->mtime_ns);
			break;
		}
		free(abs);
		if (p->njobs == p->capjobs) {
			p->capjobs = p->capjobs ? p->capjobs * 2 : 16;
			p->jobs = xrealloc(p->jobs, p->capjobs * sizeof(*p->jobs));
		}
		char *gk = pkey(bundle, rel);
		size_t gen;
		if (!strmap_get(&p->gens, gk, &gen)) {
			gen = (size_t)++p->gen_clock;
			strmap_put(&p->gens, gk, gen);
		}
		free(gk);
		p->jobs[p->njobs++] = (job){.id = id,
		                            .bundle = xstrdup(bundle),
		                            .rel = xstrdup(rel),
		                            .mtime = (double)f->mtime_ns / 1e9,
		                            .size = f->size,
		                            .gen = (uint64_t)gen,
		                            .token = token};
	}
	/* what is left for the idle workers waits for a claim's answer (the
	 * writer wakes the loop), not for the queue's due time: no busy poll */
	p->claim_blocked = naside && wpool_has_idle(p->wpool);
	for (size_t i = 0; i < naside; i++)
		queue_unpop(p->queue, aside[2 * i], aside[2 * i + 1]);
	claim_ahead(p, fp_ready);
}

typedef struct snap_ctx {
	processor *p;
	strmap *sets; /* one per bundle, in the order of known_bundles */
} snap_ctx;

static void snapshot_file(void *ud, const struct scan_file *f)
{
	snap_ctx *s = ud;
	for (size_t b = 0; b < s->p->nknown; b++)
		if (strcmp(s->p->known_bundles[b], f->bundle) == 0)
			strmap_put(&s->sets[b], f->rel, 1);
}

/* The files of every bundle as the scan has them now. */
strmap *snapshot_files(processor *p)
{
	snap_ctx s = {.p = p, .sets = xcalloc(p->nknown, sizeof(strmap))};
	scan_foreach(p->scan, snapshot_file, &s);
	return s.sets;
}

/* Hands the writer a new snapshot for the stale DAG check (an older one it
 * has not taken yet is replaced). */
static void request_sweep(processor *p)
{
	strmap *snap = snapshot_files(p);
	pthread_mutex_lock(&p->mu);
	strmap *old = p->sweep;
	p->sweep = snap;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	free_snapshot(old, p->nknown);
}

static void apply_reload(processor *p)
{
	char *err = NULL;
	struct dagproc_config *nc = config_load(p->opts.config_path, &err);
	if (!nc) {
		log_error("configuration reload failed: %s; keeping the old configuration", err);
		free(err);
		return;
	}
	/* the command line still wins over the file */
	for (size_t i = 0; i < p->opts.noverrides; i++) {
		const char *const *o = p->opts.overrides + 3 * i;
		if (config_set(nc, o[0], o[1], o[2], &err) != 0) {
			log_error("configuration reload failed: %s; keeping the old configuration",
			          err);
			free(err);
			config_free(nc);
			return;
		}
	}
	char *conflicts = config_reload_conflicts(p->cfg, nc);
	if (conflicts && *conflicts)
		log_warn("configuration reloaded; these settings need a restart and keep their "
		         "old values: %s",
		         conflicts);
	free(conflicts);
	/* the reloadable settings (CONFIG_RELOADABLE): every one is applied here */
	p->cfg->logging.level = nc->logging.level;
	p->cfg->logging.format = nc->logging.format;
	log_set_level(nc->logging.level);
	log_set_format(nc->logging.format);
	p->cfg->dag_processor.refresh_interval = nc->dag_processor.refresh_interval;
	p->cfg->dag_processor.min_file_process_interval =
	    nc->dag_processor.min_file_process_interval;
	p->cfg->dag_processor.file_parsing_sort_mode = nc->dag_processor.file_parsing_sort_mode;
	p->cfg->dag_processor.stale_dag_threshold = nc->dag_processor.stale_dag_threshold;
	queue_set_min_interval(p->queue, nc->dag_processor.min_file_process_interval);
	queue_set_sort(p->queue, (queue_sort)nc->dag_processor.file_parsing_sort_mode);
	config_free(nc);
	log_info("configuration reloaded");
}

static bool once_finished(processor *p)
{
	if (queue_len(p->queue) || queue_running(p->queue) || p->njobs || !leases_settled(p))
		return false;
	pthread_mutex_lock(&p->mu);
	bool empty = p->npend == 0 && p->inflight == 0;
	pthread_mutex_unlock(&p->mu);
	stats_lock(p);
	bool wrote = p->st.db_up;
	stats_unlock(p);
	return empty && wrote;
}

/* Parse requests from the API: ahead of every other file. */
static void take_requests(processor *p)
{
	uint64_t v;
	while (read(p->wakefd, &v, sizeof(v)) == (ssize_t)sizeof(v))
		;
	pthread_mutex_lock(&p->mu);
	char **req = p->requests;
	size_t n = p->nrequests;
	p->requests = NULL;
	p->nrequests = 0;
	char **rep = p->reparse;
	size_t nrep = p->nreparse;
	p->reparse = NULL;
	p->nreparse = p->capreparse = 0;
	pthread_mutex_unlock(&p->mu);
	for (size_t i = 0; i < nrep; i++) {
		char *sep = strchr(rep[i], '\x1f');
		*sep = '\0';
		const struct scan_file *f = scan_lookup(p->scan, rep[i], sep + 1);
		if (f) {
			/* parsed, whatever its stored fingerprint says */
			char *k = pkey(rep[i], sep + 1);
			strmap_del(&p->fp, k);
			free(k);
			queue_push(p->queue, rep[i], sep + 1, QUEUE_REQUESTED, f->mtime_ns);
			log_info("%s/%s: parsing again: a DAG id it was refused (E034) has left "
			         "its file",
			         rep[i], sep + 1);
		}
		free(rep[i]);
	}
	free(rep);
	for (size_t i = 0; i < n; i++) {
		char *sep = strchr(req[i], '\x1f');
		*sep = '\0';
		const struct scan_file *f = scan_lookup(p->scan, req[i], sep + 1);
		if (f) {
			queue_push(p->queue, req[i], sep + 1, QUEUE_REQUESTED, f->mtime_ns);
			log_info("%s/%s: reparse requested", req[i], sep + 1);
		} else {
			log_info("%s/%s: reparse requested for a file that is not a known DAG file",
			         req[i], sep + 1);
		}
		free(req[i]);
	}
	free(req);
}

int main_loop(processor *p, int sigfd)
{
	struct pollfd fds[MAX_POLLFDS];
	double next_refresh = clock_mono() + p->cfg->dag_processor.refresh_interval;
	double next_sweep = clock_mono() + p->cfg->dag_processor.stale_dag_threshold;
	bool stopping = false;
	int rc = 0;
	for (;;) {
		double now = clock_mono();
		if (atomic_load(&p->fatal)) {
			log_error("%s", p->fatal_msg);
			rc = 2;
			break;
		}
		stats_lock(p);
		p->st.heartbeat = clock_epoch();
		p->st.queued = queue_len(p->queue);
		p->st.parsing = queue_running(p->queue);
		p->st.files = scan_file_count(p->scan);
		stats_unlock(p);
		if (!p->opts.once)
			health_tick(p, false);
		/* readiness waits for the first pass to be written, not just for an
		 * empty pending table (which it also is before the first result) */
		if (!p->st.synced && once_finished(p)) {
			stats_lock(p);
			p->st.synced = true;
			stats_unlock(p);
		}

		/* dispatch first: when it skips every file (unchanged since the last
		 * run), a --once pass may be finished right after it */
		if (!stopping)
			dispatch(p);
		/* what is left due after the dispatch: a lone edit leaves nothing,
		 * nor do files waiting out min_file_process_interval */
		atomic_store_explicit(
		    &p->queued_hint,
		    queue_next_due(p->queue, clock_mono()) == 0 ? queue_len(p->queue) : 0,
		    memory_order_relaxed);
		if (p->opts.once && once_finished(p)) {
			log_info("all files parsed and written");
			break;
		}
		/* once_timeout bounds a wait, not the pass: every parse or
		 * write moves the deadline (a large tree takes what it takes),
		 * and so does a parse under way (dag_file_processor_timeout
		 * ends it) */
		if (p->opts.once) {
			stats_lock(p);
			uint64_t done = p->st.files_parsed + p->st.files_skipped +
			                p->st.files_written + p->st.files_unchanged;
			stats_unlock(p);
			/* a parse under way ends by its own timeout */
			if (done != p->once_progress || p->njobs) {
				p->once_progress = done;
				p->once_deadline = now + p->cfg->database.once_timeout;
			}
		}
		if (p->opts.once && now > p->once_deadline) {
			proc_stats s;
			proc_snapshot(p, &s);
			if (s.db_schema)
				log_error(
				    "the database's tables are not dagproc's schema (run 'dagproc "
				    "db migrate'; another application's tables of the same "
				    "names?): "
				    "%s; %zu results not written",
				    s.db_error, s.pending);
			else if (s.db_up)
				/* the database answers: the pass itself is behind (a
				 * huge tree, parses at their timeout, claims refused) */
				log_error(
				    "the pass made no progress for once_timeout (%d s), "
				    "the database answering: %zu files waiting for a worker, "
				    "%zu being parsed, %zu claims unanswered, %zu results not "
				    "written",
				    p->cfg->database.once_timeout, s.queued, s.parsing, p->asked.n,
				    s.pending);
			else
				log_error(
				    "the database could not be %s within once_timeout (%d s): %s; "
				    "%zu results not written",
				    s.db_refused ? "written to" : "reached",
				    p->cfg->database.once_timeout,
				    s.db_error[0] ? s.db_error : "no answer yet", s.pending);
			rc = 3;
			break;
		}

		int n = 0;
		fds[n++] = (struct pollfd){.fd = sigfd, .events = POLLIN};
		fds[n++] = (struct pollfd){.fd = p->wakefd, .events = POLLIN};
		int wfd = scan_watch_fd(p->scan);
		int watch_slot = -1;
		if (wfd >= 0) {
			watch_slot = n;
			fds[n++] = (struct pollfd){.fd = wfd, .events = POLLIN};
		}
		n += wpool_pollfds(p->wpool, fds + n, MAX_POLLFDS - n);

		double timeout = 1.0;
		/* a short WatchdogSec is kept even when nothing else happens */
		if (notify_watchdog_interval() > 0 && p->next_watchdog - now < timeout)
			timeout = p->next_watchdog - now;
		double qd = queue_next_due(p->queue, now);
		bool fp_ready;
		bool held = dispatch_held(p, &fp_ready);
		/* held for the stored hashes: until hold_until at most; held because
		 * the pending results are full: until the writer wakes the loop */
		if (held && !fp_ready && !p->opts.once && p->hold_until > now &&
		    p->hold_until - now < timeout)
			timeout = p->hold_until - now;
		if (!held && !p->claim_blocked && qd >= 0 && wpool_has_idle(p->wpool) &&
		    qd < timeout)
			timeout = qd;
		double wd = wpool_next_deadline(p->wpool);
		if (wd >= 0 && wd < timeout)
			timeout = wd;
		if (next_refresh - now < timeout)
			timeout = next_refresh - now;
		if (!p->opts.once && next_sweep - now < timeout)
			timeout = next_sweep - now;
		if (timeout < 0)
			timeout = 0;
		int pr = poll(fds, (nfds_t)n, (int)ceil(timeout * 1000));
		if (pr < 0 && errno != EINTR) {
			log_error("poll: %s", strerror(errno));
			rc = 2;
			break;
		}
		if (pr > 0 && (fds[0].revents & POLLIN)) {
			struct signalfd_siginfo si;
			while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGHUP) {
					apply_reload(p);
					/* a shorter interval applies from now */
					double t = clock_mono();
					if (next_refresh >
					    t + p->cfg->dag_processor.refresh_interval)
						next_refresh =
						    t + p->cfg->dag_processor.refresh_interval;
					if (next_sweep >
					    t + p->cfg->dag_processor.stale_dag_threshold)
						next_sweep =
						    t + p->cfg->dag_processor.stale_dag_threshold;
				} else if (stopping) {
					log_warn("second signal: exiting at once");
					_exit(1);
				} else {
					log_info("received %s: finishing the batch in flight, then "
					         "exiting",
					         strsignal((int)si.ssi_signo));
					notify_send("STOPPING=1");
					stopping = true;
				}
			}
		}
		if (stopping)
			break;
		if (fds[1].revents & POLLIN) {
			take_requests(p);
			leases_take_news(p);
		}
		if (watch_slot >= 0 && (fds[watch_slot].revents & POLLIN))
			scan_watch_process(p->scan, on_scan, p);
		wpool_process(p->wpool);
		if (clock_mono() >= next_refresh) {
			scan_full(p->scan, on_scan, p);
			scan_foreach(p->scan, queue_due, p);
			next_refresh = clock_mono() + p->cfg->dag_processor.refresh_interval;
		}
		if (!p->opts.once && clock_mono() >= next_sweep) {
			request_sweep(p);
			next_sweep = clock_mono() + p->cfg->dag_processor.stale_dag_threshold;
		}
		struct wpool_stats ws;
		wpool_stats(p->wpool, &ws);
		struct scan_stats ss;
		scan_get_stats(p->scan, &ss);
		stats_lock(p);
		p->st.watched_folders = ss.watches;
		p->st.watching = ss.watching;
		p->st.watch_limit_hit = ss.watch_limit_hit;
		p->st.watch_overflows = ss.watch_overflows;
		p->st.full_scans = ss.full_scans;
		p->st.worker_restarts = ws.restarts;
		p->st.worker_timeouts = ws.timeouts;
		p->st.worker_crashes = ws.crashes;
		stats_unlock(p);
	}
	return rc;
}
