/* Dividing the files among processors that share a PostgreSQL or MySQL
 * database (ARCHITECTURE "Scale-out"): a file is claimed before it is parsed,
 * each processor takes at most its fair share (files / live processors) while
 * others are alive, gives up what is over its share when another joins, and
 * takes over the files of one that stopped renewing. The writer thread does
 * the database's part (sync/lease.h); the main loop keeps what it learns in
 * `held` and `others` and never waits for it.
 *
 * On SQLite (one processor) leases are off and every file is this one's. */
#include "processor/proc_int.h"

#include "sync/lease.h"

#ifndef DAGPROC_VERSION
#define DAGPROC_VERSION "dev"
#endif

void leases_init(processor *p)
{
	p->leases = p->params.dialect != STORE_SQLITE;
	p->lease_s =
	    p->cfg->dag_processor.lease_seconds > 0 ? p->cfg->dag_processor.lease_seconds : 30;
	p->nlive = 1;
}

static void news_free(lnews *n)
{
	free(n->key);
	free(n->owner);
	for (size_t i = 0; i < n->nheld; i++)
		free(n->held[i]);
	free(n->held);
	for (size_t i = 0; i < n->nlive; i++)
		free(n->live[i]);
	free(n->live);
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void leases_free(processor *p)
{
	strmap_free(&p->held);
	strmap_free(&p->others);
	strmap_free(&p->asked);
	strmap_free(&p->ready);
	strmap_free(&p->left);
	strmap_free(&p->given);
	free_list(p->owners, p->nowners);
	free_list(p->want, p->nwant);
	free_list(p->want_retry, p->nwant_retry);
	free_list(p->unhold, p->nunhold);
	free_list(p->drop, p->ndrop);
	for (size_t i = 0; i < p->nnews; i++)
		news_free(&p->news[i]);
	free(p->news);
}

/* ------------------------------------------------------------------------ */
/* Writer thread                                                             */

/* Under mu. */
static void post_locked(processor *p, lnews n)
{
	VEC_GROW(p->news, p->nnews, p->capnews);
	p->news[p->nnews++] = n;
}

static void split_key(char *k, lease_file *f)
{
	char *sep = strchr(k, '\x1f');
	*sep = '\0';
	f->bundle = k;
	f->rel = sep + 1;
}

/* keys[0..n) split in place, as lease files (which point into them) */
static lease_file *split_keys(char **keys, size_t n)
{
	lease_file *lf = xcalloc(n ? n : 1, sizeof(*lf));
	for (size_t i = 0; i < n; i++)
		split_key(keys[i], &lf[i]);
	return lf;
}

/* A claim or a heartbeat that the database did not take is the database's
 * state as much as a failed write: with nothing parsed yet (every file new or
 * changed is claimed first), the writer would never say so. */
static void lease_db_failed(processor *p, const store_error *err)
{
	pthread_mutex_lock(&p->mu);
	size_t pending = p->npend;
	pthread_mutex_unlock(&p->mu);
	db_went_down(p, err, pending);
}

/* The heartbeat was written: with no result waiting for the writer (which
 * says so itself when it writes), the database is back. */
static void lease_db_answered(processor *p)
{
	pthread_mutex_lock(&p->mu);
	bool idle = p->npend == 0 && p->inflight == 0;
	pthread_mutex_unlock(&p->mu);
	stats_lock(p);
	bool down = p->st.db_down_since != 0;
	stats_unlock(p);
	if (idle && down)
		db_came_back(p, 0);
}

/* Claims that failed (the database unreachable, the claim's transaction
 * refused) are the writer's to ask again in a second: the loop still counts
 * them as asked, so nothing else would (its sweep runs after a heartbeat,
 * every lease_seconds / 3). */
static void claims_retry_later(processor *p, char **keys, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		VEC_GROW(p->want_retry, p->nwant_retry, p->capwant_retry);
		p->want_retry[p->nwant_retry++] = keys[i];
	}
	/* the writer's backoff: at once after a blip, at most retry_backoff_max
	 * apart while the database stays away */
	p->claim_failures++;
	p->want_retry_at =
	    clock_mono() + retry_next_delay(&p->retry, p->claim_failures, retry_random());
}

