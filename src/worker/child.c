/* The worker process (`dagproc __worker`): reads the options, then parses one
 * file per request and answers with the whole result, until EOF. */
#include "worker/worker.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dagfile/catalog.h"
#include "dagfile/dagenv.h"
#include "log/log.h"
#include "util/xalloc.h"
#include "worker/proto.h"

/* RLIMIT_AS cannot coexist with ASan/TSan/MSan, which reserve terabytes of
 * shadow address space: in those builds the limit is not set and the
 * "alloc:" test hook enforces it by counting. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define WORKER_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||                         \
    __has_feature(memory_sanitizer)
#define WORKER_SANITIZED 1
#endif
#endif
#ifndef WORKER_SANITIZED
#define WORKER_SANITIZED 0
#endif

#define OUT_BUF_KEEP (16u << 20) /* a send buffer above this is released after use */
#define HOOK_ENV     "DAGPROC_TEST_WORKER_HOOK"

/* xmalloc reports an allocation failure with abort(); malloc has just set
 * errno to ENOMEM. That is how an out-of-memory death is told apart from any
 * other abort, and reported to the parent with its own exit status. */
static void on_abort(int sig)
{
	if (errno == ENOMEM)
		_exit(WORKER_EXIT_OOM);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Runs one test hook action (name, name_len) for a path that matched. */
static void run_hook(const char *name, size_t name_len, const char *path, uint32_t memory_limit_mb,
                     bool *hold)
{
	if (name_len == 5 && memcmp(name, "sleep", 5) == 0) {
		/* Said so that a test can tell which worker holds which file. */
		log_info("test hook: worker pid %ld sleeps on %s", (long)getpid(), path);
		for (;;)
			pause();
	} else if (name_len == 4 && memcmp(name, "hold", 4) == 0) {
		/* A parse of a version of the file whose first line is "# hold"
		 * keeps its result, once parsed, while PATH.hold exists (60 s at
		 * most): a test can make an old version's result arrive after a
		 * newer one's (hold_result below). */
		char head[8] = "";
		FILE *f = fopen(path, "r");
		if (f) {
			size_t got = fread(head, 1, 6, f);
			head[got] = '\0';
			fclose(f);
		}
		if (strcmp(head, "# hold") == 0)
			*hold = true;
	} else if (name_len == 5 && memcmp(name, "crash", 5) == 0) {
		errno = 0;
		abort();
	} else if (name_len == 5 && memcmp(name, "alloc", 5) == 0) {
		/* Touch every block so the memory is real; chain them so nothing
		 * is optimised away. Without a kernel limit (sanitizer builds, or
		 * no limit set) stop at the limit, or 1 GiB, by counting. */
		size_t cap = memory_limit_mb ? (size_t)memory_limit_mb << 20 : (size_t)1 << 30;
		bool counted = WORKER_SANITIZED || memory_limit_mb == 0;
		void **head = NULL;
		for (size_t total = 0;; total += 1u << 20) {
			if (counted && total >= cap) {
				errno = ENOMEM;
				abort();
			}
			void **blk = xmalloc(1u << 20);
			memset(blk, 0xa5, 1u << 20);
			blk[0] = head;
			head = blk;
		}
	}
}

/* The test hook: "sleep:<substr>", "hold:<substr>", "crash:<substr>", "alloc:<substr>",
 * comma-separated. Only read from the environment, so it does nothing unless
 * a test sets it. */
static void run_hooks(const char *path, uint32_t memory_limit_mb, bool *hold)
{
	const char *spec = getenv(HOOK_ENV);
	if (!spec)
		return;
	for (const char *tok = spec; *tok;) {
		const char *end = strchr(tok, ',');
		size_t len = end ? (size_t)(end - tok) : strlen(tok);
		const char *colon = memchr(tok, ':', len);
		if (colon) {
			char *sub = xstrndup(colon + 1, len - (size_t)(colon + 1 - tok));
			bool hit = *sub && strstr(path, sub);
			free(sub);
			if (hit)
				run_hook(tok, (size_t)(colon - tok), path, memory_limit_mb, hold);
		}
		tok += len + (end ? 1 : 0);
	}
}

/* The "hold" test hook, after the parse: waits while PATH.hold exists. */
static void hold_result(const char *path)
{
	char *flag = xasprintf("%s.hold", path);
	log_info("test hook: worker pid %ld holds %s", (long)getpid(), path);
	for (int i = 0; i < 1200 && access(flag, F_OK) == 0; i++)
		usleep(50000);
	free(flag);
}

static void set_limits(uint32_t memory_limit_mb)
{
	struct rlimit core = {0, 0};
	setrlimit(RLIMIT_CORE, &core);
	if (memory_limit_mb == 0 || WORKER_SANITIZED)
		return;
	rlim_t bytes = (rlim_t)memory_limit_mb << 20;
	struct rlimit as = {bytes, bytes};
	if (setrlimit(RLIMIT_AS, &as) != 0)
		log_warn("worker: cannot set the memory limit to %u MiB: %s", memory_limit_mb,
		         strerror(errno));
}

int worker_child_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	int rc = 1;
	int fd = WORKER_FD;
	catalog *cat = NULL;
	char *cat_err = NULL;
	wproto_init init;
	memset(&init, 0, sizeof(init));
	strbuf in, out;
	sb_init(&in);
	sb_init(&out);

	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
		fputs("dagproc __worker: internal command, started by `dagproc run`\n", stderr);
		return 2;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_abort;
	sigaction(SIGABRT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN); /* a vanished parent is EPIPE, then a clean exit */

	int r = wproto_read_frame(fd, &in);
	if (r <= 0 || wproto_decode_init(in.data, in.len, &init) != 0) {
		if (r != 0)
			log_error("worker: bad options frame from the daemon");
		rc = r == 0 ? 0 : 1;
		goto out;
	}
	if (init.log_level >= LOG_DEBUG && init.log_level <= LOG_ERROR)
		log_set_level((enum log_level)init.log_level);
	set_limits(init.memory_limit_mb);
	dagenv_configure((const char *const *)init.env_deny, init.nenv_deny,
	                 (const char *const *)init.env_allow, init.nenv_allow);
	dagenv_add_present((const char *const *)init.env_present, init.nenv_present);

	/* the catalog is loaded for the first file, not at start: a restart
	 * over unchanged files parses nothing and need not pay for it */
	bool cat_tried = false;
	uint64_t options_hash = dagfile_options_hash(
	    (const char *const *)init.catalog_files, init.ncatalog_files,
	    (const char *const *)init.unchecked, init.nunchecked, init.strict_catalog,
	    (const char *const *)init.pools, init.npools, (size_t)init.max_file_size);
	for (;;) {
		r = wproto_read_frame(fd, &in);
		if (r == 0) {
			rc = 0;
			break;
		}
		wproto_job job;
		if (r < 0 || wproto_decode_job(in.data, in.len, &job) != 0) {
			log_error("worker: bad request from the daemon: %s",
			          r < 0 ? strerror(errno) : "malformed frame");
			break;
		}
		bool hold = false;
		run_hooks(job.path, init.memory_limit_mb, &hold);

		if (!cat_tried) {
			cat_tried = true;
			cat = catalog_load((const char *const *)init.catalog_files,
			                   init.ncatalog_files, &cat_err);
			if (cat) {
				catalog_set_unchecked(cat, (const char *const *)init.unchecked,
				                      init.nunchecked);
				catalog_set_strict(cat, init.strict_catalog);
			} else {
				log_error("worker: %s",
				          cat_err ? cat_err : "cannot load the operator catalog");
			}
		}
		dagfile_result res;
		memset(&res, 0, sizeof(res));
		if (cat) {
			dagfile_opts o = {.cat = cat,
			                  .bundle_root = job.bundle_root,
			                  .pools = (const char *const *)init.pools,
			                  .npools = init.npools,
			                  .max_file_size = (size_t)init.max_file_size,
			                  .options_hash = options_hash,
			                  .expect_source_hash = job.expect_hash};
			dagfile_parse(job.path, &o, &res);
		} else {
			res.path = xstrdup(job.path);
			dagfile_add_error(&res, "E004", 0, 0, NULL,
			                  "worker cannot load the operator catalog: %s",
			                  cat_err ? cat_err : "unknown error");
		}
		if (hold)
			hold_result(job.path);
		out.len = 0;
		wproto_encode_result(&out, job.job_id, &res);
		if (out.len - WPROTO_HEADER > WPROTO_MAX_FRAME) {
			size_t big = out.len;
			dagfile_result_free(&res);
			res.path = xstrdup(job.path);
			dagfile_add_error(&res, "E004", 0, 0, NULL,
			                  "parse result too large (%zu MiB)", big >> 20);
			out.len = 0;
			wproto_encode_result(&out, job.job_id, &res);
		}
		dagfile_result_free(&res);
		wproto_job_free(&job);
		if (wproto_write_all(fd, out.data, out.len) != 0) {
			rc = errno == EPIPE ? 0 : 1;
			break;
		}
		if (out.cap > OUT_BUF_KEEP)
			sb_free(&out);
		if (in.cap > OUT_BUF_KEEP)
			sb_free(&in);
	}
out:
	catalog_free(cat);
	free(cat_err);
	wproto_init_free(&init);
	sb_free(&in);
	sb_free(&out);
	return rc;
}
