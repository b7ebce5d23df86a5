/* Configuration: one table of every setting (SPEC §2) driving defaults, the INI
 * file, DAGPROC__SECTION__KEY environment overrides, command-line overrides,
 * the --help text and the masked dump of the effective configuration. */
#ifndef DAGPROC_CONFIG_H
#define DAGPROC_CONFIG_H

#include "log/log.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* A comma-separated list: trimmed, empty entries dropped. */
struct config_list {
	char **v;
	size_t n;
};

/* [core] bundles: "name=path, name=path". */
struct config_bundle {
	char *name;
	char *path;
};
struct config_bundles {
	struct config_bundle *v;
	size_t n;
};

enum config_sort_mode {
	CONFIG_SORT_MODIFIED_TIME,
	CONFIG_SORT_RANDOM_SEEDED_BY_HOST,
	CONFIG_SORT_ALPHABETICAL,
};

/* Where a setting's value came from. */
enum config_source { CONFIG_SRC_DEFAULT, CONFIG_SRC_FILE, CONFIG_SRC_ENV, CONFIG_SRC_CLI };

struct config_origin; /* private: per-setting source, for config_dump */

struct dagproc_config {
	struct {
		char *dags_folder; /* the default bundle, named "dags-folder" */
		struct config_bundles bundles;
		struct config_list operator_catalog;
		struct config_list unchecked_operator_modules;
		struct config_list pools;
		bool strict_catalog; /* a module outside the catalog's coverage is E011 */
		struct config_list dag_env_deny; /* globs DAG files never see (added to defaults) */
		struct config_list dag_env_allow; /* globs let through despite the defaults */
	} core;
	struct {
		char *sql_conn; /* validated by config_parse_db_url */
		int pool_size;
		int max_overflow;
		double pool_timeout; /* seconds */
		bool pool_pre_ping;
		int pool_recycle; /* seconds; 0 = never */
		int max_db_retries;
		int retry_backoff_max; /* seconds */
		int connect_timeout;
		char *schema;          /* PostgreSQL: schema of dagproc's tables */
		int statement_timeout; /* seconds; 0 = none */
		int once_timeout;
		char *sql_conn_file; /* read sql_conn from this file ("" = no) */
		char *sql_conn_cmd;  /* or from this command's output ("" = no) */
	} database;
	struct {
		int refresh_interval;
		int min_file_process_interval;
		int dag_file_processor_timeout;
		int parsing_processes;
		int worker_memory_limit; /* MiB */
		int max_file_size;       /* MiB */
		int stale_dag_threshold;
		enum config_sort_mode file_parsing_sort_mode;
		bool watch;
		char *instance_name; /* "" = hostname:pid, resolved by the processor */
		int lease_seconds;   /* file leases between processors (database clock) */
		char *status_file;   /* "" = $RUNTIME_DIRECTORY/dagproc.status, else /tmp/ */
	} dag_processor;
	struct {
		bool enabled;
		char *host;
		int port;
		char *auth_token; /* "" = no authentication */
		char *auth_token_file;
		char *auth_token_cmd;
		bool allow_unauthenticated; /* serve /api on a non-loopback host without a token */
		char *tls_cert;             /* HTTPS when both are set */
		char *tls_key;
	} api;
	struct {
		enum log_level level;
		enum log_format format;
	} logging;

	char *path; /* the INI file that was read, or NULL */
	struct config_origin *origin;
};

enum config_type {
	CONFIG_STRING,
	CONFIG_INT,
	CONFIG_BOOL,
	CONFIG_FLOAT,
	CONFIG_LIST,  /* struct config_list */
	CONFIG_PAIRS, /* struct config_bundles */
	CONFIG_ENUM,  /* an enum stored as int; choices[] in enum order */
};

#define CONFIG_RELOADABLE 0x1u /* may change on reload without a restart */
#define CONFIG_SECRET     0x2u /* never printed: masked in dumps and errors */

