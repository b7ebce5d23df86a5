/* Maps the [database] configuration and the sql_conn URL onto store_params. */
#include "store/store_url.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

int store_params_from_url(const char *url, const struct dagproc_config *cfg, struct db_url *u,
                          store_params *p, char **err)
{
	memset(u, 0, sizeof(*u));
	if (config_parse_db_url(url, u, err) != 0)
		return -1;
	store_dialect d = u->dialect == DB_SQLITE       ? STORE_SQLITE
	                  : u->dialect == DB_POSTGRESQL ? STORE_PG
	                                                : STORE_MYSQL;
	store_params_defaults(p, d);
	p->host = u->host;
	p->port = u->port;
	p->user = u->user;
	p->password = u->password;
	p->database = u->database;
	p->sqlite_path = u->path;
	if (cfg) {
		p->pool_size = cfg->database.pool_size;
		p->max_overflow = cfg->database.max_overflow;
		p->pool_timeout = cfg->database.pool_timeout;
		p->pool_pre_ping = cfg->database.pool_pre_ping;
		p->pool_recycle = cfg->database.pool_recycle;
		p->max_db_retries = cfg->database.max_db_retries;
		p->retry_backoff_max = cfg->database.retry_backoff_max;
		p->connect_timeout = cfg->database.connect_timeout;
		p->statement_timeout = cfg->database.statement_timeout;
		if (d == STORE_PG) {
			p->schema = cfg->database.schema;
		} else if (cfg->database.schema && cfg->database.schema[0] &&
		           strcmp(cfg->database.schema, "public") != 0) {
			/* silently ignored, it would not keep the tables apart */
			*err =
			    xasprintf("[database] schema = %s applies to PostgreSQL only: on %s, "
			              "give dagproc a database of its own",
			              cfg->database.schema,
			              d == STORE_SQLITE ? "SQLite" : "MySQL and MariaDB");
			db_url_free(u);
			return -1;
		}
	}
	/* The URL's options (checked by config_parse_db_url): the few dagproc maps onto
	 * its own parameters, the others go to the driver as written. */
	const char *v;
	if ((v = db_url_param(u, "connect_timeout")) != NULL && atoi(v) > 0)
		p->connect_timeout = atoi(v);
	if (d == STORE_PG && !u->host && (v = db_url_param(u, "host")) != NULL)
		p->host = v;
	if (d == STORE_MYSQL && (v = db_url_param(u, "unix_socket")) != NULL)
		p->unix_socket = v;
	if (d == STORE_SQLITE && (v = db_url_param(u, "timeout")) != NULL) {
		double t = strtod(v, NULL);
		p->lock_timeout = t < 1 ? 1 : (int)(t + 0.999);
	}
	_Static_assert(sizeof(store_opt) == sizeof(struct db_url_param) &&
	                   offsetof(store_opt, key) == offsetof(struct db_url_param, key) &&
	                   offsetof(store_opt, value) == offsetof(struct db_url_param, value),
	               "a URL parameter is a store option");
	p->opts = (const store_opt *)(const void *)u->params;
	p->nopts = u->n_params;
	return 0;
}
