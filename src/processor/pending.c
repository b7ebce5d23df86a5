/* The pending table: the latest result of each file waiting for the writer,
 * bounded by the number of files; a newer result (a newer generation)
 * replaces an older one, never the other way round. */
#include "processor/proc_int.h"

char *pkey(const char *bundle, const char *rel)
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

void pend_free(pend *e)
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
void pend_release_locked(processor *p, pend *e)
{
	p->pend_bytes -= e->bytes < p->pend_bytes ? e->bytes : p->pend_bytes;
	pend_free(e);
}

void pending_put_locked(processor *p, pend *e)
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

void pending_put(processor *p, pend *e)
{
	pthread_mutex_lock(&p->mu);
	pending_put_locked(p, e);
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* Under p->mu: removes entry i by moving the last one into its place. */
pend *pending_take_locked(processor *p, size_t i)
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

void wait_locked(processor *p, double seconds)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	double t = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + seconds;
	ts.tv_sec = (time_t)t;
	ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
	pthread_cond_timedwait(&p->cv, &p->mu, &ts);
}

/* Wakes the main loop (it also wakes by itself within a second). */
void wake_loop(processor *p)
{
	uint64_t one = 1;
	ssize_t w = write(p->wakefd, &one, sizeof(one));
	(void)w; /* EAGAIN: already woken */
}
