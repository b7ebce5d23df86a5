/* Reconciliation: turns a batch of parse results into one transaction that makes
 * the database hold exactly what the files say (SPEC §3 invariants). The only
 * module that knows both a parse result and a table. */
#ifndef DAGPROC_SYNC_H
#define DAGPROC_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dagfile/dagfile.h"
#include "store/pool.h"
#include "store/store.h"

/* One file's latest state. A deleted file has res == NULL. */
typedef struct sync_file {
	const char *bundle;  /* bundle name */
	const char *rel;     /* path relative to the bundle root */
	const char *fileloc; /* absolute path, recorded in dag.fileloc */
	bool deleted;
	const dagfile_result *res;
	double mtime;         /* seconds since the epoch (parse_stat) */
	int64_t size;         /* bytes (parse_stat) */
	double parsed_at;     /* when it was parsed, seconds since the epoch */
	uint64_t source_hash; /* dagfile_result.source_hash, kept in parse_stat */
	/* The processor's instance name: on PostgreSQL and MySQL a file is written
	 * only under its lease (lease.h; NULL: no leases, SQLite never uses them),
	 * and only if the lease still has the token the result was parsed under
	 * (0: a result of no parse, a deletion: written if nobody holds the file,
	 * which it then takes). Set to the token it was written under. */
	const char *lease_owner;
	int lease_seconds;
	int64_t lease_token;
	/* Out: not written, its lease is another's (foreign_owner; "" when the
	 * lease changed hands since the result was parsed: claim and parse it
	 * again). */
	bool foreign;
	char foreign_owner[256];
	/* Set by sync_write when the file could not be stored because of its own
	 * data (a permanent error isolated to it): recorded as its import error. */
	const char *store_failure;
} sync_file;

/* Files that are due for a new parse because of what a batch wrote: files
 * refused with E034 for a DAG id that left its file ("bundle\x1frel" keys). */
typedef struct sync_requeue {
	char **keys;
	size_t n, cap;
} sync_requeue;

/* Takes key (malloc'd). */
void sync_requeue_add(sync_requeue *rq, char *key);
void sync_requeue_free(sync_requeue *rq);

typedef struct sync_stats {
	size_t statements;    /* every statement sent, reads included */
	size_t writes;        /* statements that change rows */
	size_t files_changed; /* files whose rows were written */
	size_t files_unchanged;
	size_t dags_upserted;
	size_t serialized_written;
	size_t isolated_failures; /* files recorded as "could not be stored" */
	size_t foreign;           /* files left to the processor holding their lease */
} sync_stats;

/* Applies the batch in one transaction on c: reads the rows of its files and
 * of the DAG ids they define now or defined before, plans the rows as they
 * must be (plan.c), writes the difference (apply.c), commits. Returns 0, or -1
 * with err classified; the transaction is then rolled back. Applying the same
 * batch twice writes nothing the second time. rq (may be NULL) receives, on
 * success, the files to parse again (E034 refusals of released ids). */
STORE_WUR int sync_apply(store_conn *c, sync_file *files, size_t n, sync_stats *st,
                         sync_requeue *rq, store_error *err);

/* sync_apply through the pool, isolating data errors: a batch that fails with
 * STORE_PERMANENT is split in halves until the file at fault is alone; that
 * file is then recorded with an import error saying why it could not be
 * stored (its DAG rows left as they were), and the rest is written.
 * Transient errors and refusals (STORE_REFUSED: read-only, full, permission,
 * schema) are returned at once, for the caller to retry the whole batch with
 * backoff; nothing is ever dropped. */
STORE_WUR int sync_write(pool *p, sync_file *files, size_t n, sync_stats *st, sync_requeue *rq,
                         store_error *err);

/* The import_error.stacktrace text for a result: one diagnostic per line,
 * "rel:line:column: error[CODE]: message". malloc'd; NULL when no errors. */
char *sync_stacktrace(const char *rel, const dagfile_result *res, const char *store_failure);

/* Calls fn once for every file of the bundle the database knows of (DAG rows
 * not stale, import errors, parse statistics): after a full rescan, the files
 * it lists that no longer exist are synced as deleted (files removed while the
 * processor was down). Read-only. */
typedef void (*sync_known_fn)(void *ud, const char *rel);
STORE_WUR int sync_known_files(store_conn *c, const char *bundle, sync_known_fn fn, void *ud,
                               store_error *err);

#endif
