/* The parent side of the worker pool: spawning workers, dispatching jobs,
 * reading results without blocking, timeouts, reaping and respawning. */
#include "worker/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dagfile/catalog.h"
#include "dagfile/dagenv.h"
#include "log/log.h"
#include "util/xalloc.h"
#include "worker/proto.h"
#include "util/clock.h"

#define DEFAULT_EXE   "/proc/self/exe"
#define FAST_DEATH_S  1.0 /* a worker dead this young without a job is "dead on arrival" */
#define BACKOFF_MIN_S 0.1
#define BACKOFF_MAX_S 5.0
#define REAP_RETRY_S  0.005      /* a killed worker is retried this often until reaped */
#define IN_BUF_KEEP   (1u << 20) /* receive buffers above this are released after a frame */
#define MAX_WORKERS   1024

enum wstate { W_IDLE, W_BUSY, W_DYING, W_DOWN };

static const char *const state_names[] = {"idle", "busy", "dying", "down"};

/* Why a worker is being taken down; decides the E004 message. */
enum wcause {
	C_NONE,
	C_EXIT,    /* EOF or a broken socket: it died on its own; the status says how */
	C_TIMEOUT, /* we killed it: the job overran */
	C_PROTO,   /* we killed it: it sent something that is not a valid answer */
};

typedef struct wslot {
	enum wstate state;
	int index;
	pid_t pid; /* 0 when no process */
	int fd;    /* our end of the socket pair, -1 when none */
	double spawned_at;
	bool did_job; /* answered at least one job since it was spawned */

	strbuf out; /* frames not yet written */
	size_t out_off;
	strbuf in; /* the frame being received, header included */

	bool has_job;
	uint64_t job_id;
	char *job_path;
	double job_started;

	enum wcause cause; /* while DYING */
	char *cause_detail;
	double respawn_at; /* while DOWN */
} wslot;

struct wpool {
	wslot *w;
	int n;
	int next; /* round-robin start for submit */
	wpool_done_fn done;
	void *ud;
	double timeout_s;
	int memory_limit_mb;
	char *exe;
	char *argv[3];
	char **envp; /* the daemon's environment less what DAG files may not read */
	strbuf init_frame;
	int devnull;
	int close_from_max; /* highest fd + 1 to close when close_range is missing */
	pid_t self;
	int nice;        /* the workers' nice value (see wpool_new) */
	int fast_deaths; /* consecutive workers dead on arrival: drives the backoff */
	struct wpool_stats st;
};

/* How much lower than the daemon's the workers' CPU priority is. Parsing is
 * the work that can wait: the main loop, the writer thread and a database
 * server on the same machine come first, so the single writer keeps up with
 * the parse instead of finishing alone after it (issue 13, item 3: on
 * MariaDB the last fifth of a first sync had one core idle). With nothing
 * else runnable the workers still get every core. */
#define WORKER_NICE 10

/* The one place a slot changes state. */
static void set_state(wslot *w, enum wstate s)
{
	static const bool ok[4][4] = {
	    /* to:       IDLE   BUSY   DYING  DOWN */
	    /* IDLE  */ {false, true, true, false},
	    /* BUSY  */ {true, false, true, false},
	    /* DYING */ {false, false, false, true},
	    /* DOWN  */ {true, false, false, false},
	};
	if (!ok[w->state][s]) {
		log_error("worker %d: impossible state change %s -> %s", w->index,
		          state_names[w->state], state_names[s]);
		abort();
	}
	log_debug("worker %d (pid %d): %s -> %s", w->index, (int)w->pid, state_names[w->state],
	          state_names[s]);
	w->state = s;
}

/* ------------------------------------------------------------------------ */
/* Spawning                                                                  */

