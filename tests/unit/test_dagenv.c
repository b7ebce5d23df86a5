/* Unit tests of the environment DAG files see (issue 10, SPEC §5 W005): the deny and
 * allow policy, $VAR expansion through it, where W005 lands, and what the workers'
 * environment and the fingerprint hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dagfile/catalog.h"
#include "dagfile/dagenv.h"
#include "dagfile/dagfile.h"
#include "dagfile/yaml.h"

static catalog *cat;

static int setup(void **state)
{
	(void)state;
	char *err = NULL;
	cat = catalog_load(NULL, 0, &err);
	setenv("DAGPROC__DATABASE__SQL_CONN", "postgresql://u:conn-secret@h/db", 1);
	setenv("DAGPROC__API__AUTH_TOKEN", "api-token-value", 1);
	setenv("T_DB_PASSWORD", "hunter2", 1);
	setenv("T_PLAIN", "plain", 1);
	setenv("T_API_TOKEN", "tok-value", 1);
	setenv("T_SIGNING_KEY", "key-value", 1);
	setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "postgresql://a:airflow-secret@h/af", 1);
	setenv("AIRFLOW__CORE__FERNET_KEY", "fernet-value", 1);
	setenv("AIRFLOW_CONN_MY_DB", "postgres://x:conn-pw@h/d", 1);
	setenv("T_INTERNAL", "internal-value", 1);
	unsetenv("T_UNSET_PASSWORD");
	return cat ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	catalog_free(cat);
	dagenv_reset();
	return 0;
}

static void test_policy(void **state)
{
	(void)state;
	dagenv_reset();
#define DENIED(s) dagenv_denied((s), strlen(s))
	static const char *const denied[] = {"DAGPROC__DATABASE__SQL_CONN",
	                                     "DAGPROC__API__AUTH_TOKEN",
	                                     "dagproc__x__y",
	                                     "PGPASSWORD",
	                                     "DB_PASSWORD",
	                                     "db_password",
	                                     "MYSQL_PWD",
	                                     "SMTP_PASS",
	                                     "AWS_SECRET_ACCESS_KEY",
	                                     "AWS_SESSION_TOKEN",
	                                     "GITHUB_TOKEN",
	                                     "OPENAI_API_KEY",
	                                     "AIRFLOW__CORE__FERNET_KEY",
	                                     "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
	                                     "AIRFLOW__CORE__SQL_ALCHEMY_CONN",
	                                     "AIRFLOW_CONN_POSTGRES_DEFAULT",
	                                     "GOOGLE_APPLICATION_CREDENTIALS",
	                                     "SENTRY_DSN",
	                                     "DATABASE_URL",
	                                     "MY_PRIVATE_KEY_PEM",
	                                     "AIRFLOW__SECRETS__BACKEND_KWARGS"};
	for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++)
		if (!DENIED(denied[i]))
			fail_msg("%s is not denied", denied[i]);
	static const char *const allowed[] = {
	    "HOME",   "PATH",      "ENVIRONMENT",  "DAG_OWNER", "KEYBOARD",
	    "BYPASS", "DAGPROC_X", "AIRFLOW_HOME", "S3_BUCKET", "AIRFLOW_VAR_REGION"};
	for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
		if (DENIED(allowed[i]))
			fail_msg("%s is denied", allowed[i]);

	/* [core] dag_env_deny adds; dag_env_allow lets names through the defaults only */
	static const char *const deny[] = {"INTERNAL_*", "t_internal"};
	static const char *const allow[] = {"GITHUB_TOKEN", "*_PUBLIC_KEY", "DAGPROC__*",
	                                    "INTERNAL_OK"};
	/* a value that is a URL with a password is a credential whatever the name */
	setenv("T_SOME_URL", "postgresql://u:pw@h/db", 1);
	setenv("T_PROXY", "see http://user:pass@proxy:3128 there", 1);
	setenv("T_URL_NO_PW", "postgresql://u@h/db?x=a:b@c", 1);
	setenv("T_URL_EMPTY_PW", "mysql://u:@h/db", 1);
	assert_true(DENIED("T_SOME_URL"));
	assert_true(DENIED("T_PROXY"));
	assert_false(DENIED("T_URL_NO_PW"));
	assert_false(DENIED("T_URL_EMPTY_PW"));
	static const char *const allow_url[] = {"T_SOME_URL"};
	dagenv_configure(NULL, 0, allow_url, 1);
	assert_false(DENIED("T_SOME_URL"));
	assert_true(DENIED("T_PROXY"));
	unsetenv("T_SOME_URL");
	unsetenv("T_PROXY");
	unsetenv("T_URL_NO_PW");
	unsetenv("T_URL_EMPTY_PW");

	dagenv_configure(deny, 2, allow, 4);
	assert_true(DENIED("INTERNAL_HOST"));
	assert_true(DENIED("T_INTERNAL"));  /* case does not matter */
	assert_true(DENIED("INTERNAL_OK")); /* an explicit deny beats an allow */
	assert_false(DENIED("GITHUB_TOKEN"));
	assert_false(DENIED("SSH_PUBLIC_KEY"));
	assert_true(DENIED("SSH_PRIVATE_KEY"));
	assert_true(DENIED("DAGPROC__API__AUTH_TOKEN")); /* the processor's own: always */
	dagenv_reset();
