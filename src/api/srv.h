/* The running server's shared state and response helpers, for server.c, health.c and
 * page.c only. */
#ifndef DAGPROC_API_SRV_H
#define DAGPROC_API_SRV_H

#include <microhttpd.h>
#include <pthread.h>

#include "api/api_int.h"
#include "config/config.h"
#include "config/dburl.h"
#include "status/status.h"
#include "store/pool.h"

#if MHD_VERSION < 0x00097002
typedef int MHD_RESULT;
#else
typedef enum MHD_Result MHD_RESULT;
#endif

typedef struct api_server {
	struct MHD_Daemon *daemon;
	int listen_fd;
	const struct dagproc_config *cfg;
	const status_source *proc; /* NULL for `dagproc serve` */
	pool *pool;                /* the API's own small read pool */
	struct db_url url;
	store_params params;

	pthread_mutex_t mu; /* guards everything below */
	double fail_at;     /* monotonic seconds of the last database failure; 0 = none */
	double down_since;  /* epoch seconds since the database is seen down; 0 = up */
	char fail_msg[400];
	double ping_at; /* monotonic seconds of the last ping result */
	bool ping_ok;
	double counts_at; /* monotonic seconds of the cached counts; 0 = never */
	api_counts counts;
} api_server;

extern api_server api_srv;

/* A connection from the read pool, or 503 in st (fast when the database just failed). */
int api_acquire(store_conn **c, api_status *st);
/* Gives it back (its transaction closed); records a 503 outcome for the fast path. */
void api_release(store_conn *c, const api_status *st);
/* A cached (1 s) round trip to the database; msg gets the reason when down. */
bool api_db_ping(char *msg, size_t len, double *down_since);

MHD_RESULT api_send(struct MHD_Connection *conn, int status, const char *type, char *body,
                    size_t len);
MHD_RESULT api_send_json(struct MHD_Connection *conn, int status, json_t *doc);
MHD_RESULT api_send_detail(struct MHD_Connection *conn, int status, const char *detail);

/* health.c */
MHD_RESULT api_health(struct MHD_Connection *conn);
MHD_RESULT api_livez(struct MHD_Connection *conn);
MHD_RESULT api_readyz(struct MHD_Connection *conn);
MHD_RESULT api_metrics(struct MHD_Connection *conn);
/* page.c */
MHD_RESULT api_page(struct MHD_Connection *conn);
MHD_RESULT api_import_error_source(struct MHD_Connection *conn, long id);

#endif