/* the largest claim a lone processor asks for at once */
#define CLAIM_BATCH_MAX 4096

/* The first claims: enough to keep the workers busy between two of the
 * writer's turns; each claim counts the live processors again, so
 * processors starting together still divide the files. */
static size_t claim_base(const processor *p)
{
	return (size_t)p->cfg->dag_processor.parsing_processes * 64 + 64;
}

static void do_claims(processor *p, store_conn *c, char **keys, size_t n, size_t total)
{
	lease_file *lf = split_keys(keys, n);
	lease_state *out = xcalloc(n, sizeof(*out));
	store_error err;
	lease_weigh w = {.live = 1};
	bool ok = lease_claim(c, p->instance, p->lease_s, lf, n, total, out, &w, &err) == 0;
	if (!ok) {
		/* another processor's claim or write in the way (a lock wait that
		 * timed out): the database is up, the claim is asked again */
		if (store_error_is_contention(&err))
			log_debug(
			    "leases: claim of %zu files met another transaction's locks (%s): "
			    "asked again",
			    n, err.message);
		else {
			log_debug("leases: claim of %zu files not done: %s", n, err.message);
			lease_db_failed(p, &err);
		}
		char **again = xcalloc(n, sizeof(*again));
		for (size_t i = 0; i < n; i++)
			again[i] = xasprintf("%s\x1f%s", lf[i].bundle, lf[i].rel);
		claims_retry_later(p, again, n);
		free(again);
		free(lf);
		free(out);
		return;
	}
	size_t live = w.live;
	p->claim_failures = 0;
	size_t taken = 0;
	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < n; i++) {
		lnews nw = {.key = xasprintf("%s\x1f%s", lf[i].bundle, lf[i].rel)};
		if (ok && out[i].token > 0) {
			nw.token = out[i].token;
			nw.hash = out[i].hash[0] ? strtoull(out[i].hash, NULL, 16) : 0;
			taken++;
		} else if (ok && out[i].owner[0]) {
			nw.owner = xstrdup(out[i].owner);
		}
		post_locked(p, nw);
	}
	/* alone, with every file asked for granted: the next claim may be twice
	 * as large, so that the workers parse while the writer writes (a claim
	 * happens once per writer turn) rather than wait for it; with others
	 * alive, small claims keep the division fair as processors come */
	size_t base = claim_base(p), cur = p->claim_batch > base ? p->claim_batch : base;
	if (live <= 1 && taken == n && n * 2 > cur)
		p->claim_batch = cur * 2 > CLAIM_BATCH_MAX ? CLAIM_BATCH_MAX : cur * 2;
	else if (live > 1)
		p->claim_batch = base;
	pthread_mutex_unlock(&p->mu);
	if (taken)
		log_debug("leases: %zu of %zu files claimed", taken, n);
	if (w.refused)
		log_debug("leases: %zu free files left to others: this processor holds %zu, its "
		          "share is %zu of %zu files among %zu processors",
		          w.refused, w.held, w.share, w.total, w.live);
	free(lf);
	free(out);
}

typedef struct names_acc {
	char **v;
	size_t n, cap;
} names_acc;

static int row_name(void *ud, size_t ncols, const char *const *v)
{
	names_acc *a = ud;
	if (ncols >= 1 && v[0])
		VEC_PUSH(a->v, a->n, a->cap, xstrdup(v[0]));
	return 0;
}

static int row_held(void *ud, size_t ncols, const char *const *v)
{
	names_acc *a = ud;
	if (ncols >= 3 && v[0] && v[1] && v[2])
		VEC_PUSH(a->v, a->n, a->cap, xasprintf("%s\x1f%s\x1f%s", v[0], v[1], v[2]));
	return 0;
}