#undef DENIED
}

struct seen {
	char names[8][64];
	size_t offs[8];
	size_t n;
};

static void on_denied(void *ud, const char *name, size_t len, size_t off)
{
	struct seen *s = ud;
	snprintf(s->names[s->n], sizeof s->names[0], "%.*s", (int)len, name);
	s->offs[s->n++] = off;
}

static void test_expand(void **state)
{
	(void)state;
	dagenv_reset();
	struct seen s = {0};
	size_t n;
	const char *in = "a $T_PLAIN b ${T_DB_PASSWORD} c $DAGPROC__API__AUTH_TOKEN "
	                 "$T_UNSET_PASSWORD $T_PLAIN";
	char *out = yaml_expand_env_ex(in, strlen(in), &n, on_denied, &s);
	assert_string_equal(out, "a plain b ${T_DB_PASSWORD} c $DAGPROC__API__AUTH_TOKEN "
	                         "$T_UNSET_PASSWORD plain");
	/* denied and set: reported with the offset of the '$' in the result; an unset one
	 * would have stayed as written anyway */
	assert_int_equal(s.n, 2);
	assert_string_equal(s.names[0], "T_DB_PASSWORD");
	assert_int_equal(s.offs[0], 10);
	assert_int_equal(out[s.offs[0]], '$');
	assert_string_equal(s.names[1], "DAGPROC__API__AUTH_TOKEN");
	assert_int_equal(out[s.offs[1]], '$');
	free(out);
	/* the plain function applies the policy too (dagproc check prints source lines) */
	out = yaml_expand_env(in, strlen(in), &n);
	assert_null(strstr(out, "hunter2"));
	assert_null(strstr(out, "api-token-value"));
	free(out);
	/* a worker knows from the daemon which denied variables were set */
	const char *const present[] = {"T_UNSET_PASSWORD"};
	dagenv_add_present(present, 1);
	memset(&s, 0, sizeof s);
	out = yaml_expand_env_ex(in, strlen(in), &n, on_denied, &s);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.names[2], "T_UNSET_PASSWORD");
	free(out);
	dagenv_reset();
}

static dagfile_result parse(const char *yaml)
{
	static const char *const pools[] = {"default_pool"};
	dagfile_opts o = {
	    .cat = cat, .bundle_root = "/nonexistent-dagproc-test", .pools = pools, .npools = 1};
	dagfile_result r;
	dagfile_parse_text("/nonexistent-dagproc-test/env.yml", yaml, strlen(yaml), &o, &r);
	return r;
}

static size_t count_w005(const dagfile_result *r, const char *dag_id, const char *var)
{
	size_t n = 0;
	for (size_t i = 0; i < r->nwarnings; i++) {
		const diag *d = &r->warnings[i];
		if (strcmp(d->code, "W005") != 0)
			continue;
		assert_string_equal(d->warning_type, "environment");
		if ((dag_id ? d->dag_id && strcmp(d->dag_id, dag_id) == 0 : !d->dag_id) &&
		    (!var || strncmp(d->message + 1, var, strlen(var)) == 0))
			n++;
	}
	return n;
}

