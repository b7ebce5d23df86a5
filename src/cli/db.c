/* `dagproc db migrate|check|reset`: schema management and a connectivity check
 * that names the cause of a failure in one line. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli/cli.h"
#include "config/config.h"
#include "config/dburl.h"
#include "store/store.h"
#include "store/store_url.h"

void cli_db_usage(FILE *f)
{
	fputs("usage: dagproc db migrate|check|reset [--db URL] [--config FILE] [--yes]\n"
	      "\n"
	      "  migrate   create or upgrade the schema\n"
	      "  check     connect, print the server and schema versions; fails with one line\n"
	      "            naming the cause (refused, authentication, unknown database,\n"
	      "            schema too old) within [database] connect_timeout\n"
	      "  reset     drop every dagproc table and create the schema again\n"
	      "            (asks for confirmation unless --yes)\n"
	      "\n"
	      "  --db URL  database URL (default: [database] sql_conn, sqlite:///dagproc.db)\n",
	      f);
}

/* A human cause for a connection failure, from the classified error. */
static const char *cause_of(const store_error *e)
{
	const char *m = e->message;
	if (strcasestr(m, "password authentication failed") || strcasestr(m, "Access denied") ||
	    strcmp(e->code, "28P01") == 0 || strcmp(e->code, "28000") == 0 ||
	    strcmp(e->code, "1045") == 0)
		return "authentication failed";
	if (strcasestr(m, "does not exist") || strcmp(e->code, "3D000") == 0 ||
	    strcmp(e->code, "1049") == 0 || strcasestr(m, "Unknown database"))
		return "unknown database";
	/* TLS: libpq's and Connector/C's words */
	if (strcasestr(m, "does not support SSL") || strcasestr(m, "SSL is required") ||
	    strcasestr(m, "doesn't support SSL") || strcasestr(m, "server does not support TLS"))
		return "TLS required but the server does not offer it";
	if (strcasestr(m, "does not match host name") || strcasestr(m, "hostname mismatch") ||
	    strcasestr(m, "Validation of SSL server certificate failed") ||
	    strcasestr(m, "certificate verify failed") ||
	    strcasestr(m, "self-signed certificate") ||
	    strcasestr(m, "unable to get local issuer") || strcasestr(m, "certificate has expired"))
		return "server certificate not trusted";
	if (strcasestr(m, "root certificate file") || strcasestr(m, "could not read certificate") ||
	    strcasestr(m, "could not load private key") || strcasestr(m, "SSL error") ||
	    strcasestr(m, "SSL connection error") || strcasestr(m, "TLS/SSL error"))
		return "TLS failed";
	if (strcasestr(m, "Connection refused") || strcmp(e->code, "2002") == 0 ||
	    strcmp(e->code, "2003") == 0)
		return "connection refused";
	if (strcasestr(m, "timeout") || strcasestr(m, "timed out"))
		return "connection timed out";
	if (strcasestr(m, "unable to open") || strcasestr(m, "cannot open"))
		return "cannot open the database file";
	return "cannot connect";
}

int cli_db(int argc, char **argv, struct dagproc_config *cfg)
{
	static const struct option longopts[] = {{"db", required_argument, NULL, 'd'},
	                                         {"config", required_argument, NULL, 'c'},
	                                         {"yes", no_argument, NULL, 'y'},
	                                         {"help", no_argument, NULL, 'h'},
	                                         {NULL, 0, NULL, 0}};
	bool yes = false;
	optind = 1;
	for (;;) {
		int c = getopt_long(argc, argv, "d:c:yh", longopts, NULL);
		if (c == -1)
			break;
		switch (c) {
		case 'd': {
			char *err = NULL;
			int r = config_set(cfg, "database", "sql_conn", optarg, &err);
			cli_hide_password(optarg);
			if (r != 0) {
				fprintf(stderr, "dagproc db: --db: %s\n", err);
				free(err);
				return 2;
			}
			break;
		}
		case 'c':
			break;
		case 'y':
			yes = true;
			break;
		case 'h':
			cli_db_usage(stdout);
			return 0;
		default:
			cli_db_usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		cli_db_usage(stderr);
		return 2;
	}
	const char *action = argv[optind];
	if (strcmp(action, "migrate") && strcmp(action, "check") && strcmp(action, "reset")) {
		fprintf(stderr, "dagproc db: unknown action '%s' (migrate, check or reset)\n",
		        action);
		return 2;
	}

	struct db_url url;
	store_params p;
	char *err = NULL;
	if (store_params_from_url(cfg->database.sql_conn, cfg, &url, &p, &err) != 0) {
		fprintf(stderr, "dagproc db %s: [database] sql_conn: %s\n", action, err);
		free(err);
		return 2;
	}
	char *shown = db_url_redacted(cfg->database.sql_conn);
	store_conn *c = NULL;
	store_error e;
	int rc = 1;
	if (store_connect(&p, &c, &e) != 0) {
		fprintf(stderr, "dagproc db %s: %s: %s (%s)\n", action, shown, cause_of(&e),
		        e.message);
		goto out;
	}
	int version = 0;
	if (store_schema_version(c, &version, &e) != 0) {
		fprintf(stderr, "dagproc db %s: %s: cannot read the schema version: %s\n", action,
		        shown, e.message);
		goto out;
	}
	if (strcmp(action, "check") == 0) {
		const char *sv = store_server_version(c);
		if (version < STORE_SCHEMA_VERSION) {
			fprintf(
			    stderr,
			    "dagproc db check: %s: schema too old (version %d, this dagproc needs "
			    "%d; run 'dagproc db migrate')\n",
			    shown, version, STORE_SCHEMA_VERSION);
			goto out;
		}
		if (version > STORE_SCHEMA_VERSION) {
			fprintf(
			    stderr,
			    "dagproc db check: %s: schema version %d is newer than this dagproc "
			    "(%d)\n",
			    shown, version, STORE_SCHEMA_VERSION);
			goto out;
		}
		printf("database: %s\nserver: %s %s\nschema version: %d (current)\n", shown,
		       db_dialect_name(url.dialect), sv && *sv ? sv : "", version);
		rc = 0;
		goto out;
	}
	if (strcmp(action, "reset") == 0) {
		if (!yes) {
			if (!isatty(STDIN_FILENO)) {
				fprintf(stderr,
				        "dagproc db reset: refusing to drop %s without --yes "
				        "(standard input is not a terminal)\n",
				        shown);
				rc = 2;
				goto out;
			}
			fprintf(stderr,
			        "Drop every dagproc table of %s? Type 'yes' to confirm: ", shown);
			char answer[16] = "";
			if (!fgets(answer, sizeof(answer), stdin) ||
			    strncmp(answer, "yes", 3) != 0) {
				fprintf(stderr,
				        "dagproc db reset: not confirmed; nothing dropped\n");
				rc = 1;
				goto out;
			}
		}
		if (store_drop_schema(c, &e) != 0) {
			fprintf(stderr, "dagproc db reset: %s: %s\n", shown, e.message);
			goto out;
		}
	}
	if (store_migrate(c, &e) != 0) {
		fprintf(stderr, "dagproc db %s: %s: migration failed: %s\n", action, shown,
		        e.message);
		goto out;
	}
	if (store_schema_version(c, &version, &e) != 0) {
		fprintf(stderr, "dagproc db %s: %s: %s\n", action, shown, e.message);
		goto out;
	}
	printf("%s: schema version %d\n", shown, version);
	rc = 0;
out:
	store_close(c);
	free(shown);
	db_url_free(&url);
	return rc;
}
