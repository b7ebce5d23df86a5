/* libFuzzer target over the configuration parsers: one input is at once an INI
 * file (config_load_file on an in-memory file), an environment (one variable a
 * line, config_apply_env) and a database URL (config_parse_db_url, redaction). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config/config.h"
#include "config/dburl.h"
#include "util/xalloc.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ENV 64

static int memfd = -1;
static char ini_path[64]; /* /proc/self/fd/N of the memfd: opened anew by fopen */
static FILE *devnull;

static void cleanup(void)
{
	if (devnull)
		fclose(devnull);
	if (memfd >= 0)
		close(memfd);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	memfd = memfd_create("fuzz_config.cfg", 0);
	devnull = fopen("/dev/null", "w");
	if (memfd < 0 || !devnull) {
		perror("fuzz_config: memfd_create or /dev/null");
		abort();
	}
	snprintf(ini_path, sizeof(ini_path), "/proc/self/fd/%d", memfd);
	atexit(cleanup);
	return 0;
}

static void fuzz_ini(const uint8_t *data, size_t size)
{
	if (ftruncate(memfd, 0) != 0 || (size && pwrite(memfd, data, size, 0) != (ssize_t)size))
		abort();
	struct dagproc_config *cfg = config_new();
	char *err = NULL;
	if (config_load_file(cfg, ini_path, &err) == 0) {
		if (err)
			abort();
		/* what a successful load feeds: the dump and the reload check */
		config_dump(cfg, devnull);
		struct dagproc_config *def = config_new();
		free(config_reload_conflicts(def, cfg));
		config_free(def);
	} else if (!err) {
		abort();
	}
	free(err);
	config_free(cfg);
}

/* Lines (split at '\n', NULs cut them short) as a NULL-terminated envp. */
static void fuzz_env(const char *text, size_t size)
{
	char *copy = xstrndup(text, size);
	char *envp[MAX_ENV + 1];
	size_t n = 0;
	for (char *p = copy; n < MAX_ENV && p < copy + size;) {
		char *nl = memchr(p, '\n', (size_t)(copy + size - p));
		if (nl)
			*nl = '\0';
		envp[n++] = p;
		if (!nl)
			break;
		p = nl + 1;
	}
	envp[n] = NULL;
	struct dagproc_config *cfg = config_new();
	char *err = NULL;
	if (config_apply_env(cfg, envp, &err) != 0 && !err)
		abort();
	free(err);
	config_free(cfg);
	free(copy);
}

static void fuzz_url(const char *text, size_t size)
{
	char *url = xstrndup(text, size);
	struct db_url u;
	char *err = NULL;
	if (config_parse_db_url(url, &u, &err) == 0) {
		(void)db_url_param(&u, "password");
		(void)db_url_param(&u, "sslmode");
		(void)db_dialect_name(u.dialect);
		if ((u.dialect == DB_SQLITE) != (u.path != NULL))
			abort();
		db_url_free(&u);
	} else if (!err) {
		abort();
	}
	free(err);
	free(db_url_redacted(url));
	free(url);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (1u << 20))
		return 0;
	fuzz_ini(data, size);
	fuzz_env((const char *)data, size);
	fuzz_url((const char *)data, size);
	return 0;
}
