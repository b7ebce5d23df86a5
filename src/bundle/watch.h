/* inotify watches on the folders of the bundles, and the decoding of their
 * events into one coalesced batch of paths to re-examine. Used by bundle/scan. */
#ifndef DAGPROC_WATCH_H
#define DAGPROC_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct watch watch;

/* What to do with a path of a batch; lower values sort first and win when one
 * path appears with several kinds. */
enum watch_kind {
	WATCH_DIR = 0,     /* re-sync the folder's whole subtree (it appeared, went, or its
	                    * .dagignore changed) */
	WATCH_FILE = 1,    /* re-examine the file (written, moved, deleted) */
	WATCH_CREATED = 2, /* created but not written yet: only links are worth a look */
};

typedef struct watch_item {
	uint32_t bundle;
	enum watch_kind kind;
	char *rel; /* relative to the bundle root, "" for the root itself */
} watch_item;

typedef struct watch_batch {
	watch_item *items;
	size_t n, cap;
	bool overflow; /* the kernel queue overflowed: only a full rescan is exact */
} watch_batch;

/* An inotify instance (non-blocking, close-on-exec). NULL when inotify is
 * unavailable; the reason is logged. */
watch *watch_new(void);
void watch_free(watch *w);
int watch_fd(const watch *w);
/* Folders watched right now. */
size_t watch_count(const watch *w);
/* True once a watch could not be added for lack of inotify watches. */
bool watch_limit_hit(const watch *w);

/* Watches abs_dir, known as rel_dir of bundle, and marks it with gen. Returns 0,
 * or -1 with errno. ENOSPC (fs.inotify.max_user_watches) is logged once per
 * watch object; the periodic full rescan then covers the unwatched folders. */
int watch_add(watch *w, uint32_t bundle, const char *abs_dir, const char *rel_dir, uint32_t gen);
/* Drops the watches of bundle at prefix or below it that are not marked with
 * gen (folders that are gone or now ignored). prefix "" is the whole bundle. */
void watch_sweep(watch *w, uint32_t bundle, const char *prefix, uint32_t gen);

/* Reads the pending events without blocking (at most max_events of them, 0 =
 * a sane default, so a storm cannot starve the caller) and appends them to b.
 * Returns the number of events read. */
size_t watch_read(watch *w, watch_batch *b, size_t max_events);
/* Sorts b (folders first), merges duplicates and drops paths that lie below a
 * folder of the batch (its subtree sync covers them). */
void watch_batch_coalesce(watch_batch *b);
void watch_batch_clear(watch_batch *b);
void watch_batch_free(watch_batch *b);

#endif
