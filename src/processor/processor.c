/* The daemon: one poll loop (signals, inotify, worker sockets, timers) feeding
 * the pending table, and one writer thread draining it into the database with
 * retries and backoff. Nothing on the main loop waits for the database.
 *
 * Periodic work of the main loop (each turn, at most 1 s apart):
 *   - heartbeat for /livez;
 *   - full rescan of every bundle every refresh_interval (the inotify safety
 *     net), which also queues every file as due for a reparse;
 *   - every stale_dag_threshold, a snapshot of the files of every bundle for
 *     the writer, which marks stale what the database holds of files that are
 *     not there (rows of a file whose deletion no event of this processor
 *     saw: written by another processor, or before a restore);
 *   - dispatch of due files to idle workers. */
#include "processor/processor.h"
#include "processor/single.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "bundle/queue.h"
#include "bundle/scan.h"
#include "bundle/walk.h"
#include "config/config.h"
#include "config/dburl.h"
#include "log/log.h"
#include "store/pool.h"
#include "store/retry.h"
#include "store/store.h"
#include "store/store_url.h"
#include "sync/sync.h"
#include "util/strmap.h"
#include "util/xalloc.h"
#include "worker/worker.h"
#include "util/clock.h"

#define WRITER_BATCH 200

#define VEC_GROW(v, n, cap)                                                                        \
	do {                                                                                       \
		if ((n) == (cap)) {                                                                \
			(cap) = (cap) ? (cap)*2 : 16;                                              \
			(v) = xrealloc((v), (cap) * sizeof(*(v)));                                 \
		}                                                                                  \
	} while (0)
/* A partial batch waits this long for more results: a lone edit is written
 * at once; while files are still queued for parsing (a first sync, a burst of
 * edits) the writer waits longer for fuller, fewer transactions, which leaves
 * the CPU to the workers. */
#define WRITER_GATHER_SECONDS      0.01
#define WRITER_GATHER_BUSY_SECONDS 0.1
#define MAX_POLLFDS                1100
#define DRAIN_SECONDS              5
/* Parsing pauses while the results waiting for the writer hold more than
 * this: memory stays bounded when the writer is slower than the workers (a
 * large first sync) or the database is away; the parse queue keeps the rest,
 * one entry per file. */
#define PENDING_SOFT_LIMIT ((size_t)64 << 20)
#define HEARTBEAT_SECONDS  10 /* dag_processor row, for `serve` and other processors */

const double proc_hist_bounds[PROC_HIST_BUCKETS - 1] = {0.001, 0.005, 0.01, 0.025, 0.05,
                                                        0.1,   0.25,  1,    10};

/* One file's latest result, waiting for the writer. */
typedef struct pend {
	char *key; /* bundle \x1f rel */
	char *bundle, *rel, *abs;
	bool deleted;
	dagfile_result *res; /* owned (worker_result_free); NULL when deleted */
	double mtime;
	int64_t size;
	double parsed_at;
	uint64_t source_hash;
	/* the file's generation this entry is of: a change event bumps it, and
	 * an entry never replaces one of a newer generation */
	uint64_t gen;
	size_t bytes; /* what the entry holds, roughly (backpressure) */
} pend;

typedef struct job {
	uint64_t id;
	char *bundle, *rel;
	double mtime;
	int64_t size;
	uint64_t gen; /* the file's generation when it was handed out */
} job;

struct processor {
	struct dagproc_config *cfg;
	proc_opts opts;
	scan *scan;
	queue *queue;
	wpool *wpool;
	pool *db;
	struct db_url url;
	store_params params;
	retry_policy retry;

	/* per file (bundle \x1f rel): its generation, bumped by every change
	 * event (main thread); a parse result of an older generation is dropped,
	 * since the event that made it old queued a newer parse */
	strmap gens;
	uint64_t gen_clock;

	/* jobs in flight, by id */
	job *jobs;
	size_t njobs, capjobs;
	uint64_t next_job;