/* The heartbeat: renews the leases, records dag_processor, and tells the loop
 * which files this processor holds (the database's word, after a pause or a
 * takeover) and which processors are alive. */
static void heartbeat(processor *p, store_conn *c)
{
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	lease_beat b = {.me = p->instance,
	                .host = host,
	                .version = DAGPROC_VERSION,
	                .pid = (long)getpid(),
	                .started_at = p->st.started_at};
	size_t live = 1, held = 0;
	store_error err;
	double t0 = clock_mono();
	if (lease_heartbeat(c, &b, p->lease_s, &live, &held, &err) != 0) {
		log_debug("heartbeat not recorded: %s", err.message);
		lease_db_failed(p, &err);
		return;
	}
	lease_db_answered(p);
	if (!p->leases)
		return;
	p->renewed_at = t0;
	names_acc names = {0}, mine = {0};
	char *sql = xasprintf("SELECT instance_name FROM dag_processor WHERE stopped_at IS NULL "
	                      "AND latest_heartbeat >= %s",
	                      store_conn_dialect(c) == STORE_PG
	                          ? "clock_timestamp() - make_interval(secs => ?)"
	                          : "NOW(6) - INTERVAL ? SECOND");
	store_param ls = store_p_int(p->lease_s), me = store_p_text(p->instance);
	int rc = store_query(c, sql, &ls, 1, row_name, &names, &err);
	free(sql);
	if (rc == 0)
		rc =
		    store_query(c,
		                "SELECT bundle_name, relative_fileloc, token FROM file_lease WHERE "
		                "owner = ?",
		                &me, 1, row_held, &mine, &err);
	if (rc != 0) {
		log_debug("heartbeat: %s", err.message);
		free_list(names.v, names.n);
		free_list(mine.v, mine.n);
		return;
	}
	pthread_mutex_lock(&p->mu);
	p->nlive = live ? live : 1;
	post_locked(
	    p,
	    (lnews){
	        .beat = true, .held = mine.v, .nheld = mine.n, .live = names.v, .nlive = names.n});
	pthread_mutex_unlock(&p->mu);
}

/* Leases another processor gave up (a clean stop, over its share) or let
 * expire: the loop forgets who held them and claims them. */
static void on_free(void *ud, const char *bundle, const char *rel)
{
	names_acc *a = ud;
	VEC_PUSH(a->v, a->n, a->cap, xasprintf("%s\x1f%s", bundle, rel));
}

static void poll_free(processor *p, store_conn *c)
{
	store_error err;
	names_acc keys = {0}, again = {0};
	if (lease_free_files(c, 1000, on_free, &keys, &err) != 0)
		log_debug("leases: free files not read: %s", err.message);
	if (lease_take_reparse(c, p->instance, on_free, &again, &err) != 0)
		log_debug("leases: reparse flags not read: %s", err.message);
	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < keys.n; i++)
		post_locked(p, (lnews){.key = keys.v[i], .free = true});
	/* files of mine another processor's write wants parsed again (E034) */
	for (size_t i = 0; i < again.n; i++) {
		VEC_GROW(p->reparse, p->nreparse, p->capreparse);
		p->reparse[p->nreparse++] = again.v[i];
	}
	pthread_mutex_unlock(&p->mu);
	free(keys.v);
	free(again.v);
}