static void assert_no_secret(const dagfile_result *r)
{
	static const char *const values[] = {"conn-secret",  "api-token-value", "hunter2",
	                                     "tok-value",    "key-value",       "airflow-secret",
	                                     "fernet-value", "conn-pw"};
	for (size_t i = 0; i < r->ndags; i++)
		for (size_t k = 0; k < sizeof values / sizeof values[0]; k++)
			if (strstr(r->dags[i].json, values[k]))
				fail_msg("%s in the serialized DAG", values[k]);
	for (size_t i = 0; i < r->nwarnings + r->nerrors; i++) {
		const diag *d = i < r->nwarnings ? &r->warnings[i] : &r->errors[i - r->nwarnings];
		for (size_t k = 0; k < sizeof values / sizeof values[0]; k++)
			if (strstr(d->message, values[k]))
				fail_msg("%s in a diagnostic", values[k]);
	}
}

#define OP "airflow.providers.standard.operators.bash.BashOperator"

static void test_w005(void **state)
{
	(void)state;
	dagenv_reset();
	dagfile_result r = parse("# header: $T_SIGNING_KEY\n"
	                         "default:\n"
	                         "  description: \"from default $AIRFLOW__CORE__FERNET_KEY\"\n"
	                         "first:\n"
	                         "  description: \"$T_PLAIN ${DAGPROC__DATABASE__SQL_CONN}\"\n"
	                         "  tasks:\n"
	                         "    - task_id: t\n"
	                         "      operator: " OP "\n"
	                         "      bash_command: echo $T_DB_PASSWORD $T_DB_PASSWORD "
	                         "$T_UNSET_PASSWORD\n"
	                         "second:\n"
	                         "  tasks:\n"
	                         "    - task_id: t\n"
	                         "      operator: " OP "\n"
	                         "      bash_command: echo $AIRFLOW_CONN_MY_DB $T_API_TOKEN\n"
	                         "      retries: many\n");
	assert_int_equal(r.ndags, 1);
	assert_string_equal(r.dags[0].dag_id, "first");
	assert_int_equal(r.nerror_dag_ids, 1);
	assert_no_secret(&r);
	assert_non_null(strstr(r.dags[0].json, "plain ${DAGPROC__DATABASE__SQL_CONN}"));
	assert_non_null(strstr(r.dags[0].json, "echo $T_DB_PASSWORD $T_DB_PASSWORD"));
	/* in a DAG: that DAG (also one with errors), once per variable */
	assert_int_equal(count_w005(&r, "first", "DAGPROC__DATABASE__SQL_CONN"), 1);
	assert_int_equal(count_w005(&r, "first", "T_DB_PASSWORD"), 1);
	assert_int_equal(count_w005(&r, "second", "T_DB_PASSWORD"), 0);
	assert_int_equal(count_w005(&r, "second", "AIRFLOW_CONN_MY_DB"), 1);
	assert_int_equal(count_w005(&r, "second", "T_API_TOKEN"), 1);
	/* before any DAG or in the default block: every DAG of the file */
	assert_int_equal(count_w005(&r, "first", "T_SIGNING_KEY"), 1);
	assert_int_equal(count_w005(&r, "second", "T_SIGNING_KEY"), 1);
	assert_int_equal(count_w005(&r, "first", "AIRFLOW__CORE__FERNET_KEY"), 1);
	assert_int_equal(count_w005(&r, "second", "AIRFLOW__CORE__FERNET_KEY"), 1);
	/* unset: no warning (left as written, as any unset variable) */
	assert_int_equal(count_w005(&r, "first", "T_UNSET_PASSWORD"), 0);
	assert_int_equal(count_w005(&r, NULL, NULL), 0);
	assert_int_equal(count_w005(&r, "first", NULL) + count_w005(&r, "second", NULL), 8);
	for (size_t i = 0; i < r.nwarnings; i++) {
		const diag *d = &r.warnings[i];
		if (strcmp(d->code, "W005") == 0 &&
		    strstr(d->message, "$DAGPROC__DATABASE__SQL_CONN")) {
			assert_int_equal(d->line, 5);
			/* in the file as written (the expanded text has "plain" for $T_PLAIN:
			 * column 23 there) */
			assert_int_equal(d->col, 26);
			assert_string_equal(
			    d->message,
			    "$DAGPROC__DATABASE__SQL_CONN is not expanded: DAG files may not read "
			    "the "
			    "processor's own settings or variables that look like secrets ([core] "
			    "dag_env_deny, dag_env_allow); left as written");
		}
	}
	dagfile_result_free(&r);

	/* a file without any DAG: the warning belongs to the file */
	r = parse("# $T_DB_PASSWORD\n[1, 2]\n");
	assert_int_equal(count_w005(&r, NULL, "T_DB_PASSWORD"), 1);
	assert_int_equal(r.nerrors, 1);
	dagfile_result_free(&r);

	/* allowed names are expanded as before, and warn of nothing */
	static const char *const allow[] = {"T_*"};
	dagenv_configure(NULL, 0, allow, 1);
	r = parse("d:\n  description: \"$T_DB_PASSWORD\"\n  tasks: []\n");
	assert_int_equal(r.ndags, 1);
	assert_non_null(strstr(r.dags[0].json, "hunter2"));
	assert_int_equal(count_w005(&r, "d", NULL), 0);
	dagfile_result_free(&r);
	dagenv_reset();
}

