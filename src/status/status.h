/* What a running processor says about itself: its counters and the one
 * request others may make of it (parse a file next). The processor fills a
 * status_source; the HTTP API, the probes and systemd's notifications read it,
 * so that api/ and processor/ never include each other. */
#ifndef DAGPROC_STATUS_H
#define DAGPROC_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The writer's state, one transition function moves it (processor/stats.c). */
typedef enum writer_state {
	WRITER_CONNECTING, /* no successful write yet */
	WRITER_IDLE,       /* database reachable, nothing to write */
	WRITER_WRITING,    /* a batch in flight */
	WRITER_BACKOFF,    /* the last attempt failed; waiting to retry */
} writer_state;

/* Counters and gauges for /metrics, /readyz and the health document. Read
 * with proc_snapshot(); every field is a copy. */
typedef struct proc_stats {
	double started_at; /* epoch seconds */
	double heartbeat;  /* epoch seconds of the last main loop turn */
	writer_state wstate;
	bool db_up;      /* the last database operation succeeded */
	bool db_refused; /* !db_up because the database refuses writes (read-only, full...) */
	bool db_schema;  /* !db_up because a table or column is missing (not dagproc's schema) */
	double db_down_since; /* epoch seconds, when !db_up */
	char db_error[400];   /* the last failure, password-free */
	double last_write_ok; /* epoch seconds of the last successful batch; 0 = never */
	size_t pending;       /* results waiting for the writer (incl. in flight) */
	size_t queued;        /* files waiting for a worker */
	size_t parsing;       /* files in the workers' hands */
	bool synced;          /* the first pass over every bundle is parsed and written */
	size_t files;         /* DAG files known */
	uint64_t files_parsed;
	uint64_t files_skipped; /* not parsed: sources unchanged since the last run */
	uint64_t parse_errors;  /* results with import errors */
	uint64_t write_attempts, write_ok, write_transient, write_permanent;
	uint64_t write_refused; /* failed writes the database refused (read-only, full...) */
	uint64_t statements, writes, files_written, files_unchanged, isolated_failures;
	uint64_t worker_restarts, worker_timeouts, worker_crashes;
	/* file watching and rescans (bundle/scan) */
	size_t watched_folders;
	bool watching;        /* inotify is up */
	bool watch_limit_hit; /* max_user_watches reached: some folders rely on the rescan */
	uint64_t watch_overflows, full_scans;
	/* parse duration histogram (seconds): le 0.001 .. 10, +Inf */
	uint64_t parse_hist[10];
	double parse_sum;
	/* gauges of the last written state */
	size_t dags, tasks, import_errors, warnings;
} proc_stats;

#define PROC_HIST_BUCKETS 10
extern const double proc_hist_bounds[PROC_HIST_BUCKETS - 1];

/* A running processor, as others see it. ctx is the processor. */
typedef struct status_source {
	void *ctx;
	/* a copy of every counter, from any thread */
	void (*snapshot)(void *ctx, proc_stats *out);
	/* queue a file (bundle, path below its root) ahead of the others:
	 * 0, or -1 when the file is not a known DAG file */
	int (*request_parse)(void *ctx, const char *bundle, const char *rel);
} status_source;

#endif
