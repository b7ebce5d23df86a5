/* The worker pool: long-lived parsing processes (this binary re-executed as
 * `dagproc __worker`), dispatch, time and memory limits, replacement. The
 * parent side is non-blocking and driven by the processor's poll loop. */
#ifndef DAGPROC_WORKER_H
#define DAGPROC_WORKER_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dagfile/dagfile.h"

/*
 * Life of a worker slot (one function, set_state in pool.c, moves it):
 *
 *   STARTING/IDLE --submit--> BUSY --result--> IDLE
 *        |                      |  timeout: SIGKILL
 *        |                      v  EOF, crash, bad frame: SIGKILL
 *        +---- death -------> DYING --reaped--> DOWN --backoff due--> IDLE (respawned)
 *
 * A job whose worker dies or overruns gets a synthesized result with one E004
 * error ("parse timed out after 50 s", "worker died: killed by signal 9
 * (SIGKILL)", "worker ran out of memory (limit 512 MiB)", "worker exited with
 * status 1", "worker protocol error: ..."). Workers that die within a second of
 * their start without finishing a job are respawned after a growing delay
 * (0.1 s doubling up to 5 s), never in a busy loop.
 *
 * Process-wide requirements on the caller:
 * - SIGCHLD must not be SIG_IGN (the pool reaps its children with waitpid on
 *   their pid only; it never waits for other children).
 * - Drive the pool from one thread that outlives it: workers get
 *   PR_SET_PDEATHSIG(SIGKILL), which Linux ties to the thread that forked them.
 * - SIGPIPE needs nothing: the pool talks over AF_UNIX socket pairs with
 *   MSG_NOSIGNAL, so a dead worker is EPIPE, never a signal, and the process's
 *   signal dispositions are left alone.
 *
 * Workers are put in their own process group, so a Ctrl-C at the terminal
 * reaches the daemon only (which then drains), and they exit by themselves on
 * EOF when the daemon goes away. They close every inherited descriptor but
 * stdin (/dev/null), stdout (made a copy of stderr), stderr and their socket,
 * and never open a database. Their environment is the daemon's without the
 * variables DAG files may not read (dagfile/dagenv.h).
 */

typedef struct wpool wpool;

typedef struct wpool_opts {
	int nworkers;        /* parsing_processes (at least 1) */
	int memory_limit_mb; /* worker_memory_limit: RLIMIT_AS of each worker; 0 = none */
	double timeout_s;    /* dag_file_processor_timeout; <= 0 = none */
	const char *exe;     /* worker binary; NULL = /proc/self/exe */
	const char *const *catalog_files; /* [core] operator_catalog */
	size_t ncatalog_files;
	const char *const *unchecked; /* [core] unchecked_operator_modules */
	size_t nunchecked;
	const char *const *pools; /* [core] pools */
	size_t npools;
	bool strict_catalog;  /* [core] strict_catalog */
	size_t max_file_size; /* bytes (max_file_size MiB * 2^20) */
	/* [core] dag_env_deny / dag_env_allow, the policy the caller gave dagenv_configure
	 * (dagfile/dagenv.h): the workers apply it too, and their environment holds only
	 * the variables it lets through */
	const char *const *env_deny;
	size_t nenv_deny;
	const char *const *env_allow;
	size_t nenv_allow;
} wpool_opts;

/* Called from wpool_process with each finished job, real or synthesized. The
 * callee owns res (malloc'd): release it with worker_result_free(). The
 * callback may call wpool_submit, never wpool_free. */
typedef void (*wpool_done_fn)(void *ud, uint64_t job_id, dagfile_result *res);

struct wpool_stats {
	int idle, busy, down;    /* current slots by state (down = dying or waiting to respawn) */
	uint64_t restarts;       /* workers respawned */
	uint64_t timeouts;       /* jobs killed for overrunning timeout_s */
	uint64_t crashes;        /* workers that died on their own (incl. out of memory) */
	uint64_t ooms;           /* of which ran out of memory */
	uint64_t jobs_done;      /* results delivered, real or synthesized */
	uint64_t spawn_failures; /* fork failures and workers dead on arrival */
};

/* Starts o->nworkers workers. Checks the options first (the extra catalog
 * files load, the binary is executable); returns NULL and a malloc'd *err on
 * failure. The options are copied. */
wpool *wpool_new(const wpool_opts *o, wpool_done_fn done, void *ud, char **err);
/* True when wpool_submit would accept a job now. */
bool wpool_has_idle(const wpool *p);
/* Hands a job to an idle worker (path and bundle_root are copied; bundle_root
 * may be NULL). Returns 0, or -1 when no worker is idle; never blocks. */
int wpool_submit(wpool *p, uint64_t job_id, const char *path, const char *bundle_root);
/* The same, with the source hash the file had when it was last written
 * (parse_stat): when nothing changed, the worker answers with a result that
 * only says unchanged, without parsing. */
int wpool_submit_ex(wpool *p, uint64_t job_id, const char *path, const char *bundle_root,
                    uint64_t expect_hash);
/* Fills fds with the descriptors to poll (events set: POLLIN, plus POLLOUT
 * while a request is still being written) and returns how many, at most max. */
int wpool_pollfds(wpool *p, struct pollfd *fds, int max);
/* After poll (whatever it returned): reads responses, enforces timeouts, reaps
 * and respawns workers, and calls done for every finished job. Never blocks. */
void wpool_process(wpool *p);
/* Seconds until wpool_process has timed work to do (a timeout, a reap, a
 * respawn), 0 if overdue, or -1 when nothing is timed. */
double wpool_next_deadline(const wpool *p);
void wpool_stats(const wpool *p, struct wpool_stats *s);
/* Pid of worker slot i (0 when it has no process): for tests and status pages. */
pid_t wpool_worker_pid(const wpool *p, int i);
/* Kills and reaps every worker. Jobs in flight are dropped without a callback. */
void wpool_free(wpool *p);

/* Frees a result handed to wpool_done_fn. */
void worker_result_free(dagfile_result *res);

/* The worker process: `dagproc __worker`, started by the pool with its socket
 * on fd 3. Returns the process exit status. Test hook, read from the
 * environment variable DAGPROC_TEST_WORKER_HOOK (comma-separated):
 * "sleep:<substr>" sleeps forever, "crash:<substr>" aborts, "alloc:<substr>"
 * allocates until memory runs out, when the job's path contains substr. */
int worker_child_main(int argc, char **argv);

/* Exit status a worker uses when it ran out of memory. */
#define WORKER_EXIT_OOM 86
/* The worker's socket descriptor. */
#define WORKER_FD 3

#endif
