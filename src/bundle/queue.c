/* The parse queue: one record per known file in a hash table, and four binary
 * heaps of queued files (requested, changed, due-but-waiting, due-and-ready);
 * a due file moves from the waiting heap to the ready heap when its min
 * interval has passed. */
#include "bundle/queue.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "util/xalloc.h"

enum qstate { Q_IDLE, Q_QUEUED, Q_RUNNING };
enum qheap { H_REQ, H_CHG, H_WAIT, H_READY, H_COUNT };
#define PRIO_NONE 0xff

typedef struct qent {
	int64_t mtime_ns;
	uint64_t rnd;      /* position in the host-seeded shuffle */
	uint64_t seq;      /* push order: FIFO for requests, tie-break otherwise */
	double last_parse; /* -HUGE_VAL: never parsed */
	uint32_t khash;
	uint32_t heap_idx;
	uint16_t bundle;
	uint8_t state;
	uint8_t prio;  /* class while queued */
	uint8_t heap;  /* heap while queued */
	uint8_t again; /* while running: the class to queue in when done */
	char rel[];
} qent;

typedef struct qheap_t {
	qent **v;
	size_t n, cap;
} qheap_t;

struct queue {
	queue_sort sort;
	double min_interval;
	uint64_t seed;
	uint64_t seq;
	char **bundles; /* interned bundle names, indexed by qent.bundle */
	size_t nbundles;
	qent **slots;
	size_t nslots, count;
	qheap_t h[H_COUNT];
	size_t running;
};

int queue_sort_parse(const char *name, queue_sort *out)
{
	if (!name)
		return -1;
	if (strcmp(name, "modified_time") == 0)
		*out = QUEUE_SORT_MODIFIED_TIME;
	else if (strcmp(name, "alphabetical") == 0)
		*out = QUEUE_SORT_ALPHABETICAL;
	else if (strcmp(name, "random_seeded_by_host") == 0)
		*out = QUEUE_SORT_RANDOM_SEEDED_BY_HOST;
	else
		return -1;
	return 0;
}

const char *queue_sort_name(queue_sort sort)
{
	switch (sort) {
	case QUEUE_SORT_MODIFIED_TIME:
		return "modified_time";
	case QUEUE_SORT_ALPHABETICAL:
		return "alphabetical";
	case QUEUE_SORT_RANDOM_SEEDED_BY_HOST:
		return "random_seeded_by_host";
	}
	return "?";
}

/* ---- ordering ---------------------------------------------------------- */

static int alpha_cmp(const queue *q, const qent *a, const qent *b)
{
	if (a->bundle != b->bundle) {
		int c = strcmp(q->bundles[a->bundle], q->bundles[b->bundle]);
		if (c)
			return c;
	}
	return strcmp(a->rel, b->rel);
}

/* The order of file_parsing_sort_mode: true when a comes before b. */
static bool sort_less(const queue *q, const qent *a, const qent *b)
{
	int c;

	switch (q->sort) {
	case QUEUE_SORT_MODIFIED_TIME:
		if (a->mtime_ns != b->mtime_ns)
			return a->mtime_ns > b->mtime_ns;
		break;
	case QUEUE_SORT_RANDOM_SEEDED_BY_HOST:
		if (a->rnd != b->rnd)
			return a->rnd < b->rnd;
		break;
	case QUEUE_SORT_ALPHABETICAL:
		break;
	}
	c = alpha_cmp(q, a, b);
	if (c)
		return c < 0;
	return a->seq < b->seq;
}

static bool heap_less(const queue *q, int h, const qent *a, const qent *b)
{
	switch (h) {
	case H_REQ:
		return a->seq < b->seq;
	case H_WAIT:
		/* the interval is the same for all: order by the last parse */
		if (a->last_parse != b->last_parse)
			return a->last_parse < b->last_parse;
		return a->seq < b->seq;
	default:
		return sort_less(q, a, b);
	}
}

/* ---- heaps ------------------------------------------------------------- */

