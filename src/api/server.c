/* The HTTP server: libmicrohttpd with a thread pool on [api] host:port, bearer-token
 * authentication of the /api/ paths, routing of SPEC §4, and the read pool with a fast 503
 * path while the database is away. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "api/srv.h"
#include "log/log.h"
#include "store/store_url.h"
#include "util/clock.h"
#include "util/fsutil.h"

#define API_THREADS      4
#define FAST_FAIL_WINDOW 0.5 /* s: after a failure, answer 503 at once for this long */

api_server api_srv = {.listen_fd = -1};
static bool started;
/* the PEM texts given to libmicrohttpd, kept while it runs */
static char *tls_cert, *tls_key;

static void drop_tls(void)
{
	if (tls_key)
		explicit_bzero(tls_key, strlen(tls_key));
	free(tls_cert);
	free(tls_key);
	tls_cert = tls_key = NULL;
}

/* ------------------------------------------------------------------------ */
/* Database access                                                           */

static void note_failure(const char *msg)
{
	pthread_mutex_lock(&api_srv.mu);
	api_srv.fail_at = clock_mono();
	if (api_srv.down_since == 0)
		api_srv.down_since = clock_epoch();
	snprintf(api_srv.fail_msg, sizeof(api_srv.fail_msg), "%s", msg);
	pthread_mutex_unlock(&api_srv.mu);
}

static void note_success(void)
{
	pthread_mutex_lock(&api_srv.mu);
	api_srv.fail_at = 0;
	api_srv.down_since = 0;
	api_srv.fail_msg[0] = '\0';
	pthread_mutex_unlock(&api_srv.mu);
}

int api_acquire(store_conn **c, api_status *st)
{
	*c = NULL;
	pthread_mutex_lock(&api_srv.mu);
	bool fast = api_srv.fail_at > 0 && clock_mono() - api_srv.fail_at < FAST_FAIL_WINDOW;
	char msg[sizeof(api_srv.fail_msg)];
	memcpy(msg, api_srv.fail_msg, sizeof(msg));
	pthread_mutex_unlock(&api_srv.mu);
	if (fast) {
		st->db_down = true;
		return api_fail(st, 503, "database unavailable: %s", msg);
	}
	store_error e;
	if (pool_acquire(api_srv.pool, c, &e) != 0) {
		note_failure(e.message);
		st->db_down = true;
		return api_fail(st, 503, "database unavailable: %s", e.message);
	}
	return 0;
}

void api_release(store_conn *c, const api_status *st)
{
	if (!c)
		return;
	/* the reads roll back their transaction; this is the belt to those braces */
	if (store_in_txn(c))
		store_rollback(c);
	if (st && st->db_down)
		note_failure(st->detail +
		             (strncmp(st->detail, "database unavailable: ", 22) == 0 ? 22 : 0));
	else
		note_success();
	pool_release(api_srv.pool, c);
}

bool api_db_ping(char *msg, size_t len, double *down_since)
{
	pthread_mutex_lock(&api_srv.mu);
	bool fresh = api_srv.ping_at > 0 && clock_mono() - api_srv.ping_at < 1.0;
	bool ok = api_srv.ping_ok;
	pthread_mutex_unlock(&api_srv.mu);
	if (!fresh) {
		store_conn *c = NULL;
		api_status st = {0};
		ok = false;
		if (api_acquire(&c, &st) == 0) {
			store_error e;
			if (store_ping(c, &e) == 0)
				ok = true;
			else {
				api_fail(&st, 503, "database unavailable: %s", e.message);
				st.db_down = true;
			}
			api_release(c, &st);
		}
		pthread_mutex_lock(&api_srv.mu);
		api_srv.ping_at = clock_mono();
		api_srv.ping_ok = ok;
		pthread_mutex_unlock(&api_srv.mu);
	}
	pthread_mutex_lock(&api_srv.mu);
	if (msg)
		snprintf(msg, len, "%s", api_srv.fail_msg[0] ? api_srv.fail_msg : "unknown error");
	if (down_since)
		*down_since = api_srv.down_since;
	pthread_mutex_unlock(&api_srv.mu);
	return ok;
}

/* ------------------------------------------------------------------------ */
/* Responses                                                                 */

MHD_RESULT api_send(struct MHD_Connection *conn, int status, const char *type, char *body,
                    size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == 401)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	if (status == 405)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD, PUT");
	MHD_RESULT ret = MHD_queue_response(conn, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
}

MHD_RESULT api_send_json(struct MHD_Connection *conn, int status, json_t *doc)
{
	char *s = json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(9));
	json_decref(doc);
	if (!s)
		return MHD_NO;
	return api_send(conn, status, "application/json", s, strlen(s));
}