void leases_writer_work(processor *p)
{
	double now = clock_mono();
	/* the heartbeat every third of the lease (SQLite: every 10 s, for the
	 * record only; not in --once passes there, which write nothing) */
	double every = p->leases ? p->lease_s / 3.0 : HEARTBEAT_SECONDS;
	bool beat = now >= p->next_beat && (p->leases || !p->opts.once);
	bool look = p->leases && now >= p->next_free_poll;
	pthread_mutex_lock(&p->mu);
	char **want = p->want, **unhold = p->unhold, **drop = p->drop;
	size_t nwant = p->nwant, nunhold = p->nunhold, ndrop = p->ndrop;
	size_t files = p->files_hint;
	p->want = p->unhold = p->drop = NULL;
	p->nwant = p->capwant = p->nunhold = p->capunhold = p->ndrop = p->capdrop = 0;
	pthread_mutex_unlock(&p->mu);
	if (p->nwant_retry && now >= p->want_retry_at) {
		want = xrealloc(want, (nwant + p->nwant_retry) * sizeof(*want));
		for (size_t i = 0; i < p->nwant_retry; i++)
			want[nwant++] = p->want_retry[i];
		free(p->want_retry);
		p->want_retry = NULL;
		p->nwant_retry = p->capwant_retry = 0;
	}
	if (!beat && !look && !nwant && !nunhold && !ndrop)
		return;
	store_conn *c = NULL;
	store_error err;
	if (pool_acquire(p->db, &c, &err) != 0) {
		lease_db_failed(p, &err);
		claims_retry_later(p, want, nwant);
		free(want);
		free_list(unhold, nunhold);
		free_list(drop, ndrop);
		return;
	}
	/* the heartbeat first: the others count this processor from its first
	 * claim on */
	if (beat) {
		p->next_beat = now + every;
		heartbeat(p, c);
	}
	if (nunhold) {
		lease_file *lf = split_keys(unhold, nunhold);
		if (lease_release(c, p->instance, lf, nunhold, &err) != 0)
			log_debug("leases: release not done: %s", err.message);
		else
			log_info("leases: gave up %zu files over this processor's share", nunhold);
		free(lf);
	}
	if (ndrop) {
		lease_file *lf = split_keys(drop, ndrop);
		if (lease_drop(c, p->instance, lf, ndrop, &err) != 0)
			log_debug("leases: leases of gone files not deleted: %s", err.message);
		else
			log_info("leases: deleted %zu leases of files gone from the bundles",
			         ndrop);
		free(lf);
	}
	if (nwant)
		do_claims(p, c, want, nwant, files);
	if (look) {
		p->next_free_poll = now + 0.5;
		poll_free(p, c);
	}
	pool_release(p->db, c);
	free_list(want, nwant);
	free_list(unhold, nunhold);
	free_list(drop, ndrop);
	wake_loop(p);
}

void leases_beat_now(processor *p, store_conn *c)
{
	/* a predecessor on this machine that died (a crash, SIGKILL) holds
	 * leases that would keep its files from everyone until they expire */
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	size_t reaped = 0;
	store_error err;
	if (lease_reap_local(c, p->instance, host, &reaped, &err) != 0)
		log_debug("leases: dead processors of this machine not reaped: %s", err.message);
	else if (reaped)
		log_info("leases: %zu processor%s of this machine died without giving up %s files; "
		         "they are free now",
		         reaped, reaped == 1 ? "" : "s", reaped == 1 ? "its" : "their");
	p->next_beat = clock_mono() + (p->leases ? p->lease_s / 3.0 : HEARTBEAT_SECONDS);
	heartbeat(p, c);
}

bool leases_may_write(processor *p)
{
	return !p->leases || clock_mono() - p->renewed_at <= p->lease_s;
}

void leases_foreign(processor *p, const sync_file *files, size_t n)
{
	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < n; i++) {
		if (!files[i].foreign)
			continue;
		log_debug("%s/%s: not written: %s", files[i].bundle, files[i].rel,
		          files[i].foreign_owner[0] ? "another processor holds its lease"
		                                    : "its lease changed hands since the parse");
		/* an empty owner: the lease changed hands since the parse; the
		 * loop claims the file again */
		post_locked(p, (lnews){.key = xasprintf("%s\x1f%s", files[i].bundle, files[i].rel),
		                       .owner = xstrdup(files[i].foreign_owner),
		                       .reclaim = !files[i].foreign_owner[0]});
	}
	pthread_mutex_unlock(&p->mu);
	wake_loop(p);
}