static void heap_set(qheap_t *h, size_t i, qent *e)
{
	h->v[i] = e;
	e->heap_idx = (uint32_t)i;
}

static void sift_up(queue *q, int hid, size_t i)
{
	qheap_t *h = &q->h[hid];
	qent *e = h->v[i];

	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!heap_less(q, hid, e, h->v[p]))
			break;
		heap_set(h, i, h->v[p]);
		i = p;
	}
	heap_set(h, i, e);
}

static void sift_down(queue *q, int hid, size_t i)
{
	qheap_t *h = &q->h[hid];
	qent *e = h->v[i];

	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		const qent *best = e;
		if (l < h->n && heap_less(q, hid, h->v[l], best)) {
			m = l;
			best = h->v[l];
		}
		if (r < h->n && heap_less(q, hid, h->v[r], best))
			m = r;
		if (m == i)
			break;
		heap_set(h, i, h->v[m]);
		i = m;
	}
	heap_set(h, i, e);
}

static void heap_push(queue *q, int hid, qent *e)
{
	qheap_t *h = &q->h[hid];

	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 64;
		h->v = xrealloc(h->v, h->cap * sizeof(*h->v));
	}
	e->heap = (uint8_t)hid;
	heap_set(h, h->n++, e);
	sift_up(q, hid, h->n - 1);
}

static void heap_remove(queue *q, qent *e)
{
	int hid = e->heap;
	qheap_t *h = &q->h[hid];
	size_t i = e->heap_idx;

	h->n--;
	if (i == h->n)
		return;
	qent *x = h->v[h->n];
	heap_set(h, i, x);
	sift_down(q, hid, i);
	sift_up(q, hid, x->heap_idx);
}

static void heap_rebuild(queue *q, int hid)
{
	qheap_t *h = &q->h[hid];

	for (size_t i = h->n / 2; i-- > 0;)
		sift_down(q, hid, i);
}

/* ---- the record table -------------------------------------------------- */

static uint16_t bundle_intern(queue *q, const char *bundle)
{
	for (size_t i = 0; i < q->nbundles; i++)
		if (strcmp(q->bundles[i], bundle) == 0)
			return (uint16_t)i;
	q->bundles = xrealloc(q->bundles, (q->nbundles + 1) * sizeof(*q->bundles));
	q->bundles[q->nbundles] = xstrdup(bundle);
	return (uint16_t)q->nbundles++;
}

static int bundle_find(const queue *q, const char *bundle)
{
	for (size_t i = 0; i < q->nbundles; i++)
		if (strcmp(q->bundles[i], bundle) == 0)
			return (int)i;
	return -1;
}

static uint32_t key_hash(uint16_t bundle, const char *rel)
{
	return (uint32_t)XXH3_64bits_withSeed(rel, strlen(rel), bundle);
}

static qent *tab_find(const queue *q, const char *bundle, const char *rel)
{
	int b;
	uint32_t h;

	if (!q->nslots || !bundle || !rel || (b = bundle_find(q, bundle)) < 0)
		return NULL;
	h = key_hash((uint16_t)b, rel);
	for (size_t i = h & (q->nslots - 1);; i = (i + 1) & (q->nslots - 1)) {
		qent *e = q->slots[i];
		if (!e)
			return NULL;
		if (e->khash == h && e->bundle == b && strcmp(e->rel, rel) == 0)
			return e;
	}
}

static void tab_put_raw(queue *q, qent *e)
{
	size_t i = e->khash & (q->nslots - 1);
	while (q->slots[i])
		i = (i + 1) & (q->nslots - 1);
	q->slots[i] = e;
}

static void tab_insert(queue *q, qent *e)
{
	if ((q->count + 1) * 4 > q->nslots * 3) {
		qent **old = q->slots;
		size_t n = q->nslots;
		q->nslots = n ? n * 2 : 1024;
		q->slots = xcalloc(q->nslots, sizeof(*q->slots));
		for (size_t i = 0; i < n; i++)
			if (old[i])
				tab_put_raw(q, old[i]);
		free(old);
	}
	tab_put_raw(q, e);
	q->count++;
}

