/* Change detection over the bundles: a table of every DAG file (and defaults
 * file) with its last seen stat and content hash, reconciled by full and
 * per-folder walks and by single-file checks driven by inotify. */
#include "bundle/scan.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "bundle/ignore.h"
#include "bundle/walk.h"
#include "bundle/watch.h"
#include "log/log.h"
#include "util/fsutil.h"
#include "util/xalloc.h"

#define SCAN_READ_BUF (64 * 1024)

enum { KIND_DAG = 0, KIND_DEFAULTS = 1 };

typedef struct sbundle {
	char *name;
	char *root;
	int root_err; /* errno of the last failed attempt to read the root, 0 when fine */
} sbundle;

struct scan {
	sbundle *bundles;
	size_t nb;
	struct scan_file **slots; /* open addressing on (bundle, rel), linear probing */
	size_t nslots, count, ndag;
	watch *w;
	uint32_t gen;
	XXH3_state_t *xs;
	char *buf;
	watch_batch batch;
	struct scan_stats st;
};

/* One reconciliation pass (a full scan, or one batch of inotify work): the
 * files it saw carry its gen, the files it reported carry it as reported_gen. */
typedef struct dirty_dir {
	uint32_t bundle;
	char *rel;
} dirty_dir;

typedef struct op {
	scan *s;
	scan_fn fn;
	void *ud;
	uint32_t gen;
	dirty_dir *dirty; /* folders whose defaults file changed */
	size_t ndirty, capdirty;
	size_t nreported; /* DAG files reported NEW or CHANGED by this pass */
} op;

/* ---- the file table ---------------------------------------------------- */

static uint32_t key_hash(uint32_t bundle, const char *rel)
{
	return (uint32_t)XXH3_64bits_withSeed(rel, strlen(rel), bundle);
}

static struct scan_file *tab_find(const scan *s, uint32_t bundle, const char *rel)
{
	uint32_t h;

	if (!s->nslots)
		return NULL;
	h = key_hash(bundle, rel);
	for (size_t i = h & (s->nslots - 1);; i = (i + 1) & (s->nslots - 1)) {
		struct scan_file *f = s->slots[i];
		if (!f)
			return NULL;
		if (f->khash == h && f->bundle_idx == bundle && strcmp(f->rel, rel) == 0)
			return f;
	}
}

static void tab_put_raw(scan *s, struct scan_file *f)
{
	size_t i = f->khash & (s->nslots - 1);
	while (s->slots[i])
		i = (i + 1) & (s->nslots - 1);
	s->slots[i] = f;
}

static void tab_insert(scan *s, struct scan_file *f)
{
	if ((s->count + 1) * 4 > s->nslots * 3) {
		struct scan_file **old = s->slots;
		size_t n = s->nslots;
		s->nslots = n ? n * 2 : 1024;
		s->slots = xcalloc(s->nslots, sizeof(*s->slots));
		for (size_t i = 0; i < n; i++)
			if (old[i])
				tab_put_raw(s, old[i]);
		free(old);
	}
	tab_put_raw(s, f);
	s->count++;
	if (f->kind == KIND_DAG)
		s->ndag++;
}

/* Backward-shift deletion: no tombstones, probe chains stay short. */
static void tab_remove(scan *s, struct scan_file *f)
{
	size_t mask = s->nslots - 1, i;

	for (i = f->khash & mask; s->slots[i] != f; i = (i + 1) & mask)
		if (!s->slots[i])
			return;
	s->slots[i] = NULL;
	for (size_t j = (i + 1) & mask; s->slots[j]; j = (j + 1) & mask) {
		size_t k = s->slots[j]->khash & mask;
		bool move = (j > i) ? (k <= i || k > j) : (k <= i && k > j);
		if (move) {
			s->slots[i] = s->slots[j];
			s->slots[j] = NULL;
			i = j;
		}
	}
	s->count--;
	if (f->kind == KIND_DAG)
		s->ndag--;
}

/* rel lies at prefix or below it ("" is everything). */
static bool rel_under(const char *rel, const char *prefix)
{
	size_t n = strlen(prefix);

	if (n == 0)
		return true;
	return strncmp(rel, prefix, n) == 0 && (rel[n] == '\0' || rel[n] == '/');
}

/* ---- reporting --------------------------------------------------------- */