/* In the forked child: only async-signal-safe calls until exec. */
static void __attribute__((noreturn)) exec_worker(const wpool *p, int sock)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	struct sigaction dfl;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	static const int sigs[] = {SIGPIPE, SIGINT,  SIGTERM, SIGHUP, SIGQUIT,
	                           SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM};
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &dfl, NULL);

	/* Ctrl-C at a terminal is for the daemon; the worker follows it by EOF,
	 * or by SIGKILL if the daemon dies without closing the socket. */
	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != p->self)
		_exit(127);
	struct rlimit core = {0, 0};
	setrlimit(RLIMIT_CORE, &core);
	/* below the daemon's CPU priority (WORKER_NICE): a plain
	 * system call, safe here; if refused, the worker runs at the daemon's */
	setpriority(PRIO_PROCESS, 0, p->nice);

	/* Move the socket out of the way of 0..3 before placing everything. */
	int s = fcntl(sock, F_DUPFD, 10);
	if (s < 0)
		_exit(127);
	dup2(p->devnull, 0);
	if (dup2(2, 1) < 0)
		dup2(p->devnull, 1);
	if (dup2(s, WORKER_FD) < 0)
		_exit(127);
	if (close_range(WORKER_FD + 1, ~0u, 0) != 0)
		for (int fd = WORKER_FD + 1; fd < p->close_from_max; fd++)
			close(fd);
	execve(p->exe, p->argv, p->envp);
	static const char msg[] = "dagproc: cannot execute the worker binary\n";
	ssize_t k = write(2, msg, sizeof(msg) - 1);
	(void)k;
	_exit(127);
}

/* One more worker dead on arrival: the delay before the next start, 0.1 s
 * doubling up to 5 s. Reset by any answered job. */
static double next_backoff(wpool *p)
{
	p->fast_deaths++;
	double delay = BACKOFF_MIN_S;
	for (int i = 1; i < p->fast_deaths && delay < BACKOFF_MAX_S; i++)
		delay *= 2;
	return delay > BACKOFF_MAX_S ? BACKOFF_MAX_S : delay;
}

/* DOWN (or fresh) -> IDLE with a new process. On failure the slot stays DOWN
 * with a respawn time, and -1 is returned. */
static int spawn(wpool *p, wslot *w)
{
	int sv[2] = {-1, -1};
	int e;
	double delay;
	const char *what = "socketpair";
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		goto fail;
	what = "fork";
	pid_t pid = fork();
	if (pid < 0)
		goto fail;
	if (pid == 0)
		exec_worker(p, sv[1]);
	close(sv[1]);
	int fl = fcntl(sv[0], F_GETFL);
	fcntl(sv[0], F_SETFL, (fl < 0 ? 0 : fl) | O_NONBLOCK);
	w->pid = pid;
	w->fd = sv[0];
	w->spawned_at = clock_mono();
	w->did_job = false;
	w->out.len = 0;
	w->out_off = 0;
	w->in.len = 0;
	sb_add(&w->out, p->init_frame.data, p->init_frame.len);
	set_state(w, W_IDLE);
	log_debug("worker %d started (pid %d)", w->index, (int)pid);
	return 0;
fail:
	e = errno;
	if (sv[0] >= 0) {
		close(sv[0]);
		close(sv[1]);
	}
	p->st.spawn_failures++;
	delay = next_backoff(p);
	w->respawn_at = clock_mono() + delay;
	log_warn("worker %d: cannot start: %s: %s; retrying in %.1f s", w->index, what, strerror(e),
	         delay);
	errno = e;
	return -1;
}

/* ------------------------------------------------------------------------ */
/* Failure: one path for every way a worker goes                            */

static dagfile_result *synth_result(const char *path, double started, const char *msg)
{
	dagfile_result *r = xcalloc(1, sizeof(*r));
	r->path = xstrdup(path ? path : "");
	dagfile_add_error(r, "E004", 0, 0, NULL, "%s", msg);
	r->parse_seconds = started > 0 ? clock_mono() - started : 0;
	return r;
}