static void tab_remove(queue *q, qent *e)
{
	size_t mask = q->nslots - 1, i;

	for (i = e->khash & mask; q->slots[i] != e; i = (i + 1) & mask)
		if (!q->slots[i])
			return;
	q->slots[i] = NULL;
	for (size_t j = (i + 1) & mask; q->slots[j]; j = (j + 1) & mask) {
		size_t k = q->slots[j]->khash & mask;
		bool move = (j > i) ? (k <= i || k > j) : (k <= i && k > j);
		if (move) {
			q->slots[i] = q->slots[j];
			q->slots[j] = NULL;
			i = j;
		}
	}
	q->count--;
}

/* ---- API --------------------------------------------------------------- */

queue *queue_new(queue_sort sort, double min_interval_s, const char *host_seed)
{
	queue *q = xcalloc(1, sizeof(*q));
	char host[256] = "";

	if (!host_seed) {
		if (gethostname(host, sizeof(host) - 1) != 0)
			host[0] = '\0';
		host[sizeof(host) - 1] = '\0';
		host_seed = host;
	}
	q->seed = XXH3_64bits(host_seed, strlen(host_seed));
	q->sort = sort;
	q->min_interval = min_interval_s > 0 ? min_interval_s : 0;
	return q;
}

void queue_free(queue *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->nslots; i++)
		free(q->slots[i]);
	free(q->slots);
	for (int h = 0; h < H_COUNT; h++)
		free(q->h[h].v);
	for (size_t i = 0; i < q->nbundles; i++)
		free(q->bundles[i]);
	free(q->bundles);
	free(q);
}

void queue_set_sort(queue *q, queue_sort sort)
{
	if (q->sort == sort)
		return;
	q->sort = sort;
	heap_rebuild(q, H_CHG);
	heap_rebuild(q, H_READY);
}

void queue_set_min_interval(queue *q, double seconds)
{
	/* H_WAIT is ordered by last parse, which a new interval does not change;
	 * files already ready stay ready. */
	q->min_interval = seconds > 0 ? seconds : 0;
}

/* Where a class waits: due files (QUEUE_DUE) first in the waiting heap. */
static int heap_of(queue_prio prio)
{
	return prio == QUEUE_REQUESTED ? H_REQ : prio == QUEUE_CHANGED ? H_CHG : H_WAIT;
}

static void enqueue(queue *q, qent *e, queue_prio prio)
{
	e->state = Q_QUEUED;
	e->prio = (uint8_t)prio;
	e->seq = ++q->seq;
	heap_push(q, heap_of(prio), e);
}

void queue_push(queue *q, const char *bundle, const char *rel, queue_prio prio, int64_t mtime_ns)
{
	qent *e = tab_find(q, bundle, rel);

	if (prio > QUEUE_DUE)
		prio = QUEUE_DUE;
	if (!e) {
		size_t n = strlen(rel);
		uint16_t b = bundle_intern(q, bundle);
		e = xcalloc(1, sizeof(*e) + n + 1);
		memcpy(e->rel, rel, n + 1);
		e->bundle = b;
		e->khash = key_hash(b, rel);
		e->rnd =
		    XXH3_64bits_withSeed(rel, n, q->seed ^ XXH3_64bits(bundle, strlen(bundle)));
		e->last_parse = -HUGE_VAL;
		e->mtime_ns = mtime_ns;
		e->state = Q_IDLE;
		e->again = PRIO_NONE;
		tab_insert(q, e);
	} else if (e->mtime_ns != mtime_ns) {
		e->mtime_ns = mtime_ns;
		if (e->state == Q_QUEUED && (e->heap == H_CHG || e->heap == H_READY)) {
			sift_up(q, e->heap, e->heap_idx);
			sift_down(q, e->heap, e->heap_idx);
		}
	}
	switch (e->state) {
	case Q_RUNNING:
		if (e->again == PRIO_NONE || prio < e->again)
			e->again = (uint8_t)prio;
		break;
	case Q_QUEUED:
		if (prio < e->prio) {
			heap_remove(q, e);
			enqueue(q, e, prio);
		}
		break;
	default:
		enqueue(q, e, prio);
		break;
	}
}