MHD_RESULT api_send_detail(struct MHD_Connection *conn, int status, const char *detail)
{
	json_t *doc = json_object();
	json_object_set_new(doc, "detail", api_json_text(detail));
	return api_send_json(conn, status, doc);
}

static MHD_RESULT send_status(struct MHD_Connection *conn, const api_status *st)
{
	return api_send_detail(conn, st->code, st->detail);
}

/* ------------------------------------------------------------------------ */
/* Routes                                                                    */

typedef struct args {
	api_arg v[4 * API_MAX_LIST];
	size_t n;
	bool overflow;
} args;

static MHD_RESULT collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                              const char *value)
{
	(void)kind;
	args *a = cls;
	if (a->n >= sizeof(a->v) / sizeof(a->v[0])) {
		a->overflow = true;
		return MHD_NO;
	}
	a->v[a->n++] = (api_arg){key, value ? value : ""};
	return MHD_YES;
}

typedef int (*list_fn)(store_conn *, const api_query *, json_t **, api_status *);

static MHD_RESULT list_route(struct MHD_Connection *conn, api_endpoint ep, list_fn fn)
{
	args a = {.n = 0};
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, &a);
	api_query q;
	api_status st = {0};
	api_query_init(&q);
	if (a.overflow)
		return api_send_detail(conn, 400, "too many query parameters");
	if (api_query_parse(&q, ep, a.v, a.n, &st) != 0)
		return send_status(conn, &st);
	store_conn *c = NULL;
	json_t *out = NULL;
	if (api_acquire(&c, &st) != 0)
		return send_status(conn, &st);
	int rc = fn(c, &q, &out, &st);
	api_release(c, &st);
	if (rc != 0)
		return send_status(conn, &st);
	return api_send_json(conn, 200, out);
}

static MHD_RESULT import_error_route(struct MHD_Connection *conn, const char *idtext)
{
	long id;
	api_status st = {0};
	if (api_parse_count(idtext, 0x7fffffffL, &id) != 0)
		return api_send_detail(conn, 400, "import_error_id must be an integer");
	store_conn *c = NULL;
	json_t *out = NULL;
	if (api_acquire(&c, &st) != 0)
		return send_status(conn, &st);
	int rc = api_read_import_error(c, id, &out, &st);
	api_release(c, &st);
	if (rc != 0)
		return send_status(conn, &st);
	return api_send_json(conn, 200, out);
}

static MHD_RESULT dag_route(struct MHD_Connection *conn, const char *dag_id, bool details)
{
	api_status st = {0};
	store_conn *c = NULL;
	json_t *out = NULL;
	if (api_acquire(&c, &st) != 0)
		return send_status(conn, &st);
	int rc = api_read_dag(c, dag_id, details, &out, &st);
	api_release(c, &st);
	if (rc != 0)
		return send_status(conn, &st);
	return api_send_json(conn, 200, out);
}

/* The bundle's root folder from the configuration, or NULL. */
static const char *bundle_root(const char *bundle)
{
	const struct dagproc_config *cfg = api_srv.cfg;
	if (strcmp(bundle, "dags-folder") == 0)
		return cfg->core.dags_folder;
	for (size_t i = 0; i < cfg->core.bundles.n; i++)
		if (strcmp(cfg->core.bundles.v[i].name, bundle) == 0)
			return cfg->core.bundles.v[i].path;
	return NULL;
}

static MHD_RESULT parse_file_route(struct MHD_Connection *conn, const char *token)
{
	char *bundle = NULL, *rel = NULL;
	MHD_RESULT ret;
	if (api_file_token_decode(token, &bundle, &rel) != 0) {
		ret = api_send_detail(conn, 400, "invalid file_token");
		goto out;
	}
	const char *root = bundle_root(bundle);
	char *path = root ? xasprintf("%s/%s", root, rel) : NULL;
	bool exists = path && access(path, R_OK) == 0;
	free(path);
	if (!exists) {
		char *d = xasprintf("File %s of bundle %s not found", rel, bundle);
		ret = api_send_detail(conn, 404, d);
		free(d);
		goto out;
	}
	if (!api_srv.proc) {
		ret = api_send_detail(conn, 503,
		                      "no DAG processor runs in this process (dagproc serve)");
		goto out;
	}
	if (api_srv.proc->request_parse(api_srv.proc->ctx, bundle, rel) != 0) {
		ret = api_send_detail(conn, 503, "the processor could not queue the file");
		goto out;
	}
	log_info("api: %s/%s requested for parsing", bundle, rel);
	ret = api_send(conn, 201, "application/json", xstrdup("null"), 4);
out:
	free(bundle);
	free(rel);
	return ret;
}