static char *death_message(const wpool *p, const wslot *w, bool known, int status)
{
	switch (w->cause) {
	case C_TIMEOUT:
		return xasprintf("parse timed out after %g s", p->timeout_s);
	case C_PROTO:
		return xasprintf("worker protocol error: %s",
		                 w->cause_detail ? w->cause_detail : "bad frame");
	case C_EXIT:
	case C_NONE:
		break;
	}
	if (!known)
		return xstrdup("worker died (exit status unknown)");
	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
		const char *abbr = sigabbrev_np(sig);
		return abbr ? xasprintf("worker died: killed by signal %d (SIG%s)", sig, abbr)
		            : xasprintf("worker died: killed by signal %d", sig);
	}
	if (WIFEXITED(status)) {
		int code = WEXITSTATUS(status);
		if (code == WORKER_EXIT_OOM) {
			if (p->memory_limit_mb > 0)
				return xasprintf("worker ran out of memory (limit %d MiB)",
				                 p->memory_limit_mb);
			return xstrdup("worker ran out of memory");
		}
		if (code == 127 && !w->did_job)
			return xasprintf("worker exited with status 127 (cannot execute %s)",
			                 p->exe);
		return xasprintf("worker exited with status %d", code);
	}
	return xasprintf("worker died (wait status %d)", status);
}

/* DYING -> DOWN once the process is reaped: counts, logs, schedules the
 * respawn (at once, or after the backoff when it died on arrival), then hands
 * the job its E004 result. */
static void finish_death(wpool *p, wslot *w, bool known, int status)
{
	double now = clock_mono();
	char *msg = death_message(p, w, known, status);
	double age = now - w->spawned_at;
	bool oom = known && WIFEXITED(status) && WEXITSTATUS(status) == WORKER_EXIT_OOM &&
	           w->cause == C_EXIT;
	if (w->cause == C_TIMEOUT)
		p->st.timeouts++;
	else
		p->st.crashes++;
	if (oom)
		p->st.ooms++;

	double delay = 0;
	if (w->cause != C_TIMEOUT && !w->did_job && age < FAST_DEATH_S) {
		p->st.spawn_failures++;
		delay = next_backoff(p);
	}
	if (w->has_job)
		log_warn("worker %d (pid %d, up %.1f s): %s, while parsing %s; replacing it",
		         w->index, (int)w->pid, age, msg, w->job_path);
	else
		log_warn("worker %d (pid %d, up %.1f s): %s; replacing it%s", w->index, (int)w->pid,
		         age, msg, delay > 0 ? " after a delay" : "");

	bool had_job = w->has_job;
	uint64_t job_id = w->job_id;
	dagfile_result *res = had_job ? synth_result(w->job_path, w->job_started, msg) : NULL;
	free(msg);
	free(w->job_path);
	w->job_path = NULL;
	w->has_job = false;
	free(w->cause_detail);
	w->cause_detail = NULL;
	w->cause = C_NONE;
	w->pid = 0;
	w->respawn_at = now + delay;
	set_state(w, W_DOWN);
	if (delay == 0 && spawn(p, w) == 0)
		p->st.restarts++;
	if (had_job) {
		p->st.jobs_done++;
		p->done(p->ud, job_id, res);
	}
}

static void try_reap(wpool *p, wslot *w)
{
	int status = 0;
	pid_t r = waitpid(w->pid, &status, WNOHANG);
	if (r == 0 || (r < 0 && errno == EINTR))
		return; /* not yet: wpool_next_deadline brings us back shortly */
	finish_death(p, w, r == w->pid, status);
}

/* IDLE/BUSY -> DYING: kills the process (harmless if it is already exiting;
 * its exit status is kept), closes the socket and tries to reap at once. */
static void worker_fail(wpool *p, wslot *w, enum wcause cause, const char *detail)
{
	if (w->pid > 0)
		kill(w->pid, SIGKILL);
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	w->out.len = 0;
	w->out_off = 0;
	w->in.len = 0;
	w->cause = cause;
	free(w->cause_detail);
	w->cause_detail = detail ? xstrdup(detail) : NULL;
	set_state(w, W_DYING);
	try_reap(p, w);
}

/* ------------------------------------------------------------------------ */
/* I/O                                                                       */

/* Writes what the socket takes. Errors are left to the read side: a dead
 * worker is EOF there, with an exit status to report. Returns -1 on a hard
 * error. */
