/* Maps the [database] configuration and the sql_conn URL onto store_params. */
#include "store/store_url.h"

#include <stdlib.h>
#include <string.h>

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
	if (d == STORE_MYSQL && !u->host) {
		const char *sock = db_url_param(u, "unix_socket");
		p->unix_socket = sock;
	}
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
	}
	return 0;
}
