/* inotify watches, one per folder, mapped back to (bundle, relative folder), and
 * the decoding of inotify events into a coalesced batch for bundle/scan. */
#include "bundle/watch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "bundle/walk.h"
#include "log/log.h"
#include "util/fsutil.h"
#include "util/xalloc.h"

#define WATCH_MASK                                                                                 \
	(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_DELETE_SELF |   \
	 IN_MOVE_SELF | IN_ONLYDIR)

/* Events read per watch_read call unless the caller says otherwise. */
#define WATCH_DEFAULT_MAX_EVENTS 65536

/* One folder can belong to several bundles when bundles overlap; one inotify
 * watch (one wd per inode) then carries one reference per bundle. */
typedef struct wref {
	uint32_t bundle;
	uint32_t gen;
	char *rel;
} wref;

typedef struct went {
	int wd;
	uint32_t nrefs, cap;
	wref *refs;
} went;

struct watch {
	int fd;
	bool enospc_logged;
	went **slots; /* open addressing by wd, linear probing */
	size_t nslots, count;
};

static size_t wd_slot(const watch *w, int wd)
{
	return ((size_t)(unsigned)wd * 0x9E3779B1u) & (w->nslots - 1);
}

static went *map_get(const watch *w, int wd)
{
	if (!w->nslots)
		return NULL;
	for (size_t i = wd_slot(w, wd);; i = (i + 1) & (w->nslots - 1)) {
		if (!w->slots[i])
			return NULL;
		if (w->slots[i]->wd == wd)
			return w->slots[i];
	}
}

static void map_put_raw(watch *w, went *e)
{
	size_t i = wd_slot(w, e->wd);
	while (w->slots[i])
		i = (i + 1) & (w->nslots - 1);
	w->slots[i] = e;
}

static void map_put(watch *w, went *e)
{
	if ((w->count + 1) * 4 > w->nslots * 3) {
		went **old = w->slots;
		size_t n = w->nslots;
		w->nslots = n ? n * 2 : 64;
		w->slots = xcalloc(w->nslots, sizeof(*w->slots));
		for (size_t i = 0; i < n; i++)
			if (old[i])
				map_put_raw(w, old[i]);
		free(old);
	}
	map_put_raw(w, e);
	w->count++;
}

/* Backward-shift deletion keeps probe chains intact without tombstones. */
static void map_del(watch *w, int wd)
{
	size_t mask = w->nslots - 1, i;

	if (!w->nslots)
		return;
	for (i = wd_slot(w, wd);; i = (i + 1) & mask) {
		if (!w->slots[i])
			return;
		if (w->slots[i]->wd == wd)
			break;
	}
	w->slots[i] = NULL;
	w->count--;
	for (size_t j = (i + 1) & mask; w->slots[j]; j = (j + 1) & mask) {
		size_t k = wd_slot(w, w->slots[j]->wd);
		bool move = (j > i) ? (k <= i || k > j) : (k <= i && k > j);
		if (move) {
			w->slots[i] = w->slots[j];
			w->slots[j] = NULL;
			i = j;
		}
	}
}

static void went_free(went *e)
{
	if (!e)
		return;
	for (uint32_t i = 0; i < e->nrefs; i++)
		free(e->refs[i].rel);
	free(e->refs);
	free(e);
}

watch *watch_new(void)
{
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	watch *w;

	if (fd < 0) {
		log_warn("inotify unavailable (%s): changes are seen at the periodic rescan",
		         strerror(errno));
		return NULL;
	}
	w = xcalloc(1, sizeof(*w));
	w->fd = fd;
	return w;
}

void watch_free(watch *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->nslots; i++)
		went_free(w->slots[i]);
	free(w->slots);
	if (w->fd >= 0)
		close(w->fd);
	free(w);
}

int watch_fd(const watch *w)
{
	return w ? w->fd : -1;
}

size_t watch_count(const watch *w)
{
	return w ? w->count : 0;
}

bool watch_limit_hit(const watch *w)
{
	return w && w->enospc_logged;
}