static void report(op *o, struct scan_file *f, scan_event ev)
{
	const sbundle *b = &o->s->bundles[f->bundle_idx];
	char *abs;

	if (ev != SCAN_DELETED && f->reported_gen != o->gen) {
		f->reported_gen = o->gen;
		o->nreported++;
	}
	o->s->st.events[ev]++;
	if (!o->fn)
		return;
	abs = fs_path_join(b->root, f->rel);
	o->fn(o->ud, b->name, f->rel, abs, ev);
	free(abs);
}

static void mark_defaults_dirty(op *o, uint32_t bundle, const char *defaults_rel)
{
	char *dir = fs_dirname(defaults_rel);

	if (strcmp(dir, ".") == 0)
		dir[0] = '\0';
	if (o->ndirty == o->capdirty) {
		o->capdirty = o->capdirty ? o->capdirty * 2 : 8;
		o->dirty = xrealloc(o->dirty, o->capdirty * sizeof(*o->dirty));
	}
	o->dirty[o->ndirty].bundle = bundle;
	o->dirty[o->ndirty].rel = dir;
	o->ndirty++;
}

/* Reports a known file gone (DAG files) and drops it. */
static void forget(op *o, struct scan_file *f)
{
	if (f->kind == KIND_DAG) {
		if (f->reported_gen == o->gen)
			o->nreported--; /* counts files still in the table */
		report(o, f, SCAN_DELETED);
	} else
		mark_defaults_dirty(o, f->bundle_idx, f->rel);
	tab_remove(o->s, f);
	free(f);
}

/* ---- content hash ------------------------------------------------------ */

/* Hashes the file's content and returns its stat as of the open. Returns 0,
 * or -1 with errno (ENOENT: the file is gone). */
static int hash_file(scan *s, const char *abs, uint64_t *hash, bool *dollar, struct stat *st)
{
	int fd, rc = -1, err = 0;
	*dollar = false;

	fd = open(abs, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -1;
	if (fstat(fd, st) != 0) {
		err = errno;
		goto out;
	}
	if (!S_ISREG(st->st_mode)) {
		err = EINVAL;
		goto out;
	}
	XXH3_64bits_reset(s->xs);
	size_t total = 0;
	for (;;) {
		ssize_t n = read(fd, s->buf, SCAN_READ_BUF);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = errno;
			goto out;
		}
		if (n == 0)
			break;
		XXH3_64bits_update(s->xs, s->buf, (size_t)n);
		if (!*dollar && memchr(s->buf, '$', (size_t)n))
			*dollar = true;
		/* all the bytes fstat counted, and a short read: the end, without
		 * a second call to be told so (one read per file under 64 KiB).
		 * Network file systems may read short before the end: read on. */
		total += (size_t)n;
		if ((size_t)n < SCAN_READ_BUF && total >= (size_t)st->st_size)
			break;
	}
	*hash = XXH3_64bits_digest(s->xs);
	rc = 0;
out:
	close(fd);
	if (rc != 0)
		errno = err;
	return rc;
}

static int64_t st_mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static bool same_stat(const struct scan_file *f, const struct stat *st)
{
	return f->mtime_ns == st_mtime_ns(st) && f->size == (int64_t)st->st_size &&
	       f->inode == (uint64_t)st->st_ino;
}

/* A file modified less than SCAN_RACY_NS before it was read may be written
 * again within the same timestamp tick without any visible stat change (git's
 * "racily clean" entries): such a file is re-read at the next pass. */
#define SCAN_RACY_NS (2 * (int64_t)1000000000)

static bool is_racy(const struct stat *st)
{
	struct timespec now;

	if (clock_gettime(CLOCK_REALTIME, &now) != 0)
		return true;
	return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec - st_mtime_ns(st) < SCAN_RACY_NS;
}

static void set_stat(struct scan_file *f, const struct stat *st)
{
	f->mtime_ns = st_mtime_ns(st);
	f->size = (int64_t)st->st_size;
	f->inode = (uint64_t)st->st_ino;
}

/* One existing file of the listing: compares it with the table and reports
 * NEW or CHANGED. st is its stat (links followed). Returns 0 when the file is
 * accounted for, -1 when it vanished meanwhile (the caller treats it as gone). */
