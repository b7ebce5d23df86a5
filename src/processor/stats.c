/* The counters: what the loop and the writer report, read by the API threads
 * (proc_snapshot) and by the logs; one place where the writer's state and
 * the database's reachability change. */
#include "processor/proc_int.h"

#include <errno.h>
#include <string.h>

#include "status/health.h"
#include "status/notify.h"

void stats_lock(processor *p)
{
	pthread_mutex_lock(&p->smu);
}

void stats_unlock(processor *p)
{
	pthread_mutex_unlock(&p->smu);
}

void proc_snapshot(const processor *p, proc_stats *out)
{
	processor *q = (processor *)p;
	stats_lock(q);
	*out = q->st;
	stats_unlock(q);
	pthread_mutex_lock(&q->mu);
	out->pending = q->npend + q->inflight;
	pthread_mutex_unlock(&q->mu);
}

static const char *const wstate_names[] = {"connecting", "idle", "writing", "backing off"};

/* The one place the writer's state changes. */
void writer_set_state(processor *p, writer_state s)
{
	stats_lock(p);
	if (p->st.wstate != s)
		log_debug("writer: %s -> %s", wstate_names[p->st.wstate], wstate_names[s]);
	p->st.wstate = s;
	stats_unlock(p);
}

/* Database reachability: logs one line per change of state (unreachable,
 * refusing writes), not per retry. */
void db_went_down(processor *p, const store_error *err, size_t pending)
{
	bool refused = err->cls == STORE_REFUSED;
	stats_lock(p);
	bool was_up = p->st.db_up || p->st.last_write_ok == 0;
	bool first = p->st.db_down_since == 0;
	bool changed = !first && p->st.db_refused != refused;
	snprintf(p->st.db_error, sizeof(p->st.db_error), "%s", err->message);
	p->st.db_refused = refused;
	p->st.db_schema = store_error_is_schema(err);
	if (first) {
		p->st.db_down_since = clock_epoch();
		p->st.db_up = false;
	}
	stats_unlock(p);
	if ((first && was_up) || changed)
		log_warn("%s: %s; %zu result%s pending",
		         refused ? "database refuses writes" : "database unreachable", err->message,
		         pending, pending == 1 ? "" : "s");
}

void db_came_back(processor *p, size_t files)
{
	stats_lock(p);
	double since = p->st.db_down_since;
	p->st.db_down_since = 0;
	p->st.db_up = true;
	p->st.db_refused = false;
	p->st.db_schema = false;
	p->st.db_error[0] = '\0';
	stats_unlock(p);
	if (since > 0)
		log_info("database back after %.1f s; wrote %zu file%s", clock_epoch() - since,
		         files, files == 1 ? "" : "s");
}

void record_write(processor *p, const sync_stats *s, bool ok, const store_error *err)
{
	stats_lock(p);
	p->st.write_attempts++;
	if (ok) {
		p->st.write_ok++;
		p->st.last_write_ok = clock_epoch();
		p->st.statements += s->statements;
		p->st.writes += s->writes;
		p->st.files_written += s->files_changed;
		p->st.files_unchanged += s->files_unchanged;
		p->st.isolated_failures += s->isolated_failures;
	} else if (err->cls == STORE_PERMANENT) {
		p->st.write_permanent++;
	} else if (err->cls == STORE_REFUSED) {
		p->st.write_refused++;
	} else {
		p->st.write_transient++;
	}
	stats_unlock(p);
}

void health_tick(processor *p, bool force)
{
	double now = clock_mono();
	if (notify_watchdog_interval() > 0 && (force || now >= p->next_watchdog)) {
		notify_send("WATCHDOG=1");
		p->next_watchdog = now + notify_watchdog_interval();
	}
	if (!force && now < p->next_health)
		return;
	p->next_health = now + 1.0;
	proc_stats s;
	proc_snapshot(p, &s);
	if (p->status_path) {
		if (health_file_write(p->status_path, &s, p->instance) != 0) {
			if (!p->status_failed)
				log_warn(
				    "status file %s not written: %s (dagproc healthcheck cannot "
				    "see this processor)",
				    p->status_path, strerror(errno));
			p->status_failed = true;
		} else {
			p->status_written = true;
			if (p->status_failed)
				log_info("status file %s written again", p->status_path);
			p->status_failed = false;
		}
	}
	if (notify_enabled()) {
		char words[sizeof(p->last_words)];
		health_words(&s, clock_epoch(), words, sizeof(words));
		/* sent when the words change: once a second during an outage (its
		 * seconds count), rarely otherwise */
		if (force || strcmp(words, p->last_words) != 0) {
			char *msg = xasprintf("STATUS=%s", words);
			notify_send(msg);
			free(msg);
			snprintf(p->last_words, sizeof(p->last_words), "%s", words);
		}
	}
}
