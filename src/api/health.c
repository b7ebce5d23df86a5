/* Health: Airflow's /api/v2/monitor/health document, the Kubernetes-style probes
 * /livez (the main loop turns; never the database) and /readyz (database reachable,
 * nothing pending), and /metrics in Prometheus text format. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/srv.h"
#include "status/health.h"
#include "util/clock.h"

#define LIVE_MAX_AGE      HEALTH_LIVE_MAX_AGE /* s: heartbeat older = not live */
#define PROCESSOR_MAX_AGE 60.0                /* s: dag_processor heartbeat older = unhealthy */
#define COUNTS_TTL        5.0 /* s: DB-derived gauges are refreshed at most this often */

static void iso_epoch(double t, char *buf, size_t len)
{
	time_t s = (time_t)t;
	struct tm tm;
	gmtime_r(&s, &tm);
	char base[32];
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%06ldZ", base, (long)((t - (double)s) * 1e6));
}

/* "2026-01-02T03:04:05.123Z" -> epoch seconds, or 0 */
static double parse_iso(const char *s)
{
	struct tm tm = {0};
	const char *rest = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	if (!rest)
		return 0;
	return (double)timegm(&tm);
}

MHD_RESULT api_health(struct MHD_Connection *conn)
{
	bool db_ok = api_db_ping(NULL, 0, NULL);
	json_t *dp = json_object();
	if (api_srv.proc) {
		proc_stats s;
		api_srv.proc->snapshot(api_srv.proc->ctx, &s);
		char hb[64];
		iso_epoch(s.heartbeat, hb, sizeof(hb));
		bool ok = clock_epoch() - s.heartbeat < LIVE_MAX_AGE;
		json_object_set_new(dp, "status", json_string(ok ? "healthy" : "unhealthy"));
		json_object_set_new(dp, "latest_dag_processor_heartbeat", json_string(hb));
	} else {
		/* `dagproc serve`: a processor elsewhere may record its heartbeat */
		char *hb = NULL;
		if (db_ok) {
			store_conn *c = NULL;
			api_status st = {0};
			if (api_acquire(&c, &st) == 0) {
				if (api_read_processor_heartbeat(c, &hb, &st) != 0)
					hb = NULL;
				api_release(c, &st);
			}
		}
		bool ok = hb && clock_epoch() - parse_iso(hb) < PROCESSOR_MAX_AGE;
		json_object_set_new(dp, "status", json_string(ok ? "healthy" : "unhealthy"));
		json_object_set_new(dp, "latest_dag_processor_heartbeat",
		                    hb ? json_string(hb) : json_null());
		free(hb);
	}
	/* beyond Airflow's document: every processor sharing the database */
	json_t *procs = NULL;
	if (db_ok) {
		store_conn *c = NULL;
		api_status st = {0};
		api_query q;
		api_query_init(&q);
		q.limit = 100;
		json_t *list = NULL;
		if (api_acquire(&c, &st) == 0) {
			if (api_read_processors(c, &q, &list, &st) == 0)
				procs = json_incref(json_object_get(list, "dag_processors"));
			json_decref(list);
			api_release(c, &st);
		}
	}
	json_t *doc =
	    json_pack("{s:{s:s}, s:n, s:n, s:o, s:o}", "metadatabase", "status",
	              db_ok ? "healthy" : "unhealthy", "scheduler", "triggerer", "dag_processor",
	              dp, "dag_processors", procs ? procs : json_array());
	return api_send_json(conn, 200, doc);
}

static MHD_RESULT text(struct MHD_Connection *conn, int status, const char *s)
{
	char *body = xasprintf("%s\n", s);
	return api_send(conn, status, "text/plain; charset=utf-8", body, strlen(body));
}

