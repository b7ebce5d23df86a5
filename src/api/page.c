/* The web page at / (embedded in the binary from src/api/web/index.html, no CDN) and
 * dagproc's /api/v2/importErrors/{id}/source: an import error's diagnostics with the
 * source line each points at, so that the page renders them as the CLI does. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/srv.h"
#include "util/fsutil.h"

struct embedded_file {
	const char *name;
	const char *data;
	size_t len;
};
extern const struct embedded_file api_web[];

MHD_RESULT api_page(struct MHD_Connection *conn)
{
	for (const struct embedded_file *e = api_web; e->name; e++) {
		if (strcmp(e->name, "index.html") == 0) {
			struct MHD_Response *r = MHD_create_response_from_buffer(
			    e->len, (void *)e->data, MHD_RESPMEM_PERSISTENT);
			if (!r)
				return MHD_NO;
			MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
			                        "text/html; charset=utf-8");
			MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
			MHD_add_response_header(
			    r, "Content-Security-Policy",
			    "default-src 'self'; style-src 'self' 'unsafe-inline'; "
			    "script-src 'self' 'unsafe-inline'; img-src 'self' data:");
			MHD_RESULT ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
			MHD_destroy_response(r);
			return ret;
		}
	}
	return api_send_detail(conn, 404, "Not Found");
}

/* The file's text as written (diagnostics point into it), or NULL when it cannot
 * be read or lies outside its bundle's root. */
static char *read_source(const char *bundle, const char *rel, size_t *len)
{
	const struct dagproc_config *cfg = api_srv.cfg;
	const char *root = NULL;
	if (strcmp(bundle, "dags-folder") == 0)
		root = cfg->core.dags_folder;
	for (size_t i = 0; !root && i < cfg->core.bundles.n; i++)
		if (strcmp(cfg->core.bundles.v[i].name, bundle) == 0)
			root = cfg->core.bundles.v[i].path;
	if (!root || rel[0] == '/' || strstr(rel, ".."))
		return NULL;
	char *path = fs_path_join(root, rel);
	char rroot[PATH_MAX], rpath[PATH_MAX];
	char *text = NULL;
	if (!realpath(root, rroot) || !realpath(path, rpath))
		goto out;
	size_t n = strlen(rroot);
	if (strncmp(rpath, rroot, n) != 0 || (rpath[n] != '/' && rpath[n] != '\0'))
		goto out;
	/* the file as written: diagnostics point into it, not into its text after $VAR
	 * expansion (which would also show the variables' values) */
	if (fs_read_file(rpath, (size_t)cfg->dag_processor.max_file_size << 20, &text, len) != 0)
		text = NULL;
out:
	free(path);
	return text;
}

MHD_RESULT api_import_error_source(struct MHD_Connection *conn, long id)
{
	api_status st = {0};
	store_conn *c = NULL;
	json_t *ie = NULL;
	if (api_acquire(&c, &st) != 0)
		return api_send_detail(conn, st.code, st.detail);
	int rc = api_read_import_error(c, id, &ie, &st);
	api_release(c, &st);
	if (rc != 0)
		return api_send_detail(conn, st.code, st.detail);
	const char *bundle = json_string_value(json_object_get(ie, "bundle_name"));
	const char *file = json_string_value(json_object_get(ie, "filename"));
	const char *trace = json_string_value(json_object_get(ie, "stack_trace"));
	size_t len = 0;
	char *text = bundle && file ? read_source(bundle, file, &len) : NULL;
	json_t *doc = json_object();
	json_object_set(doc, "import_error_id", json_object_get(ie, "import_error_id"));
	json_object_set(doc, "filename", json_object_get(ie, "filename"));
	json_object_set(doc, "bundle_name", json_object_get(ie, "bundle_name"));
	json_object_set(doc, "timestamp", json_object_get(ie, "timestamp"));
	json_object_set_new(doc, "source_available", json_boolean(text != NULL));
	json_object_set_new(doc, "diagnostics", api_diagnostics_json(trace, text, len));
	free(text);
	json_decref(ie);
	return api_send_json(conn, 200, doc);
}
