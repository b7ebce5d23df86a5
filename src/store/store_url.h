/* From configuration to connection parameters: the [database] settings and the
 * parsed sql_conn URL mapped onto store_params. */
#ifndef DAGPROC_STORE_URL_H
#define DAGPROC_STORE_URL_H

#include "config/config.h"
#include "config/dburl.h"
#include "store/store.h"

/* Parses url into *u (which owns the strings p points to: keep it alive while p
 * is used, then db_url_free) and fills p with the dialect, address and the pool
 * and timeout knobs of cfg (cfg may be NULL for defaults). Returns 0, or -1 with
 * *err set to one line (password never included). */
int store_params_from_url(const char *url, const struct dagproc_config *cfg, struct db_url *u,
                          store_params *p, char **err) __attribute__((warn_unused_result));

#endif
