/* Logging: formats one record per line (text or JSON), masks URL passwords, and
 * writes it to the log stream under a mutex shared by all threads. */
#include "log/log.h"

#include "util/utf8.h"
#include "util/xalloc.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static _Atomic int g_level = LOG_INFO;
static _Atomic int g_format = LOG_FORMAT_TEXT;

/* Guards g_stream and the write itself. */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *g_stream;

static const char *const level_names[] = {"debug", "info", "warning", "error"};

void log_set_level(enum log_level level)
{
	if ((int)level < LOG_DEBUG || level > LOG_ERROR)
		level = LOG_INFO;
	atomic_store(&g_level, (int)level);
}

enum log_level log_get_level(void)
{
	return (enum log_level)atomic_load(&g_level);
}

bool log_enabled(enum log_level level)
{
	return (int)level >= atomic_load(&g_level);
}

void log_set_format(enum log_format format)
{
	atomic_store(&g_format, format == LOG_FORMAT_JSON ? LOG_FORMAT_JSON : LOG_FORMAT_TEXT);
}

void log_set_stream(FILE *stream)
{
	pthread_mutex_lock(&g_lock);
	g_stream = stream;
	pthread_mutex_unlock(&g_lock);
}

const char *log_level_name(enum log_level level)
{
	if ((int)level < LOG_DEBUG || level > LOG_ERROR)
		return "info";
	return level_names[level];
}

int log_level_parse(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (strcasecmp(name, "warn") == 0) {
		*out = LOG_WARNING;
		return 0;
	}
	return -1;
}

static bool is_scheme_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '.' || c == '-';
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Appends s to out with the password of every scheme://user:PASSWORD@ replaced
 * by "***". The password ends at the first '@', as the URL parser reads it. */
static void mask_url_passwords(strbuf *out, const char *s)
{
	const char *p = s;
	const char *mark;

	while ((mark = strstr(p, "://")) != NULL) {
		const char *scheme = mark;
		while (scheme > s && is_scheme_char(scheme[-1]))
			scheme--;
		const char *user = mark + 3;
		const char *q = user;
		while (*q && *q != ':' && *q != '/' && *q != '@' && !is_space(*q))
			q++;
		bool is_url = scheme < mark && ((*scheme >= 'a' && *scheme <= 'z') ||
		                                (*scheme >= 'A' && *scheme <= 'Z'));
		if (is_url && *q == ':') {
			const char *pw = q + 1;
			const char *e = pw;
			while (*e && *e != '@' && !is_space(*e))
				e++;
			if (*e == '@' && e > pw) {
				sb_add(out, p, (size_t)(pw - p));
				sb_adds(out, "***");
				p = e;
				continue;
			}
		}
		sb_add(out, p, (size_t)(user - p));
		p = user;
	}
	sb_adds(out, p);
}

char *log_mask(const char *s)
{
	strbuf out;
	sb_init(&out);
	mask_url_passwords(&out, s ? s : "");
	return sb_detach(&out);
}

/* A JSON string literal; invalid UTF-8 bytes become U+FFFD so the line
 * always parses, whatever bytes a file name or a DAG file contained. */
static void json_string(strbuf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *end = p + strlen(s);
	sb_addc(b, '"');
	while (*p) {
		unsigned char c = *p;
		if (c == '"' || c == '\\') {
			sb_addc(b, '\\');
			sb_addc(b, (char)c);
			p++;
		} else if (c == '\n') {
			sb_adds(b, "\\n");
			p++;
		} else if (c == '\r') {
			sb_adds(b, "\\r");
			p++;
		} else if (c == '\t') {
			sb_adds(b, "\\t");
			p++;
		} else if (c < 0x20 || c == 0x7F) {
			sb_printf(b, "\\u%04x", c);
			p++;
		} else {
			size_t n = utf8_decode(p, (size_t)(end - p), NULL);
			if (n == 0) {
				sb_adds(b, "\\ufffd");
				p++;
			} else {
				sb_add(b, (const char *)p, n);
				p += n;
			}
		}
	}
	sb_addc(b, '"');
}

/* Appends c, escaped if it is a control character. */
static void text_char(strbuf *b, unsigned char c)
{
	if (c == '\n')
		sb_adds(b, "\\n");
	else if (c == '\r')
		sb_adds(b, "\\r");
	else if (c == '\t')
		sb_adds(b, "\\t");
	else if (c < 0x20 || c == 0x7F)
		sb_printf(b, "\\x%02x", c);
	else
		sb_addc(b, (char)c);
}