/* "/a/b/c" relative to prefix: splits the rest into at most 3 segments. */
static size_t split_path(const char *rest, char seg[3][512])
{
	size_t n = 0;
	while (*rest && n < 3) {
		const char *e = strchr(rest, '/');
		size_t len = e ? (size_t)(e - rest) : strlen(rest);
		if (len >= 512)
			return 4;
		memcpy(seg[n], rest, len);
		seg[n][len] = '\0';
		n++;
		if (!e)
			return n;
		rest = e + 1;
		if (!*rest)
			return n;
	}
	return *rest ? 4 : n;
}

static MHD_RESULT route_api(struct MHD_Connection *conn, const char *method, const char *rest)
{
	bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	bool put = strcmp(method, "PUT") == 0;
	char seg[3][512];
	size_t n = split_path(rest, seg);
	if (n == 0 || n > 3)
		return api_send_detail(conn, 404, "Not Found");
	const char *r = seg[0];

	if (strcmp(r, "parseDagFile") == 0 && n == 2) {
		if (!put)
			return api_send_detail(conn, 405, "Method Not Allowed");
		return parse_file_route(conn, seg[1]);
	}
	bool known = (strcmp(r, "importErrors") == 0 && n <= 3) ||
	             (strcmp(r, "dags") == 0 && n <= 3) ||
	             (strcmp(r, "dagWarnings") == 0 && n == 1) ||
	             (strcmp(r, "monitor") == 0 && n == 2 && strcmp(seg[1], "health") == 0);
	if (!known)
		return api_send_detail(conn, 404, "Not Found");
	if (!get)
		return api_send_detail(conn, 405, "Method Not Allowed");

	if (strcmp(r, "importErrors") == 0) {
		if (n == 1)
			return list_route(conn, API_EP_IMPORT_ERRORS, api_read_import_errors);
		if (n == 2)
			return import_error_route(conn, seg[1]);
		if (strcmp(seg[2], "source") == 0) {
			long id;
			if (api_parse_count(seg[1], 0x7fffffffL, &id) != 0)
				return api_send_detail(conn, 400,
				                       "import_error_id must be an integer");
			return api_import_error_source(conn, id);
		}
		return api_send_detail(conn, 404, "Not Found");
	}
	if (strcmp(r, "dags") == 0) {
		if (n == 1)
			return list_route(conn, API_EP_DAGS, api_read_dags);
		if (n == 2)
			return dag_route(conn, seg[1], false);
		if (strcmp(seg[2], "details") == 0)
			return dag_route(conn, seg[1], true);
		return api_send_detail(conn, 404, "Not Found");
	}
	if (strcmp(r, "dagWarnings") == 0)
		return list_route(conn, API_EP_WARNINGS, api_read_warnings);
	return api_health(conn);
}

static MHD_RESULT route(struct MHD_Connection *conn, const char *url, const char *method)
{
	bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	if (strncmp(url, "/api/", 5) == 0) {
		const char *token = api_srv.cfg->api.auth_token;
		if (token && *token) {
			const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
			                                            MHD_HTTP_HEADER_AUTHORIZATION);
			if (!h)
				return api_send_detail(conn, 401, "Not authenticated");
			if (!api_bearer_ok(h, token))
				return api_send_detail(conn, 401, "Invalid token");
		}
		if (strncmp(url, "/api/v2/", 8) != 0)
			return api_send_detail(conn, 404, "Not Found");
		return route_api(conn, method, url + 8);
	}
	const char *probes[] = {"/", "/index.html", "/livez", "/readyz", "/metrics"};
	int which = -1;
	for (int i = 0; i < 5; i++)
		if (strcmp(url, probes[i]) == 0)
			which = i;
	if (which < 0)
		return api_send_detail(conn, 404, "Not Found");
	if (!get)
		return api_send_detail(conn, 405, "Method Not Allowed");
	switch (which) {
	case 0:
	case 1:
		return api_page(conn);
	case 2:
		return api_livez(conn);
	case 3:
		return api_readyz(conn);
	default:
		return api_metrics(conn);
	}
}

#define API_MAX_URL 8192

/* Adds a query argument's length (key, '=', value, '&') to *(size_t *)cls. */
static MHD_RESULT add_arg_len(void *cls, enum MHD_ValueKind kind, const char *key,
                              const char *value)
{
	(void)kind;
	*(size_t *)cls += strlen(key) + (value ? strlen(value) + 1 : 0) + 1;
	return MHD_YES;
}

