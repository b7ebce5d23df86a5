/* The parse queue: files waiting for a worker, in priority classes (requested,
 * new/changed, due), ordered by file_parsing_sort_mode inside a class, with
 * min_file_process_interval between parses of a due file. O(log n) per call. */
#ifndef DAGPROC_QUEUE_H
#define DAGPROC_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct queue queue;

/* Lower is served first. REQUESTED (the API's parseDagFile) in request order;
 * CHANGED (new or changed files) and DUE (periodic reparse) by the sort mode.
 * REQUESTED and CHANGED ignore min_file_process_interval; DUE waits for it. */
typedef enum queue_prio { QUEUE_REQUESTED = 0, QUEUE_CHANGED = 1, QUEUE_DUE = 2 } queue_prio;

typedef enum queue_sort {
	QUEUE_SORT_MODIFIED_TIME,        /* newest mtime first */
	QUEUE_SORT_ALPHABETICAL,         /* bundle name, then path */
	QUEUE_SORT_RANDOM_SEEDED_BY_HOST /* a shuffle that is the same on every run on a host */
} queue_sort;

/* "modified_time", "alphabetical", "random_seeded_by_host". Returns 0, or -1. */
int queue_sort_parse(const char *name, queue_sort *out);
const char *queue_sort_name(queue_sort sort);

/* host_seed seeds the random order; NULL uses gethostname(). */
queue *queue_new(queue_sort sort, double min_interval_s, const char *host_seed);
void queue_free(queue *q);
/* For a config reload; the queued files are reordered. */
void queue_set_sort(queue *q, queue_sort sort);
void queue_set_min_interval(queue *q, double seconds);

/* Queues the file in class prio, or raises it to prio when it is queued in a
 * lower class (never lowers it; a file is queued at most once). mtime_ns is
 * the file's modification time, for QUEUE_SORT_MODIFIED_TIME; it is updated
 * on every push. A file handed out by queue_pop and not yet queue_done is not
 * queued again at once: it is queued with the highest class pushed meanwhile
 * when queue_done is called, so one file is never parsed twice at a time. */
void queue_push(queue *q, const char *bundle, const char *rel, queue_prio prio, int64_t mtime_ns);
/* Hands out the first file that may be parsed at time now (seconds, any
 * monotonic clock used consistently): true with *bundle and *rel pointing into the
 * queue (valid until queue_remove of that file or queue_free), false when
 * nothing is due. The file is then "running" until queue_done. */
bool queue_pop(queue *q, double now, const char **bundle, const char **rel);
/* The file's parse ended at now: its min interval starts, and a push received
 * while it ran queues it again. */
void queue_done(queue *q, const char *bundle, const char *rel, double now);
/* Gives back a file handed out by queue_pop and not parsed (a look past it
 * to files further on): queued again in the class and at the place it had,
 * or in a higher class pushed meanwhile; its min interval is not touched. */
void queue_unpop(queue *q, const char *bundle, const char *rel);
/* Forgets the file (deleted): out of the queue and of the interval records.
 * Returns true when it was known. */
bool queue_remove(queue *q, const char *bundle, const char *rel);

/* Seconds until queue_pop can return something: 0 when it can now, -1 when
 * nothing is queued. */
double queue_next_due(const queue *q, double now);
/* Files queued (not running). */
size_t queue_len(const queue *q);
/* Files queued in one class. */
size_t queue_count(const queue *q, queue_prio prio);
/* Files handed out and not yet done. */
size_t queue_running(const queue *q);

#endif
