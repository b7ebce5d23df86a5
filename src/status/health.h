/* Health outside the HTTP API: the readiness reason shared by /readyz and
 * `dagproc healthcheck`, the state in words for systemd's STATUS=, and the
 * status file a running processor rewrites every second for exec probes
 * (Kubernetes, `dagproc healthcheck`) that cannot reach its API. */
#ifndef DAGPROC_HEALTH_H
#define DAGPROC_HEALTH_H

#include <stdbool.h>
#include <stddef.h>

#include "status/status.h"
#include "util/xalloc.h"

/* the main loop's heartbeat older than this: not live (/livez, healthcheck) */
#define HEALTH_LIVE_MAX_AGE 10.0

/* Why the processor is not ready, appended to why (left empty when ready).
 * s: the processor's counters, or NULL for a process without one (`serve`);
 * ping_ok/ping_err/ping_down_since: a connection attempt just made. */
void health_ready_why(const proc_stats *s, bool ping_ok, const char *ping_err,
                      double ping_down_since, double now, strbuf *why);

/* "3,210 DAG files, database unreachable for 42 s: ..., 17 results
 * pending": the state in words, one line, at most len - 1 bytes. */
void health_words(const proc_stats *s, double now, char *buf, size_t len);

/* Writes the status file atomically (a temporary file renamed over it):
 * pid, instance and the counters readiness needs. 0, or -1 with errno. */
int health_file_write(const char *path, const proc_stats *s, const char *instance);

/* Reads a status file: 0 and *s (the fields written), *pid, *instance
 * (malloc'd); -1 and *err (malloc'd) when it is missing or not one. */
int health_file_read(const char *path, proc_stats *s, long *pid, char **instance, char **err);

/* The status file of a processor: [dag_processor] status_file, or when that is
 * empty $RUNTIME_DIRECTORY/dagproc.status (systemd), else /tmp/dagproc.status.
 * malloc'd. */
char *health_file_path(const char *configured);

/* where the packaged unit's processor writes it (RuntimeDirectory=dagproc) */
#define HEALTH_SYSTEMD_FILE "/run/dagproc/dagproc.status"

#endif
