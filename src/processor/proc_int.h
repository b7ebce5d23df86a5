/* The processor's insides, shared by its files: the state (struct processor),
 * the pending table's entries, and the functions one file calls in another.
 *   processor.c  start and stop (processor_run)
 *   loop.c       the main loop: scan events, dispatch, worker results, signals
 *   pending.c    the pending table between the loop and the writer
 *   writer.c     the writer thread: batches, retries, heartbeat, stale check
 *   stats.c      the counters the API and the logs read
 * Not for use outside src/processor. */
#ifndef DAGPROC_PROC_INT_H
#define DAGPROC_PROC_INT_H

#include "processor/processor.h"

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
#include "util/clock.h"
#include "util/strmap.h"
#include "util/xalloc.h"
#include "worker/worker.h"

#define WRITER_BATCH 200

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
	int64_t token; /* the lease's token the file was parsed under (0: none) */
	size_t bytes;  /* what the entry holds, roughly (backpressure) */
} pend;

typedef struct job {
	uint64_t id;
	char *bundle, *rel;
	double mtime;
	int64_t size;
	uint64_t gen;  /* the file's generation when it was handed out */
	int64_t token; /* the lease it was handed out under */
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
	/* key -> the scanner's fingerprint of a file whose result was dropped
	 * because the worker read other bytes (on_done): parsed once more, then
	 * taken as it is */
	strmap reread;
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
	/* fp no longer names files missing from the first scan (their deletion
	 * is written at start: a hash for their rows means nothing). Main
	 * thread only. */
	bool fp_pruned;
	double hold_until;     /* monotonic: dispatch waits for fp until then */
	uint64_t options_hash; /* as the workers compute it (dagfile_options_hash) */
	/* leases (PostgreSQL, MySQL), leases.c; off on SQLite, where every file
	 * is this processor's. Main thread: */
	bool leases;
	int lease_s;
	strmap held;        /* key -> token: the files this processor holds */
	strmap others;      /* key -> index in owners[]: held by another live processor */
	strmap asked;       /* keys whose claim is on its way to the writer */
	strmap ready;       /* keys granted and queued, not yet handed to a worker */
	bool ahead;         /* files were granted since the loop last looked ahead */
	bool claim_blocked; /* the last dispatch left idle workers for a claim */
	strmap left;        /* key -> owner index: a deletion left to the live processor that
	                     * held the file; written here if that one dies first */
	/* the files the sweep gave up last (over the share), while it watches
	 * whether others take them; when they come back instead (processors
	 * of other bundles count as live but take none), no more are given up
	 * until the live processors change (quiet_sig, their signature) */
	strmap given;
	double given_at; /* monotonic */
	uint64_t given_sig, quiet_sig;
	char **owners;
	size_t nowners;
	double next_sweep_leases; /* monotonic */
	/* under mu, loop -> writer: files to claim and to give up, and what
	 * the fair share is computed from */
	char **want;
	size_t nwant, capwant;
	char **unhold;
	size_t nunhold, capunhold;
	/* leases of files the scan no longer has and no deletion is on its
	 * way for (a predecessor's under the same name, a deletion's write
	 * that never came): deleted, so that the share counts files */
	char **drop;
	size_t ndrop, capdrop;
	size_t files_hint, held_hint;
	/* how many files the loop may ask for at once (leases_claim_batch):
	 * doubled after each claim that found this processor alone and granted
	 * all it asked, back to the base when another is alive */
	size_t claim_batch;
	/* writer thread only: claims the database did not take, asked again at
	 * want_retry_at (monotonic) rather than at the next heartbeat's sweep */
	char **want_retry;
	size_t nwant_retry, capwant_retry;
	double want_retry_at;
	unsigned claim_failures;
	/* under mu, writer -> loop */
	struct lnews *news;
	size_t nnews, capnews;
	size_t nlive; /* live processors at the last heartbeat (this one included) */
	/* writer thread: monotonic time of the last renewal of the leases; a
	 * processor that could not renew within lease_s stops writing */
	double renewed_at;
	double next_beat;      /* monotonic */
	double next_free_poll; /* monotonic */
	/* parse requests from the API threads (under mu), and the eventfd that
	 * wakes the loop for them */
	char **requests;
	size_t nrequests;
	/* from the writer (under mu): files to parse again, refused with E034
	 * for a DAG id that has left its file */
	char **reparse;
	size_t nreparse, capreparse;
	int wakefd;

	char *instance;       /* [dag_processor] instance_name, default hostname:pid */
	int single_fd;        /* SQLite: the lock of proc_single_lock, or -1 */
	status_source status; /* what the API reads */

	/* stats (own mutex: read by the API threads) */
	pthread_mutex_t smu;
	proc_stats st;
	double once_deadline;   /* monotonic: once_timeout after the last progress */
	uint64_t once_progress; /* files parsed, skipped and written when it was set */
	/* the loop's outputs for exec probes and systemd (stats.c: health_tick) */
	char *status_path;    /* the status file; NULL with --once */
	bool status_failed;   /* the last write of it failed (logged once) */
	bool status_written;  /* this processor wrote it: removed at the exit */
	double next_health;   /* monotonic: the next status file write, STATUS= */
	double next_watchdog; /* monotonic: the next WATCHDOG=1 */
	char last_words[512]; /* the last STATUS= sent */
	/* set by the writer when running on cannot help (a database that holds
	 * Airflow's tables): the loop logs fatal_msg and exits 2 */
	atomic_bool fatal;
	char fatal_msg[512];
};

