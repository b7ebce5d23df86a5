/* The processor daemon: the event loop that ties the bundle scanner, the parse
 * queue, the worker pool, the pending results and the database writer thread
 * together. The main loop never waits on the database. */
#ifndef DAGPROC_PROCESSOR_H
#define DAGPROC_PROCESSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status/status.h"

struct dagproc_config;

typedef struct processor processor;

typedef struct proc_opts {
	const char *config_path; /* for SIGHUP reloads; NULL: the same lookup as at start */
	bool once;               /* one pass, then exit */
	/* settings given on the command line (--dags, --db): section, key and
	 * value, 3 strings each; a reload applies them again over the file */
	const char *const *overrides;
	size_t noverrides;
} proc_opts;

/* Runs the daemon until SIGTERM/SIGINT (returns 0) or, with once, until every
 * file is parsed and written (0) or the database stayed unreachable for
 * once_timeout (3). Other failures to start return 2 with a logged reason. */
int processor_run(struct dagproc_config *cfg, const proc_opts *o);

/* From any thread: */
void proc_snapshot(const processor *p, proc_stats *out);
/* Queues a file for parsing ahead of the others (PUT parseDagFile): bundle
 * name and path relative to its root. Returns 0, or -1 when unknown. */
int proc_request_parse(processor *p, const char *bundle, const char *rel);

#endif