int watch_add(watch *w, uint32_t bundle, const char *abs_dir, const char *rel_dir, uint32_t gen)
{
	int wd = inotify_add_watch(w->fd, abs_dir, WATCH_MASK);
	went *e;

	if (wd < 0) {
		int err = errno;
		if (err == ENOSPC && !w->enospc_logged) {
			w->enospc_logged = true;
			log_warn("inotify watch limit reached at %s (%zu folders watched; raise "
			         "fs.inotify.max_user_watches): unwatched folders are seen at the "
			         "periodic rescan",
			         abs_dir, w->count);
		} else if (err != ENOSPC) {
			log_debug("cannot watch %s: %s", abs_dir, strerror(err));
		}
		errno = err;
		return -1;
	}
	e = map_get(w, wd);
	if (!e) {
		e = xcalloc(1, sizeof(*e));
		e->wd = wd;
		map_put(w, e);
	}
	for (uint32_t i = 0; i < e->nrefs; i++) {
		wref *r = &e->refs[i];
		if (r->bundle != bundle)
			continue;
		/* Same folder again: a rescan, or a folder that moved (its inode keeps
		 * its wd). A second path to it in the same pass (a symlink alias)
		 * keeps the first path, as the walker does. */
		if (r->gen != gen && strcmp(r->rel, rel_dir) != 0) {
			free(r->rel);
			r->rel = xstrdup(rel_dir);
		}
		r->gen = gen;
		return 0;
	}
	if (e->nrefs == e->cap) {
		e->cap = e->cap ? e->cap * 2 : 1;
		e->refs = xrealloc(e->refs, e->cap * sizeof(*e->refs));
	}
	e->refs[e->nrefs].bundle = bundle;
	e->refs[e->nrefs].gen = gen;
	e->refs[e->nrefs].rel = xstrdup(rel_dir);
	e->nrefs++;
	return 0;
}

static bool under(const char *rel, const char *prefix)
{
	size_t n = strlen(prefix);

	if (n == 0)
		return true;
	return strncmp(rel, prefix, n) == 0 && (rel[n] == '\0' || rel[n] == '/');
}

void watch_sweep(watch *w, uint32_t bundle, const char *prefix, uint32_t gen)
{
	int *dead = NULL;
	size_t ndead = 0, cap = 0;

	if (!w)
		return;
	for (size_t i = 0; i < w->nslots; i++) {
		went *e = w->slots[i];
		if (!e)
			continue;
		for (uint32_t j = 0; j < e->nrefs;) {
			wref *r = &e->refs[j];
			if (r->bundle == bundle && r->gen != gen && under(r->rel, prefix)) {
				free(r->rel);
				e->refs[j] = e->refs[--e->nrefs];
			} else {
				j++;
			}
		}
		if (e->nrefs == 0) {
			if (ndead == cap) {
				cap = cap ? cap * 2 : 16;
				dead = xrealloc(dead, cap * sizeof(*dead));
			}
			dead[ndead++] = e->wd;
		}
	}
	for (size_t i = 0; i < ndead; i++) {
		went *e = map_get(w, dead[i]);
		/* EINVAL when the kernel already dropped it (folder deleted). */
		inotify_rm_watch(w->fd, dead[i]);
		map_del(w, dead[i]);
		went_free(e);
	}
	free(dead);
}

static void batch_add(watch_batch *b, uint32_t bundle, enum watch_kind kind, char *rel)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		b->items = xrealloc(b->items, b->cap * sizeof(*b->items));
	}
	b->items[b->n].bundle = bundle;
	b->items[b->n].kind = kind;
	b->items[b->n].rel = rel;
	b->n++;
}

