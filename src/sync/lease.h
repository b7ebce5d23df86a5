/* File leases between processors sharing a PostgreSQL or MySQL/MariaDB
 * database (ARCHITECTURE "Scale-out"). A processor claims a file before it
 * parses it; every time is the database's clock; each takeover raises the
 * lease's token, and a write transaction checks the token its results were
 * parsed under (fencing). SQLite is for one processor: every function here is
 * a no-op there and every file counts as held. */
#ifndef DAGPROC_SYNC_LEASE_H
#define DAGPROC_SYNC_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "sync/sync.h"

typedef struct lease_file {
	const char *bundle, *rel;
} lease_file;

/* What a claim found for one file. */
typedef struct lease_state {
	int64_t token;   /* > 0: this processor holds it under that token */
	char hash[24];   /* held: parse_stat.file_hash as its last writer left it ("" if
	                  * none), so that an unchanged file need not be parsed again */
	char owner[96];  /* token 0: the live processor that holds it ("" when none
	                  * could be told: being claimed by another right now) */
	bool over_share; /* token 0: free, but over this processor's share */
} lease_state;

/* What a claim weighed (for the log). */
typedef struct lease_weigh {
	size_t live;    /* live processors counted, me included */
	size_t held;    /* leases me held before the claim */
	size_t total;   /* the files, as the claimant counts them */
	size_t share;   /* ceil(total / live) */
	size_t refused; /* free files not taken: over the share */
} lease_weigh;

/* Claims files[0..n) for `me` for lease_s seconds, in one transaction: rows
 * are created for files that have none (in path order); a file held by me
 * stays mine (same token, renewed); a free or expired one is taken (token +
 * 1) while me holds less than its fair share, ceil(total / live processors),
 * the live ones counted in the same transaction (heartbeat within lease_s),
 * or while no live processor holds fewer than me (so that every free file is
 * somebody's); rows another transaction is claiming are skipped (FOR UPDATE
 * SKIP LOCKED). out[i] says what became of files[i]; *w (may be NULL) what
 * the claim weighed. Statements are bounded whatever n is. */
STORE_WUR int lease_claim(store_conn *c, const char *me, int lease_s, const lease_file *files,
                          size_t n, size_t total, lease_state *out, lease_weigh *w,
                          store_error *err);

/* Files whose lease is free or expired (at most limit): fn(ud, bundle, rel). */
STORE_WUR int lease_free_files(store_conn *c, size_t limit,
                               void (*fn)(void *ud, const char *bundle, const char *rel), void *ud,
                               store_error *err);

/* Processors recorded on `host` (this machine) other than me whose pid is
 * not running any more (a crash, a SIGKILL, a restart under another pid):
 * their leases are given up and their rows removed at once, rather than
 * after the leases expire. Returns how many. */
STORE_WUR int lease_reap_local(store_conn *c, const char *me, const char *host, size_t *reaped,
                               store_error *err);

/* The files me holds that a write of another processor flagged for a new
 * parse (refused with E034 for a DAG id that has left its file), their flags
 * cleared: fn(ud, bundle, rel). */
STORE_WUR int lease_take_reparse(store_conn *c, const char *me,
                                 void (*fn)(void *ud, const char *bundle, const char *rel),
                                 void *ud, store_error *err);

/* A clean stop: every lease of me given up and its dag_processor row gone,
 * so that the others take its files at their next look. */
STORE_WUR int lease_leave(store_conn *c, const char *me, store_error *err);

/* Deletes the leases me holds of files[0..n): files gone whose deletion
 * no write will bring (the write of a deletion removes its lease itself). */
STORE_WUR int lease_drop(store_conn *c, const char *me, const lease_file *files, size_t n,
                         store_error *err);

/* Gives files[0..n) up (n == 0: every file me holds), so that others take
 * them at once; tokens stay, the next holder raises them. */
STORE_WUR int lease_release(store_conn *c, const char *me, const lease_file *files, size_t n,
                            store_error *err);

/* The heartbeat of `me`, in one transaction: renews every lease it holds,
 * records its dag_processor row (host, pid, version, files held, the
 * database's time), removes the rows of processors silent for a day, and
 * counts the live processors (heartbeat within lease_s, me included) and the
 * leases me holds. */
typedef struct lease_beat {
	const char *me, *host, *version;
	long pid;
	double started_at; /* epoch seconds */
} lease_beat;
STORE_WUR int lease_heartbeat(store_conn *c, const lease_beat *b, int lease_s, size_t *live,
                              size_t *held, store_error *err);

/* Inside a write transaction (PostgreSQL, MySQL): serializes the writers of
 * every processor (a row lock on sync_lock, so that the holder of a DAG id is
 * decided against the committed one), then checks each file's lease: a file
 * whose lease is mine with the token its result was parsed under
 * (sync_file.lease_token) is written; a free, expired or missing lease is
 * taken now (deletions and files nobody held; lease_token is set to the new
 * token); any other file is marked foreign with its owner (a takeover: its
 * result is older than the holder's). Rows locked until the transaction ends. */
STORE_WUR int lease_fence(store_conn *c, const char *me, int lease_s, sync_file *files, size_t n,
                          sync_stats *st, store_error *err);

/* Inside the write transaction, after its writes: the leases of the files it
 * recorded as deleted go (the table stays the size of the bundles). */
STORE_WUR int lease_forget(store_conn *c, const char *me, const sync_file *files, size_t n,
                           store_error *err);

#endif
