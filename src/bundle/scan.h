/* Bundles and change detection: the DAG files of every bundle with their last
 * seen (mtime, size, inode, content hash), kept current by full rescans and
 * inotify. Non-blocking; the processor's event loop drives it. */
#ifndef DAGPROC_SCAN_H
#define DAGPROC_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct scan_bundle_cfg {
	const char *name;
	const char *root;
} scan_bundle_cfg;

typedef enum scan_event { SCAN_NEW, SCAN_CHANGED, SCAN_DELETED } scan_event;

typedef struct scan scan;

/* What the scan knows of one DAG file. Owned by the scan; the pointer stays
 * valid until the file is reported SCAN_DELETED (after the callback returns)
 * or scan_free. */
struct scan_file {
	const char *bundle; /* the bundle's name, owned by the scan */
	int64_t mtime_ns;
	int64_t size;
	uint64_t inode;
	uint64_t hash; /* XXH3-64 of the content; 0 when it could not be read */
	bool readable; /* false: open/read failed (the parse reports E003) */
	bool dollar;   /* the content has a '$' (environment expansion may apply) */
	/* internal */
	uint8_t kind;
	bool racy;
	uint16_t bundle_idx;
	uint32_t khash, seen_gen, reported_gen;
	char rel[]; /* relative to the bundle root, '/'-separated */
};

/* Called once per file and change. rel and abs are valid during the call only.
 * For SCAN_DELETED the file is still found by scan_lookup during the call.
 * The callback must not call scan_full, scan_watch_process or scan_free. */
typedef void (*scan_fn)(void *ud, const char *bundle, const char *rel, const char *abs,
                        scan_event ev);

/* bundles: names must be unique and non-empty; roots are used as given (a root
 * that does not exist yet is an empty bundle, logged at scan time). The config
 * strings are copied. watch: set up inotify (its failure is logged, not an
 * error). Returns NULL with *err (malloc'd) on a bad configuration. */
scan *scan_new(const scan_bundle_cfg *bundles, size_t n, bool watch, char **err);
void scan_free(scan *s);

/* Full rescan of every bundle: lists the DAG files (walk rules: names,
 * .dagignore, symlinks inside the root), stats each, and re-reads a file only
 * when its (mtime, size, inode) differ from the last seen; it is CHANGED only
 * when its content hash differs too. Files gone or now ignored are DELETED. A
 * defaults.yml/.yaml that appears, changes or goes makes every DAG file of its
 * folder and below CHANGED (their parse depends on it). Also re-establishes the
 * folder watches. Returns 0, or -1 when some bundle root could not be read
 * (logged once per outage; a root that no longer exists counts as empty). */
int scan_full(scan *s, scan_fn fn, void *ud);

/* The inotify descriptor to poll for POLLIN; -1 when watching is off or failed. */
int scan_watch_fd(const scan *s);
/* After poll said readable (calling it otherwise is harmless): drains the
 * pending events, coalesces them (one check per path, a folder's subtree
 * once) and reports through fn with the rules of scan_full: written or moved
 * files are re-checked; a new or moved-in folder is watched and scanned; a
 * deleted or moved-away folder reports its files DELETED; a changed
 * .dagignore re-syncs its folder; a kernel queue overflow runs scan_full. */
void scan_watch_process(scan *s, scan_fn fn, void *ud);

/* DAG files known. */
size_t scan_file_count(const scan *s);
/* Folders watched by inotify now. */
size_t scan_watch_count(const scan *s);
/* NULL when the file is not a known DAG file of that bundle. */
const struct scan_file *scan_lookup(const scan *s, const char *bundle, const char *rel);
/* Counters for logs and /metrics. */
struct scan_stats {
	uint64_t full_scans;      /* scan_full runs, overflow rescans included */
	uint64_t watch_batches;   /* scan_watch_process calls that found events */
	uint64_t watch_overflows; /* inotify queue overflows (each ran a full rescan) */
	uint64_t events[3];       /* reported, by scan_event */
	size_t files;             /* DAG files known */
	size_t watches;           /* folders watched */
	bool watching;            /* inotify is up */
	bool watch_limit_hit;     /* ENOSPC seen: some folders rely on the rescan */
};
void scan_get_stats(const scan *s, struct scan_stats *out);

/* A known defaults.yml / defaults.yaml of the bundle (rel to its root), or
 * NULL. */
const struct scan_file *scan_lookup_defaults(const scan *s, const char *bundle, const char *rel);
/* The root of a bundle as configured, or NULL. */
const char *scan_bundle_root(const scan *s, const char *bundle);
/* Calls fn(ud, file) for every known DAG file (in no particular order), e.g. to
 * queue all files for a periodic reparse. fn must not change the scan. */
void scan_foreach(const scan *s, void (*fn)(void *ud, const struct scan_file *f), void *ud);

#endif
