/* Logging: levels, one-line text or JSON records on stderr, and URL password masking.
 * Thread-safe: every record is formatted and written under one mutex. */
#ifndef DAGPROC_LOG_H
#define DAGPROC_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERROR };
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

/* Records below the level are dropped (default LOG_INFO). */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
bool log_enabled(enum log_level level);
/* LOG_FORMAT_TEXT (default): "2026-11-26T06:10:00.123Z info  message key=value".
 * LOG_FORMAT_JSON: {"ts":"...","level":"info","msg":"message","key":"value"}. */
void log_set_format(enum log_format format);
/* Where records go; NULL restores stderr. The stream is borrowed, not closed. */
void log_set_stream(FILE *stream);

/* "debug", "info", "warning", "error". */
const char *log_level_name(enum log_level level);
/* Case-insensitive; accepts "warn" for warning. Returns 0, or -1 if unknown. */
int log_level_parse(const char *name, enum log_level *out);

/* Secrets are not searched for in records: a password or token registered
 * here and replaced wherever its text appeared garbled the record and told
 * which letters it has. Instead every database URL is printed through
 * db_url_format (config/dburl.h), and, as a safety net, the password of
 * anything shaped like scheme://user:PASSWORD@ in a record is masked. */

/* Structured fields. Build them with the LOG_* macros below. */
enum log_field_type { LOG_FIELD_STR, LOG_FIELD_INT, LOG_FIELD_DBL, LOG_FIELD_BOOL };
struct log_field {
	const char *key;
	enum log_field_type type;
	union {
		const char *s; /* NULL is rendered as null / empty */
		long long i;
		double d;
		bool b;
	} v;
};
#define LOG_STR(k, val)  ((struct log_field){.key = (k), .type = LOG_FIELD_STR, .v.s = (val)})
#define LOG_INT(k, val)  ((struct log_field){.key = (k), .type = LOG_FIELD_INT, .v.i = (val)})
#define LOG_DBL(k, val)  ((struct log_field){.key = (k), .type = LOG_FIELD_DBL, .v.d = (val)})
#define LOG_BOOL(k, val) ((struct log_field){.key = (k), .type = LOG_FIELD_BOOL, .v.b = (val)})

/* printf-like message without fields. Newlines and control characters in the
 * message are escaped so that one record is always one line. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* A message with structured fields; field keys "ts", "level" and "msg" are
 * written as "_ts", "_level", "_msg" so they cannot shadow the record's own. */
void log_fields(enum log_level level, const char *msg, const struct log_field *fields, size_t n);

/* log_kv(LOG_INFO, "parsed", LOG_STR("file", path), LOG_INT("dags", 3)); */
#define log_kv(level, msg, ...)                                                                    \
	do {                                                                                       \
		const struct log_field log_kv_f_[] = {__VA_ARGS__};                                \
		log_fields((level), (msg), log_kv_f_, sizeof(log_kv_f_) / sizeof(log_kv_f_[0]));   \
	} while (0)

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

/* Masks the passwords of URLs in s; returns a new string. Used by the logger
 * and available to anything that prints user data. */
char *log_mask(const char *s);

#endif