/* The message of a text record: control characters escaped, one line. */
static void text_escaped(strbuf *b, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		text_char(b, *p);
}

/* A logfmt value: bare when safe, otherwise double-quoted with escapes. */
static void text_value(strbuf *b, const char *s)
{
	bool quote = *s == '\0';
	for (const unsigned char *p = (const unsigned char *)s; *p && !quote; p++) {
		if (*p <= ' ' || *p == '"' || *p == '=' || *p == 0x7F)
			quote = true;
	}
	if (!quote) {
		sb_adds(b, s);
		return;
	}
	sb_addc(b, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			sb_addc(b, '\\');
		text_char(b, *p);
	}
	sb_addc(b, '"');
}

static void timestamp(char *buf, size_t n)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t len = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + len, n - len, ".%03ldZ", ts.tv_nsec / 1000000L);
}

/* The shortest of %.15g and %.17g that reads back as the same double. */
static void add_double(strbuf *b, double d)
{
	char buf[40];
	snprintf(buf, sizeof(buf), "%.15g", d);
	if (strtod(buf, NULL) != d)
		snprintf(buf, sizeof(buf), "%.17g", d);
	sb_adds(b, buf);
}

static bool reserved_key(const char *k)
{
	return strcmp(k, "ts") == 0 || strcmp(k, "level") == 0 || strcmp(k, "msg") == 0;
}

/* Caller holds g_lock. */
static void emit_locked(enum log_level level, const char *msg, const struct log_field *f, size_t n)
{
	char ts[40];
	strbuf b;
	bool json = atomic_load(&g_format) == LOG_FORMAT_JSON;
	char *m = log_mask(msg);

	timestamp(ts, sizeof(ts));
	sb_init(&b);
	if (json) {
		sb_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts,
		          log_level_name(level));
		json_string(&b, m);
	} else {
		sb_printf(&b, "%s %-5s ", ts, log_level_name(level));
		text_escaped(&b, m);
	}
	free(m);

	for (size_t i = 0; i < n; i++) {
		const char *key = f[i].key ? f[i].key : "field";
		char *k = reserved_key(key) ? xasprintf("_%s", key) : xstrdup(key);
		char *val = NULL;
		if (json) {
			sb_addc(&b, ',');
			json_string(&b, k);
			sb_addc(&b, ':');
		} else {
			sb_addc(&b, ' ');
			text_escaped(&b, k);
			sb_addc(&b, '=');
		}
		switch (f[i].type) {
		case LOG_FIELD_STR:
			if (!f[i].v.s) {
				sb_adds(&b, json ? "null" : "\"\"");
				break;
			}
			val = log_mask(f[i].v.s);
			if (json)
				json_string(&b, val);
			else
				text_value(&b, val);
			break;
		case LOG_FIELD_INT:
			sb_printf(&b, "%lld", f[i].v.i);
			break;
		case LOG_FIELD_DBL:
			if (isfinite(f[i].v.d))
				add_double(&b, f[i].v.d);
			else
				sb_adds(&b, json ? "null" : "nan");
			break;
		case LOG_FIELD_BOOL:
			sb_adds(&b, f[i].v.b ? "true" : "false");
			break;
		}
		free(val);
		free(k);
	}
	if (json)
		sb_addc(&b, '}');
	sb_addc(&b, '\n');

	FILE *out = g_stream ? g_stream : stderr;
	fwrite(b.data, 1, b.len, out);
	fflush(out);
	sb_free(&b);
}

void log_fields(enum log_level level, const char *msg, const struct log_field *fields, size_t n)
{
	if (!log_enabled(level))
		return;
	pthread_mutex_lock(&g_lock);
	emit_locked(level, msg ? msg : "", fields, n);
	pthread_mutex_unlock(&g_lock);
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	if (!log_enabled(level))
		return;
	strbuf b;
	sb_init(&b);
	sb_vprintf(&b, fmt, ap);
	pthread_mutex_lock(&g_lock);
	emit_locked(level, b.data ? b.data : "", NULL, 0);
	pthread_mutex_unlock(&g_lock);
	sb_free(&b);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}