	/* pending results: shared with the writer */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pend **pend;
	size_t npend, cappend;
	strmap pidx;
	size_t inflight;
	size_t pend_bytes; /* held by pending entries, in the table or in flight */
	bool stop_writer;
	atomic_size_t queued_hint; /* files due for a worker and waiting, from the loop */
	strmap *known;             /* per bundle: rels seen by the first scan (writer checks) */
	bool known_ready; /* under mu: the first scan is done (the writer starts before it) */
	size_t nknown;
	char **known_bundles;
	/* a later snapshot of the same kind, from the loop to the writer (under
	 * mu; the writer takes it and frees it) */
	strmap *sweep;
	bool writer_started;
	bool writer_abandoned; /* did not stop within DRAIN_SECONDS */
	pthread_t writer;
	/* source hashes of the files as last written (parse_stat), loaded once by
	 * the writer: a file whose sources did not change since is not parsed
	 * again at start. Main thread only, once fp_ready is set (under mu). */
	strmap fp;
	bool fp_ready;
	double hold_until;     /* monotonic: dispatch waits for fp until then */
	uint64_t options_hash; /* as the workers compute it (dagfile_options_hash) */
	/* leases (PostgreSQL, MySQL): files other processors hold, from the
	 * writer to the loop under mu, then the loop's own map (key -> index of
	 * the owner's name), which dispatch skips */
	char **lease_news; /* "key\x1eowner" */
	size_t nlease_news;
	char **live_owners; /* snapshot from the last heartbeat */
	size_t nlive_owners;
	bool live_ready;
	strmap foreign;
	char **owners;
	size_t nowners;
	/* parse requests from the API threads (under mu), and the eventfd that
	 * wakes the loop for them */
	char **requests;
	size_t nrequests;
	/* from the writer (under mu): files to parse again, refused with E034
	 * for a DAG id that has left its file */
	char **reparse;
	size_t nreparse, capreparse;
	int wakefd;

	char *instance;           /* [dag_processor] instance_name, default hostname:pid */
	int single_fd;            /* SQLite: the lock of proc_single_lock, or -1 */
	double last_db_heartbeat; /* monotonic */

	/* stats (own mutex: read by the API threads) */
	pthread_mutex_t smu;
	proc_stats st;
	double once_deadline;
};

static char *pkey(const char *bundle, const char *rel)
{
	return xasprintf("%s\x1f%s", bundle, rel);
}

static size_t pend_estimate(const pend *e)
{
	size_t n = 256 + strlen(e->key) * 3;
	const dagfile_result *r = e->res;
	for (size_t i = 0; r && i < r->ndags; i++)
		n += 256 + r->dags[i].json_len + r->dags[i].ntasks * 96;
	for (size_t i = 0; r && i < r->nerrors + r->nwarnings; i++)
		n += 128;
	return n;
}

static void pend_free(pend *e)
{
	if (!e)
		return;
	free(e->key);
	free(e->bundle);
	free(e->rel);
	free(e->abs);
	if (e->res)
		worker_result_free(e->res);
	free(e);
}

/* Under p->mu: the newest result for a file replaces an older one. */
static void pend_release_locked(processor *p, pend *e)
{
	p->pend_bytes -= e->bytes < p->pend_bytes ? e->bytes : p->pend_bytes;
	pend_free(e);
}

static void pending_put_locked(processor *p, pend *e)
{
	size_t i;
	if (!e->bytes) {
		e->bytes = pend_estimate(e);
		p->pend_bytes += e->bytes;
	}
	if (strmap_get(&p->pidx, e->key, &i)) {
		if (p->pend[i]->gen > e->gen) {
			pend_release_locked(p, e); /* the newer one stays */
			return;
		}
		pend_release_locked(p, p->pend[i]);
		p->pend[i] = e;
		return;
	}
	if (p->npend == p->cappend) {
		p->cappend = p->cappend ? p->cappend * 2 : 256;
		p->pend = xrealloc(p->pend, p->cappend * sizeof(*p->pend));
	}
	p->pend[p->npend] = e;
	strmap_put(&p->pidx, e->key, p->npend);
	p->npend++;
}