MHD_RESULT api_livez(struct MHD_Connection *conn)
{
	if (!api_srv.proc)
		return text(conn, 200, "ok");
	proc_stats s;
	api_srv.proc->snapshot(api_srv.proc->ctx, &s);
	double age = clock_epoch() - s.heartbeat;
	if (age < LIVE_MAX_AGE)
		return text(conn, 200, "ok");
	char msg[128];
	snprintf(msg, sizeof(msg), "main loop heartbeat is %.0f s old", age);
	return text(conn, 503, msg);
}

MHD_RESULT api_readyz(struct MHD_Connection *conn)
{
	char err[400];
	double down_since = 0;
	bool ok = api_db_ping(err, sizeof(err), &down_since);
	strbuf why;
	sb_init(&why);
	proc_stats s;
	if (api_srv.proc)
		api_srv.proc->snapshot(api_srv.proc->ctx, &s);
	health_ready_why(api_srv.proc ? &s : NULL, ok, err, down_since, clock_epoch(), &why);
	MHD_RESULT r = why.len ? text(conn, 503, why.data) : text(conn, 200, "ok");
	sb_free(&why);
	return r;
}

/* The DB-derived gauges, refreshed at most every COUNTS_TTL seconds. */
static bool cached_counts(api_counts *out)
{
	pthread_mutex_lock(&api_srv.mu);
	bool fresh = api_srv.counts_at > 0 && clock_mono() - api_srv.counts_at < COUNTS_TTL;
	bool have = api_srv.counts_at > 0;
	*out = api_srv.counts;
	pthread_mutex_unlock(&api_srv.mu);
	if (fresh)
		return true;
	store_conn *c = NULL;
	api_status st = {0};
	api_counts n = {0};
	if (api_acquire(&c, &st) != 0)
		return have;
	int rc = api_read_counts(c, &n, &st);
	api_release(c, &st);
	if (rc != 0)
		return have;
	pthread_mutex_lock(&api_srv.mu);
	api_srv.counts = n;
	api_srv.counts_at = clock_mono();
	pthread_mutex_unlock(&api_srv.mu);
	*out = n;
	return true;
}

static void metric(strbuf *b, const char *name, const char *type, const char *help, double v)
{
	sb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
	if (isnan(v))
		sb_printf(b, "%s NaN\n", name);
	else
		sb_printf(b, "%s %.17g\n", name, v);
}