void leases_release_all(processor *p)
{
	store_conn *c = NULL;
	store_error err;
	if (pool_acquire(p->db, &c, &err) != 0)
		return;
	if (lease_leave(c, p->instance, &err) != 0)
		log_debug("leases not released: %s", err.message);
	pool_release(p->db, c);
}

/* ------------------------------------------------------------------------ */
/* Main thread                                                               */

bool leases_holds(processor *p, const char *bundle, const char *rel, int64_t *token)
{
	*token = 0;
	if (!p->leases)
		return true;
	char *k = pkey(bundle, rel);
	size_t v;
	bool hit = strmap_get(&p->held, k, &v);
	free(k);
	if (hit)
		*token = (int64_t)v;
	return hit;
}

bool leases_theirs(processor *p, const char *bundle, const char *rel)
{
	if (!p->leases || !p->others.n)
		return false;
	char *k = pkey(bundle, rel);
	bool hit = strmap_get(&p->others, k, NULL);
	free(k);
	return hit;
}

void leases_leave_deletion(processor *p, const char *bundle, const char *rel)
{
	char *k = pkey(bundle, rel);
	size_t oi;
	if (strmap_get(&p->others, k, &oi))
		strmap_put(&p->left, k, oi);
	free(k);
}

void leases_want(processor *p, const char *bundle, const char *rel)
{
	char *k = pkey(bundle, rel);
	if (strmap_get(&p->asked, k, NULL)) {
		free(k);
		return;
	}
	strmap_put(&p->asked, k, 1);
	pthread_mutex_lock(&p->mu);
	VEC_GROW(p->want, p->nwant, p->capwant);
	p->want[p->nwant++] = k;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

static size_t owner_index(processor *p, const char *owner)
{
	for (size_t i = 0; i < p->nowners; i++)
		if (strcmp(p->owners[i], owner) == 0)
			return i;
	p->owners = xrealloc(p->owners, (p->nowners + 1) * sizeof(char *));
	p->owners[p->nowners] = xstrdup(owner);
	return p->nowners++;
}

static void requeue(processor *p, const char *key)
{
	char *k = xstrdup(key);
	char *sep = strchr(k, '\x1f');
	*sep = '\0';
	const struct scan_file *f = scan_lookup(p->scan, k, sep + 1);
	if (f)
		queue_push(p->queue, k, sep + 1, QUEUE_CHANGED, f->mtime_ns);
	free(k);
}

/* Whether the scan has the file of a key (bundle \x1f rel). */
static bool key_scanned(processor *p, const char *key)
{
	const char *sep = strchr(key, '\x1f');
	if (!sep)
		return false;
	char *b = xstrndup(key, (size_t)(sep - key));
	bool hit = scan_lookup(p->scan, b, sep + 1) != NULL;
	free(b);
	return hit;
}

/* A key (bundle \x1f rel) claimed, if the scan has its file. */
static void want_scanned(processor *p, const char *key)
{
	char *k = xstrdup(key);
	char *sep = strchr(k, '\x1f');
	*sep = '\0';
	if (scan_lookup(p->scan, k, sep + 1))
		leases_want(p, k, sep + 1);
	free(k);
}

/* Files held by no live processor we know of, and not ours: wanted. */
typedef struct sweep_ctx {
	processor *p;
	size_t n;
} sweep_ctx;

static void sweep_file(void *ud, const struct scan_file *f)
{
	sweep_ctx *s = ud;
	processor *p = s->p;
	char *k = pkey(f->bundle, f->rel);
	bool skip = strmap_get(&p->held, k, NULL) || strmap_get(&p->others, k, NULL) ||
	            strmap_get(&p->asked, k, NULL);
	free(k);
	if (!skip) {
		leases_want(p, f->bundle, f->rel);
		s->n++;
	}
}

static bool job_of(processor *p, const char *key)
{
	bool busy = false;
	for (size_t j = 0; j < p->njobs && !busy; j++) {
		char *jk = pkey(p->jobs[j].bundle, p->jobs[j].rel);
		busy = strcmp(jk, key) == 0;
		free(jk);
	}
	return busy;
}

/* Leases the database says this processor holds of files its scan does not
 * have, with no deletion of them pending or parse running: after the first
 * pass (which writes the deletions of files gone while it was away), they
 * are rows nothing will remove, counted against its share. Deleted. */
static void drop_gone(processor *p)
{
	stats_lock(p);
	bool synced = p->st.synced;
	stats_unlock(p);
	if (!synced)
		return;
	char **gone = NULL;
	size_t ngone = 0, capgone = 0;
	for (size_t k = 0; k < p->held.cap; k++) {
		const char *key = p->held.keys[k];
		if (key && !key_scanned(p, key) && !job_of(p, key))
			VEC_PUSH(gone, ngone, capgone, xstrdup(key));
	}
	if (!ngone)
		return;
	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < ngone; i++) {
		if (strmap_get(&p->pidx, gone[i], NULL)) {
			free(gone[i]); /* its deletion's write removes it */
			continue;
		}
		strmap_del(&p->held, gone[i]);
		VEC_GROW(p->drop, p->ndrop, p->capdrop);
		p->drop[p->ndrop++] = gone[i];
	}
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	free(gone);
}

