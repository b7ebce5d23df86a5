/* Retry loop for database writes: each attempt is a fresh transaction on a connection
 * from the pool; transient failures back off, permanent ones return at once. */
#include "store/retry.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

void retry_policy_from_params(retry_policy *rp, const store_params *p)
{
	rp->max_db_retries = p->max_db_retries > 0 ? p->max_db_retries : 3;
	rp->multiplier = 0.5;
	rp->backoff_max = p->retry_backoff_max > 0 ? p->retry_backoff_max : 30;
}

double retry_next_delay(const retry_policy *rp, unsigned failed, double r)
{
	double cap = rp->backoff_max > 0 ? rp->backoff_max : 30;
	double mult = rp->multiplier > 0 ? rp->multiplier : 0.5;
	unsigned k = failed > 0 ? failed - 1 : 0;
	if (r < 0)
		r = 0;
	if (r >= 1)
		r = 0.999999;
	/* 2^k overflows nothing below 64 and exceeds any sane cap long before */
	double base = k >= 60 ? cap : fmin(cap, mult * ldexp(1.0, (int)k));
	if ((int)failed < rp->max_db_retries)
		return r * base;
	return base / 2 + r * base / 2;
}

double retry_random(void)
{
	static __thread uint64_t s;
	if (s == 0) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ ((uint64_t)(uintptr_t)&s) ^
		    (uint64_t)getpid() << 40;
		if (s == 0)
			s = 0x9e3779b97f4a7c15ULL;
	}
	s ^= s << 13; /* xorshift64 */
	s ^= s >> 7;
	s ^= s << 17;
	return (double)(s >> 11) / 9007199254740992.0;
}

static void real_sleep(double secs)
{
	struct timespec ts;
	if (secs <= 0)
		return;
	ts.tv_sec = (time_t)secs;
	ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0)
		;
}

static int attempt(pool *p, retry_fn fn, void *fn_ud, store_error *err)
{
	store_conn *c = NULL;
	int rc = -1;
	if (pool_acquire(p, &c, err) != 0)
		goto out;
	if (store_begin_write(c, err) != 0)
		goto out;
	if (fn(c, fn_ud, err) != 0) {
		if (err->cls == STORE_OK) /* fn failed without a store error */
			store_error_set(err, STORE_PERMANENT, "callback", false,
			                "write callback failed");
		goto out;
	}
	if (store_commit(c, err) != 0)
		goto out;
	rc = 0;
out:
	if (c) {
		if (rc != 0)
			store_rollback(c);
		pool_release(p, c);
	}
	return rc;
}

int retry_run(pool *p, const retry_policy *rp, retry_fn fn, void *fn_ud, retry_opts *o,
              store_error *err)
{
	retry_opts none = {0};
	if (!o)
		o = &none;
	o->attempts = 0;
	store_error_clear(err);
	for (;;) {
		if (o->stop && *o->stop) {
			if (err->cls == STORE_OK)
				store_error_set(err, STORE_TRANSIENT, "stopped", false,
				                "stopped before the write could be retried");
			return -1;
		}
		o->attempts++;
		store_error_clear(err);
		if (attempt(p, fn, fn_ud, err) == 0)
			return 0;
		if (err->cls != STORE_TRANSIENT) {
			if (o->on_error)
				o->on_error(err, o->attempts, -1, o->ud);
			return -1;
		}
		if (o->max_attempts && o->attempts >= o->max_attempts) {
			if (o->on_error)
				o->on_error(err, o->attempts, -1, o->ud);
			return -1;
		}
		double d = retry_next_delay(rp, o->attempts, retry_random());
		if (o->on_error)
			o->on_error(err, o->attempts, d, o->ud);
		if (o->sleep_fn)
			o->sleep_fn(d, o->ud);
		else
			real_sleep(d);
	}
}
