/* Unit tests for bundle/ignore (.dagignore glob rules), bundle/walk (listing a
 * bundle in a temporary directory) and util/fsutil. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <ftw.h>

#include <cmocka.h>

#include "bundle/ignore.h"
#include "bundle/walk.h"
#include "util/fsutil.h"
#include "util/xalloc.h"

/* ---- ignore rules from text --------------------------------------------- */

static bool ig(const char *text, const char *base, const char *rel, bool is_dir)
{
	ignore_rules *r = ignore_from_text(NULL, text, base);
	bool m = ignore_match(r, rel, is_dir);
	ignore_free(r);
	return m;
}

static void test_ignore_basics(void **state)
{
	(void)state;
	/* comments and blank lines */
	assert_false(ig("# just a comment\n\n   \n", "", "a.yml", false));
	assert_true(ig("# comment\na.yml\n", "", "a.yml", false));
	assert_true(ig("a.yml   # trailing comment\n", "", "a.yml", false));
	assert_true(ig("  a.yml  \r\n", "", "a.yml", false));
	assert_false(ig("a.yml\n", "", "b.yml", false));
	/* no slash: the basename at any depth */
	assert_true(ig("a.yml", "", "x/y/a.yml", false));
	assert_true(ig("*.yml", "", "deep/er/file.yml", false));
	assert_false(ig("*.yml", "", "deep/er/file.yaml", false));
	assert_true(ig("*_test.y*ml", "", "sub/dag_test.yaml", false));
	/* '?' and classes */
	assert_true(ig("dag?.yml", "", "dag1.yml", false));
	assert_false(ig("dag?.yml", "", "dag10.yml", false));
	assert_true(ig("dag[0-9].yml", "", "dag7.yml", false));
	assert_false(ig("dag[0-9].yml", "", "dagx.yml", false));
	assert_true(ig("dag[!0-9].yml", "", "dagx.yml", false));
	assert_false(ig("dag[!0-9].yml", "", "dag3.yml", false));
	assert_true(ig("dag[abc].yml", "", "dagb.yml", false));
	assert_true(ig("dag[.yml", "", "dag[.yml", false));
	/* escapes */
	assert_true(ig("\\#hash.yml", "", "#hash.yml", false) == false); /* '#' starts a comment */
	assert_true(ig("star\\*.yml", "", "star*.yml", false));
	assert_false(ig("star\\*.yml", "", "starx.yml", false));
	/* nothing matches "/" alone, and empty rules are harmless */
	assert_false(ig("/\n", "", "a.yml", false));
	assert_false(ig("", "", "a.yml", false));
	assert_false(ig(NULL, "", "a.yml", false));
	/* NULL rules never match */
	assert_false(ignore_match(NULL, "a.yml", false));
}

static void test_ignore_star_does_not_cross_slash(void **state)
{
	(void)state;
	assert_true(ig("sub/*.yml", "", "sub/a.yml", false));
	assert_false(ig("sub/*.yml", "", "sub/deeper/a.yml", false));
	assert_false(ig("sub/*.yml", "", "other/sub/a.yml", false));
	assert_true(ig("sub/**/*.yml", "", "sub/a.yml", false));
	assert_true(ig("sub/**/*.yml", "", "sub/x/y/a.yml", false));
	assert_false(ig("sub/**/*.yml", "", "other/x/a.yml", false));
	assert_true(ig("**/tmp", "", "tmp", true));
	assert_true(ig("**/tmp", "", "a/b/tmp/x.yml", false));
	assert_true(ig("**/tmp/*.yml", "", "a/tmp/x.yml", false));
	assert_false(ig("**/tmp/*.yml", "", "a/tmpx/x.yml", false));
	assert_true(ig("a/**", "", "a/b/c.yml", false));
	assert_false(ig("a/**", "", "ab/c.yml", false));
	assert_true(ig("**", "", "anything/at/all.yml", false));
	/* many stars against a long name: must not take exponential time */
	{
		char name[200];
		memset(name, 'a', 150);
		memcpy(name + 150, ".yml", 5);
		assert_false(ig("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", "", name, false));
		assert_true(ig("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*.yml", "", name, false));
		assert_false(ig("**/*a*a*a*a*a*a*a*a*a*a/**/*a*a*a*a*a*a*a*b", "", name, false));
	}
}

