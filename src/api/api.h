/* The HTTP API (SPEC §4): Airflow REST v2 shapes over the metadata database, probes,
 * Prometheus metrics and the embedded web page, served by libmicrohttpd. */
#ifndef DAGPROC_API_H
#define DAGPROC_API_H

#include "status/status.h"

struct dagproc_config;

/* Starts the server on [api] host:port (HTTPS with [api] tls_cert and tls_key) with its
 * own small read pool, after api_check_config. src is the
 * processor whose state /livez, /readyz, /metrics and parseDagFile use, or NULL for
 * `dagproc serve`. cfg and src must outlive api_stop. Returns 0, or -1 with *err set
 * (one line, caller frees), e.g. when the port is taken. One server per process. */
int api_start(const struct dagproc_config *cfg, const status_source *src, char **err)
    __attribute__((warn_unused_result));
/* Checks what the API would expose before anything starts: a non-loopback [api] host
 * without auth_token is refused unless [api] allow_unauthenticated (then *warning
 * says so, to be logged); tls_cert and tls_key go together and must be readable.
 * Returns 0, or -1 with *err (one line naming the setting). *warning may be NULL. */
int api_check_config(const struct dagproc_config *cfg, char **err, char **warning)
    __attribute__((warn_unused_result));
/* Stops the server, waiting for requests in flight; a no-op when not started. */
void api_stop(void);

#endif