static MHD_RESULT on_request(void *cls, struct MHD_Connection *conn, const char *url,
                             const char *method, const char *version, const char *upload_data,
                             size_t *upload_data_size, void **con_cls)
{
	(void)cls;
	(void)version;
	(void)upload_data;
	static int marker;
	if (*con_cls == NULL) {
		*con_cls = &marker;
		return MHD_YES;
	}
	if (*upload_data_size != 0) { /* no endpoint reads a body: discard it */
		*upload_data_size = 0;
		return MHD_YES;
	}
	/* A long URL is a 414 with a JSON detail; libmicrohttpd answers one that
	 * does not fit its per-connection memory (32 KiB with the headers)
	 * itself, with its own HTML page. */
	size_t len = strlen(url);
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_arg_len, &len);
	if (len > API_MAX_URL)
		return api_send_detail(conn, 414, "the request URL is longer than 8192 bytes");
	return route(conn, url, method);
}

/* ------------------------------------------------------------------------ */
/* Start and stop                                                            */

static int listen_on(const char *host, int port, char **err)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	char portstr[16];
	snprintf(portstr, sizeof(portstr), "%d", port);
	int gai = getaddrinfo(host, portstr, &hints, &res);
	if (gai != 0) {
		*err = xasprintf("[api] host '%s': %s", host, gai_strerror(gai));
		return -1;
	}
	int fd = -1, last = 0;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			last = errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0)
			break;
		last = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		*err = xasprintf("cannot listen on %s:%d: %s", host, port, strerror(last));
	return fd;
}

/* Whether every address host names is a loopback one (127.0.0.0/8, ::1, also as
 * ::ffff:127.x): only then does an unauthenticated /api stay on this machine. */