static int reconcile(op *o, uint32_t bundle, const char *rel, const char *abs,
                     const struct stat *st, int kind, bool force)
{
	scan *s = o->s;
	struct scan_file *f = tab_find(s, bundle, rel);
	struct stat hst;
	uint64_t h = 0;
	bool readable = true, dollar = false;

	if (f && f->kind != kind)
		return -1; /* cannot happen: the name decides the kind */
	if (f && !force && f->readable && !f->racy && same_stat(f, st)) {
		f->seen_gen = o->gen;
		return 0;
	}
	/* Metadata differ (or the file is new, or could not be read last time):
	 * only the content decides. */
	if (hash_file(s, abs, &h, &dollar, &hst) != 0) {
		if (errno == ENOENT || errno == ENOTDIR || errno == EINVAL)
			return -1;
		log_debug("cannot read %s: %s", abs, strerror(errno));
		readable = false;
		h = 0;
		hst = *st;
	}
	if (!f) {
		size_t n = strlen(rel);
		f = xcalloc(1, sizeof(*f) + n + 1);
		memcpy(f->rel, rel, n + 1);
		f->bundle = s->bundles[bundle].name;
		f->bundle_idx = (uint16_t)bundle;
		f->kind = (uint8_t)kind;
		f->khash = key_hash(bundle, rel);
		f->hash = h;
		f->dollar = dollar;
		f->readable = readable;
		set_stat(f, &hst);
		f->racy = is_racy(&hst);
		f->seen_gen = o->gen;
		tab_insert(s, f);
		if (kind == KIND_DAG)
			report(o, f, SCAN_NEW);
		else
			mark_defaults_dirty(o, bundle, rel);
		return 0;
	}
	bool changed = f->hash != h || f->readable != readable;
	set_stat(f, &hst);
	f->racy = is_racy(&hst);
	f->hash = h;
	f->dollar = dollar;
	f->readable = readable;
	f->seen_gen = o->gen;
	if (changed) {
		if (kind == KIND_DAG)
			report(o, f, SCAN_CHANGED);
		else
			mark_defaults_dirty(o, bundle, rel);
	}
	return 0;
}

/* ---- walking (bundle/walk, from any folder down) ------------------------ */

typedef struct swalk {
	op *o;
	uint32_t bundle;
} swalk;

/* Marks every known file at prefix or below as seen by this pass. */
static void keep_under(op *o, uint32_t bundle, const char *prefix)
{
	scan *s = o->s;

	for (size_t i = 0; i < s->nslots; i++) {
		struct scan_file *f = s->slots[i];
		if (f && f->bundle_idx == bundle && rel_under(f->rel, prefix))
			f->seen_gen = o->gen;
	}
}

/* Watch first, list second: nothing written in between is missed. */
static void swalk_dir(void *ud, const char *abs, const char *rel)
{
	swalk *w = ud;
	if (w->o->s->w)
		watch_add(w->o->s->w, w->bundle, abs, rel, w->o->gen);
}

/* Gone or forbidden: its files are gone, as for a walk of the whole bundle. A
 * resource shortage (EMFILE, ENOMEM, EIO) says nothing about the files: keep
 * them until a pass can read the folder. */
static void swalk_dir_error(void *ud, const char *abs, const char *rel, int err)
{
	swalk *w = ud;
	if (err != ENOENT && err != ENOTDIR && err != EACCES && err != EPERM) {
		log_warn("cannot list %s: %s", abs, strerror(err));
		keep_under(w->o, w->bundle, rel);
	}
}

static void swalk_file(void *ud, const char *abs, const char *rel, const struct stat *st,
                       walk_kind kind)
{
	swalk *w = ud;
	reconcile(w->o, w->bundle, rel, abs, st, kind == WALK_DAG ? KIND_DAG : KIND_DEFAULTS,
	          false);
}

static int file_rel_cmp(const void *a, const void *b)
{
	const struct scan_file *x = *(struct scan_file *const *)a;
	const struct scan_file *y = *(struct scan_file *const *)b;
	return strcmp(x->rel, y->rel);
}

/* Files of bundle at prefix or below that this pass did not see are gone. */
static void sweep_files(op *o, uint32_t bundle, const char *prefix)
{
	scan *s = o->s;
	struct scan_file **gone = NULL;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < s->nslots; i++) {
		struct scan_file *f = s->slots[i];
		if (!f || f->bundle_idx != bundle || f->seen_gen == o->gen ||
		    !rel_under(f->rel, prefix))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			gone = xrealloc(gone, cap * sizeof(*gone));
		}
		gone[n++] = f;
	}
	if (n > 1)
		qsort(gone, n, sizeof(*gone), file_rel_cmp);
	for (size_t i = 0; i < n; i++)
		forget(o, gone[i]);
	free(gone);
}