static void pending_put(processor *p, pend *e)
{
	pthread_mutex_lock(&p->mu);
	pending_put_locked(p, e);
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* Under p->mu: removes entry i by moving the last one into its place. */
static pend *pending_take_locked(processor *p, size_t i)
{
	pend *e = p->pend[i];
	strmap_del(&p->pidx, e->key);
	p->npend--;
	if (i != p->npend) {
		p->pend[i] = p->pend[p->npend];
		strmap_put(&p->pidx, p->pend[i]->key, i);
	}
	return e;
}

static void stats_lock(processor *p)
{
	pthread_mutex_lock(&p->smu);
}

static void stats_unlock(processor *p)
{
	pthread_mutex_unlock(&p->smu);
}

void proc_snapshot(const processor *p, proc_stats *out)
{
	processor *q = (processor *)p;
	stats_lock(q);
	*out = q->st;
	stats_unlock(q);
	pthread_mutex_lock(&q->mu);
	out->pending = q->npend + q->inflight;
	pthread_mutex_unlock(&q->mu);
}

/* ------------------------------------------------------------------------ */
/* Writer thread                                                             */

static const char *const wstate_names[] = {"connecting", "idle", "writing", "backing off"};

/* The one place the writer's state changes. */
static void writer_set_state(processor *p, writer_state s)
{
	stats_lock(p);
	if (p->st.wstate != s)
		log_debug("writer: %s -> %s", wstate_names[p->st.wstate], wstate_names[s]);
	p->st.wstate = s;
	stats_unlock(p);
}

/* Database reachability: logs one line per change of state (unreachable,
 * refusing writes), not per retry. */
static void db_went_down(processor *p, const store_error *err, size_t pending)
{
	bool refused = err->cls == STORE_REFUSED;
	stats_lock(p);
	bool was_up = p->st.db_up || p->st.last_write_ok == 0;
	bool first = p->st.db_down_since == 0;
	bool changed = !first && p->st.db_refused != refused;
	snprintf(p->st.db_error, sizeof(p->st.db_error), "%s", err->message);
	p->st.db_refused = refused;
	if (first) {
		p->st.db_down_since = clock_epoch();
		p->st.db_up = false;
	}
	stats_unlock(p);
	if ((first && was_up) || changed)
		log_warn("%s: %s; %zu result%s pending",
		         refused ? "database refuses writes" : "database unreachable", err->message,
		         pending, pending == 1 ? "" : "s");
}

static void db_came_back(processor *p, size_t files)
{
	stats_lock(p);
	double since = p->st.db_down_since;
	p->st.db_down_since = 0;
	p->st.db_up = true;
	p->st.db_refused = false;
	p->st.db_error[0] = '\0';
	stats_unlock(p);
	if (since > 0)
		log_info("database back after %.1f s; wrote %zu file%s", clock_epoch() - since,
		         files, files == 1 ? "" : "s");
}

static void wait_locked(processor *p, double seconds)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	double t = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + seconds;
	ts.tv_sec = (time_t)t;
	ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
	pthread_cond_timedwait(&p->cv, &p->mu, &ts);
}

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