/* pending.c: the pending table (under p->mu unless said otherwise) */
char *pkey(const char *bundle, const char *rel);
void pend_free(pend *e);
void pend_release_locked(processor *p, pend *e);
void pending_put_locked(processor *p, pend *e);
void pending_put(processor *p, pend *e); /* takes p->mu */
pend *pending_take_locked(processor *p, size_t i);
void wait_locked(processor *p, double seconds);
/* Wakes the main loop (it also wakes by itself within a second). */
void wake_loop(processor *p);

/* stats.c: the counters (own mutex, read by the API threads) */
void stats_lock(processor *p);
void stats_unlock(processor *p);
void writer_set_state(processor *p, writer_state s);
void db_went_down(processor *p, const store_error *err, size_t pending);
void db_came_back(processor *p, size_t files);
/* Once a second from the loop (at once with force): rewrites the status file
 * and sends systemd WATCHDOG=1 and STATUS= when they are due or changed. */
void health_tick(processor *p, bool force);
void record_write(processor *p, const sync_stats *s, bool ok, const store_error *err);

/* writer.c: the writer thread */
void *writer_main(void *arg);
void stop_writer(processor *p);
void free_snapshot(strmap *sets, size_t n);

/* leases.c: claims, releases, heartbeat, and what the loop learns of them */
typedef struct lnews {
	char *key;     /* bundle \x1f rel; NULL: the news is `held` or `live` below */
	int64_t token; /* > 0: held by this processor under it */
	uint64_t hash; /* with a token: the source hash its last writer recorded, or 0 */
	char *owner;   /* held by that live processor; "" or NULL: nobody could say */
	/* a heartbeat: every file held (key \x1f token as text) and the live
	 * processors' names */
	char **held;
	size_t nheld;
	char **live;
	size_t nlive;
	bool beat;
	bool free;    /* key's lease is free or expired */
	bool reclaim; /* a result under a token that is no longer the lease's: not
	               * written; claimed again at once (the lease may still be
	               * this processor's, under another token) */
} lnews;
void leases_init(processor *p);
void leases_free(processor *p);
/* writer thread */
void leases_writer_work(processor *p); /* claims, releases, heartbeat when due */
bool leases_may_write(processor *p);
void leases_beat_now(processor *p, store_conn *c);
void leases_foreign(processor *p, const sync_file *files, size_t n);
void leases_release_all(processor *p);
/* main thread */
bool leases_holds(processor *p, const char *bundle, const char *rel, int64_t *token);
bool leases_theirs(processor *p, const char *bundle, const char *rel);
void leases_want(processor *p, const char *bundle, const char *rel);
/* the file of another processor went: it writes the deletion, unless it dies first */
void leases_leave_deletion(processor *p, const char *bundle, const char *rel);
void leases_take_news(processor *p);
bool leases_settled(processor *p);
/* claims in flight at most (the dispatch waits beyond) */
size_t leases_claim_batch(processor *p);
/* Files to claim before the granted ones are all handed out: the claim
 * batch while this processor is alone and its claims grow, else 0. */
size_t leases_claim_ahead(processor *p);

/* loop.c: the main loop */
int main_loop(processor *p, int sigfd);
void on_scan(void *ud, const char *bundle, const char *rel, const char *abs, scan_event ev);
void on_done(void *ud, uint64_t job_id, dagfile_result *res);
/* The files of every bundle as the scan has them now. */
strmap *snapshot_files(processor *p);

#endif
