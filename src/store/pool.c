/* Connection pool: an idle stack under one mutex, a slot count bounding pool_size +
 * max_overflow, and a condition variable for waiters. Network I/O (connect, ping,
 * rollback, close) always happens outside the mutex. */
#include "store/pool.h"
#include "store/store_int.h"
#include "util/xalloc.h"
#include "util/clock.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct pool {
	store_params params; /* strings owned */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	store_conn **idle;     /* stack; top = most recently used */
	int nidle, cap;        /* cap = pool_size + max_overflow */
	int total;             /* connections alive or being opened */
	double invalidated_at; /* monotonic; idle conns opened before are discarded */
	pool_stats stats;
};

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

pool *pool_create(const store_params *sp)
{
	pool *p = xcalloc(1, sizeof *p);
	pthread_condattr_t ca;
	p->params = *sp;
	p->params.host = dup_or_null(sp->host);
	p->params.user = dup_or_null(sp->user);
	p->params.password = dup_or_null(sp->password);
	p->params.database = dup_or_null(sp->database);
	p->params.sqlite_path = dup_or_null(sp->sqlite_path);
	p->params.unix_socket = dup_or_null(sp->unix_socket);
	if (sp->nopts) {
		store_opt *o = xcalloc(sp->nopts, sizeof *o);
		for (size_t i = 0; i < sp->nopts; i++) {
			o[i].key = xstrdup(sp->opts[i].key);
			o[i].value = xstrdup(sp->opts[i].value);
		}
		p->params.opts = o;
	}
	if (p->params.pool_size <= 0)
		p->params.pool_size = 5;
	if (p->params.max_overflow < 0)
		p->params.max_overflow = 10;
	if (p->params.pool_timeout <= 0)
		p->params.pool_timeout = 30;
	p->cap = p->params.pool_size + p->params.max_overflow;
	p->idle = xcalloc((size_t)p->cap, sizeof *p->idle);
	pthread_mutex_init(&p->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cv, &ca);
	pthread_condattr_destroy(&ca);
	return p;
}

void pool_destroy(pool *p)
{
	if (!p)
		return;
	pool_invalidate(p);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p->idle);
	free((char *)p->params.host);
	free((char *)p->params.user);
	free((char *)p->params.password);
	free((char *)p->params.database);
	free((char *)p->params.sqlite_path);
	free((char *)p->params.unix_socket);
	for (size_t i = 0; i < p->params.nopts; i++) {
		free((char *)p->params.opts[i].key);
		free((char *)p->params.opts[i].value);
	}
	free((store_opt *)p->params.opts);
	free(p);
}

const store_params *pool_params(const pool *p)
{
	return &p->params;
}

void pool_get_stats(pool *p, pool_stats *out)
{
	pthread_mutex_lock(&p->mu);
	*out = p->stats;
	out->idle = p->nidle;
	out->in_use = p->total - p->nidle;
	pthread_mutex_unlock(&p->mu);
}

/* The one way a connection leaves the pool for good. */
static void discard(pool *p, store_conn *c, bool bad)
{
	store_close(c);
	pthread_mutex_lock(&p->mu);
	p->total--;
	p->stats.closed++;
	if (bad)
		p->stats.broken++;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

void pool_invalidate(pool *p)
{
	store_conn **victims;
	int n;
	pthread_mutex_lock(&p->mu);
	p->invalidated_at = clock_mono();
	n = p->nidle;
	victims = xcalloc(n > 0 ? (size_t)n : 1, sizeof *victims);
	memcpy(victims, p->idle, (size_t)n * sizeof *victims);
	p->nidle = 0;
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < n; i++)
		discard(p, victims[i], false);
	free(victims);
}

/* Is an idle connection fit to hand out? Called without the mutex. */
static bool usable(pool *p, store_conn *c, double invalidated_at)
{
	store_error e;
	if (store_conn_broken(c) || store_in_txn(c))
		return false;
	if (c->opened_at <= invalidated_at)
		return false;
	if (p->params.pool_recycle > 0 && store_conn_age(c) > p->params.pool_recycle)
		return false;
	if (p->params.pool_pre_ping && store_ping(c, &e) != 0) {
		pthread_mutex_lock(&p->mu);
		p->stats.ping_failures++;
		p->invalidated_at = clock_mono(); /* its siblings likely died too */
		pthread_mutex_unlock(&p->mu);
		return false;
	}
	return true;
}

static struct timespec abs_deadline(double at)
{
	struct timespec ts;
	ts.tv_sec = (time_t)at;
	ts.tv_nsec = (long)((at - (double)ts.tv_sec) * 1e9);
	return ts;
}

int pool_acquire(pool *p, store_conn **out, store_error *err)
{
	double deadline = clock_mono() + p->params.pool_timeout;
	struct timespec dl = abs_deadline(deadline);
	store_error_clear(err);
	*out = NULL;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		if (p->nidle > 0) {
			store_conn *c = p->idle[--p->nidle];
			double inv = p->invalidated_at;
			pthread_mutex_unlock(&p->mu);
			if (usable(p, c, inv)) {
				*out = c;
				return 0;
			}
			discard(p, c, store_conn_broken(c));
			pthread_mutex_lock(&p->mu);
			continue;
		}
		if (p->total < p->cap) {
			store_conn *c = NULL;
			p->total++;
			pthread_mutex_unlock(&p->mu);
			if (store_connect(&p->params, &c, err) != 0) {
				pthread_mutex_lock(&p->mu);
				p->total--;
				pthread_cond_signal(&p->cv);
				pthread_mutex_unlock(&p->mu);
				return -1;
			}
			pthread_mutex_lock(&p->mu);
			p->stats.opened++;
			pthread_mutex_unlock(&p->mu);
			*out = c;
			return 0;
		}
		int rc = pthread_cond_timedwait(&p->cv, &p->mu, &dl);
		if (rc == ETIMEDOUT && p->nidle == 0 && p->total >= p->cap) {
			int in_use = p->total - p->nidle;
			p->stats.timeouts++;
			pthread_mutex_unlock(&p->mu);
			store_error_set(err, STORE_TRANSIENT, "pool_timeout", false,
			                "pool timeout: no connection free after %.1f s (%d in use, "
			                "pool_size %d + max_overflow %d)",
			                p->params.pool_timeout, in_use, p->params.pool_size,
			                p->params.max_overflow);
			return -1;
		}
	}
}

void pool_release(pool *p, store_conn *c)
{
	if (!c)
		return;
	if (!store_conn_broken(c) && store_in_txn(c))
		store_rollback(c); /* marks it broken when the rollback can't be proven */
	if (store_conn_broken(c) || store_in_txn(c)) {
		bool broken = store_conn_broken(c);
		if (broken) {
			/* a disconnect usually means the server went away: drop the siblings
			 * lazily (checked on acquire), as SQLAlchemy invalidates its pool */
			pthread_mutex_lock(&p->mu);
			p->invalidated_at = clock_mono();
			pthread_mutex_unlock(&p->mu);
		}
		discard(p, c, true);
		return;
	}
	pthread_mutex_lock(&p->mu);
	if (p->nidle < p->params.pool_size) {
		p->idle[p->nidle++] = c;
		pthread_cond_signal(&p->cv);
		pthread_mutex_unlock(&p->mu);
		return;
	}
	pthread_mutex_unlock(&p->mu);
	discard(p, c, false); /* overflow connection: not kept */
}
