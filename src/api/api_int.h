/* The API's pure pieces (query parameters, ordering, tokens, JSON shapes) and its
 * database reads, shared by the HTTP routes, the CLI read commands and the unit tests. */
#ifndef DAGPROC_API_INT_H
#define DAGPROC_API_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "store/store.h"
#include "util/xalloc.h"

#define API_MAX_LIST    32 /* repeated parameters (tags, order_by) kept per request */
#define API_MAX_LIMIT   1000
#define API_DEFAULT_LIM 50

/* A request's outcome: 0 or an HTTP status with a one-line detail. */
typedef struct api_status {
	int code;
	char detail[480];
	bool db_down; /* a 503 because the database is unreachable (not a bad statement) */
} api_status;

/* Sets st (printf-style) and returns code, so that `return api_fail(...)` reads well. */
int api_fail(api_status *st, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

typedef enum api_endpoint {
	API_EP_IMPORT_ERRORS,
	API_EP_DAGS,
	API_EP_WARNINGS,
	API_EP_REPORT,
	API_EP_PROCESSORS,
} api_endpoint;

/* One query argument as received (already URL-decoded). */
typedef struct api_arg {
	const char *key;
	const char *value;
} api_arg;

/* Every list endpoint's parameters, parsed and validated. Strings are borrowed. */
typedef struct api_query {
	long limit; /* < 0: no limit (the CLI) */
	long offset;
	const char *order_by[API_MAX_LIST];
	size_t norder;
	const char *tags[API_MAX_LIST];
	size_t ntags;
	bool tags_all;
	const char *dag_id_pattern;
	const char *dag_display_name_pattern;
	const char *filename_pattern;
	const char *bundle_name;
	const char *dag_id;
	const char *warning_type;
	bool exclude_stale;    /* default true */
	int paused;            /* -1 any, 0, 1 */
	int has_import_errors; /* -1 any, 0, 1 */
} api_query;

/* Defaults of the endpoint (limit 50, offset 0, exclude_stale true...). */
void api_query_init(api_query *q);
/* Parses args into q; unknown keys are ignored (as Airflow does). Returns 0, or 400 with
 * st set naming the parameter. Order terms are validated against the endpoint's columns. */
int api_query_parse(api_query *q, api_endpoint ep, const api_arg *args, size_t nargs,
                    api_status *st);

/* Non-negative decimal integer no larger than max. */
int api_parse_count(const char *s, long max, long *out);
/* true/false/1/0/yes/no/on/off, case-insensitive. */
int api_parse_bool(const char *s, bool *out);

/* The ORDER BY clause of an endpoint: terms like "dag_id" or "-last_parsed_time",
 * default when none, then the endpoint's key as a tiebreak. Appends " ORDER BY ..." to
 * out; returns 0, or 400 with st set for a term that is not allowed. */
int api_order_by(api_endpoint ep, const char *const *terms, size_t n, strbuf *out, api_status *st);

/* Constant-time check of an Authorization header value against "Bearer <token>". */
bool api_bearer_ok(const char *header, const char *token);

/* file_token: base64url (no padding) of "bundle\x1frelative_path". Decoding rejects
 * anything that is not such a pair, an absolute path or a ".." component. */
char *api_file_token_encode(const char *bundle, const char *rel);
int api_file_token_decode(const char *token, char **bundle, char **rel);

/* A database timestamp ("2026-01-02 03:04:05.123456", optionally "+00"/"+00:00") as
 * ISO 8601 UTC ("2026-01-02T03:04:05.123456Z"); NULL gives NULL. Writes into buf. */
const char *api_iso_ts(const char *db, char *buf, size_t len);
/* A database boolean ("1", "t", "true") as a C bool. */
bool api_db_bool(const char *v);
/* Text as a JSON string, never NULL: bytes that are not valid UTF-8 (a file name
 * on disk, a client's %FF, a detail cut inside a character) become U+FFFD, where
 * json_string() would fail and a field would silently go missing. */
json_t *api_json_text(const char *s);
json_t *api_json_textn(const char *s, size_t n);

/* JSON shapes (Airflow REST v2). Rows are the columns of the SELECTs in query.c. */
enum { API_DAG_NCOLS = 15 };
json_t *api_dag_json(const char *const *row, json_t *tags /* stolen, NULL = [] */);
/* DAGDetailsResponse: the DAG plus the fields read from its serialized JSON (data may
 * be NULL), and dagproc's "tasks" and "edges". */
json_t *api_dag_details_json(const char *const *row, json_t *tags, const char *data);
enum { API_IE_NCOLS = 5 };
json_t *api_import_error_json(const char *const *row);
enum { API_WARN_NCOLS = 5 };
json_t *api_warning_json(const char *const *row);

/* Database reads. Each runs in the caller's connection, inside one read transaction it
 * opens and closes (rolled back), so the connection goes back clean. Returns 0, or an
 * HTTP status (404, 503) with st set. */
int api_read_import_errors(store_conn *c, const api_query *q, json_t **out, api_status *st);
int api_read_import_error(store_conn *c, long id, json_t **out, api_status *st);
int api_read_dags(store_conn *c, const api_query *q, json_t **out, api_status *st);
int api_read_dag(store_conn *c, const char *dag_id, bool details, json_t **out, api_status *st);
int api_read_warnings(store_conn *c, const api_query *q, json_t **out, api_status *st);
/* Per-file statistics for `dagproc report`: {"files": [...], "total_entries"}. */
int api_read_report(store_conn *c, const api_query *q, json_t **out, api_status *st);
/* Counts for /metrics: dags (non-stale), tasks, import errors, warnings, files. */
typedef struct api_counts {
	long dags, tasks, import_errors, warnings, files;
} api_counts;
int api_read_counts(store_conn *c, api_counts *out, api_status *st);
/* The processors recorded in dag_processor (several may share a database):
 * {"dag_processors": [{"instance_name", "hostname", "pid", "version", "files_held",
 * "started_at", "latest_heartbeat"}], "total_entries"}, newest heartbeat first. */
int api_read_processors(store_conn *c, const api_query *q, json_t **out, api_status *st);

/* The newest dag_processor heartbeat (ISO), for `serve`'s health; *out NULL if none. */
int api_read_processor_heartbeat(store_conn *c, char **out, api_status *st);

/* The diagnostics of a stack trace, each "path:line:col: error[CODE]: message", with
 * the source line from text (the file's content, may be NULL):
 * [{"line", "column", "code", "message", "source_line"}]. */
json_t *api_diagnostics_json(const char *stacktrace, const char *text, size_t len);

#endif