static void test_ignore_anchoring(void **state)
{
	(void)state;
	/* a leading slash anchors to the .dagignore's folder */
	assert_true(ig("/a.yml", "", "a.yml", false));
	assert_false(ig("/a.yml", "", "sub/a.yml", false));
	/* so does a slash in the middle */
	assert_true(ig("sub/a.yml", "", "sub/a.yml", false));
	assert_false(ig("sub/a.yml", "", "x/sub/a.yml", false));
	/* a pattern naming a folder covers what is inside it */
	assert_true(ig("/sub", "", "sub/deep/a.yml", false));
	assert_true(ig("sub/deep", "", "sub/deep/a.yml", false));
	assert_false(ig("/sub", "", "subway/a.yml", false));
}

static void test_ignore_dir_only(void **state)
{
	(void)state;
	assert_true(ig("build/", "", "build", true));
	assert_false(ig("build/", "", "build", false)); /* a file named build */
	assert_true(ig("build/", "", "x/build", true));
	assert_true(ig("build/", "", "x/build/dag.yml", false));
	assert_false(ig("build/", "", "x/build.yml", false));
	assert_true(ig("/build/", "", "build/dag.yml", false));
	assert_false(ig("/build/", "", "x/build/dag.yml", false));
	/* a trailing slash on the path means a directory too */
	assert_true(ig("build/", "", "build/", false));
}

static void test_ignore_negation(void **state)
{
	(void)state;
	assert_false(ig("*.yml\n!keep.yml\n", "", "keep.yml", false));
	assert_true(ig("*.yml\n!keep.yml\n", "", "drop.yml", false));
	/* later rules win */
	assert_true(ig("!keep.yml\n*.yml\n", "", "keep.yml", false));
	assert_true(ig("*.yml\n!keep.yml\nkeep.yml\n", "", "keep.yml", false));
	/* a negated anchored rule */
	assert_false(ig("*.yml\n!/sub/keep.yml\n", "", "sub/keep.yml", false));
	assert_true(ig("*.yml\n!/sub/keep.yml\n", "", "other/keep.yml", false));
	/* a file inside an ignored directory cannot be re-included */
	assert_true(ig("sub/\n!sub/keep.yml\n", "", "sub/keep.yml", false));
}

static void test_ignore_nested_rules(void **state)
{
	(void)state;
	ignore_rules *root = ignore_from_text(NULL, "*.tmp.yml\n", "");
	ignore_rules *sub = ignore_from_text(root, "*\n!*.yml\n/local.yml\nnested/\n", "sub");
	ignore_rules *schedule = ignore_from_text(root, "*\n", "tests/schedule");

	ignore_rules *plain = ignore_from_text(root, "/local.yml\n", "sub");

	/* the root's rules still apply below, the sub rules only in sub */
	assert_true(ignore_match(plain, "sub/x.tmp.yml", false));
	assert_true(ignore_match(plain, "other/x.tmp.yml", false));
	assert_true(ignore_match(root, "sub/x.tmp.yml", false));
	/* ...unless a later rule of the subfolder re-includes the file */
	assert_false(ignore_match(sub, "sub/x.tmp.yml", false));
	/* an anchored rule of a subfolder is relative to that subfolder */
	assert_true(ignore_match(plain, "sub/local.yml", false));
	assert_false(ignore_match(plain, "sub/deeper/local.yml", false));
	assert_false(ignore_match(plain, "local.yml", false));
	ignore_free(plain);
	assert_true(ignore_match(sub, "sub/local.yml", false));
	/* '*' also matches the folder sub/deeper, so nothing below it comes back */
	assert_true(ignore_match(sub, "sub/deeper", true));
	assert_true(ignore_match(sub, "sub/deeper/dag.yml", false));
	assert_false(ignore_match(sub, "local.yml", false));
	assert_false(ignore_match(sub, "other/local.yml", false));
	assert_true(ignore_match(sub, "sub/nested/a.yml", false));
	assert_true(ignore_match(sub, "sub/readme.md", false));
	assert_false(ignore_match(sub, "sub/dag.yml", false));
	/* the parent is unchanged */
	assert_false(ignore_match(root, "sub/local.yml", false));
	ignore_free(root);

	/* '*' alone in a subfolder ignores everything in it, and nothing else */
	assert_true(ignore_match(schedule, "tests/schedule/cron.yml", false));
	assert_true(ignore_match(schedule, "tests/schedule/a/b.yml", false));
	assert_true(ignore_match(schedule, "tests/schedule/a", true));
	assert_false(ignore_match(schedule, "tests/schedule", true));
	assert_false(ignore_match(schedule, "tests/cron.yml", false));
	assert_false(ignore_match(schedule, "tests/schedule2/cron.yml", false));
	assert_false(ignore_match(schedule, "other/tests/schedule/cron.yml", false));
	ignore_free(sub);
	ignore_free(schedule);

	/* base_rel spellings */
	assert_true(ig("/a.yml", "sub/", "sub/a.yml", false));
	assert_true(ig("/a.yml", "./sub", "sub/a.yml", false));
	assert_true(ig("/a.yml", ".", "a.yml", false));
	assert_true(ig("/a.yml", NULL, "a.yml", false));
}