/* Makes the table and the watches match the folder rel_dir of bundle and its
 * whole subtree ("" is the bundle). Returns 0, or -1 when the bundle root is
 * unreadable for another reason than not existing (then nothing is dropped). */
static int sync_subtree(op *o, uint32_t bundle, const char *rel_dir)
{
	scan *s = o->s;
	sbundle *b = &s->bundles[bundle];
	swalk w = {.o = o, .bundle = bundle};
	walk_visitor v = {
	    .ud = &w, .dir = swalk_dir, .dir_error = swalk_dir_error, .file = swalk_file};

	if (walk_tree(b->root, rel_dir, &v) != 0) {
		int err = errno;
		if (err != b->root_err)
			log_warn("bundle %s: cannot read %s: %s%s", b->name, b->root, strerror(err),
			         err == ENOENT ? " (no DAG files)" : "");
		b->root_err = err;
		if (err != ENOENT)
			return -1; /* keep what we know: the root may come back */
	} else if (b->root_err) {
		log_info("bundle %s: %s readable again", b->name, b->root);
		b->root_err = 0;
	}
	sweep_files(o, bundle, rel_dir);
	if (s->w)
		watch_sweep(s->w, bundle, rel_dir, o->gen);
	return 0;
}

/* One path named by an inotify event. */
static void check_path(op *o, uint32_t bundle, const char *rel, enum watch_kind kind)
{
	scan *s = o->s;
	const char *root = s->bundles[bundle].root;
	struct scan_file *f = tab_find(s, bundle, rel);
	char *abs = fs_path_join(root, rel);
	struct stat lst, st;
	bool exists = lstat(abs, &lst) == 0 && stat(abs, &st) == 0 && S_ISREG(st.st_mode);

	if (kind == WATCH_CREATED && exists && !f && !S_ISLNK(lst.st_mode) && st.st_nlink < 2)
		goto out; /* a file being written: its IN_CLOSE_WRITE follows */
	if (walk_is_defaults_name(fs_basename(rel))) {
		if (!exists || reconcile(o, bundle, rel, abs, &st, KIND_DEFAULTS, true) != 0) {
			if (f)
				forget(o, f);
		}
		goto out;
	}
	if (exists && walk_file_is_dag(root, rel) &&
	    reconcile(o, bundle, rel, abs, &st, KIND_DAG, true) == 0)
		goto out;
	if (f)
		forget(o, f);
out:
	free(abs);
}

/* ---- passes ------------------------------------------------------------ */

static void op_begin(op *o, scan *s, scan_fn fn, void *ud)
{
	memset(o, 0, sizeof(*o));
	o->s = s;
	o->fn = fn;
	o->ud = ud;
	if (++s->gen == 0)
		++s->gen; /* 0 is "never seen" */
	o->gen = s->gen;
}

/* The DAG files below a folder whose defaults changed are CHANGED, unless this
 * pass already reported them. */
static void op_end(op *o)
{
	scan *s = o->s;

	/* a first scan reports every file NEW: nothing left to find */
	for (size_t d = 0; d < o->ndirty && o->nreported < s->ndag; d++) {
		struct scan_file **hit = NULL;
		size_t n = 0, cap = 0;

		for (size_t i = 0; i < s->nslots; i++) {
			struct scan_file *f = s->slots[i];
			if (!f || f->kind != KIND_DAG || f->bundle_idx != o->dirty[d].bundle ||
			    f->reported_gen == o->gen || !rel_under(f->rel, o->dirty[d].rel))
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				hit = xrealloc(hit, cap * sizeof(*hit));
			}
			hit[n++] = f;
		}
		if (n > 1)
			qsort(hit, n, sizeof(*hit), file_rel_cmp);
		for (size_t i = 0; i < n; i++)
			report(o, hit[i], SCAN_CHANGED);
		free(hit);
	}
	for (size_t d = 0; d < o->ndirty; d++)
		free(o->dirty[d].rel);
	free(o->dirty);
	o->dirty = NULL;
	o->ndirty = o->capdirty = 0;
}