static void decode(watch *w, const struct inotify_event *ev, watch_batch *b)
{
	went *e;

	if (ev->mask & IN_Q_OVERFLOW) {
		b->overflow = true;
		return;
	}
	e = map_get(w, ev->wd);
	if (!e)
		return; /* a watch we dropped already */
	if (ev->mask & IN_IGNORED) {
		/* the kernel removed the watch (folder deleted or unmounted) */
		map_del(w, ev->wd);
		went_free(e);
		return;
	}
	for (uint32_t i = 0; i < e->nrefs; i++) {
		const wref *r = &e->refs[i];
		const char *name = ev->len ? ev->name : "";

		if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)) {
			batch_add(b, r->bundle, WATCH_DIR, xstrdup(r->rel));
		} else if (*name == '\0') {
			continue;
		} else if (ev->mask & IN_ISDIR) {
			batch_add(b, r->bundle, WATCH_DIR, fs_path_join(r->rel, name));
		} else if (strcmp(name, ".dagignore") == 0) {
			batch_add(b, r->bundle, WATCH_DIR, xstrdup(r->rel));
		} else if (walk_is_dag_name(name) || walk_is_defaults_name(name)) {
			batch_add(b, r->bundle, (ev->mask & IN_CREATE) ? WATCH_CREATED : WATCH_FILE,
			          fs_path_join(r->rel, name));
		}
	}
}

size_t watch_read(watch *w, watch_batch *b, size_t max_events)
{
	char buf[65536] __attribute__((aligned(__alignof__(struct inotify_event))));
	size_t nev = 0;

	if (!w)
		return 0;
	if (!max_events)
		max_events = WATCH_DEFAULT_MAX_EVENTS;
	while (nev < max_events) {
		ssize_t n = read(w->fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				log_warn("reading inotify events: %s", strerror(errno));
			break;
		}
		if (n == 0)
			break;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			decode(w, ev, b);
			nev++;
			p += sizeof(struct inotify_event) + ev->len;
		}
	}
	return nev;
}

static int item_cmp(const void *pa, const void *pb)
{
	const watch_item *a = pa, *b = pb;
	int c;

	if (a->bundle != b->bundle)
		return a->bundle < b->bundle ? -1 : 1;
	c = strcmp(a->rel, b->rel);
	if (c)
		return c;
	return (int)a->kind - (int)b->kind;
}

static int kind_cmp(const void *pa, const void *pb)
{
	const watch_item *a = pa, *b = pb;

	if (a->kind != b->kind)
		return (int)a->kind - (int)b->kind;
	return item_cmp(pa, pb);
}

/* True when a strict ancestor folder of it (or the root) is a WATCH_DIR item of
 * the sorted, deduplicated batch. */
static bool has_dir_ancestor(const watch_batch *b, const watch_item *it)
{
	const char *rel = it->rel;
	strbuf p;
	bool found = false;

	if (*rel == '\0')
		return false;
	sb_init(&p);
	sb_adds(&p, ""); /* the root first, then each folder of rel */
	for (const char *s = rel;; s++) {
		watch_item key = {.bundle = it->bundle, .kind = WATCH_DIR, .rel = p.data};
		if (bsearch(&key, b->items, b->n, sizeof(*b->items), item_cmp)) {
			found = true;
			break;
		}
		while (*s && *s != '/')
			s++;
		if (!*s)
			break;
		p.len = 0;
		sb_add(&p, rel, (size_t)(s - rel));
	}
	sb_free(&p);
	return found;
}

void watch_batch_coalesce(watch_batch *b)
{
	size_t out = 0;
	bool *drop;

	if (b->n == 0)
		return;
	qsort(b->items, b->n, sizeof(*b->items), item_cmp);
	/* one item per path, the strongest kind (sorted first) */
	for (size_t i = 0; i < b->n; i++) {
		if (out && b->items[out - 1].bundle == b->items[i].bundle &&
		    strcmp(b->items[out - 1].rel, b->items[i].rel) == 0) {
			free(b->items[i].rel);
			continue;
		}
		b->items[out++] = b->items[i];
	}
	b->n = out;
	drop = xcalloc(b->n, sizeof(*drop));
	for (size_t i = 0; i < b->n; i++)
		drop[i] = has_dir_ancestor(b, &b->items[i]);
	out = 0;
	for (size_t i = 0; i < b->n; i++) {
		if (drop[i])
			free(b->items[i].rel);
		else
			b->items[out++] = b->items[i];
	}
	b->n = out;
	free(drop);
	qsort(b->items, b->n, sizeof(*b->items), kind_cmp);
}

void watch_batch_clear(watch_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->items[i].rel);
	b->n = 0;
	b->overflow = false;
}

void watch_batch_free(watch_batch *b)
{
	watch_batch_clear(b);
	free(b->items);
	b->items = NULL;
	b->cap = 0;
}
