/* Readiness in words, and the status file of a running processor. */
#include "status/health.h"

#include "util/utf8.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void health_ready_why(const proc_stats *s, bool ping_ok, const char *ping_err,
                      double ping_down_since, double now, strbuf *why)
{
	size_t start = why->len;
	if (!ping_ok) {
		if (s && s->db_down_since > 0 &&
		    (ping_down_since <= 0 || s->db_down_since < ping_down_since))
			ping_down_since = s->db_down_since;
		sb_printf(why, "database unreachable for %.0f s: %s",
		          ping_down_since > 0 ? now - ping_down_since : 0.0,
		          ping_err ? ping_err : "");
	} else if (s && !s->db_up) {
		if (s->db_down_since > 0)
			sb_printf(why, "%s for %.0f s: %s",
			          s->db_schema    ? "database tables not dagproc's schema"
			          : s->db_refused ? "database refuses writes"
			                          : "database writes failing",
			          now - s->db_down_since, s->db_error);
		else
			sb_adds(why, "no database write yet");
	}
	if (s && !s->synced)
		sb_printf(why, "%sfirst sync in progress: %zu file%s to parse",
		          why->len > start ? "; " : "", s->queued + s->parsing,
		          s->queued + s->parsing == 1 ? "" : "s");
	if (s && s->pending > 0)
		sb_printf(why, "%s%zu result%s pending", why->len > start ? "; " : "", s->pending,
		          s->pending == 1 ? "" : "s");
	for (size_t i = start; i < why->len; i++) /* one line, whatever the driver said */
		if (why->data[i] == '\n' || why->data[i] == '\r' || why->data[i] == '\t')
			why->data[i] = ' ';
}

/* 3210 -> "3,210" */
static void thousands(char *out, size_t len, unsigned long long v)
{
	char digits[32];
	int n = snprintf(digits, sizeof(digits), "%llu", v);
	size_t o = 0;
	for (int i = 0; i < n && o + 1 < len; i++) {
		if (i && (n - i) % 3 == 0 && o + 2 < len)
			out[o++] = ',';
		out[o++] = digits[i];
	}
	out[o] = '\0';
}

void health_words(const proc_stats *s, double now, char *buf, size_t len)
{
	strbuf b;
	sb_init(&b);
	char files[32];
	thousands(files, sizeof(files), s->files);
	sb_printf(&b, "%s DAG file%s", files, s->files == 1 ? "" : "s");
	if (!s->db_up && s->db_down_since > 0)
		sb_printf(&b, ", database %s for %.0f s: %s",
		          s->db_schema    ? "tables not dagproc's schema"
		          : s->db_refused ? "refuses writes"
		                          : "unreachable",
		          now - s->db_down_since, s->db_error);
	else if (!s->db_up)
		sb_adds(&b, ", connecting to the database");
	if (!s->synced)
		sb_printf(&b, ", first sync: %zu to parse", s->queued + s->parsing);
	if (s->pending) {
		char pend[32];
		thousands(pend, sizeof(pend), s->pending);
		sb_printf(&b, ", %s result%s pending", pend, s->pending == 1 ? "" : "s");
	} else if (s->synced && s->db_up) {
		sb_adds(&b, ", in sync");
	}
	for (size_t i = 0; i < b.len; i++)
		if (b.data[i] == '\n' || b.data[i] == '\r' || b.data[i] == '\t')
			b.data[i] = ' ';
	snprintf(buf, len, "%s", b.data ? b.data : "");
	sb_free(&b);
}

/* src as valid UTF-8 (jansson refuses anything else): bytes that are not
 * become '?' (a driver's message in another encoding, or cut mid-character) */
static void utf8_clean(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src), o = 0;
	for (size_t i = 0; i < n && o + 4 < cap;) {
		size_t k = utf8_decode((const unsigned char *)src + i, n - i, NULL);
		if (k == 0) {
			dst[o++] = '?';
			i++;
			continue;
		}
		memcpy(dst + o, src + i, k);
		o += k;
		i += k;
	}
	dst[o] = '\0';
}