/* Wakes the main loop (it also wakes by itself within a second). */
static void wake_loop(processor *p)
{
	uint64_t one = 1;
	ssize_t w = write(p->wakefd, &one, sizeof(one));
	(void)w; /* EAGAIN: already woken */
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

static void free_snapshot(strmap *sets, size_t n)
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

static void record_write(processor *p, const sync_stats *s, bool ok, const store_error *err)
{
	stats_lock(p);
	p->st.write_attempts++;
	if (ok) {
		p->st.write_ok++;
		p->st.last_write_ok = clock_epoch();
		p->st.statements += s->statements;
		p->st.writes += s->writes;
		p->st.files_written += s->files_changed;
		p->st.files_unchanged += s->files_unchanged;
		p->st.isolated_failures += s->isolated_failures;
	} else if (err->cls == STORE_PERMANENT) {
		p->st.write_permanent++;
	} else if (err->cls == STORE_REFUSED) {
		p->st.write_refused++;
	} else {
		p->st.write_transient++;
	}
	stats_unlock(p);
}

/* The processor's row in dag_processor (Airflow's processor heartbeat), every
 * HEARTBEAT_SECONDS while the daemon runs; not in --once passes, so a pass
 * over unchanged files writes nothing at all. A failure is left to the next
 * batch or heartbeat to notice and report. */
typedef struct owners_acc {
	char **v;
	size_t n;
} owners_acc;

static void on_live_owner(void *ud, const char *owner)
{
	owners_acc *a = ud;
	a->v = xrealloc(a->v, (a->n + 1) * sizeof(char *));
	a->v[a->n++] = xstrdup(owner);
}

static void db_heartbeat(processor *p)
{
	if (p->opts.once || clock_mono() - p->last_db_heartbeat < HEARTBEAT_SECONDS)
		return;
	p->last_db_heartbeat = clock_mono();
	static const char *const cols[] = {"instance_name", "hostname", "pid", "started_at",
	                                   "latest_heartbeat"};
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	char started[32], now[32];
	store_format_ts(p->st.started_at, started, sizeof(started));
	store_format_ts(clock_epoch(), now, sizeof(now));
	store_param v[5] = {store_p_text(p->instance), store_p_text(host),
	                    store_p_int((int64_t)getpid()), store_p_text(started),
	                    store_p_text(now)};
	store_conn *c = NULL;
	store_error err;
	if (pool_acquire(p->db, &c, &err) != 0)
		return;
	char *sql = store_sql_upsert(store_conn_dialect(c), "dag_processor", cols, 5, 1, 1);
	if (store_exec(c, sql, v, 5, &err) != 0)
		log_debug("heartbeat not recorded: %s", err.message);
	else if (sync_heartbeat_leases(c, p->instance, &err) != 0)
		log_debug("leases not renewed: %s", err.message);
	else if (store_conn_dialect(c) != STORE_SQLITE) {
		owners_acc live = {0};
		if (sync_live_owners(c, on_live_owner, &live, &err) == 0) {
			pthread_mutex_lock(&p->mu);
			for (size_t i = 0; i < p->nlive_owners; i++)
				free(p->live_owners[i]);
			free(p->live_owners);
			p->live_owners = live.v;
			p->nlive_owners = live.n;
			p->live_ready = true;
			pthread_mutex_unlock(&p->mu);
		} else {
			for (size_t i = 0; i < live.n; i++)
				free(live.v[i]);
			free(live.v);
		}
	}
	free(sql);
	pool_release(p->db, c);
	wake_loop(p);
}

static void *writer_main(void *arg)
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
		while (!p->stop_writer && prepared && p->npend == 0 && !p->sweep) {
			pthread_mutex_unlock(&p->mu);
			db_heartbeat(p);
			pthread_mutex_lock(&p->mu);
			if (p->stop_writer || p->npend || p->sweep)
				break;
			wait_locked(p, 1.0);
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
			/* over the limit, parsing waits for this batch: no gathering */
			while (!p->stop_writer && !p->sweep && p->npend < WRITER_BATCH &&
			       p->pend_bytes <= PENDING_SOFT_LIMIT && clock_mono() < until)
				wait_locked(p, until - clock_mono());
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
			if (rc != 0) {
				pthread_mutex_lock(&p->mu);
				if (p->stop_writer)
					break; /* with mu held, as the loop's other exits */
				pthread_mutex_unlock(&p->mu);
			}
		} else {
			for (size_t i = 0; i < n; i++) {
				pend *e = batch[i];
				files[i] = (sync_file){.bundle = e->bundle,
				                       .rel = e->rel,
				                       .fileloc = e->abs,
				                       .deleted = e->deleted,
				                       .res = e->res,
				                       .mtime = e->mtime,
				                       .size = e->size,
				                       .parsed_at = e->parsed_at,
				                       .source_hash = e->source_hash,
				                       .lease_owner = p->instance};
			}
			rc = sync_write(p->db, files, n, &s, &rq, &err);
			record_write(p, &s, rc == 0, &err);
			if (rc == 0 && s.foreign) {
				pthread_mutex_lock(&p->mu);
				for (size_t i = 0; i < n; i++) {
					if (!files[i].foreign)
						continue;
					p->lease_news = xrealloc(
					    p->lease_news, (p->nlease_news + 1) * sizeof(char *));
					p->lease_news[p->nlease_news++] =
					    xasprintf("%s\x1f%s\x1e%s", files[i].bundle,
					              files[i].rel, files[i].foreign_owner);
				}
				pthread_mutex_unlock(&p->mu);
			}
			db_heartbeat(p);
		}

		pthread_mutex_lock(&p->mu);
		if (rc == 0 && rq.n) {
			/* files refused with E034 for an id that is free now */
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
	/* a clean stop gives the files up at once, rather than after the leases
	 * expire (bounded: the loop waits DRAIN_SECONDS for this thread) */
	if (prepared && !p->opts.once) {
		store_conn *c = NULL;
		store_error err;
		if (pool_acquire(p->db, &c, &err) == 0) {
			if (sync_release_leases(c, p->instance, &err) != 0)
				log_debug("leases not released: %s", err.message);
			pool_release(p->db, c);
		}
	}
	free(batch);
	free(files);
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* Main loop                                                                 */

typedef struct loop {
	processor *p;
	bool initial_scan_done;
} loop;

static void on_scan(void *ud, const char *bundle, const char *rel, const char *abs, scan_event ev)
{
	processor *p = ud;
	char *k = pkey(bundle, rel);
	uint64_t gen = ++p->gen_clock;
	if (ev == SCAN_DELETED)
		strmap_del(&p->gens, k); /* a parse still running is of an older file */
	else
		strmap_put(&p->gens, k, (size_t)gen);
	free(k);
	if (ev == SCAN_DELETED) {
		queue_remove(p->queue, bundle, rel);
		pend *e = xcalloc(1, sizeof(*e));
		e->gen = gen;
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

static void on_done(void *ud, uint64_t job_id, dagfile_result *res)
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
	if (!scan_lookup(p->scan, j->bundle, j->rel) || !current) {
		log_info(
		    "%s/%s: result of an older version dropped (the file changed or went while it "
		    "was parsed)",
		    j->bundle, j->rel);
		worker_result_free(res);
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

static void dispatch(processor *p)
{
	const char *bundle, *rel;
	bool fp_ready;
	if (dispatch_held(p, &fp_ready))
		return;
	while (wpool_has_idle(p->wpool) && queue_pop(p->queue, clock_mono(), &bundle, &rel)) {
		const struct scan_file *f = scan_lookup(p->scan, bundle, rel);
		if (!f) {
			queue_done(p->queue, bundle, rel, clock_mono());
			queue_remove(p->queue, bundle, rel);
			continue;
		}
		if (p->foreign.n) {
			char *k = pkey(bundle, rel);
			bool theirs = strmap_get(&p->foreign, k, NULL);
			free(k);
			if (theirs) {
				/* another processor holds its lease and parses it */
				queue_done(p->queue, bundle, rel, clock_mono());
				continue;
			}
		}
		const char *root = scan_bundle_root(p->scan, bundle);
		char *abs = xasprintf("%s/%s", root, rel);
		uint64_t id = ++p->next_job;
		/* the hash of the last run applies to this process's first parse of
		 * the file only: later parses (changes, the periodic reparse) parse */
		uint64_t expect = 0;
		if (fp_ready) {
			char *k = pkey(bundle, rel);
			size_t v;
			if (strmap_get(&p->fp, k, &v)) {
				expect = (uint64_t)v;
				strmap_del(&p->fp, k);
			}
			free(k);
		}
		if (expect && local_fingerprint(p, bundle, rel, abs, f) == expect) {
			/* unchanged since it was written: no worker, no parse */
			free(abs);
			queue_done(p->queue, bundle, rel, clock_mono());
			stats_lock(p);
			p->st.files_skipped++;
			stats_unlock(p);
			continue;
		}
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
		                            .gen = (uint64_t)gen};
	}
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
static strmap *snapshot_files(processor *p)
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
	if (queue_len(p->queue) || queue_running(p->queue) || p->njobs)
		return false;
	pthread_mutex_lock(&p->mu);
	bool empty = p->npend == 0 && p->inflight == 0;
	pthread_mutex_unlock(&p->mu);
	stats_lock(p);
	bool wrote = p->st.db_up;
	stats_unlock(p);
	return empty && wrote;
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

/* Files other processors hold leases on, and processors that died. */
static void take_lease_news(processor *p)
{
	pthread_mutex_lock(&p->mu);
	char **news = p->lease_news, **live = p->live_owners;
	size_t nnews = p->nlease_news, nlive = p->nlive_owners;
	bool live_ready = p->live_ready;
	p->lease_news = p->live_owners = NULL;
	p->nlease_news = p->nlive_owners = 0;
	p->live_ready = false;
	pthread_mutex_unlock(&p->mu);
	for (size_t i = 0; i < nnews; i++) {
		char *sep = strchr(news[i], '\x1e');
		*sep = '\0';
		strmap_put(&p->foreign, news[i], owner_index(p, sep + 1));
		free(news[i]);
	}
	free(news);
	/* owners that hold no live lease any more: stopped or dead */
	for (size_t oi = 0; live_ready && oi < p->nowners; oi++) {
		bool alive = false;
		for (size_t l = 0; l < nlive && !alive; l++)
			alive = strcmp(live[l], p->owners[oi]) == 0;
		if (alive)
			continue;
		size_t taken = 0;
		/* collect first: deleting while walking the slots would skip some */
		char **keys = NULL;
		size_t nkeys = 0;
		for (size_t k = 0; k < p->foreign.cap; k++) {
			if (!p->foreign.keys[k] || p->foreign.vals[k] != oi)
				continue;
			keys = xrealloc(keys, (nkeys + 1) * sizeof(char *));
			keys[nkeys++] = xstrdup(p->foreign.keys[k]);
		}
		for (size_t k = 0; k < nkeys; k++) {
			strmap_del(&p->foreign, keys[k]);
			char *sep = strchr(keys[k], '\x1f');
			*sep = '\0';
			const struct scan_file *f = scan_lookup(p->scan, keys[k], sep + 1);
			if (f) {
				queue_push(p->queue, keys[k], sep + 1, QUEUE_CHANGED, f->mtime_ns);
			} else {
				/* deleted meanwhile: the deletion is ours to write now */
				const char *root = scan_bundle_root(p->scan, keys[k]);
				pend *e = xcalloc(1, sizeof(*e));
				e->key = pkey(keys[k], sep + 1);
				e->bundle = xstrdup(keys[k]);
				e->rel = xstrdup(sep + 1);
				e->abs = xasprintf("%s/%s", root ? root : ".", sep + 1);
				e->deleted = true;
				e->parsed_at = clock_epoch();
				pending_put(p, e);
			}
			taken++;
			free(keys[k]);
		}
		free(keys);
		if (taken)
			log_info("processor %s holds no live lease any more: taking over %zu files",
			         p->owners[oi], taken);
	}
	for (size_t l = 0; l < nlive; l++)
		free(live[l]);
	free(live);
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

static int main_loop(processor *p, int sigfd)
{
	struct pollfd fds[MAX_POLLFDS];
	double next_refresh = clock_mono() + p->cfg->dag_processor.refresh_interval;
	double next_sweep = clock_mono() + p->cfg->dag_processor.stale_dag_threshold;
	bool stopping = false;
	int rc = 0;
	for (;;) {
		double now = clock_mono();
		stats_lock(p);
		p->st.heartbeat = clock_epoch();
		p->st.queued = queue_len(p->queue);
		p->st.parsing = queue_running(p->queue);
		p->st.files = scan_file_count(p->scan);
		stats_unlock(p);
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
		if (p->opts.once && now > p->once_deadline) {
			proc_stats s;
			proc_snapshot(p, &s);
			log_error(
			    "the database could not be reached within once_timeout (%d s): %s; "
			    "%zu results not written",
			    p->cfg->database.once_timeout, s.db_error, s.pending);
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
		double qd = queue_next_due(p->queue, now);
		bool fp_ready;
		bool held = dispatch_held(p, &fp_ready);
		/* held for the stored hashes: until hold_until at most; held because
		 * the pending results are full: until the writer wakes the loop */
		if (held && !fp_ready && !p->opts.once && p->hold_until > now &&
		    p->hold_until - now < timeout)
			timeout = p->hold_until - now;
		if (!held && qd >= 0 && wpool_has_idle(p->wpool) && qd < timeout)
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
					stopping = true;
				}
			}
		}
		if (stopping)
			break;
		if (fds[1].revents & POLLIN) {
			take_requests(p);
			take_lease_news(p);
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

/* ------------------------------------------------------------------------ */

static void stop_writer(processor *p)
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

static void processor_free(processor *p)
{
	stop_writer(p);
	if (p->writer_abandoned) {
		/* only what the writer cannot touch; the process exits next */
		if (p->wpool)
			wpool_free(p->wpool);
		return;
	}
	if (p->wpool)
		wpool_free(p->wpool);
	for (size_t i = 0; i < p->njobs; i++) {
		free(p->jobs[i].bundle);
		free(p->jobs[i].rel);
	}
	free(p->jobs);
	if (p->db)
		pool_destroy(p->db);
	db_url_free(&p->url);
	for (size_t i = 0; i < p->npend; i++)
		pend_free(p->pend[i]);
	free(p->pend);
	strmap_free(&p->pidx);
	strmap_free(&p->gens);
	strmap_free(&p->fp);
	strmap_free(&p->foreign);
	for (size_t i = 0; i < p->nowners; i++)
		free(p->owners[i]);
	free(p->owners);
	for (size_t i = 0; i < p->nlease_news; i++)
		free(p->lease_news[i]);
	free(p->lease_news);
	for (size_t i = 0; i < p->nlive_owners; i++)
		free(p->live_owners[i]);
	free(p->live_owners);
	for (size_t b = 0; b < p->nknown; b++) {
		strmap_free(&p->known[b]);
		free(p->known_bundles[b]);
	}
	free(p->known);
	free_snapshot(p->sweep, p->nknown);
	free(p->known_bundles);
	if (p->queue)
		queue_free(p->queue);
	if (p->scan)
		scan_free(p->scan);
	for (size_t i = 0; i < p->nrequests; i++)
		free(p->requests[i]);
	free(p->requests);
	for (size_t i = 0; i < p->nreparse; i++)
		free(p->reparse[i]);
	free(p->reparse);
	if (p->wakefd >= 0)
		close(p->wakefd);
	if (p->single_fd >= 0)
		close(p->single_fd); /* after the pool: no connection is left */
	free(p->instance);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->smu);
	free(p);
}

int processor_run(struct dagproc_config *cfg, const proc_opts *o)
{
	processor *p = xcalloc(1, sizeof(*p));
	p->cfg = cfg;
	p->opts = *o;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	pthread_mutex_init(&p->smu, NULL);
	p->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	p->single_fd = -1;
	if (cfg->dag_processor.instance_name && cfg->dag_processor.instance_name[0]) {
		p->instance = xstrdup(cfg->dag_processor.instance_name);
	} else {
		char host[256] = "";
		gethostname(host, sizeof(host) - 1);
		p->instance = xasprintf("%s:%d", host, (int)getpid());
	}
	p->last_db_heartbeat = -HEARTBEAT_SECONDS;
	p->st.started_at = clock_epoch();
	p->st.heartbeat = p->st.started_at;
	int rc = 2;
	char *err = NULL;

	/* signals: handled on the loop through a signalfd; blocked everywhere else
	 * (threads created from here on inherit the mask) */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	int sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sigfd < 0) {
		log_error("signalfd: %s", strerror(errno));
		goto out;
	}

	/* database */
	if (store_params_from_url(cfg->database.sql_conn, cfg, &p->url, &p->params, &err) != 0) {
		log_error("[database] sql_conn: %s", err);
		goto out;
	}
	if (p->params.dialect == STORE_SQLITE && p->params.sqlite_path &&
	    strcmp(p->params.sqlite_path, ":memory:") != 0) {
		char *why = NULL;
		p->single_fd = proc_single_lock(p->params.sqlite_path, &why);
		if (p->single_fd < 0) {
			log_error("%s", why);
			free(why);
			goto out;
		}
	}
	p->db = pool_create(&p->params);
	retry_policy_from_params(&p->retry, &p->params);

	/* bundles */
	size_t nb = 1 + cfg->core.bundles.n;
	scan_bundle_cfg *bc = xcalloc(nb, sizeof(*bc));
	bc[0] = (scan_bundle_cfg){.name = "dags-folder", .root = cfg->core.dags_folder};
	for (size_t i = 0; i < cfg->core.bundles.n; i++)
		bc[i + 1] = (scan_bundle_cfg){.name = cfg->core.bundles.v[i].name,
		                              .root = cfg->core.bundles.v[i].path};
	p->scan = scan_new(bc, nb, cfg->dag_processor.watch && !o->once, &err);
	p->nknown = nb;
	p->known = xcalloc(nb, sizeof(strmap)); /* empty until the first scan */
	p->known_bundles = xcalloc(nb, sizeof(char *));
	for (size_t i = 0; i < nb; i++)
		p->known_bundles[i] = xstrdup(bc[i].name);
	free(bc);
	if (!p->scan) {
		log_error("%s", err);
		goto out;
	}
	p->queue = queue_new((queue_sort)cfg->dag_processor.file_parsing_sort_mode,
	                     cfg->dag_processor.min_file_process_interval, NULL);

	/* workers */
	wpool_opts wo = {.nworkers = cfg->dag_processor.parsing_processes,
	                 .memory_limit_mb = cfg->dag_processor.worker_memory_limit,
	                 .timeout_s = cfg->dag_processor.dag_file_processor_timeout,
	                 .catalog_files = (const char *const *)cfg->core.operator_catalog.v,
	                 .ncatalog_files = cfg->core.operator_catalog.n,
	                 .unchecked = (const char *const *)cfg->core.unchecked_operator_modules.v,
	                 .nunchecked = cfg->core.unchecked_operator_modules.n,
	                 .pools = (const char *const *)cfg->core.pools.v,
	                 .npools = cfg->core.pools.n,
	                 .max_file_size = (size_t)cfg->dag_processor.max_file_size << 20};
	p->wpool = wpool_new(&wo, on_done, p, &err);
	if (!p->wpool) {
		log_error("cannot start the workers: %s", err);
		goto out;
	}

	char *shown = db_url_redacted(cfg->database.sql_conn);
	log_info("dagproc processor starting: %zu bundle%s, %d workers, database %s%s", nb,
	         nb == 1 ? "" : "s", cfg->dag_processor.parsing_processes, shown,
	         o->once ? " (one pass)" : "");
	free(shown);

	p->options_hash = dagfile_options_hash(
	    (const char *const *)cfg->core.operator_catalog.v, cfg->core.operator_catalog.n,
	    (const char *const *)cfg->core.unchecked_operator_modules.v,
	    cfg->core.unchecked_operator_modules.n, (const char *const *)cfg->core.pools.v,
	    cfg->core.pools.n, (size_t)cfg->dag_processor.max_file_size << 20);
	/* the writer connects and reads the stored hashes while the scan runs */
	if (pthread_create(&p->writer, NULL, writer_main, p) != 0) {
		log_error("cannot start the writer thread");
		goto out;
	}
	p->writer_started = true;
	scan_full(p->scan, on_scan, p);
	strmap *first = snapshot_files(p);
	pthread_mutex_lock(&p->mu);
	free(p->known);
	p->known = first;
	p->known_ready = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	log_info("found %zu DAG files", scan_file_count(p->scan));

	p->once_deadline = clock_mono() + cfg->database.once_timeout;
	p->hold_until = clock_mono() + 2.0;
	if (cfg->api.enabled && !o->once && api_start(cfg, p, &err) != 0) {
		log_error("%s", err);
		goto out; /* rc is 2 */
	}

	rc = main_loop(p, sigfd);
	proc_stats s;
	proc_snapshot(p, &s);
	log_info("stopping: %llu files parsed, %llu not parsed (unchanged since the last run), "
	         "%llu written, %llu unchanged, %zu results pending; %llu statements (%llu writes)",
	         (unsigned long long)s.files_parsed, (unsigned long long)s.files_skipped,
	         (unsigned long long)s.files_written, (unsigned long long)s.files_unchanged,
	         s.pending, (unsigned long long)s.statements, (unsigned long long)s.writes);
out:
	free(err);
	if (sigfd >= 0)
		close(sigfd);
	api_stop(); /* before the processor it reads goes away */
	processor_free(p);
	return rc;
}

int proc_request_parse(processor *p, const char *bundle, const char *rel)
{
	pthread_mutex_lock(&p->mu);
	p->requests = xrealloc(p->requests, (p->nrequests + 1) * sizeof(char *));
	p->requests[p->nrequests++] = pkey(bundle, rel);
	pthread_mutex_unlock(&p->mu);
	uint64_t one = 1;
	if (write(p->wakefd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -1;
	return 0;
}