static int pump_out(wslot *w)
{
	while (w->out_off < w->out.len) {
		ssize_t k = send(w->fd, w->out.data + w->out_off, w->out.len - w->out_off,
		                 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		w->out_off += (size_t)k;
	}
	w->out.len = 0;
	w->out_off = 0;
	return 0;
}

static void handle_frame(wpool *p, wslot *w)
{
	const char *payload = w->in.data + WPROTO_HEADER;
	size_t n = w->in.len - WPROTO_HEADER;
	if (w->state != W_BUSY) {
		worker_fail(p, w, C_PROTO, "a frame without a job");
		return;
	}
	dagfile_result *res = xmalloc(sizeof(*res));
	uint64_t id = 0;
	if (wproto_payload_type(payload, n) != WPROTO_RESULT ||
	    wproto_decode_result(payload, n, &id, res) != 0) {
		free(res);
		worker_fail(p, w, C_PROTO, "malformed result frame");
		return;
	}
	if (id != w->job_id) {
		worker_fail(p, w, C_PROTO, "result for another job");
		dagfile_result_free(res);
		free(res);
		return;
	}
	free(res->path);
	res->path = w->job_path;
	w->job_path = NULL;
	w->has_job = false;
	w->did_job = true;
	p->fast_deaths = 0;
	if (w->in.cap > IN_BUF_KEEP)
		sb_free(&w->in);
	w->in.len = 0;
	p->st.jobs_done++;
	set_state(w, W_IDLE);
	p->done(p->ud, id, res);
}

/* Reads whatever the worker sent; a whole frame is handled at once. */
static void pump_in(wpool *p, wslot *w)
{
	while (w->state == W_IDLE || w->state == W_BUSY) {
		size_t want;
		if (w->in.len < WPROTO_HEADER) {
			want = WPROTO_HEADER - w->in.len;
		} else {
			uint32_t n = wproto_frame_len((const unsigned char *)w->in.data);
			if (n == 0 || n > WPROTO_MAX_FRAME) {
				char detail[64];
				snprintf(detail, sizeof(detail), "frame of %u bytes", n);
				worker_fail(p, w, C_PROTO, detail);
				return;
			}
			want = WPROTO_HEADER + (size_t)n - w->in.len;
			if (want == 0) {
				handle_frame(p, w);
				continue;
			}
		}
		sb_reserve(&w->in, want);
		ssize_t k = recv(w->fd, w->in.data + w->in.len, want, MSG_DONTWAIT);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			worker_fail(p, w, C_EXIT, NULL); /* ECONNRESET: it died */
			return;
		}
		if (k == 0) {
			worker_fail(p, w, C_EXIT, NULL);
			return;
		}
		w->in.len += (size_t)k;
		w->in.data[w->in.len] = '\0';
	}
}

/* ------------------------------------------------------------------------ */
/* API                                                                       */