int health_file_write(const char *path, const proc_stats *s, const char *instance)
{
	char db_error[sizeof(s->db_error)], inst[256];
	utf8_clean(db_error, sizeof db_error, s->db_error);
	utf8_clean(inst, sizeof inst, instance ? instance : "");
	json_t *o = json_pack(
	    "{s:I, s:s, s:f, s:f, s:b, s:b, s:b, s:f, s:s, s:b, s:I, s:I, s:I, s:I}", "pid",
	    (json_int_t)getpid(), "instance", inst, "started_at", s->started_at, "heartbeat",
	    s->heartbeat, "db_up", s->db_up, "db_refused", s->db_refused, "db_schema", s->db_schema,
	    "db_down_since", s->db_down_since, "db_error", db_error, "synced", s->synced, "files",
	    (json_int_t)s->files, "pending", (json_int_t)s->pending, "queued",
	    (json_int_t)s->queued, "parsing", (json_int_t)s->parsing);
	if (!o) {
		errno = EINVAL;
		return -1;
	}
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!text) {
		errno = ENOMEM;
		return -1;
	}
	/* a temporary name nobody can guess or plant a link at (the default
	 * folder is /tmp), made readable for the probes, then renamed over */
	char *tmp = xasprintf("%s.XXXXXX", path);
	int rc = -1, fd = mkostemp(tmp, O_CLOEXEC);
	if (fd >= 0 && fchmod(fd, 0644) != 0) {
		int e = errno;
		close(fd);
		unlink(tmp);
		fd = -1;
		errno = e;
	}
	if (fd >= 0) {
		size_t n = strlen(text);
		bool ok = write(fd, text, n) == (ssize_t)n && write(fd, "\n", 1) == 1;
		ok = close(fd) == 0 && ok;
		if (ok && rename(tmp, path) == 0)
			rc = 0;
		if (rc != 0) {
			int e = errno;
			unlink(tmp);
			errno = e;
		}
	}
	free(tmp);
	free(text);
	return rc;
}

static double num(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_number(v) ? json_number_value(v) : 0;
}

int health_file_read(const char *path, proc_stats *s, long *pid, char **instance, char **err)
{
	memset(s, 0, sizeof(*s));
	*instance = NULL;
	*pid = 0;
	json_error_t je;
	json_t *o = json_load_file(path, 0, &je);
	if (!o) {
		*err = access(path, F_OK) != 0
		           ? xasprintf("no status file %s: no processor running here (%s)", path,
		                       strerror(errno))
		           : xasprintf("%s: not a status file: %s", path, je.text);
		return -1;
	}
	if (!json_is_object(o) || !json_is_integer(json_object_get(o, "pid")) ||
	    !json_is_number(json_object_get(o, "heartbeat"))) {
		json_decref(o);
		*err = xasprintf("%s: not a status file", path);
		return -1;
	}
	*pid = (long)json_integer_value(json_object_get(o, "pid"));
	const char *inst = json_string_value(json_object_get(o, "instance"));
	*instance = xstrdup(inst ? inst : "");
	s->started_at = num(o, "started_at");
	s->heartbeat = num(o, "heartbeat");
	s->db_up = json_is_true(json_object_get(o, "db_up"));
	s->db_refused = json_is_true(json_object_get(o, "db_refused"));
	s->db_schema = json_is_true(json_object_get(o, "db_schema"));
	s->db_down_since = num(o, "db_down_since");
	const char *e = json_string_value(json_object_get(o, "db_error"));
	snprintf(s->db_error, sizeof(s->db_error), "%s", e ? e : "");
	s->synced = json_is_true(json_object_get(o, "synced"));
	s->files = (size_t)num(o, "files");
	s->pending = (size_t)num(o, "pending");
	s->queued = (size_t)num(o, "queued");
	s->parsing = (size_t)num(o, "parsing");
	json_decref(o);
	return 0;
}

char *health_file_path(const char *configured)
{
	if (configured && configured[0])
		return xstrdup(configured);
	const char *rt = getenv("RUNTIME_DIRECTORY");
	if (rt && rt[0]) {
		/* systemd may list several, separated by ':' */
		const char *colon = strchr(rt, ':');
		size_t n = colon ? (size_t)(colon - rt) : strlen(rt);
		return xasprintf("%.*s/dagproc.status", (int)n, rt);
	}
	return xstrdup("/tmp/dagproc.status");
}