/* The live processors of a heartbeat, whatever their order. */
static uint64_t live_signature(const lnews *n)
{
	uint64_t sig = n->nlive;
	for (size_t i = 0; i < n->nlive; i++) {
		uint64_t h = 1469598103934665603ULL; /* FNV-1a */
		for (const char *c = n->live[i]; *c; c++)
			h = (h ^ (unsigned char)*c) * 1099511628211ULL;
		sig ^= h;
	}
	return sig ? sig : 1;
}

/* After a heartbeat: the files this processor holds, as the database says;
 * the processors alive; what is over the fair share goes back; files nobody
 * alive holds are claimed. */
static void apply_beat(processor *p, lnews *n)
{
	strmap held = {0};
	for (size_t i = 0; i < n->nheld; i++) {
		char *t = strrchr(n->held[i], '\x1f');
		*t = '\0';
		strmap_put(&held, n->held[i], (size_t)strtoll(t + 1, NULL, 10));
	}
	/* a file deleted since has no lease (its deletion's write removed it) */
	size_t lost = 0;
	for (size_t k = 0; k < p->held.cap; k++)
		if (p->held.keys[k] && !strmap_get(&held, p->held.keys[k], NULL) &&
		    key_scanned(p, p->held.keys[k]))
			lost++;
	if (lost)
		log_info("leases: %zu files this processor held are another's now (a pause longer "
		         "than lease_seconds?)",
		         lost);
	strmap_free(&p->held);
	p->held = held;
	drop_gone(p);
	/* owners no longer alive: their files are anybody's */
	for (size_t oi = 0; oi < p->nowners; oi++) {
		bool alive = false;
		for (size_t l = 0; l < n->nlive && !alive; l++)
			alive = strcmp(n->live[l], p->owners[oi]) == 0;
		if (alive)
			continue;
		char **keys = NULL;
		size_t nkeys = 0, capkeys = 0;
		for (size_t k = 0; k < p->others.cap; k++)
			if (p->others.keys[k] && p->others.vals[k] == oi)
				VEC_PUSH(keys, nkeys, capkeys, xstrdup(p->others.keys[k]));
		for (size_t k = 0; k < nkeys; k++) {
			strmap_del(&p->others, keys[k]);
			free(keys[k]);
		}
		free(keys);
		if (nkeys)
			log_info("leases: processor %s is gone: %zu of its files are free",
			         p->owners[oi], nkeys);
		/* the deletions it was to write are ours now */
		char **gone = NULL;
		size_t ngone = 0, capgone = 0;
		for (size_t k = 0; k < p->left.cap; k++)
			if (p->left.keys[k] && p->left.vals[k] == oi)
				VEC_PUSH(gone, ngone, capgone, xstrdup(p->left.keys[k]));
		for (size_t k = 0; k < ngone; k++) {
			strmap_del(&p->left, gone[k]);
			char *sep = strchr(gone[k], '\x1f');
			*sep = '\0';
			if (!scan_lookup(p->scan, gone[k], sep + 1)) {
				const char *root = scan_bundle_root(p->scan, gone[k]);
				pend *e = xcalloc(1, sizeof(*e));
				e->key = pkey(gone[k], sep + 1);
				e->bundle = xstrdup(gone[k]);
				e->rel = xstrdup(sep + 1);
				e->abs = xasprintf("%s/%s", root ? root : ".", sep + 1);
				e->deleted = true;
				e->parsed_at = clock_epoch();
				pending_put(p, e);
			}
			free(gone[k]);
		}
		free(gone);
	}
	/* over the share (another processor joined): give the rest up, the
	 * files not being parsed first */
	size_t live = n->nlive ? n->nlive : 1;
	size_t files = scan_file_count(p->scan);
	size_t share = (files + live - 1) / live;
	/* of the files that exist: a lease of a file gone since (its
	 * deletion not written yet) gives nobody anything */
	size_t have = 0;
	for (size_t k = 0; k < p->held.cap; k++)
		if (p->held.keys[k] && key_scanned(p, p->held.keys[k]))
			have++;
	uint64_t sig = live_signature(n);
	if (p->quiet_sig && p->quiet_sig != sig)
		p->quiet_sig = 0; /* a processor joined or left: give up again */
	if (p->given.n) {
		size_t back = 0;
		for (size_t k = 0; k < p->given.cap; k++)
			if (p->given.keys[k] && strmap_get(&p->held, p->given.keys[k], NULL))
				back++;
		if (back && back * 2 >= p->given.n) {
			log_info(
			    "leases: %zu of the %zu files given up came back (no other processor "
			    "takes them: do the others serve other bundles?); none given up until "
			    "a processor joins or leaves",
			    back, p->given.n);
			p->quiet_sig = sig;
			strmap_free(&p->given);
		} else if (clock_mono() - p->given_at > 3.0 * p->lease_s) {
			strmap_free(&p->given);
		}
	}
	bool watching = p->given.n && p->given_sig == sig;
	if (live > 1 && have > share + 1 && !p->quiet_sig && !watching) {
		size_t excess = have - share;
		char **give = NULL;
		size_t ngive = 0, capgive = 0;
		for (size_t k = 0; k < p->held.cap && ngive < excess; k++) {
			const char *key = p->held.keys[k];
			if (!key || !key_scanned(p, key))
				continue;
			if (!job_of(p, key))
				VEC_PUSH(give, ngive, capgive, xstrdup(key));
		}
		strmap_free(&p->given);
		for (size_t i = 0; i < ngive; i++) {
			strmap_del(&p->held, give[i]);
			strmap_del(&p->ready, give[i]);
			strmap_put(&p->given, give[i], 1);
		}
		p->given_at = clock_mono();
		p->given_sig = sig;
		pthread_mutex_lock(&p->mu);
		for (size_t i = 0; i < ngive; i++) {
			VEC_GROW(p->unhold, p->nunhold, p->capunhold);
			p->unhold[p->nunhold++] = give[i];
		}
		pthread_cond_signal(&p->cv);
		pthread_mutex_unlock(&p->mu);
		free(give);
	}
	/* files nobody alive holds: claimed (after the first pass, which
	 * claims as it parses) */
	stats_lock(p);
	bool synced = p->st.synced;
	stats_unlock(p);
	if (synced) {
		sweep_ctx s = {.p = p};
		scan_foreach(p->scan, sweep_file, &s);
	}
}