MHD_RESULT api_metrics(struct MHD_Connection *conn)
{
	strbuf b;
	sb_init(&b);
	api_counts n;
	bool have = cached_counts(&n);
	bool ping = api_db_ping(NULL, 0, NULL);
	proc_stats s;
	memset(&s, 0, sizeof(s));
	bool proc = api_srv.proc != NULL;
	if (proc)
		api_srv.proc->snapshot(api_srv.proc->ctx, &s);
	double now = clock_epoch();

	metric(&b, "dagproc_files", "gauge", "DAG files known",
	       proc   ? (double)s.files
	       : have ? (double)n.files
	              : NAN);
	metric(&b, "dagproc_dags", "gauge", "non-stale DAGs in the database",
	       have ? (double)n.dags : NAN);
	metric(&b, "dagproc_tasks", "gauge", "tasks of the parsed files",
	       have ? (double)n.tasks : NAN);
	metric(&b, "dagproc_import_errors", "gauge", "import_error rows",
	       have ? (double)n.import_errors : NAN);
	metric(&b, "dagproc_dag_warnings", "gauge", "dag_warning rows",
	       have ? (double)n.warnings : NAN);
	metric(&b, "dagproc_database_up", "gauge",
	       "1 when the database answers (and the writer's last attempt succeeded)",
	       ping && (!proc || s.db_down_since == 0) ? 1 : 0);
	if (proc) {
		sb_adds(&b, "# HELP dagproc_parse_duration_seconds time to parse one file\n"
		            "# TYPE dagproc_parse_duration_seconds histogram\n");
		uint64_t cum = 0;
		for (int i = 0; i < PROC_HIST_BUCKETS; i++) {
			cum += s.parse_hist[i];
			if (i < PROC_HIST_BUCKETS - 1)
				sb_printf(&b,
				          "dagproc_parse_duration_seconds_bucket{le=\"%g\"} %llu\n",
				          proc_hist_bounds[i], (unsigned long long)cum);
			else
				sb_printf(
				    &b, "dagproc_parse_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
				    (unsigned long long)cum);
		}
		sb_printf(&b, "dagproc_parse_duration_seconds_sum %.9g\n", s.parse_sum);
		sb_printf(&b, "dagproc_parse_duration_seconds_count %llu\n",
		          (unsigned long long)cum);
		metric(&b, "dagproc_files_parsed_total", "counter", "parse results received",
		       (double)s.files_parsed);
		metric(&b, "dagproc_parse_errors_total", "counter",
		       "parse results with import errors", (double)s.parse_errors);
		metric(&b, "dagproc_worker_restarts_total", "counter", "worker processes replaced",
		       (double)s.worker_restarts);
		metric(&b, "dagproc_worker_timeouts_total", "counter", "parses that timed out",
		       (double)s.worker_timeouts);
		metric(&b, "dagproc_worker_crashes_total", "counter", "workers that died",
		       (double)s.worker_crashes);
		metric(&b, "dagproc_watched_folders", "gauge",
		       "folders watched with inotify (0 when watching is off)",
		       (double)s.watched_folders);
		metric(&b, "dagproc_watch_limit_reached", "gauge",
		       "1 when fs.inotify.max_user_watches was reached: some folders are only "
		       "seen by the refresh_interval rescan",
		       s.watch_limit_hit ? 1 : 0);
		metric(&b, "dagproc_watch_overflows_total", "counter",
		       "inotify queue overflows (each ran a full rescan)",
		       (double)s.watch_overflows);
		metric(&b, "dagproc_full_scans_total", "counter",
		       "full rescans of the bundles (start, refresh_interval, overflows)",
		       (double)s.full_scans);
		metric(&b, "dagproc_db_write_attempts_total", "counter", "write transactions tried",
		       (double)s.write_attempts);
		sb_adds(&b, "# HELP dagproc_db_write_failures_total failed write transactions\n"
		            "# TYPE dagproc_db_write_failures_total counter\n");
		sb_printf(&b, "dagproc_db_write_failures_total{class=\"transient\"} %llu\n",
		          (unsigned long long)s.write_transient);
		sb_printf(&b, "dagproc_db_write_failures_total{class=\"permanent\"} %llu\n",
		          (unsigned long long)s.write_permanent);
		sb_printf(&b, "dagproc_db_write_failures_total{class=\"refused\"} %llu\n",
		          (unsigned long long)s.write_refused);
		metric(&b, "dagproc_db_refuses_writes", "gauge",
		       "1 while the database refuses writes (read-only, full, permission, schema)",
		       s.db_refused ? 1 : 0);
		metric(&b, "dagproc_db_write_retries_total", "counter",
		       "writes retried after a transient failure", (double)s.write_transient);
		metric(&b, "dagproc_pending_results", "gauge",
		       "parse results waiting for the writer", (double)s.pending);
		metric(&b, "dagproc_queued_files", "gauge", "files waiting for a worker",
		       (double)s.queued);
		metric(&b, "dagproc_seconds_since_last_write", "gauge",
		       "seconds since the last successful write (NaN: none yet)",
		       s.last_write_ok > 0 ? now - s.last_write_ok : NAN);
		metric(&b, "dagproc_heartbeat_age_seconds", "gauge",
		       "age of the main loop heartbeat", now - s.heartbeat);
	}
	pool_stats ps;
	pool_get_stats(api_srv.pool, &ps);
	metric(&b, "dagproc_api_pool_connections_opened_total", "counter",
	       "connections opened by the API's read pool", (double)ps.opened);
	metric(&b, "dagproc_api_pool_timeouts_total", "counter",
	       "API requests that found no free connection", (double)ps.timeouts);
	char *body = sb_detach(&b);
	return api_send(conn, 200, "text/plain; version=0.0.4; charset=utf-8", body, strlen(body));
}
