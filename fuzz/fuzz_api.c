/* libFuzzer target over the HTTP API's pure parsers: query parameters and their
 * ORDER BY whitelist, file_token decoding, bearer tokens, and the JSON shapes
 * built from stored (file-derived) text. No server, no database. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ARGS (4 * API_MAX_LIST) /* as many as the server collects */

/* "k=v&k&k=v" split as MHD hands it over (already decoded; a key without '='
 * gets ""), then parsed for the endpoint. The ORDER BY clause of an accepted
 * query may only hold whitelisted column names. */
static void fuzz_query(api_endpoint ep, char *qs)
{
	api_arg args[MAX_ARGS];
	size_t n = 0;
	for (char *p = qs; *p && n < MAX_ARGS;) {
		char *amp = strchr(p, '&');
		if (amp)
			*amp = '\0';
		char *eq = strchr(p, '=');
		if (eq)
			*eq = '\0';
		args[n++] = (api_arg){p, eq ? eq + 1 : ""};
		if (!amp)
			break;
		p = amp + 1;
	}
	api_query q;
	api_status st = {0};
	api_query_init(&q);
	if (api_query_parse(&q, ep, args, n, &st) != 0) {
		if (st.code != 400 || !st.detail[0])
			abort();
		return;
	}
	if (q.limit < 0 || q.limit > API_MAX_LIMIT || q.offset < 0 || q.norder > API_MAX_LIST ||
	    q.ntags > API_MAX_LIST)
		abort();
	strbuf sql;
	sb_init(&sql);
	if (api_order_by(ep, q.order_by, q.norder, &sql, &st) != 0)
		abort(); /* accepted above */
	for (size_t i = 0; i < sql.len; i++) {
		char c = sql.data[i];
		if (!(c == ' ' || c == ',' || c == '_' || c == '.' || c == '(' || c == ')' ||
		      (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
			abort();
	}
	sb_free(&sql);
}

/* A token that decodes names a bundle and a safe relative path, and they
 * encode and decode back to themselves. */
static void fuzz_token(const char *token)
{
	char *bundle, *rel;
	if (api_file_token_decode(token, &bundle, &rel) != 0) {
		if (bundle || rel)
			abort();
		return;
	}
	if (!*bundle || !*rel || rel[0] == '/' || strstr(rel, "//") || strcmp(rel, "..") == 0 ||
	    strncmp(rel, "../", 3) == 0 || strstr(rel, "/../") ||
	    (strlen(rel) >= 3 && strcmp(rel + strlen(rel) - 3, "/..") == 0))
		abort();
	char *again = api_file_token_encode(bundle, rel);
	char *b2, *r2;
	if (api_file_token_decode(again, &b2, &r2) != 0 || strcmp(b2, bundle) || strcmp(r2, rel))
		abort();
	free(again);
	free(b2);
	free(r2);
	free(bundle);
	free(rel);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 65536)
		return 0;
	/* first byte: the endpoint; the rest: the text */
	api_endpoint ep = (api_endpoint)(data[0] % 4);
	const char *text = (const char *)data + 1;
	size_t len = size - 1;
	char *s = xstrndup(text, len); /* cut at the first NUL, as C strings are */

	fuzz_token(s);

	bool b;
	long v;
	(void)api_parse_bool(s, &b);
	if (api_parse_count(s, API_MAX_LIMIT, &v) == 0 && (v < 0 || v > API_MAX_LIMIT))
		abort();
	if (api_bearer_ok(s, "s3cret-token") !=
	    (strncasecmp(s, "Bearer ", 7) == 0 &&
	     strcmp(s + 7 + strspn(s + 7, " "), "s3cret-token") == 0))
		abort();
	(void)api_bearer_ok(s, "");

	char ts[64];
	const char *iso = api_iso_ts(s, ts, sizeof(ts));
	if (iso && strlen(iso) >= sizeof(ts))
		abort();

	/* stored text reaches the JSON shapes: every column, the serialized DAG */
	const char *row[API_DAG_NCOLS];
	for (size_t i = 0; i < API_DAG_NCOLS; i++)
		row[i] = s;
	json_decref(api_dag_details_json(row, json_pack("[s]", "t"), s));
	json_decref(api_import_error_json(row));
	json_decref(api_warning_json(row));
	json_decref(api_diagnostics_json(s, text, len));

	fuzz_query(ep, s); /* last: splits s in place */
	free(s);
	return 0;
}