wpool *wpool_new(const wpool_opts *o, wpool_done_fn done, void *ud, char **err)
{
	wpool *p = NULL;
	*err = NULL;
	if (o->nworkers < 1 || o->nworkers > MAX_WORKERS) {
		*err = xasprintf("parsing_processes must be between 1 and %d (got %d)", MAX_WORKERS,
		                 o->nworkers);
		goto fail;
	}
	const char *exe = o->exe ? o->exe : DEFAULT_EXE;
	if (access(exe, X_OK) != 0) {
		*err = xasprintf("worker binary %s: %s", exe, strerror(errno));
		goto fail;
	}
	/* A bad extra catalog file is a configuration error, reported here once
	 * rather than as an E004 on every file. The built-in catalog alone needs
	 * no check (its tests load it), and loading it costs tens of
	 * milliseconds of every start. */
	if (o->ncatalog_files > 0) {
		char *cerr = NULL;
		catalog *cat = catalog_load(o->catalog_files, o->ncatalog_files, &cerr);
		if (!cat) {
			*err = cerr ? cerr : xstrdup("cannot load the operator catalog");
			goto fail;
		}
		catalog_free(cat);
	}

	p = xcalloc(1, sizeof(*p));
	p->devnull = -1;
	p->done = done;
	p->ud = ud;
	p->timeout_s = o->timeout_s;
	p->memory_limit_mb = o->memory_limit_mb > 0 ? o->memory_limit_mb : 0;
	p->exe = xstrdup(exe);
	p->argv[0] = p->exe;
	p->argv[1] = "__worker";
	p->argv[2] = NULL;
	p->self = getpid();
	errno = 0;
	int cur = getpriority(PRIO_PROCESS, 0);
	if (cur == -1 && errno)
		cur = 0;
	/* WORKER_NICE below the daemon, but no lower than nice WORKER_NICE for
	 * a daemon already niced by its operator (a daemon at 10 would put its
	 * workers at 19 and under any load their parses would time out) */
	int cap = cur > WORKER_NICE ? cur : WORKER_NICE;
	p->nice = cur + WORKER_NICE < cap ? cur + WORKER_NICE : cap;
	struct rlimit nof;
	p->close_from_max = getrlimit(RLIMIT_NOFILE, &nof) == 0 && nof.rlim_cur != RLIM_INFINITY &&
	                            nof.rlim_cur < 65536
	                        ? (int)nof.rlim_cur
	                        : 65536;
	p->devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (p->devnull < 0) {
		*err = xasprintf("/dev/null: %s", strerror(errno));
		goto fail;
	}

	char **env = dagenv_worker_environ();
	size_t nenv = 0;
	while (env[nenv])
		nenv++;
	p->envp = xcalloc(nenv + 1, sizeof *p->envp);
	for (size_t i = 0; i < nenv; i++)
		p->envp[i] = xstrdup(env[i]);
	free(env);
	size_t npresent = 0;
	char **present = dagenv_present_denied(&npresent);
	wproto_init in = {
	    .memory_limit_mb = (uint32_t)p->memory_limit_mb,
	    .max_file_size = o->max_file_size,
	    .log_level = (int32_t)log_get_level(),
	    .catalog_files = (char **)o->catalog_files,
	    .ncatalog_files = o->ncatalog_files,
	    .unchecked = (char **)o->unchecked,
	    .nunchecked = o->nunchecked,
	    .pools = (char **)o->pools,
	    .npools = o->npools,
	    .strict_catalog = o->strict_catalog,
	    .env_deny = (char **)o->env_deny,
	    .nenv_deny = o->nenv_deny,
	    .env_allow = (char **)o->env_allow,
	    .nenv_allow = o->nenv_allow,
	    .env_present = present,
	    .nenv_present = npresent,
	};
	sb_init(&p->init_frame);
	wproto_encode_init(&p->init_frame, &in);
	dagenv_free_list(present);

	p->n = o->nworkers;
	p->w = xcalloc((size_t)p->n, sizeof(*p->w));
	for (int i = 0; i < p->n; i++) {
		p->w[i].index = i;
		p->w[i].fd = -1;
		p->w[i].state = W_DOWN;
	}
	for (int i = 0; i < p->n; i++) {
		if (spawn(p, &p->w[i]) != 0) {
			*err = xasprintf("cannot start worker processes: %s", strerror(errno));
			goto fail;
		}
	}
	log_debug("worker pool: %d workers, timeout %g s, memory limit %d MiB, binary %s", p->n,
	          p->timeout_s, p->memory_limit_mb, p->exe);
	return p;
fail:
	wpool_free(p);
	return NULL;
}

bool wpool_has_idle(const wpool *p)
{
	for (int i = 0; i < p->n; i++)
		if (p->w[i].state == W_IDLE)
			return true;
	return false;
}

int wpool_submit(wpool *p, uint64_t job_id, const char *path, const char *bundle_root)
{
	return wpool_submit_ex(p, job_id, path, bundle_root, 0);
}