/* The policy and the denied variables that are set change results (W005), so they
 * are part of the fingerprint of every file with a '$'; the workers' environment
 * lacks them. */
static void test_fingerprint_and_worker_env(void **state)
{
	(void)state;
	dagenv_reset();
	uint64_t h0 = dagenv_hash();
	dagfile_result r0 = parse("d:\n  description: $T_PLAIN\n  tasks: []\n");
	dagfile_result p0 = parse("d:\n  description: plain\n  tasks: []\n");
	static const char *const deny[] = {"T_PLAIN"};
	dagenv_configure(deny, 1, NULL, 0);
	assert_true(dagenv_hash() != h0);
	dagfile_result r1 = parse("d:\n  description: $T_PLAIN\n  tasks: []\n");
	dagfile_result p1 = parse("d:\n  description: plain\n  tasks: []\n");
	/* a file with a '$' is parsed again; one without is not concerned */
	assert_true(r0.source_hash != r1.source_hash);
	assert_true(p0.source_hash == p1.source_hash);
	dagfile_result_free(&r0);
	dagfile_result_free(&r1);
	dagfile_result_free(&p0);
	dagfile_result_free(&p1);
	dagenv_reset();
	assert_true(dagenv_hash() == h0);
	setenv("T_NEW_SECRET", "x", 1);
	dagenv_reset(); /* the environment is read once per policy */
	assert_true(dagenv_hash() != h0);
	unsetenv("T_NEW_SECRET");
	dagenv_reset();
	assert_true(dagenv_hash() == h0);

	size_t n;
	char **present = dagenv_present_denied(&n);
	bool conn = false, plain = false;
	for (size_t i = 0; i < n; i++) {
		conn |= strcmp(present[i], "DAGPROC__DATABASE__SQL_CONN") == 0;
		plain |= strcmp(present[i], "T_PLAIN") == 0;
		if (i)
			assert_true(strcmp(present[i - 1], present[i]) < 0);
	}
	assert_true(conn);
	assert_false(plain);
	dagenv_free_list(present);
	char **env = dagenv_worker_environ();
	plain = false;
	for (size_t i = 0; env[i]; i++) {
		if (strstr(env[i], "conn-secret") || strstr(env[i], "hunter2") ||
		    strncmp(env[i], "DAGPROC__", 9) == 0 || strstr(env[i], "fernet-value"))
			fail_msg("worker environment holds %s", env[i]);
		plain |= strcmp(env[i], "T_PLAIN=plain") == 0;
	}
	assert_true(plain);
	free(env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_policy),
	    cmocka_unit_test(test_expand),
	    cmocka_unit_test(test_w005),
	    cmocka_unit_test(test_fingerprint_and_worker_env),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