static bool host_is_loopback(const char *host)
{
	struct addrinfo hints = {
	    .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
	struct addrinfo *res = NULL;
	if (getaddrinfo(host, "1", &hints, &res) != 0 || !res)
		return false;
	bool all = true;
	for (struct addrinfo *ai = res; ai && all; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET) {
			const struct sockaddr_in *a = (const struct sockaddr_in *)ai->ai_addr;
			all = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
		} else if (ai->ai_family == AF_INET6) {
			const struct in6_addr *a =
			    &((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
			all = IN6_IS_ADDR_LOOPBACK(a) ||
			      (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
		} else {
			all = false;
		}
	}
	freeaddrinfo(res);
	return all;
}

#define TLS_FILE_MAX (1u << 20)

/* A PEM file's text (libmicrohttpd takes them in memory). */
static char *read_pem(const char *key, const char *path, char **err)
{
	char *text = NULL;
	size_t len = 0;
	if (fs_read_file(path, TLS_FILE_MAX, &text, &len) != 0) {
		*err = xasprintf("[api] %s: cannot read %s: %s", key, path,
		                 errno == EFBIG ? "larger than 1 MiB" : strerror(errno));
		return NULL;
	}
	if (!strstr(text, "-----BEGIN ")) {
		*err = xasprintf("[api] %s: %s is not a PEM file", key, path);
		free(text);
		return NULL;
	}
	return text;
}

int api_check_config(const struct dagproc_config *cfg, char **err, char **warning)
{
	*err = NULL;
	if (warning)
		*warning = NULL;
	const char *cert = cfg->api.tls_cert ? cfg->api.tls_cert : "";
	const char *key = cfg->api.tls_key ? cfg->api.tls_key : "";
	if (!*cert != !*key) {
		*err =
		    xstrdup("[api] tls_cert and [api] tls_key are set together (HTTPS) or not at "
		            "all");
		return -1;
	}
	if (*cert) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			*err = xstrdup("[api] tls_cert: this libmicrohttpd has no TLS support");
			return -1;
		}
		char *a = read_pem("tls_cert", cert, err);
		if (!a)
			return -1;
		char *b = read_pem("tls_key", key, err);
		free(a);
		if (!b)
			return -1;
		explicit_bzero(b, strlen(b));
		free(b);
	}
	bool token = cfg->api.auth_token && *cfg->api.auth_token;
	if (token || host_is_loopback(cfg->api.host))
		return 0;
	if (!cfg->api.allow_unauthenticated) {
		*err = xasprintf("[api] host %s is not a loopback address and [api] auth_token is "
		                 "not set: set auth_token (or auth_token_file), or "
		                 "[api] allow_unauthenticated = true to serve /api to anyone who "
		                 "can reach %s:%d",
		                 cfg->api.host, cfg->api.host, cfg->api.port);
		return -1;
	}
	if (warning)
		*warning = xasprintf("api: serving /api on %s:%d without authentication ([api] "
		                     "allow_unauthenticated = true): anyone who can reach it reads "
		                     "every DAG and import error",
		                     cfg->api.host, cfg->api.port);
	return 0;
}

int api_start(const struct dagproc_config *cfg, const status_source *p, char **err)
{
	*err = NULL;
	char *warning = NULL;
	if (started) {
		*err = xstrdup("the API server is already running");
		return -1;
	}
	if (api_check_config(cfg, err, &warning) != 0)
		return -1;
	if (warning) {
		log_warn("%s", warning);
		free(warning);
	}
	bool tls = cfg->api.tls_cert && *cfg->api.tls_cert;
	if (tls) {
		tls_cert = read_pem("tls_cert", cfg->api.tls_cert, err);
		tls_key = tls_cert ? read_pem("tls_key", cfg->api.tls_key, err) : NULL;
		if (!tls_key) {
			drop_tls();
			return -1;
		}
	}
	memset(&api_srv, 0, sizeof(api_srv));
	api_srv.listen_fd = -1;
	api_srv.cfg = cfg;
	api_srv.proc = p;
	pthread_mutex_init(&api_srv.mu, NULL);
	char *perr = NULL;
	if (store_params_from_url(cfg->database.sql_conn, cfg, &api_srv.url, &api_srv.params,
	                          &perr) != 0) {
		*err = xasprintf("[database] sql_conn: %s", perr);
		free(perr);
		goto fail;
	}
	/* a small pool with short waits: no request waits more than ~3 s for a database
	 * that is away */
	api_srv.params.pool_size = 2;
	api_srv.params.max_overflow = 2;
	api_srv.params.pool_timeout = 2;
	api_srv.params.connect_timeout = 2;
	api_srv.params.pool_pre_ping = true;
	if (api_srv.params.statement_timeout <= 0 || api_srv.params.statement_timeout > 5)
		api_srv.params.statement_timeout = 5;
	api_srv.params.lock_timeout = 2;
	api_srv.pool = pool_create(&api_srv.params);

	api_srv.listen_fd = listen_on(cfg->api.host, cfg->api.port, err);
	if (api_srv.listen_fd < 0)
		goto fail;
	/* with TLS, libmicrohttpd (GnuTLS) takes the PEM texts; it copies them */
	api_srv.daemon = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL_LINUX_ONLY | (tls ? MHD_USE_TLS : 0), 0,
	    NULL, NULL, on_request, NULL, MHD_OPTION_LISTEN_SOCKET, api_srv.listen_fd,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)API_THREADS, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)30, MHD_OPTION_CONNECTION_LIMIT, (unsigned)512,
	    tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, tls_cert, MHD_OPTION_HTTPS_MEM_KEY,
	    tls_key, MHD_OPTION_END);
	if (!api_srv.daemon) {
		*err = tls ? xasprintf("cannot start the HTTPS server on %s:%d: [api] tls_cert %s "
		                       "and tls_key %s are not a certificate and its key in PEM",
		                       cfg->api.host, cfg->api.port, cfg->api.tls_cert,
		                       cfg->api.tls_key)
		           : xasprintf("cannot start the HTTP server on %s:%d", cfg->api.host,
		                       cfg->api.port);
		goto fail;
	}
	api_srv.listen_fd = -1; /* MHD owns it now and closes it on stop */
	started = true;
	log_info("api: listening on %s://%s:%d/%s", tls ? "https" : "http", cfg->api.host,
	         cfg->api.port,
	         cfg->api.auth_token && *cfg->api.auth_token ? " (bearer token required)" : "");
	return 0;
fail:
	drop_tls();
	if (api_srv.listen_fd >= 0)
		close(api_srv.listen_fd);
	api_srv.listen_fd = -1;
	if (api_srv.pool)
		pool_destroy(api_srv.pool);
	api_srv.pool = NULL;
	db_url_free(&api_srv.url);
	pthread_mutex_destroy(&api_srv.mu);
	return -1;
}

void api_stop(void)
{
	if (!started)
		return;
	MHD_stop_daemon(api_srv.daemon);
	api_srv.daemon = NULL;
	if (api_srv.listen_fd >= 0)
		close(api_srv.listen_fd);
	api_srv.listen_fd = -1;
	pool_destroy(api_srv.pool);
	api_srv.pool = NULL;
	db_url_free(&api_srv.url);
	pthread_mutex_destroy(&api_srv.mu);
	drop_tls();
	started = false;
}
