/* Retry policy for database writes: max_db_retries quick attempts with random exponential
 * backoff (Airflow's 0.5 s multiplier), then capped exponential backoff with jitter. */
#ifndef DAGPROC_STORE_RETRY_H
#define DAGPROC_STORE_RETRY_H

#include "store/pool.h"
#include "store/store.h"

typedef struct retry_policy {
	int max_db_retries; /* quick attempts; SPEC default 3 */
	double multiplier;  /* seconds; 0.5 as Airflow's wait_random_exponential */
	double backoff_max; /* seconds; cap of every delay (retry_backoff_max) */
} retry_policy;

void retry_policy_from_params(retry_policy *rp, const store_params *p);

/* Delay in seconds before the next attempt, after `failed` attempts have failed
 * (failed >= 1); r is a uniform random number in [0, 1). Pure, for unit tests:
 *   failed <  max_db_retries: r * min(cap, multiplier * 2^(failed-1))        (quick)
 *   failed >= max_db_retries: b/2 + r * b/2, b = min(cap, multiplier * 2^(failed-1)) */
double retry_next_delay(const retry_policy *rp, unsigned failed, double r);
/* Uniform [0, 1) from a per-thread generator. */
double retry_random(void);

/* The work of one attempt, run inside a fresh write transaction on a healthy connection.
 * Return 0, or -1 with err set by the failing store call. */
typedef int (*retry_fn)(store_conn *c, void *ud, store_error *err);

typedef struct retry_opts {
	unsigned max_attempts; /* 0: for ever (until stop) */
	volatile int *stop;    /* when set and nonzero, give up before the next attempt */
	/* replaces nanosleep (tests); NULL: sleep for real */
	void (*sleep_fn)(double seconds, void *ud);
	/* told about every failed attempt and the delay chosen */
	void (*on_error)(const store_error *err, unsigned attempt, double delay, void *ud);
	void *ud;
	unsigned attempts; /* out: attempts made */
} retry_opts;

/* Runs fn until it commits, a permanent error occurs (returned at once so the caller can
 * isolate the bad data), or attempts run out / stop is set (the last transient error is
 * returned). Every attempt: acquire, begin_write, fn, commit, release; any failure rolls
 * back and gives the connection back (closed if broken) before waiting. */
STORE_WUR int retry_run(pool *p, const retry_policy *rp, retry_fn fn, void *fn_ud, retry_opts *o,
                        store_error *err);

#endif
