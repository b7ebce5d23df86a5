/* The daemon's start and stop: one poll loop (loop.c) feeding the pending
 * table (pending.c), and one writer thread (writer.c) draining it into the
 * database with retries and backoff. Nothing on the main loop waits for the
 * database. */
#include "processor/proc_int.h"

#include "status/health.h"
#include "status/notify.h"
#include "processor/single.h"

#include "api/api.h"
#include "dagfile/dagenv.h"

static void processor_free(processor *p)
{
	stop_writer(p);
	if (p->writer_abandoned) {
		/* only what the writer cannot touch; the process exits next */
		if (p->wpool)
			wpool_free(p->wpool);
		return;
	}
	if (p->wpool)
		wpool_free(p->wpool);
	for (size_t i = 0; i < p->njobs; i++) {
		free(p->jobs[i].bundle);
		free(p->jobs[i].rel);
	}
	free(p->jobs);
	if (p->db)
		pool_destroy(p->db);
	db_url_free(&p->url);
	for (size_t i = 0; i < p->npend; i++)
		pend_free(p->pend[i]);
	free(p->pend);
	strmap_free(&p->pidx);
	strmap_free(&p->gens);
	strmap_free(&p->reread);
	strmap_free(&p->fp);
	leases_free(p);
	for (size_t b = 0; b < p->nknown; b++) {
		strmap_free(&p->known[b]);
		free(p->known_bundles[b]);
	}
	free(p->known);
	free_snapshot(p->sweep, p->nknown);
	free(p->known_bundles);
	if (p->queue)
		queue_free(p->queue);
	if (p->scan)
		scan_free(p->scan);
	for (size_t i = 0; i < p->nrequests; i++)
		free(p->requests[i]);
	free(p->requests);
	for (size_t i = 0; i < p->nreparse; i++)
		free(p->reparse[i]);
	free(p->reparse);
	if (p->wakefd >= 0)
		close(p->wakefd);
	if (p->single_fd >= 0)
		close(p->single_fd); /* after the pool: no connection is left */
	free(p->instance);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->smu);
	free(p);
}

static void status_snapshot(void *ctx, proc_stats *out)
{
	proc_snapshot(ctx, out);
}

static int status_request(void *ctx, const char *bundle, const char *rel)
{
	return proc_request_parse(ctx, bundle, rel);
}