int wpool_submit_ex(wpool *p, uint64_t job_id, const char *path, const char *bundle_root,
                    uint64_t expect_hash)
{
	for (int k = 0; k < p->n; k++) {
		wslot *w = &p->w[(p->next + k) % p->n];
		/* An idle worker that died since the last wpool_process (the
		 * kernel's OOM killer, an operator's kill) is noticed and replaced
		 * here, so that a file is not blamed for it. It has no job, so no
		 * callback runs from inside submit. */
		if (w->state == W_IDLE)
			pump_in(p, w);
		if (w->state != W_IDLE)
			continue;
		p->next = (w->index + 1) % p->n;
		wproto_encode_job(&w->out, job_id, path, bundle_root, expect_hash);
		w->has_job = true;
		w->job_id = job_id;
		w->job_path = xstrdup(path);
		w->job_started = clock_mono();
		set_state(w, W_BUSY);
		pump_out(w); /* a failure shows as EOF in wpool_process */
		return 0;
	}
	return -1;
}

int wpool_pollfds(wpool *p, struct pollfd *fds, int max)
{
	int k = 0;
	for (int i = 0; i < p->n && k < max; i++) {
		const wslot *w = &p->w[i];
		if (w->fd < 0 || (w->state != W_IDLE && w->state != W_BUSY))
			continue;
		fds[k].fd = w->fd;
		fds[k].events = (short)(POLLIN | (w->out_off < w->out.len ? POLLOUT : 0));
		fds[k].revents = 0;
		k++;
	}
	return k;
}

void wpool_process(wpool *p)
{
	for (int i = 0; i < p->n; i++) {
		wslot *w = &p->w[i];
		if (w->state == W_IDLE || w->state == W_BUSY) {
			if (w->out_off < w->out.len)
				pump_out(w);
			pump_in(p, w);
		}
		double now = clock_mono();
		if (w->state == W_BUSY && p->timeout_s > 0 &&
		    now - w->job_started >= p->timeout_s) {
			log_warn("parse of %s timed out after %g s; killing worker %d (pid %d)",
			         w->job_path, p->timeout_s, w->index, (int)w->pid);
			worker_fail(p, w, C_TIMEOUT, NULL);
		}
		if (w->state == W_DYING)
			try_reap(p, w);
		if (w->state == W_DOWN && clock_mono() >= w->respawn_at && spawn(p, w) == 0)
			p->st.restarts++;
	}
}

double wpool_next_deadline(const wpool *p)
{
	double now = clock_mono(), best = -1;
	for (int i = 0; i < p->n; i++) {
		const wslot *w = &p->w[i];
		double d = -1;
		if (w->state == W_BUSY && p->timeout_s > 0)
			d = w->job_started + p->timeout_s - now;
		else if (w->state == W_DYING)
			d = REAP_RETRY_S;
		else if (w->state == W_DOWN)
			d = w->respawn_at - now;
		else
			continue;
		if (d < 0)
			d = 0;
		if (best < 0 || d < best)
			best = d;
	}
	return best;
}

void wpool_stats(const wpool *p, struct wpool_stats *s)
{
	*s = p->st;
	s->idle = s->busy = s->down = 0;
	for (int i = 0; i < p->n; i++) {
		switch (p->w[i].state) {
		case W_IDLE:
			s->idle++;
			break;
		case W_BUSY:
			s->busy++;
			break;
		case W_DYING:
		case W_DOWN:
			s->down++;
			break;
		}
	}
}

pid_t wpool_worker_pid(const wpool *p, int i)
{
	return i >= 0 && i < p->n ? p->w[i].pid : 0;
}

void wpool_free(wpool *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->n; i++) {
		wslot *w = &p->w[i];
		if (w->pid > 0)
			kill(w->pid, SIGKILL);
		if (w->fd >= 0)
			close(w->fd);
	}
	for (int i = 0; i < p->n; i++) {
		wslot *w = &p->w[i];
		if (w->pid > 0) {
			int status;
			while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
				;
		}
		sb_free(&w->out);
		sb_free(&w->in);
		free(w->job_path);
		free(w->cause_detail);
	}
	if (p->devnull >= 0)
		close(p->devnull);
	sb_free(&p->init_frame);
	free(p->w);
	free(p->exe);
	for (size_t i = 0; p->envp && p->envp[i]; i++)
		free(p->envp[i]);
	free(p->envp);
	free(p);
}

void worker_result_free(dagfile_result *res)
{
	if (!res)
		return;
	dagfile_result_free(res);
	free(res);
}