/* ---- temporary bundles -------------------------------------------------- */

typedef struct tmpdir {
	char path[64];
} tmpdir;

static void mk_file(const char *root, const char *rel, const char *text)
{
	char *p = fs_path_join(root, rel);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(p);
}

static void mk_dir(const char *root, const char *rel)
{
	char *p = fs_path_join(root, rel);
	assert_int_equal(mkdir(p, 0755), 0);
	free(p);
}

static void mk_link(const char *root, const char *target, const char *rel)
{
	char *p = fs_path_join(root, rel);
	assert_int_equal(symlink(target, p), 0);
	free(p);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int tmp_setup(void **state)
{
	tmpdir *t = xcalloc(1, sizeof(*t));
	const char *base = getenv("TMPDIR");
	int n = snprintf(t->path, sizeof(t->path), "%s/dagproc-walk-XXXXXX",
	                 base && strlen(base) < 30 ? base : "/tmp");
	if (n <= 0 || !mkdtemp(t->path)) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int tmp_teardown(void **state)
{
	tmpdir *t = *state;
	nftw(t->path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(t);
	return 0;
}

static void assert_listing(const char *root, const char *const *want, size_t nwant)
{
	walk_list l;
	assert_int_equal(walk_bundle(root, &l), 0);
	for (size_t i = 0; i < l.n && i < nwant; i++)
		if (strcmp(l.files[i].rel, want[i]) != 0)
			fail_msg("entry %zu: got '%s', want '%s'", i, l.files[i].rel, want[i]);
	if (l.n != nwant) {
		for (size_t i = 0; i < l.n; i++)
			print_message("listed: %s\n", l.files[i].rel);
		fail_msg("listed %zu files, want %zu", l.n, nwant);
	}
	walk_list_free(&l);
}

static void test_walk_names(void **state)
{
	(void)state;
	assert_true(walk_is_dag_name("a.yml"));
	assert_true(walk_is_dag_name("a.yaml"));
	assert_true(walk_is_dag_name("defaults.yml.yml"));
	assert_false(walk_is_dag_name("defaults.yml"));
	assert_false(walk_is_dag_name("defaults.yaml"));
	assert_false(walk_is_dag_name("a.YML"));
	assert_false(walk_is_dag_name("a.yml.bak"));
	assert_false(walk_is_dag_name(".yml"));
	assert_false(walk_is_dag_name("a.json"));
	assert_false(walk_is_dag_name(""));
	assert_false(walk_is_dag_name(NULL));
}

static void test_walk_bundle(void **state)
{
	tmpdir *t = *state;
	const char *r = t->path;
	walk_list l;

	mk_file(r, "b.yml", "b: {}\n");
	mk_file(r, "a.yaml", "a: {}\n");
	mk_file(r, "defaults.yml", "default_args: {}\n");
	mk_file(r, "notes.txt", "x\n");
	mk_file(r, ".hidden.yml", "h: {}\n");
	mk_file(r, ".dagignore", "# root rules\n*.tmp.yml\nbuild/\n/top_only.yml\n");
	mk_file(r, "x.tmp.yml", "x\n");
	mk_file(r, "top_only.yml", "x\n");
	mk_dir(r, "sub");
	mk_file(r, "sub/top_only.yml", "x\n");
	mk_file(r, "sub/c.yml", "c: {}\n");
	mk_file(r, "sub/defaults.yaml", "x\n");
	mk_file(r, "sub/y.tmp.yml", "x\n");
	mk_dir(r, "sub/build");
	mk_file(r, "sub/build/out.yml", "x\n");
	mk_dir(r, "sub/deep");
	mk_file(r, "sub/deep/d.yml", "d: {}\n");
	mk_file(r, "sub/deep/.dagignore", "skip*.yml\n!skip_keep.yml\n");
	mk_file(r, "sub/deep/skip_me.yml", "x\n");
	mk_file(r, "sub/deep/skip_keep.yml", "x\n");
	mk_dir(r, "tests");
	mk_dir(r, "tests/schedule");
	mk_file(r, "tests/schedule/.dagignore", "*\n");
	mk_file(r, "tests/schedule/cron.yml", "x\n");
	mk_dir(r, "tests/schedule/inner");
	mk_file(r, "tests/schedule/inner/i.yml", "x\n");
	mk_file(r, "tests/t.yml", "x\n");
	mk_dir(r, "empty");
	mk_dir(r, "dir.yml"); /* a folder with a DAG-like name is not a file */

	static const char *const want[] = {
	    ".hidden.yml",      "a.yaml",         "b.yml",
	    "sub/c.yml",        "sub/deep/d.yml", "sub/deep/skip_keep.yml",
	    "sub/top_only.yml", "tests/t.yml",
	};
	assert_listing(r, want, sizeof(want) / sizeof(want[0]));

	/* stat details and the abs path as given */
	assert_int_equal(walk_bundle(r, &l), 0);
	assert_string_equal(l.files[2].rel, "b.yml");
	char *abs = fs_path_join(r, "b.yml");
	struct stat st;
	assert_int_equal(stat(abs, &st), 0);
	assert_string_equal(l.files[2].abs, abs);
	assert_int_equal(l.files[2].size, 6);
	assert_int_equal(l.files[2].inode, (uint64_t)st.st_ino);
	assert_int_equal(l.files[2].mtime_ns,
	                 (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec);
	free(abs);
	walk_list_free(&l);
	assert_null(l.files);
	assert_int_equal(l.n, 0);

	/* single-file checks agree with the listing */
	assert_true(walk_file_is_dag(r, "b.yml"));
	assert_true(walk_file_is_dag(r, "sub/c.yml"));
	assert_true(walk_file_is_dag(r, "sub/deep/skip_keep.yml"));
	assert_true(walk_file_is_dag(r, "sub/top_only.yml"));
	assert_false(walk_file_is_dag(r, "top_only.yml"));
	assert_false(walk_file_is_dag(r, "sub/deep/skip_me.yml"));
	assert_false(walk_file_is_dag(r, "sub/y.tmp.yml"));
	assert_false(walk_file_is_dag(r, "sub/build/out.yml"));
	assert_false(walk_file_is_dag(r, "tests/schedule/cron.yml"));
	assert_false(walk_file_is_dag(r, "tests/schedule/inner/i.yml"));
	assert_false(walk_file_is_dag(r, "defaults.yml"));
	assert_false(walk_file_is_dag(r, "notes.txt"));
	assert_false(walk_file_is_dag(r, "dir.yml"));
	assert_false(walk_file_is_dag(r, "../b.yml"));
	assert_false(walk_file_is_dag(r, "sub/../b.yml"));
	assert_false(walk_file_is_dag(r, "/b.yml"));
	assert_false(walk_file_is_dag(r, ""));
	/* a deleted file is judged by name and rules */
	assert_true(walk_file_is_dag(r, "sub/gone.yml"));
	assert_false(walk_file_is_dag(r, "sub/build/gone.yml"));
}

static void test_walk_symlinks(void **state)
{
	tmpdir *t = *state;
	char outside[128], bundle[128];
	int n;

	n = snprintf(outside, sizeof(outside), "%s/outside", t->path);
	assert_true(n > 0 && (size_t)n < sizeof(outside));
	n = snprintf(bundle, sizeof(bundle), "%s/bundle", t->path);
	assert_true(n > 0 && (size_t)n < sizeof(bundle));
	mk_dir(t->path, "outside");
	mk_file(outside, "secret.yml", "s: {}\n");
	mk_dir(t->path, "bundle");
	mk_file(bundle, "real.yml", "r: {}\n");
	mk_dir(bundle, "shared");
	mk_file(bundle, "shared/s.yml", "s: {}\n");
	/* inside links: followed */
	mk_link(bundle, "real.yml", "alias.yml");
	mk_link(bundle, "shared", "linked_dir");
	/* outside links: not followed */
	mk_link(bundle, "../outside/secret.yml", "escape.yml");
	mk_link(bundle, outside, "escape_dir");
	/* a loop back to the root, and a dangling link */
	mk_link(bundle, ".", "loop");
	mk_link(bundle, "nowhere.yml", "dangling.yml");

	static const char *const want[] = {"alias.yml", "real.yml", "shared/s.yml"};
	/* "linked_dir" sorts before "shared": the folder is listed once, under the
	 * first name the walk meets; it is the same inode either way. */
	walk_list l;
	assert_int_equal(walk_bundle(bundle, &l), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.files[0].rel, want[0]);
	assert_string_equal(l.files[1].rel, "linked_dir/s.yml");
	assert_string_equal(l.files[2].rel, want[1]);
	assert_int_equal(l.files[0].inode, l.files[2].inode);
	walk_list_free(&l);

	assert_true(walk_file_is_dag(bundle, "alias.yml"));
	assert_true(walk_file_is_dag(bundle, "linked_dir/s.yml"));
	assert_false(walk_file_is_dag(bundle, "escape.yml"));
	assert_false(walk_file_is_dag(bundle, "escape_dir/secret.yml"));

	/* a bundle root given through a symlink works the same */
	mk_link(t->path, "bundle", "bundle_link");
	char *via = fs_path_join(t->path, "bundle_link");
	assert_int_equal(walk_bundle(via, &l), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.files[1].rel, "linked_dir/s.yml");
	char *want_abs = fs_path_join(via, "alias.yml");
	assert_string_equal(l.files[0].abs, want_abs);
	free(want_abs);
	walk_list_free(&l);
	free(via);
}

static void test_walk_errors(void **state)
{
	tmpdir *t = *state;
	walk_list l;
	char *missing = fs_path_join(t->path, "missing");

	errno = 0;
	assert_int_equal(walk_bundle(missing, &l), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(l.n, 0);
	free(missing);

	mk_file(t->path, "plain.yml", "x\n");
	char *file = fs_path_join(t->path, "plain.yml");
	assert_int_equal(walk_bundle(file, &l), -1);
	assert_int_equal(errno, ENOTDIR);
	free(file);

	/* an unreadable subfolder is skipped (meaningless as root) */
	if (geteuid() != 0) {
		mk_dir(t->path, "locked");
		mk_file(t->path, "locked/x.yml", "x\n");
		char *locked = fs_path_join(t->path, "locked");
		assert_int_equal(chmod(locked, 0), 0);
		static const char *const want[] = {"plain.yml"};
		assert_listing(t->path, want, 1);
		assert_int_equal(chmod(locked, 0755), 0);
		free(locked);
	}
}

/* ---- fsutil ------------------------------------------------------------- */

static void test_fs_read_file(void **state)
{
	tmpdir *t = *state;
	char *data = (char *)1;
	size_t len = 99;

	mk_file(t->path, "f.txt", "hello\n");
	char *p = fs_path_join(t->path, "f.txt");
	assert_int_equal(fs_read_file(p, 100, &data, &len), 0);
	assert_int_equal(len, 6);
	assert_string_equal(data, "hello\n");
	free(data);
	/* exactly max is fine, one more is EFBIG */
	assert_int_equal(fs_read_file(p, 6, &data, &len), 0);
	assert_int_equal(len, 6);
	free(data);
	errno = 0;
	assert_int_equal(fs_read_file(p, 5, &data, &len), -1);
	assert_int_equal(errno, EFBIG);
	assert_null(data);
	assert_int_equal(len, 0);
	free(p);

	/* empty file: a valid empty string */
	mk_file(t->path, "empty.txt", "");
	p = fs_path_join(t->path, "empty.txt");
	assert_int_equal(fs_read_file(p, 0, &data, &len), 0);
	assert_int_equal(len, 0);
	assert_string_equal(data, "");
	free(data);
	free(p);

	/* a larger file read in several chunks */
	{
		size_t big = 100000;
		char *buf = xmalloc(big + 1);
		for (size_t i = 0; i < big; i++)
			buf[i] = (char)('a' + i % 26);
		buf[big] = '\0';
		mk_file(t->path, "big.txt", buf);
		p = fs_path_join(t->path, "big.txt");
		assert_int_equal(fs_read_file(p, big, &data, &len), 0);
		assert_int_equal(len, big);
		assert_memory_equal(data, buf, big);
		free(data);
		assert_int_equal(fs_read_file(p, big - 1, &data, &len), -1);
		assert_int_equal(errno, EFBIG);
		free(p);
		free(buf);
	}

	/* a pipe-like source has no size: /dev/zero is cut at max */
	assert_int_equal(fs_read_file("/dev/zero", 10000, &data, &len), -1);
	assert_int_equal(errno, EFBIG);

	p = fs_path_join(t->path, "nope.txt");
	assert_int_equal(fs_read_file(p, 100, &data, &len), -1);
	assert_int_equal(errno, ENOENT);
	free(p);
	assert_int_equal(fs_read_file(t->path, 100, &data, &len), -1);
	assert_int_equal(errno, EISDIR);
}

static void test_fs_paths(void **state)
{
	char *s;
	(void)state;
#define CHECK(expr, want)                                                                          \
	do {                                                                                       \
		s = (expr);                                                                        \
		assert_string_equal(s, want);                                                      \
		free(s);                                                                           \
	} while (0)
	CHECK(fs_path_join("a", "b"), "a/b");
	CHECK(fs_path_join("a/", "b"), "a/b");
	CHECK(fs_path_join("a//", "/b"), "a/b");
	CHECK(fs_path_join("", "b"), "b");
	CHECK(fs_path_join("a", ""), "a");
	CHECK(fs_path_join("/", "b"), "/b");
	CHECK(fs_path_join("/x/y", "b/c.yml"), "/x/y/b/c.yml");
	CHECK(fs_dirname("a/b"), "a");
	CHECK(fs_dirname("a/b/"), "a");
	CHECK(fs_dirname("a"), ".");
	CHECK(fs_dirname(""), ".");
	CHECK(fs_dirname("/a"), "/");
	CHECK(fs_dirname("/"), "/");
	CHECK(fs_dirname("/x//y.yml"), "/x");
	CHECK(fs_dirname("a/b/c.yml"), "a/b");
#undef CHECK
	assert_string_equal(fs_basename("a/b.yml"), "b.yml");
	assert_string_equal(fs_basename("b.yml"), "b.yml");
	assert_string_equal(fs_basename("a/"), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ignore_basics),
	    cmocka_unit_test(test_ignore_star_does_not_cross_slash),
	    cmocka_unit_test(test_ignore_anchoring),
	    cmocka_unit_test(test_ignore_dir_only),
	    cmocka_unit_test(test_ignore_negation),
	    cmocka_unit_test(test_ignore_nested_rules),
	    cmocka_unit_test(test_walk_names),
	    cmocka_unit_test_setup_teardown(test_walk_bundle, tmp_setup, tmp_teardown),
	    cmocka_unit_test_setup_teardown(test_walk_symlinks, tmp_setup, tmp_teardown),
	    cmocka_unit_test_setup_teardown(test_walk_errors, tmp_setup, tmp_teardown),
	    cmocka_unit_test_setup_teardown(test_fs_read_file, tmp_setup, tmp_teardown),
	    cmocka_unit_test(test_fs_paths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