int processor_run(struct dagproc_config *cfg, const proc_opts *o)
{
	processor *p = xcalloc(1, sizeof(*p));
	p->cfg = cfg;
	p->opts = *o;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	pthread_mutex_init(&p->smu, NULL);
	p->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	p->single_fd = -1;
	p->status =
	    (status_source){.ctx = p, .snapshot = status_snapshot, .request_parse = status_request};
	if (cfg->dag_processor.instance_name && cfg->dag_processor.instance_name[0]) {
		p->instance = xstrdup(cfg->dag_processor.instance_name);
	} else {
		char host[256] = "";
		gethostname(host, sizeof(host) - 1);
		p->instance = xasprintf("%s:%d", host, (int)getpid());
	}
	p->st.started_at = clock_epoch();
	p->st.heartbeat = p->st.started_at;
	/* systemd's variables are read, and kept from the workers */
	notify_init();
	if (!o->once)
		p->status_path = health_file_path(cfg->dag_processor.status_file);
	int rc = 2;
	char *err = NULL;

	/* signals: handled on the loop through a signalfd; blocked everywhere else
	 * (threads created from here on inherit the mask) */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	int sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sigfd < 0) {
		log_error("signalfd: %s", strerror(errno));
		goto out;
	}

	/* database */
	if (store_params_from_url(cfg->database.sql_conn, cfg, &p->url, &p->params, &err) != 0) {
		log_error("[database] sql_conn: %s", err);
		goto out;
	}
	if (p->params.dialect == STORE_SQLITE && p->params.sqlite_path &&
	    strcmp(p->params.sqlite_path, ":memory:") != 0) {
		char *why = NULL;
		p->single_fd = proc_single_lock(p->params.sqlite_path, &why);
		if (p->single_fd < 0) {
			log_error("%s", why);
			free(why);
			goto out;
		}
	}
	/* several processors: no session holds locks longer than a lease (a
	 * paused processor's open transaction is ended by the server) */
	if (p->params.dialect != STORE_SQLITE) {
		int ls = cfg->dag_processor.lease_seconds;
		p->params.lock_timeout = ls / 3 > 1 ? ls / 3 : 1;
		p->params.idle_tx_timeout = ls / 2 > 1 ? ls / 2 : 1;
	}
	p->db = pool_create(&p->params);
	retry_policy_from_params(&p->retry, &p->params);
	leases_init(p);

	/* bundles */
	size_t nb = 1 + cfg->core.bundles.n;
	scan_bundle_cfg *bc = xcalloc(nb, sizeof(*bc));
	bc[0] = (scan_bundle_cfg){.name = "dags-folder", .root = cfg->core.dags_folder};
	for (size_t i = 0; i < cfg->core.bundles.n; i++)
		bc[i + 1] = (scan_bundle_cfg){.name = cfg->core.bundles.v[i].name,
		                              .root = cfg->core.bundles.v[i].path};
	p->scan = scan_new(bc, nb, cfg->dag_processor.watch && !o->once, &err);
	p->nknown = nb;
	p->known = xcalloc(nb, sizeof(strmap)); /* empty until the first scan */
	p->known_bundles = xcalloc(nb, sizeof(char *));
	for (size_t i = 0; i < nb; i++)
		p->known_bundles[i] = xstrdup(bc[i].name);
	free(bc);
	if (!p->scan) {
		log_error("%s", err);
		goto out;
	}
	p->queue = queue_new((queue_sort)cfg->dag_processor.file_parsing_sort_mode,
	                     cfg->dag_processor.min_file_process_interval, NULL);

	/* workers, and what of the environment DAG files see (before any parse) */
	dagenv_configure((const char *const *)cfg->core.dag_env_deny.v, cfg->core.dag_env_deny.n,
	                 (const char *const *)cfg->core.dag_env_allow.v, cfg->core.dag_env_allow.n);
	wpool_opts wo = {.nworkers = cfg->dag_processor.parsing_processes,
	                 .memory_limit_mb = cfg->dag_processor.worker_memory_limit,
	                 .timeout_s = cfg->dag_processor.dag_file_processor_timeout,
	                 .catalog_files = (const char *const *)cfg->core.operator_catalog.v,
	                 .ncatalog_files = cfg->core.operator_catalog.n,
	                 .unchecked = (const char *const *)cfg->core.unchecked_operator_modules.v,
	                 .nunchecked = cfg->core.unchecked_operator_modules.n,
	                 .pools = (const char *const *)cfg->core.pools.v,
	                 .npools = cfg->core.pools.n,
	                 .strict_catalog = cfg->core.strict_catalog,
	                 .max_file_size = (size_t)cfg->dag_processor.max_file_size << 20,
	                 .env_deny = (const char *const *)cfg->core.dag_env_deny.v,
	                 .nenv_deny = cfg->core.dag_env_deny.n,
	                 .env_allow = (const char *const *)cfg->core.dag_env_allow.v,
	                 .nenv_allow = cfg->core.dag_env_allow.n};
	p->wpool = wpool_new(&wo, on_done, p, &err);
	if (!p->wpool) {
		log_error("cannot start the workers: %s", err);
		goto out;
	}

	char *shown = db_url_redacted(cfg->database.sql_conn);
	log_info("dagproc processor starting: %zu bundle%s, %d workers, database %s%s", nb,
	         nb == 1 ? "" : "s", cfg->dag_processor.parsing_processes, shown,
	         o->once ? " (one pass)" : "");
	free(shown);

	p->options_hash = dagfile_options_hash(
	    (const char *const *)cfg->core.operator_catalog.v, cfg->core.operator_catalog.n,
	    (const char *const *)cfg->core.unchecked_operator_modules.v,
	    cfg->core.unchecked_operator_modules.n, cfg->core.strict_catalog,
	    (const char *const *)cfg->core.pools.v, cfg->core.pools.n,
	    (size_t)cfg->dag_processor.max_file_size << 20);
	/* the writer connects and reads the stored hashes while the scan runs */
	if (pthread_create(&p->writer, NULL, writer_main, p) != 0) {
		log_error("cannot start the writer thread");
		goto out;
	}
	p->writer_started = true;
	/* a probe during a long first scan sees a processor starting, not none */
	if (!o->once)
		health_tick(p, true);
	scan_full(p->scan, on_scan, p);
	strmap *first = snapshot_files(p);
	pthread_mutex_lock(&p->mu);
	free(p->known);
	p->known = first;
	p->known_ready = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	log_info("found %zu DAG files", scan_file_count(p->scan));

	p->once_deadline = clock_mono() + cfg->database.once_timeout;
	p->hold_until = clock_mono() + 2.0;
	if (cfg->api.enabled && !o->once && api_start(cfg, &p->status, &err) != 0) {
		log_error("%s", err);
		goto out; /* rc is 2 */
	}
	/* the first scan is done and the API listens: ready for systemd (the
	 * database may still be away: STATUS= says so) */
	if (!o->once) {
		health_tick(p, true);
		notify_send("READY=1");
	}

	rc = main_loop(p, sigfd);
	proc_stats s;
	proc_snapshot(p, &s);
	log_info("stopping: %llu files parsed, %llu not parsed (unchanged since the last run), "
	         "%llu written, %llu unchanged, %zu results pending; %llu statements (%llu writes)",
	         (unsigned long long)s.files_parsed, (unsigned long long)s.files_skipped,
	         (unsigned long long)s.files_written, (unsigned long long)s.files_unchanged,
	         s.pending, (unsigned long long)s.statements, (unsigned long long)s.writes);
out:
	free(err);
	if (sigfd >= 0)
		close(sigfd);
	api_stop(); /* before the processor it reads goes away */
	if (p->status_path) {
		/* a probe after the exit says "not running", not "heartbeat old";
		 * a processor that never wrote it (it could not start: another
		 * holds the database) leaves the running one's file alone */
		if (p->status_written)
			unlink(p->status_path);
		free(p->status_path);
		p->status_path = NULL;
	}
	processor_free(p);
	return rc;
}

int proc_request_parse(processor *p, const char *bundle, const char *rel)
{
	pthread_mutex_lock(&p->mu);
	p->requests = xrealloc(p->requests, (p->nrequests + 1) * sizeof(char *));
	p->requests[p->nrequests++] = pkey(bundle, rel);
	pthread_mutex_unlock(&p->mu);
	uint64_t one = 1;
	if (write(p->wakefd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -1;
	return 0;
}
