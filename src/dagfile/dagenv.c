/* The environment DAG files see: the deny/allow policy over variable names, the
 * lookup $VAR expansion uses, and the filtered environment of the workers. */
#include "dagfile/dagenv.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <xxhash.h>

#include "util/xalloc.h"

extern char **environ;

/* The processor's own settings: denied whatever dag_env_allow says. */
static const char own_prefix[] = "DAGPROC__";

/* Names that say they hold secrets, denied unless dag_env_allow names them; so is a
 * variable whose value is a URL with a password. */
static const char *const default_deny[] = {
    "*PASSWORD*",
    "*PASSWD*",
    "*_PWD",
    "*_PASS",
    "*SECRET*",
    "*TOKEN*",
    "*_KEY",
    "*PRIVATE_KEY*",
    "*CREDENTIAL*",
    "*_DSN",
    "DATABASE_URL",
    "AIRFLOW__DATABASE__*",
    "AIRFLOW__CORE__SQL_ALCHEMY_CONN*",
    "AIRFLOW__CORE__FERNET_KEY*",
    "AIRFLOW__SECRETS__*",
    "AIRFLOW_CONN_*",
};

static struct {
	char **deny, **allow;
	size_t ndeny, nallow;
	char **present; /* names added by dagenv_add_present */
	size_t npresent;
	uint64_t hash; /* dagenv_hash, once computed; 0 = not yet */
} g;

static void free_strs(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static char **copy_strs(const char *const *v, size_t n)
{
	char **out = xcalloc(n ? n : 1, sizeof *out);
	for (size_t i = 0; i < n; i++)
		out[i] = xstrdup(v[i]);
	return out;
}

void dagenv_reset(void)
{
	free_strs(g.deny, g.ndeny);
	free_strs(g.allow, g.nallow);
	free_strs(g.present, g.npresent);
	memset(&g, 0, sizeof g);
}

void dagenv_configure(const char *const *deny, size_t ndeny, const char *const *allow,
                      size_t nallow)
{
	free_strs(g.deny, g.ndeny);
	free_strs(g.allow, g.nallow);
	g.deny = copy_strs(deny, ndeny);
	g.ndeny = ndeny;
	g.allow = copy_strs(allow, nallow);
	g.nallow = nallow;
	g.hash = 0;
}

void dagenv_add_present(const char *const *names, size_t n)
{
	g.present = xrealloc(g.present, (g.npresent + n + 1) * sizeof *g.present);
	for (size_t i = 0; i < n; i++)
		g.present[g.npresent++] = xstrdup(names[i]);
	g.hash = 0;
}

static bool matches(const char *name, const char *const *globs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fnmatch(globs[i], name, FNM_CASEFOLD) == 0)
			return true;
	return false;
}

/* A value holding scheme://user:password@..., whatever the variable's name
 * (PG_URL, SQLALCHEMY_URI...): a credential as well. */
static bool value_has_credentials(const char *v)
{
	for (const char *m = v ? strstr(v, "://") : NULL; m; m = strstr(m + 3, "://")) {
		const char *p = m + 3;
		size_t n = strcspn(p, "/@ \t\n");
		if (p[n] != '@')
			continue;
		const char *colon = memchr(p, ':', n);
		if (colon && colon + 1 < p + n)
			return true;
	}
	return false;
}

static bool denied_z(const char *name)
{
	if (strncasecmp(name, own_prefix, sizeof own_prefix - 1) == 0)
		return true;
	for (size_t i = 0; i < g.npresent; i++)
		if (strcmp(g.present[i], name) == 0)
			return true;
	if (!matches(name, (const char *const *)g.allow, g.nallow) &&
	    value_has_credentials(getenv(name)))
		return true;
	if (matches(name, (const char *const *)g.deny, g.ndeny))
		return true;
	return matches(name, default_deny, sizeof default_deny / sizeof default_deny[0]) &&
	       !matches(name, (const char *const *)g.allow, g.nallow);
}

bool dagenv_denied(const char *name, size_t len)
{
	char small[256];
	char *z = len < sizeof small ? small : xmalloc(len + 1);
	memcpy(z, name, len);
	z[len] = '\0';
	bool d = denied_z(z);
	if (z != small)
		free(z);
	return d;
}

const char *dagenv_lookup(const char *name, size_t len, bool *warn)
{
	char small[256];
	const char *val = NULL;
	*warn = false;
	if (len == 0 || memchr(name, '\0', len))
		return NULL;
	char *z = len < sizeof small ? small : xmalloc(len + 1);
	memcpy(z, name, len);
	z[len] = '\0';
	if (denied_z(z)) {
		*warn = getenv(z) != NULL;
		for (size_t i = 0; !*warn && i < g.npresent; i++)
			*warn = strcmp(g.present[i], z) == 0;
	} else {
		val = getenv(z);
	}
	if (z != small)
		free(z);
	return val;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **dagenv_present_denied(size_t *n)
{
	size_t cap = g.npresent + 1, k = 0;
	for (char **e = environ; e && *e; e++)
		cap++;
	char **out = xcalloc(cap, sizeof *out);
	for (char **e = environ; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		if (!eq || eq == *e)
			continue;
		char *name = xstrndup(*e, (size_t)(eq - *e));
		if (denied_z(name))
			out[k++] = name;
		else
			free(name);
	}
	for (size_t i = 0; i < g.npresent; i++)
		out[k++] = xstrdup(g.present[i]);
	qsort(out, k, sizeof *out, cmp_str);
	size_t w = 0;
	for (size_t i = 0; i < k; i++) {
		if (w > 0 && strcmp(out[w - 1], out[i]) == 0)
			free(out[i]);
		else
			out[w++] = out[i];
	}
	out[w] = NULL;
	*n = w;
	return out;
}

char **dagenv_worker_environ(void)
{
	size_t cap = 1, k = 0;
	for (char **e = environ; e && *e; e++)
		cap++;
	char **out = xcalloc(cap, sizeof *out);
	for (char **e = environ; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		if (!eq || eq == *e)
			continue;
		if (!dagenv_denied(*e, (size_t)(eq - *e)))
			out[k++] = *e;
	}
	out[k] = NULL;
	return out;
}

void dagenv_free_list(char **list)
{
	for (size_t i = 0; list && list[i]; i++)
		free(list[i]);
	free(list);
}

uint64_t dagenv_hash(void)
{
	if (g.hash)
		return g.hash;
	XXH3_state_t *h = XXH3_createState();
	XXH3_64bits_reset(h);
	XXH3_64bits_update(h, "dagenv-1", 8);
	for (size_t i = 0; i < g.ndeny; i++)
		XXH3_64bits_update(h, g.deny[i], strlen(g.deny[i]) + 1);
	XXH3_64bits_update(h, "\x1e", 1);
	for (size_t i = 0; i < g.nallow; i++)
		XXH3_64bits_update(h, g.allow[i], strlen(g.allow[i]) + 1);
	XXH3_64bits_update(h, "\x1e", 1);
	size_t n;
	char **present = dagenv_present_denied(&n);
	for (size_t i = 0; i < n; i++)
		XXH3_64bits_update(h, present[i], strlen(present[i]) + 1);
	dagenv_free_list(present);
	uint64_t v = XXH3_64bits_digest(h);
	XXH3_freeState(h);
	g.hash = v ? v : 1;
	return g.hash;
}