scan *scan_new(const scan_bundle_cfg *bundles, size_t n, bool watch_on, char **err)
{
	scan *s = NULL;

	*err = NULL;
	if (n == 0 || n > UINT16_MAX) {
		*err = xasprintf("no bundles configured");
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (!bundles[i].name || !*bundles[i].name || !bundles[i].root ||
		    !*bundles[i].root) {
			*err = xasprintf("bundle %zu: a name and a folder are required", i + 1);
			return NULL;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(bundles[i].name, bundles[j].name) == 0) {
				*err = xasprintf("bundle name '%s' used twice", bundles[i].name);
				return NULL;
			}
	}
	s = xcalloc(1, sizeof(*s));
	s->bundles = xcalloc(n, sizeof(*s->bundles));
	s->nb = n;
	for (size_t i = 0; i < n; i++) {
		s->bundles[i].name = xstrdup(bundles[i].name);
		s->bundles[i].root = xstrdup(bundles[i].root);
	}
	s->xs = XXH3_createState();
	if (!s->xs)
		abort();
	s->buf = xmalloc(SCAN_READ_BUF);
	if (watch_on)
		s->w = watch_new();
	return s;
}

void scan_free(scan *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nslots; i++)
		free(s->slots[i]);
	free(s->slots);
	for (size_t i = 0; i < s->nb; i++) {
		free(s->bundles[i].name);
		free(s->bundles[i].root);
	}
	free(s->bundles);
	watch_free(s->w);
	watch_batch_free(&s->batch);
	XXH3_freeState(s->xs);
	free(s->buf);
	free(s);
}

int scan_full(scan *s, scan_fn fn, void *ud)
{
	op o;
	int rc = 0;

	s->st.full_scans++;
	op_begin(&o, s, fn, ud);
	for (size_t i = 0; i < s->nb; i++)
		if (sync_subtree(&o, (uint32_t)i, "") != 0)
			rc = -1;
	op_end(&o);
	return rc;
}

int scan_watch_fd(const scan *s)
{
	return s ? watch_fd(s->w) : -1;
}

void scan_watch_process(scan *s, scan_fn fn, void *ud)
{
	watch_batch *b = &s->batch;
	op o;

	if (!s->w)
		return;
	watch_read(s->w, b, 0);
	if (b->overflow) {
		log_info("inotify event queue overflowed: rescanning every bundle");
		s->st.watch_overflows++;
		watch_batch_clear(b);
		scan_full(s, fn, ud);
		return;
	}
	if (b->n == 0)
		return;
	s->st.watch_batches++;
	watch_batch_coalesce(b);
	op_begin(&o, s, fn, ud);
	for (size_t i = 0; i < b->n; i++) {
		const watch_item *it = &b->items[i];
		if (it->kind == WATCH_DIR)
			sync_subtree(&o, it->bundle, it->rel);
		else
			check_path(&o, it->bundle, it->rel, it->kind);
	}
	op_end(&o);
	watch_batch_clear(b);
}

size_t scan_file_count(const scan *s)
{
	return s ? s->ndag : 0;
}

size_t scan_watch_count(const scan *s)
{
	return s ? watch_count(s->w) : 0;
}

static int bundle_index(const scan *s, const char *bundle)
{
	for (size_t i = 0; i < s->nb; i++)
		if (strcmp(s->bundles[i].name, bundle) == 0)
			return (int)i;
	return -1;
}

const struct scan_file *scan_lookup(const scan *s, const char *bundle, const char *rel)
{
	int bi;
	const struct scan_file *f;

	if (!s || !bundle || !rel)
		return NULL;
	bi = bundle_index(s, bundle);
	if (bi < 0)
		return NULL;
	f = tab_find(s, (uint32_t)bi, rel);
	return f && f->kind == KIND_DAG ? f : NULL;
}

const struct scan_file *scan_lookup_defaults(const scan *s, const char *bundle, const char *rel)
{
	if (!s || !bundle || !rel)
		return NULL;
	int bi = bundle_index(s, bundle);
	if (bi < 0)
		return NULL;
	const struct scan_file *f = tab_find(s, (uint32_t)bi, rel);
	return f && f->kind == KIND_DEFAULTS ? f : NULL;
}

void scan_get_stats(const scan *s, struct scan_stats *out)
{
	*out = s->st;
	out->files = s->ndag;
	out->watches = watch_count(s->w);
	out->watching = s->w != NULL;
	out->watch_limit_hit = watch_limit_hit(s->w);
}

const char *scan_bundle_root(const scan *s, const char *bundle)
{
	int bi = s && bundle ? bundle_index(s, bundle) : -1;
	return bi < 0 ? NULL : s->bundles[bi].root;
}

void scan_foreach(const scan *s, void (*fn)(void *ud, const struct scan_file *f), void *ud)
{
	for (size_t i = 0; i < s->nslots; i++)
		if (s->slots[i] && s->slots[i]->kind == KIND_DAG)
			fn(ud, s->slots[i]);
}
