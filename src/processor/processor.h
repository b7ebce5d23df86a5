/* The processor daemon: the event loop that ties the bundle scanner, the parse
 * queue, the worker pool, the pending results and the database writer thread
 * together. The main loop never waits on the database. */
#ifndef DAGPROC_PROCESSOR_H
#define DAGPROC_PROCESSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dagproc_config;

/* The writer's state, one transition function moves it (see processor.c). */
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
	bool db_up;           /* the last database operation succeeded */
	bool db_refused;      /* !db_up because the database refuses writes (read-only, full...) */
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

/* For the HTTP API, from any thread: */
void proc_snapshot(const processor *p, proc_stats *out);
/* Queues a file for parsing ahead of the others (PUT parseDagFile): bundle
 * name and path relative to its root. Returns 0, or -1 when unknown. */
int proc_request_parse(processor *p, const char *bundle, const char *rel);

#endif