/* One row of the table. */
struct config_setting {
	const char *section;
	const char *key;
	enum config_type type;
	const char *def; /* default, as it would be written in the INI file */
	unsigned flags;
	const char *help;
	size_t offset;              /* of the field in struct dagproc_config */
	long long min, max;         /* CONFIG_INT / CONFIG_FLOAT range */
	const char *const *choices; /* CONFIG_ENUM, NULL-terminated */
	/* Extra check of a parsed value; returns NULL or an error (caller frees). */
	char *(*validate)(const char *text);
};

/* The table, in SPEC order. */
const struct config_setting *config_settings(size_t *n);
/* Case-insensitive lookup; NULL if unknown. */
const struct config_setting *config_find(const char *section, const char *key);

/* A configuration holding the defaults. Never NULL. */
struct dagproc_config *config_new(void);
void config_free(struct dagproc_config *cfg);

/* The whole chain: defaults, then the INI file (path if non-NULL, else
 * $DAGPROC_CONFIG if set and non-empty, else ./dagproc.cfg if it exists; a
 * named file that is missing is an error), then DAGPROC__SECTION__KEY
 * variables of the environment, then the secrets kept elsewhere
 * (config_resolve_secrets). Returns NULL with *err set (one line, caller
 * frees) on the first error. Command-line flags follow with config_set. */
struct dagproc_config *config_load(const char *path, char **err)
    __attribute__((warn_unused_result));

/* The steps of config_load, for tests and reload. Each returns 0, or -1 with
 * *err set; on error cfg may hold some of the new values: throw it away. */
int config_load_file(struct dagproc_config *cfg, const char *path, char **err)
    __attribute__((warn_unused_result));
/* envp as in main(); only DAGPROC__* entries are looked at. */
int config_apply_env(struct dagproc_config *cfg, char *const *envp, char **err)
    __attribute__((warn_unused_result));
/* [database] sql_conn and [api] auth_token from their _file (the container secrets
 * convention: the file's content, trailing blanks and newlines dropped) or _cmd (the
 * standard output of `/bin/sh -c CMD`, as Airflow's _cmd settings, within 30 s and
 * with status 0). Of a setting's three sources the one set in the most specific
 * place (command line, then environment, then file) wins; two in the same place is
 * an error. */
int config_resolve_secrets(struct dagproc_config *cfg, char **err)
    __attribute__((warn_unused_result));

/* Sets one setting from text (the CLI's --dags / --db). Errors look like
 * "[database] pool_size: 'many' is not an integer". */
int config_set(struct dagproc_config *cfg, const char *section, const char *key, const char *value,
               char **err) __attribute__((warn_unused_result));
/* Same, recording where the value came from (for config_dump). */
int config_set_from(struct dagproc_config *cfg, const char *section, const char *key,
                    const char *value, enum config_source src, const char *where, char **err)
    __attribute__((warn_unused_result));

/* The value of a setting as INI text; secrets masked when mask is true.
 * Caller frees. */
char *config_value_text(const struct dagproc_config *cfg, const struct config_setting *s,
                        bool mask);

/* "--help"-style description of every setting: section, key, type, default,
 * environment variable, reloadable, help. */
void config_describe(FILE *out);
/* The effective configuration as an INI file, passwords and tokens masked,
 * each non-default value followed by a comment saying where it came from. */
void config_dump(const struct dagproc_config *cfg, FILE *out);

/* The start-up warning for a configuration file that holds a secret (a database
 * password, the API token) and that other users may read, naming the file, its mode
 * and what to do; NULL when there is nothing to say. Caller frees. */
char *config_exposure_warning(const struct dagproc_config *cfg);

/* For a reload: the settings that differ between old and new but cannot
 * change without a restart, as "[database] pool_size, [api] port"; NULL when
 * the new configuration can be applied as is. Caller frees. */
char *config_reload_conflicts(const struct dagproc_config *old_cfg,
                              const struct dagproc_config *new_cfg);

#endif