static double eligible_at(const queue *q, const qent *e)
{
	return e->last_parse + q->min_interval; /* -HUGE_VAL stays -HUGE_VAL */
}

bool queue_pop(queue *q, double now, const char **bundle, const char **rel)
{
	qent *e = NULL;

	if (q->h[H_REQ].n) {
		e = q->h[H_REQ].v[0];
	} else if (q->h[H_CHG].n) {
		e = q->h[H_CHG].v[0];
	} else {
		qheap_t *w = &q->h[H_WAIT];
		while (w->n && eligible_at(q, w->v[0]) <= now) {
			qent *x = w->v[0];
			heap_remove(q, x);
			heap_push(q, H_READY, x);
		}
		if (q->h[H_READY].n)
			e = q->h[H_READY].v[0];
	}
	if (!e)
		return false;
	heap_remove(q, e);
	e->state = Q_RUNNING;
	e->again = PRIO_NONE;
	q->running++;
	*bundle = q->bundles[e->bundle];
	*rel = e->rel;
	return true;
}

void queue_done(queue *q, const char *bundle, const char *rel, double now)
{
	qent *e = tab_find(q, bundle, rel);

	if (!e)
		return;
	e->last_parse = now;
	if (e->state != Q_RUNNING)
		return;
	q->running--;
	e->state = Q_IDLE;
	if (e->again != PRIO_NONE) {
		queue_prio p = (queue_prio)e->again;
		e->again = PRIO_NONE;
		enqueue(q, e, p);
	}
}

void queue_unpop(queue *q, const char *bundle, const char *rel)
{
	qent *e = tab_find(q, bundle, rel);

	if (!e || e->state != Q_RUNNING)
		return;
	q->running--;
	queue_prio p = (queue_prio)e->prio;
	if (e->again != PRIO_NONE && e->again < p)
		p = (queue_prio)e->again;
	if (p != (queue_prio)e->prio) {
		/* raised meanwhile: queued in that class like any push */
		e->again = PRIO_NONE;
		enqueue(q, e, p);
		return;
	}
	e->again = PRIO_NONE;
	e->state = Q_QUEUED;
	/* its old seq: the place it had among the files of its class */
	heap_push(q, heap_of(p), e);
}

bool queue_remove(queue *q, const char *bundle, const char *rel)
{
	qent *e = tab_find(q, bundle, rel);

	if (!e)
		return false;
	if (e->state == Q_QUEUED)
		heap_remove(q, e);
	else if (e->state == Q_RUNNING)
		q->running--;
	tab_remove(q, e);
	free(e);
	return true;
}

double queue_next_due(const queue *q, double now)
{
	const qheap_t *w = &q->h[H_WAIT];
	double t;

	if (q->h[H_REQ].n || q->h[H_CHG].n || q->h[H_READY].n)
		return 0;
	if (!w->n)
		return -1;
	t = eligible_at(q, w->v[0]) - now;
	return t > 0 ? t : 0;
}

size_t queue_len(const queue *q)
{
	size_t n = 0;

	for (int h = 0; h < H_COUNT; h++)
		n += q->h[h].n;
	return n;
}

size_t queue_count(const queue *q, queue_prio prio)
{
	switch (prio) {
	case QUEUE_REQUESTED:
		return q->h[H_REQ].n;
	case QUEUE_CHANGED:
		return q->h[H_CHG].n;
	default:
		return q->h[H_WAIT].n + q->h[H_READY].n;
	}
}

size_t queue_running(const queue *q)
{
	return q->running;
}
