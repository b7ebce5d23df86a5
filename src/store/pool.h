/* Thread-safe connection pool (SPEC §2 [database] knobs): a connection goes back only
 * outside any transaction; broken ones are closed, never handed out again. */
#ifndef DAGPROC_STORE_POOL_H
#define DAGPROC_STORE_POOL_H

#include "store/store.h"

typedef struct pool pool;

typedef struct pool_stats {
	int idle;           /* connections waiting in the pool */
	int in_use;         /* connections handed out */
	long opened;        /* connections opened since creation */
	long closed;        /* connections closed since creation */
	long broken;        /* of those, closed because they were broken or dirty */
	long timeouts;      /* acquisitions that gave up after pool_timeout */
	long ping_failures; /* idle connections that failed pre-ping */
} pool_stats;

/* Copies the parameters; opens nothing until the first acquire. */
pool *pool_create(const store_params *p);
/* Closes idle connections. Every acquired connection must have been released. */
void pool_destroy(pool *p);

/* Hands out a healthy connection with no transaction open: reuses an idle one (replacing it
 * when older than pool_recycle, opened before the last disconnect seen, or failing
 * pre-ping), else opens one while fewer than pool_size + max_overflow exist, else waits up
 * to pool_timeout and fails with a transient "pool_timeout" error. */
STORE_WUR int pool_acquire(pool *p, store_conn **out, store_error *err);
/* Gives a connection back. An open transaction is rolled back; a broken connection, or one
 * whose rollback failed, is closed; beyond pool_size idle, it is closed. NULL is fine. */
void pool_release(pool *p, store_conn *c);
/* Closes every idle connection (e.g. after the server was seen restarting). */
void pool_invalidate(pool *p);

void pool_get_stats(pool *p, pool_stats *out);
const store_params *pool_params(const pool *p);

#endif