void leases_take_news(processor *p)
{
	if (!p->leases) {
		/* SQLite: only the heartbeat's news, nothing to learn from it */
		pthread_mutex_lock(&p->mu);
		lnews *news = p->news;
		size_t n = p->nnews;
		p->news = NULL;
		p->nnews = p->capnews = 0;
		pthread_mutex_unlock(&p->mu);
		for (size_t i = 0; i < n; i++)
			news_free(&news[i]);
		free(news);
		return;
	}
	pthread_mutex_lock(&p->mu);
	lnews *news = p->news;
	size_t n = p->nnews;
	p->news = NULL;
	p->nnews = p->capnews = 0;
	bool fp_ready = p->fp_ready;
	pthread_mutex_unlock(&p->mu);
	for (size_t i = 0; i < n; i++) {
		lnews *nw = &news[i];
		if (nw->beat) {
			apply_beat(p, nw);
		} else if (nw->token > 0) {
			strmap_del(&p->asked, nw->key);
			strmap_del(&p->others, nw->key);
			strmap_put(&p->held, nw->key, (size_t)nw->token);
			strmap_put(&p->ready, nw->key, 0);
			p->ahead = true;
			/* claimed: parsed unless unchanged since its last writer wrote it */
			if (nw->hash && fp_ready)
				strmap_put(&p->fp, nw->key, (size_t)nw->hash);
			else if (fp_ready)
				strmap_del(&p->fp, nw->key); /* no rows to trust */
			requeue(p, nw->key);
		} else if (nw->free) {
			/* given up or expired: claimed unless held or being claimed */
			strmap_del(&p->others, nw->key);
			if (!strmap_get(&p->held, nw->key, NULL))
				want_scanned(p, nw->key);
		} else if (nw->owner && nw->owner[0]) {
			strmap_del(&p->asked, nw->key);
			strmap_del(&p->held, nw->key);
			strmap_del(&p->ready, nw->key);
			size_t oi = owner_index(p, nw->owner);
			strmap_put(&p->others, nw->key, oi);
			char *k = xstrdup(nw->key);
			char *sep = strchr(k, '\x1f');
			*sep = '\0';
			if (!scan_lookup(p->scan, k, sep + 1))
				strmap_put(&p->left, nw->key, oi); /* a deletion left to it */
			free(k);
		} else if (nw->reclaim) {
			/* a result parsed under an older token of the lease (the
			 * file deleted and created again while held: its deletion's
			 * write removed the row, the next write made a new one) or
			 * before a takeover: claimed again now. A heartbeat may
			 * well say the lease is this processor's again, and the
			 * sweep claims no held file: the change was never parsed
			 * again (model seed 400810). */
			strmap_del(&p->asked, nw->key);
			strmap_del(&p->held, nw->key);
			strmap_del(&p->ready, nw->key);
			want_scanned(p, nw->key);
		} else {
			/* not claimed (over the share, or being claimed by another
			 * right now): asked again by the next sweep */
			strmap_del(&p->asked, nw->key);
			strmap_del(&p->held, nw->key);
			strmap_del(&p->ready, nw->key);
		}
		news_free(nw);
	}
	free(news);
	pthread_mutex_lock(&p->mu);
	p->files_hint = scan_file_count(p->scan);
	p->held_hint = p->held.n;
	pthread_mutex_unlock(&p->mu);
}

size_t leases_claim_batch(processor *p)
{
	pthread_mutex_lock(&p->mu);
	size_t n = p->claim_batch;
	pthread_mutex_unlock(&p->mu);
	size_t base = claim_base(p);
	return n > base ? n : base;
}

size_t leases_claim_ahead(processor *p)
{
	pthread_mutex_lock(&p->mu);
	size_t n = p->claim_batch;
	pthread_mutex_unlock(&p->mu);
	return n > claim_base(p) ? n : 0;
}

bool leases_settled(processor *p)
{
	if (!p->leases)
		return true;
	pthread_mutex_lock(&p->mu);
	bool idle = p->nwant == 0;
	pthread_mutex_unlock(&p->mu);
	return idle && p->asked.n == 0;
}
