/* Unit tests for bundle/scan (change detection, inotify) and bundle/queue (the
 * parse queue), on temporary directories. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <malloc.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "bundle/queue.h"
#include "bundle/scan.h"
#include "bundle/walk.h"
#include "util/fsutil.h"
#include "util/xalloc.h"

/* ---- helpers ----------------------------------------------------------- */

typedef struct rec {
	char **ev; /* "NEW rel", "CHANGED rel", "DELETED rel" */
	size_t n, cap;
	const scan *s; /* set: check scan_lookup inside the callback */
} rec;

static const char *ev_name(scan_event ev)
{
	return ev == SCAN_NEW ? "NEW" : ev == SCAN_CHANGED ? "CHANGED" : "DELETED";
}

static void on_event(void *ud, const char *bundle, const char *rel, const char *abs, scan_event ev)
{
	rec *r = ud;

	assert_non_null(bundle);
	assert_non_null(abs);
	if (r->s)
		assert_non_null(scan_lookup(r->s, bundle, rel)); /* also for DELETED */
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		r->ev = xrealloc(r->ev, r->cap * sizeof(*r->ev));
	}
	r->ev[r->n++] = xasprintf("%s %s", ev_name(ev), rel);
}

static void rec_clear(rec *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->ev[i]);
	r->n = 0;
}

static void rec_free(rec *r)
{
	rec_clear(r);
	free(r->ev);
	r->ev = NULL;
	r->cap = 0;
}

static bool rec_has(const rec *r, const char *what)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->ev[i], what) == 0)
			return true;
	return false;
}

static void rec_dump(const rec *r)
{
	for (size_t i = 0; i < r->n; i++)
		fprintf(stderr, "  event: %s\n", r->ev[i]);
}

#define assert_events(r, ...)                                                                      \
	do {                                                                                       \
		const char *want_[] = {__VA_ARGS__};                                               \
		size_t nwant_ = sizeof(want_) / sizeof(want_[0]);                                  \
		bool ok_ = (r)->n == nwant_;                                                       \
		for (size_t i_ = 0; ok_ && i_ < nwant_; i_++)                                      \
			ok_ = rec_has((r), want_[i_]);                                             \
		if (!ok_)                                                                          \
			rec_dump(r);                                                               \
		assert_true(ok_);                                                                  \
	} while (0)

static char *tmp_root(void)
{
	char tmpl[] = "/tmp/dagproc-scan-XXXXXX";
	char *d = mkdtemp(tmpl);
	assert_non_null(d);
	return xstrdup(d);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_rf(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void mkdirs(const char *root, const char *rel)
{
	char *abs = fs_path_join(root, rel);
	for (char *p = abs + strlen(root) + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(abs, 0755);
			*p = '/';
		}
	}
	mkdir(abs, 0755);
	free(abs);
}

/* Writes rel under root (making its folders), as an editor that writes in place. */
static void put(const char *root, const char *rel, const char *text)
{
	char *abs = fs_path_join(root, rel);
	char *dir = fs_dirname(rel);
	FILE *f;

	if (strcmp(dir, ".") != 0)
		mkdirs(root, dir);
	f = fopen(abs, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(dir);
	free(abs);
}

static void del(const char *root, const char *rel)
{
	char *abs = fs_path_join(root, rel);
	assert_int_equal(unlink(abs), 0);
	free(abs);
}

static void ren(const char *root, const char *from, const char *to)
{
	char *a = fs_path_join(root, from), *b = fs_path_join(root, to);
	assert_int_equal(rename(a, b), 0);
	free(a);
	free(b);
}

/* Sets the file's mtime to now + delta seconds (a `touch`). */
static void touch(const char *root, const char *rel, int delta)
{
	char *abs = fs_path_join(root, rel);
	struct timespec ts[2];
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec += delta;
	ts[1] = ts[0];
	assert_int_equal(utimensat(AT_FDCWD, abs, ts, 0), 0);
	free(abs);
}

/* Polls the scan's inotify fd and processes events until pred holds or the
 * time is up. */
static bool pump_until(scan *s, rec *r, const char *want, int ms)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = {.fd = scan_watch_fd(s), .events = POLLIN};
		if (poll(&p, 1, 50) > 0)
			scan_watch_process(s, on_event, r);
		if (want && rec_has(r, want))
			return true;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > ms)
			return want == NULL;
	}
}

static scan *new_scan(const char *root, bool watch)
{
	scan_bundle_cfg b = {.name = "dags-folder", .root = root};
	char *err = NULL;
	scan *s = scan_new(&b, 1, watch, &err);
	assert_null(err);
	assert_non_null(s);
	return s;
}

/* ---- full scans -------------------------------------------------------- */

static void test_scan_config_errors(void **state)
{
	(void)state;
	char *err = NULL;
	scan_bundle_cfg two[] = {{"a", "/tmp"}, {"a", "/var"}};
	assert_null(scan_new(two, 2, false, &err));
	assert_non_null(strstr(err, "'a'"));
	free(err);
	scan_bundle_cfg none[] = {{"", "/tmp"}};
	assert_null(scan_new(none, 1, false, &err));
	free(err);
	assert_null(scan_new(NULL, 0, false, &err));
	free(err);
}

static void test_scan_initial(void **state)
{
	(void)state;
	char *root = tmp_root();
	rec r = {0};
	walk_list wl;

	put(root, "a.yml", "a: {}\n");
	put(root, "b.yaml", "b: {}\n");
	put(root, "defaults.yml", "default_args: {owner: x}\n");
	put(root, "notes.txt", "hello\n");
	put(root, "skip_me.yml", "s: {}\n");
	put(root, ".dagignore", "skip_me.yml\nvendor/\n");
	put(root, "sub/c.yml", "c: {}\n");
	put(root, "sub/defaults.yaml", "x: 1\n");
	put(root, "vendor/v.yml", "v: {}\n");
	mkdirs(root, "empty/deeper");
	{
		/* leads outside the root: not followed */
		char *l = fs_path_join(root, "sub/link.yml");
		assert_int_equal(symlink("/etc/hostname", l), 0);
		free(l);
		/* leads inside: a DAG file under its own name */
		l = fs_path_join(root, "alias.yml");
		assert_int_equal(symlink("a.yml", l), 0);
		free(l);
	}

	scan *s = new_scan(root, false);
	r.s = s;
	assert_int_equal(scan_full(s, on_event, &r), 0);
	assert_events(&r, "NEW a.yml", "NEW alias.yml", "NEW b.yaml", "NEW sub/c.yml");
	assert_int_equal(scan_file_count(s), 4);
	assert_int_equal(scan_watch_fd(s), -1);

	/* the same files as bundle/walk lists */
	assert_int_equal(walk_bundle(root, &wl), 0);
	assert_int_equal(wl.n, 4);
	for (size_t i = 0; i < wl.n; i++) {
		const struct scan_file *f = scan_lookup(s, "dags-folder", wl.files[i].rel);
		assert_non_null(f);
		assert_int_equal(f->mtime_ns, wl.files[i].mtime_ns);
		assert_int_equal(f->size, wl.files[i].size);
		assert_int_equal(f->inode, wl.files[i].inode);
		assert_true(f->readable);
		assert_string_equal(f->bundle, "dags-folder");
	}
	walk_list_free(&wl);
	assert_null(scan_lookup(s, "dags-folder", "defaults.yml"));
	assert_null(scan_lookup(s, "dags-folder", "skip_me.yml"));
	assert_null(scan_lookup(s, "other", "a.yml"));
	assert_string_equal(scan_bundle_root(s, "dags-folder"), root);

	/* nothing changed: nothing reported */
	rec_clear(&r);
	assert_int_equal(scan_full(s, on_event, &r), 0);
	assert_int_equal(r.n, 0);

	scan_free(s);
	rec_free(&r);
	rm_rf(root);
	free(root);
}

static void test_scan_changes(void **state)
{
	(void)state;
	char *root = tmp_root();
	rec r = {0};

	put(root, "a.yml", "a: {schedule: '@daily'}\n");
	put(root, "b.yml", "b: {}\n");
	scan *s = new_scan(root, false);
	r.s = s;
	scan_full(s, on_event, &r);
	assert_int_equal(r.n, 2);
	uint64_t h0 = scan_lookup(s, "dags-folder", "a.yml")->hash;
	assert_int_not_equal(h0, 0);

	/* an edit */
	rec_clear(&r);
	put(root, "a.yml", "a: {schedule: '@hourly', tags: [x]}\n");
	scan_full(s, on_event, &r);
	assert_events(&r, "CHANGED a.yml");
	assert_int_not_equal(scan_lookup(s, "dags-folder", "a.yml")->hash, h0);

	/* touch without a content change: re-read, not reported */
	rec_clear(&r);
	touch(root, "b.yml", 5);
	scan_full(s, on_event, &r);
	assert_int_equal(r.n, 0);
	/* the new mtime is recorded */
	assert_true(scan_lookup(s, "dags-folder", "b.yml")->mtime_ns > 0);

	/* same size, other content, even with the old mtime put back */
	rec_clear(&r);
	const struct scan_file *b = scan_lookup(s, "dags-folder", "b.yml");
	int64_t old_mtime = b->mtime_ns;
	put(root, "b.yml", "q: {}\n");
	{
		char *abs = fs_path_join(root, "b.yml");
		struct timespec ts[2] = {{old_mtime / 1000000000, old_mtime % 1000000000},
		                         {old_mtime / 1000000000, old_mtime % 1000000000}};
		assert_int_equal(utimensat(AT_FDCWD, abs, ts, 0), 0);
		free(abs);
	}
	scan_full(s, on_event, &r);
	assert_events(&r, "CHANGED b.yml");

	/* delete */
	rec_clear(&r);
	del(root, "a.yml");
	scan_full(s, on_event, &r);
	assert_events(&r, "DELETED a.yml");
	assert_null(scan_lookup(s, "dags-folder", "a.yml"));
	assert_int_equal(scan_file_count(s), 1);

	/* a .dagignore that ignores a known file: DELETED; removed again: NEW */
	rec_clear(&r);
	put(root, ".dagignore", "b.yml\n");
	scan_full(s, on_event, &r);
	assert_events(&r, "DELETED b.yml");
	rec_clear(&r);
	del(root, ".dagignore");
	scan_full(s, on_event, &r);
	assert_events(&r, "NEW b.yml");

	/* an unreadable file is reported (its parse gives E003) */
	if (geteuid() != 0) {
		rec_clear(&r);
		put(root, "locked.yml", "l: {}\n");
		char *abs = fs_path_join(root, "locked.yml");
		chmod(abs, 0);
		scan_full(s, on_event, &r);
		assert_events(&r, "NEW locked.yml");
		assert_false(scan_lookup(s, "dags-folder", "locked.yml")->readable);
		chmod(abs, 0644);
		rec_clear(&r);
		scan_full(s, on_event, &r);
		assert_events(&r, "CHANGED locked.yml");
		free(abs);
	}

	scan_free(s);
	rec_free(&r);
	rm_rf(root);
	free(root);
}

static void test_scan_defaults_change(void **state)
{
	(void)state;
	char *root = tmp_root();
	rec r = {0};

	put(root, "top.yml", "t: {}\n");
	put(root, "team/a.yml", "a: {}\n");
	put(root, "team/deep/b.yml", "b: {}\n");
	put(root, "other/c.yml", "c: {}\n");
	scan *s = new_scan(root, false);
	scan_full(s, on_event, &r);
	assert_int_equal(r.n, 4);

	/* a new defaults.yml: its folder's DAG files and below are CHANGED */
	rec_clear(&r);
	put(root, "team/defaults.yml", "default_args: {owner: a}\n");
	scan_full(s, on_event, &r);
	assert_events(&r, "CHANGED team/a.yml", "CHANGED team/deep/b.yml");
	/* edited */
	rec_clear(&r);
	put(root, "team/defaults.yml", "default_args: {owner: b}\n");
	scan_full(s, on_event, &r);
	assert_events(&r, "CHANGED team/a.yml", "CHANGED team/deep/b.yml");
	/* edited together with a DAG file below it: one event per file */
	rec_clear(&r);
	put(root, "team/defaults.yml", "default_args: {owner: c}\n");
	put(root, "team/a.yml", "a: {description: x}\n");
	scan_full(s, on_event, &r);
	assert_events(&r, "CHANGED team/a.yml", "CHANGED team/deep/b.yml");
	/* deleted */
	rec_clear(&r);
	del(root, "team/defaults.yml");
	scan_full(s, on_event, &r);
	assert_events(&r, "CHANGED team/a.yml", "CHANGED team/deep/b.yml");
	/* at the root: everything */
	rec_clear(&r);
	put(root, "defaults.yaml", "x: 1\n");
	scan_full(s, on_event, &r);
	assert_int_equal(r.n, 4);

	scan_free(s);
	rec_free(&r);
	rm_rf(root);
	free(root);
}

static void test_scan_missing_root(void **state)
{
	(void)state;
	char *root = tmp_root();
	char *moved = xasprintf("%s.moved", root);
	rec r = {0};

	put(root, "a.yml", "a: {}\n");
	scan *s = new_scan(root, false);
	scan_full(s, on_event, &r);
	assert_events(&r, "NEW a.yml");
	rec_clear(&r);
	assert_int_equal(rename(root, moved), 0);
	assert_int_equal(scan_full(s, on_event, &r), 0); /* a missing root is an empty bundle */
	assert_events(&r, "DELETED a.yml");
	rec_clear(&r);
	assert_int_equal(rename(moved, root), 0);
	scan_full(s, on_event, &r);
	assert_events(&r, "NEW a.yml");

	/* several bundles keep their files apart */
	char *root2 = tmp_root();
	put(root2, "a.yml", "other: {}\n");
	scan_bundle_cfg bs[] = {{"one", root}, {"two", root2}};
	char *err = NULL;
	scan *s2 = scan_new(bs, 2, false, &err);
	rec_clear(&r);
	scan_full(s2, on_event, &r);
	assert_int_equal(r.n, 2);
	assert_int_equal(scan_file_count(s2), 2);
	assert_non_null(scan_lookup(s2, "one", "a.yml"));
	assert_non_null(scan_lookup(s2, "two", "a.yml"));
	assert_int_not_equal(scan_lookup(s2, "one", "a.yml")->hash,
	                     scan_lookup(s2, "two", "a.yml")->hash);
	scan_free(s2);

	scan_free(s);
	rec_free(&r);
	rm_rf(root);
	rm_rf(root2);
	free(root);
	free(root2);
	free(moved);
}

/* ---- inotify ----------------------------------------------------------- */

static void test_watch_basics(void **state)
{
	(void)state;
	char *root = tmp_root();
	rec r = {0};

	put(root, "a.yml", "a: {}\n");
	put(root, "sub/b.yml", "b: {}\n");
	scan *s = new_scan(root, true);
	r.s = s;
	assert_true(scan_watch_fd(s) >= 0);
	scan_full(s, on_event, &r);
	assert_int_equal(r.n, 2);
	assert_int_equal(scan_watch_count(s), 2);

	/* a new file in a new subfolder */
	rec_clear(&r);
	put(root, "new/deeper/x.yml", "x: {}\n");
	assert_true(pump_until(s, &r, "NEW new/deeper/x.yml", 5000));
	assert_int_equal(scan_watch_count(s), 4);
	/* and a file written later in that folder comes through its watch */
	rec_clear(&r);
	put(root, "new/deeper/y.yml", "y: {}\n");
	assert_true(pump_until(s, &r, "NEW new/deeper/y.yml", 5000));

	/* an edit */
	rec_clear(&r);
	put(root, "a.yml", "a: {description: edited}\n");
	assert_true(pump_until(s, &r, "CHANGED a.yml", 5000));
	assert_events(&r, "CHANGED a.yml");

	/* a rewrite with the same content: nothing */
	rec_clear(&r);
	put(root, "a.yml", "a: {description: edited}\n");
	pump_until(s, &r, NULL, 300);
	assert_int_equal(r.n, 0);

	/* same size, other content, at once */
	rec_clear(&r);
	put(root, "a.yml", "a: {description: EDITED}\n");
	assert_true(pump_until(s, &r, "CHANGED a.yml", 5000));

	/* rename: DELETED + NEW */
	rec_clear(&r);
	ren(root, "a.yml", "renamed.yml");
	assert_true(pump_until(s, &r, "NEW renamed.yml", 5000));
	assert_events(&r, "DELETED a.yml", "NEW renamed.yml");

	/* an atomic save (write a temp file, rename over) */
	rec_clear(&r);
	put(root, ".renamed.yml.tmp", "r: {tags: [t]}\n");
	ren(root, ".renamed.yml.tmp", "renamed.yml");
	assert_true(pump_until(s, &r, "CHANGED renamed.yml", 5000));
	assert_events(&r, "CHANGED renamed.yml");

	/* not DAG files: nothing */
	rec_clear(&r);
	put(root, "readme.md", "x\n");
	put(root, "sub/defaults.yml.bak", "x\n");
	pump_until(s, &r, NULL, 300);
	assert_int_equal(r.n, 0);

	/* delete */
	rec_clear(&r);
	del(root, "sub/b.yml");
	assert_true(pump_until(s, &r, "DELETED sub/b.yml", 5000));
	assert_int_equal(scan_file_count(s), 3);

	/* a full rescan afterwards agrees with what inotify reported */
	rec_clear(&r);
	scan_full(s, on_event, &r);
	assert_int_equal(r.n, 0);

	scan_free(s);
	rec_free(&r);
	rm_rf(root);
	free(root);
}

static void test_watch_dagignore_and_folders(void **state)
{
	(void)state;
	char *root = tmp_root();
	char *outside = tmp_root();
	rec r = {0};

	put(root, "keep.yml", "k: {}\n");
	put(root, "drop.yml", "d: {}\n");
	put(root, "team/t1.yml", "t1: {}\n");
	put(root, "team/t2.yml", "t2: {}\n");
	scan *s = new_scan(root, true);
	r.s = s;
	scan_full(s, on_event, &r);
	assert_int_equal(r.n, 4);

	/* a .dagignore that ignores a file: DELETED */
	rec_clear(&r);
	put(root, ".dagignore", "drop.yml\n");
	assert_true(pump_until(s, &r, "DELETED drop.yml", 5000));
	assert_events(&r, "DELETED drop.yml");
	/* it ignores a folder too */
	rec_clear(&r);
	put(root, ".dagignore", "drop.yml\nteam/\n");
	assert_true(pump_until(s, &r, "DELETED team/t2.yml", 5000));
	assert_events(&r, "DELETED team/t1.yml", "DELETED team/t2.yml");
	assert_int_equal(scan_watch_count(s), 1); /* the ignored folder is not watched */
	/* removed: back */
	rec_clear(&r);
	del(root, ".dagignore");
	assert_true(pump_until(s, &r, "NEW team/t2.yml", 5000));
	assert_events(&r, "NEW drop.yml", "NEW team/t1.yml", "NEW team/t2.yml");
	assert_int_equal(scan_watch_count(s), 2);

	/* a folder moved out of the bundle: its files are DELETED */
	rec_clear(&r);
	char *away = fs_path_join(outside, "team");
	char *team = fs_path_join(root, "team");
	assert_int_equal(rename(team, away), 0);
	assert_true(pump_until(s, &r, "DELETED team/t2.yml", 5000));
	assert_events(&r, "DELETED team/t1.yml", "DELETED team/t2.yml");
	/* and moved back in under another name: NEW */
	rec_clear(&r);
	char *team2 = fs_path_join(root, "team2");
	assert_int_equal(rename(away, team2), 0);
	assert_true(pump_until(s, &r, "NEW team2/t2.yml", 5000));
	assert_events(&r, "NEW team2/t1.yml", "NEW team2/t2.yml");
	/* a write in the moved-in folder reaches us under its new name */
	rec_clear(&r);
	put(root, "team2/t3.yml", "t3: {}\n");
	assert_true(pump_until(s, &r, "NEW team2/t3.yml", 5000));
	/* renamed inside the bundle */
	rec_clear(&r);
	char *team3 = fs_path_join(root, "team3");
	assert_int_equal(rename(team2, team3), 0);
	assert_true(pump_until(s, &r, "NEW team3/t3.yml", 5000));
	pump_until(s, &r, NULL, 200);
	assert_events(&r, "DELETED team2/t1.yml", "DELETED team2/t2.yml", "DELETED team2/t3.yml",
	              "NEW team3/t1.yml", "NEW team3/t2.yml", "NEW team3/t3.yml");
	rec_clear(&r);
	put(root, "team3/t1.yml", "t1: {description: x}\n");
	assert_true(pump_until(s, &r, "CHANGED team3/t1.yml", 5000));
	/* deleted outright */
	rec_clear(&r);
	rm_rf(team3);
	assert_true(pump_until(s, &r, "DELETED team3/t3.yml", 5000));
	pump_until(s, &r, NULL, 200);
	assert_events(&r, "DELETED team3/t1.yml", "DELETED team3/t2.yml", "DELETED team3/t3.yml");
	assert_int_equal(scan_watch_count(s), 1);

	/* a defaults.yml written: the files it applies to are CHANGED */
	rec_clear(&r);
	put(root, "defaults.yml", "default_args: {owner: x}\n");
	assert_true(pump_until(s, &r, "CHANGED keep.yml", 5000));
	assert_events(&r, "CHANGED keep.yml", "CHANGED drop.yml");

	/* a full rescan agrees */
	rec_clear(&r);
	scan_full(s, on_event, &r);
	assert_int_equal(r.n, 0);

	/* the root itself deleted: everything DELETED */
	rec_clear(&r);
	rm_rf(root);
	assert_true(pump_until(s, &r, "DELETED keep.yml", 5000));
	assert_events(&r, "DELETED keep.yml", "DELETED drop.yml");
	assert_int_equal(scan_file_count(s), 0);
	/* recreated: the periodic rescan finds it and watches it again */
	assert_int_equal(mkdir(root, 0755), 0);
	put(root, "back.yml", "b: {}\n");
	rec_clear(&r);
	scan_full(s, on_event, &r);
	assert_events(&r, "NEW back.yml");
	rec_clear(&r);
	put(root, "later.yml", "l: {}\n");
	assert_true(pump_until(s, &r, "NEW later.yml", 5000));

	free(away);
	free(team);
	free(team2);
	free(team3);
	scan_free(s);
	rec_free(&r);
	rm_rf(root);
	rm_rf(outside);
	free(root);
	free(outside);
}

static void test_watch_burst(void **state)
{
	(void)state;
	char *root = tmp_root();
	rec r = {0};

	scan *s = new_scan(root, true);
	scan_full(s, on_event, &r);
	/* one file rewritten 50 times before we look: one event */
	put(root, "burst.yml", "v: 0\n");
	for (int i = 1; i <= 50; i++) {
		char text[32];
		snprintf(text, sizeof(text), "v: %d\n", i);
		put(root, "burst.yml", text);
	}
	usleep(100 * 1000);
	pump_until(s, &r, NULL, 300);
	assert_events(&r, "NEW burst.yml");

	scan_free(s);
	rec_free(&r);
	rm_rf(root);
	free(root);
}

/* More events than the kernel queues (fs.inotify.max_queued_events, 16384 by
 * default): the overflow is answered by a full rescan. */
static void test_watch_overflow(void **state)
{
	(void)state;
	char *root = tmp_root();
	rec r = {0};
	struct scan_stats st;
	int max_events = 16384;
	FILE *f = fopen("/proc/sys/fs/inotify/max_queued_events", "r");

	if (f) {
		if (fscanf(f, "%d", &max_events) != 1)
			max_events = 16384;
		fclose(f);
	}
	if (max_events > 100000) {
		skip();
		return;
	}
	scan *s = new_scan(root, true);
	scan_full(s, on_event, &r);
	put(root, "first.yml", "f: {}\n");
	for (int i = 0; i < max_events / 2 + 100; i++) {
		char rel[32];
		snprintf(rel, sizeof(rel), "n%06d.txt", i);
		put(root, rel, "x");
	}
	put(root, "last.yml", "l: {}\n");
	pump_until(s, &r, NULL, 300);
	scan_get_stats(s, &st);
	assert_true(st.watch_overflows >= 1);
	assert_events(&r, "NEW first.yml", "NEW last.yml");
	assert_int_equal(st.files, 2);
	assert_true(st.watching);

	scan_free(s);
	rec_free(&r);
	rm_rf(root);
	free(root);
}

/* ---- timing (printed, not asserted) ------------------------------------ */

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void count_event(void *ud, const char *bundle, const char *rel, const char *abs,
                        scan_event ev)
{
	(void)bundle;
	(void)rel;
	(void)abs;
	((size_t *)ud)[ev]++;
}

static void test_scan_10k_timing(void **state)
{
	(void)state;
	char *root = tmp_root();
	size_t counts[3] = {0};
	char rel[64], text[128];
	const int nfiles = 10000;

	for (int i = 0; i < nfiles; i++) {
		snprintf(rel, sizeof(rel), "team_%03d/dag_%05d.yml", i % 100, i);
		snprintf(text, sizeof(text), "dag_%05d:\n  schedule: '@daily'\n  tasks: []\n", i);
		put(root, rel, text);
		touch(root, rel, -3600); /* old files: no "racily clean" re-reads */
	}
	struct mallinfo2 m0 = mallinfo2();
	double t0 = now_s();
	scan *s = new_scan(root, true);
	scan_full(s, count_event, counts);
	double t1 = now_s();
	struct mallinfo2 m1 = mallinfo2();
	assert_int_equal(counts[SCAN_NEW], (size_t)nfiles);
	double t2 = now_s();
	scan_full(s, count_event, counts);
	double t3 = now_s();
	assert_int_equal(counts[SCAN_NEW] + counts[SCAN_CHANGED] + counts[SCAN_DELETED],
	                 (size_t)nfiles);
	printf("# scan of %d files in %zu folders: first %.1f ms, unchanged rescan %.1f ms; "
	       "state %.1f MiB (%.0f bytes/file)\n",
	       nfiles, scan_watch_count(s), (t1 - t0) * 1e3, (t3 - t2) * 1e3,
	       (double)(m1.uordblks - m0.uordblks) / 1048576.0,
	       (double)(m1.uordblks - m0.uordblks) / nfiles);

	scan_free(s);
	rm_rf(root);
	free(root);
}

/* ---- the queue --------------------------------------------------------- */

static void pop_expect(queue *q, double now, const char *bundle, const char *rel)
{
	const char *b = NULL, *f = NULL;
	assert_true(queue_pop(q, now, &b, &f));
	assert_string_equal(b, bundle);
	assert_string_equal(f, rel);
}

static void test_queue_sort_names(void **state)
{
	(void)state;
	queue_sort m;
	assert_int_equal(queue_sort_parse("modified_time", &m), 0);
	assert_int_equal(m, QUEUE_SORT_MODIFIED_TIME);
	assert_int_equal(queue_sort_parse("alphabetical", &m), 0);
	assert_int_equal(m, QUEUE_SORT_ALPHABETICAL);
	assert_int_equal(queue_sort_parse("random_seeded_by_host", &m), 0);
	assert_string_equal(queue_sort_name(m), "random_seeded_by_host");
	assert_int_equal(queue_sort_parse("newest", &m), -1);
}

static void test_queue_classes(void **state)
{
	(void)state;
	queue *q = queue_new(QUEUE_SORT_ALPHABETICAL, 30, "host");
	const char *b, *f;

	assert_false(queue_pop(q, 0, &b, &f));
	assert_true(queue_next_due(q, 0) < 0);
	queue_push(q, "d", "z_due.yml", QUEUE_DUE, 0);
	queue_push(q, "d", "a_due.yml", QUEUE_DUE, 0);
	queue_push(q, "d", "m_changed.yml", QUEUE_CHANGED, 0);
	queue_push(q, "d", "y_req.yml", QUEUE_REQUESTED, 0);
	queue_push(q, "d", "b_req.yml", QUEUE_REQUESTED, 0);
	assert_int_equal(queue_len(q), 5);
	assert_int_equal(queue_count(q, QUEUE_REQUESTED), 2);
	assert_int_equal(queue_count(q, QUEUE_CHANGED), 1);
	assert_int_equal(queue_count(q, QUEUE_DUE), 2);
	assert_true(queue_next_due(q, 0) == 0);
	/* requests in request order, then changed, then due by the sort mode */
	pop_expect(q, 100, "d", "y_req.yml");
	pop_expect(q, 100, "d", "b_req.yml");
	pop_expect(q, 100, "d", "m_changed.yml");
	pop_expect(q, 100, "d", "a_due.yml");
	pop_expect(q, 100, "d", "z_due.yml");
	assert_false(queue_pop(q, 100, &b, &f));
	assert_int_equal(queue_len(q), 0);
	assert_int_equal(queue_running(q), 5);
	queue_free(q);
}

static void test_queue_dedupe_upgrade(void **state)
{
	(void)state;
	queue *q = queue_new(QUEUE_SORT_ALPHABETICAL, 30, "host");
	const char *b, *f;

	queue_push(q, "d", "a.yml", QUEUE_DUE, 0);
	queue_push(q, "d", "a.yml", QUEUE_DUE, 0);
	queue_push(q, "d", "b.yml", QUEUE_DUE, 0);
	assert_int_equal(queue_len(q), 2);
	/* upgrade: b becomes requested and goes first; no duplicate */
	queue_push(q, "d", "b.yml", QUEUE_REQUESTED, 0);
	assert_int_equal(queue_len(q), 2);
	/* a lower class never downgrades */
	queue_push(q, "d", "b.yml", QUEUE_DUE, 0);
	assert_int_equal(queue_count(q, QUEUE_REQUESTED), 1);
	/* same path, another bundle: another file */
	queue_push(q, "e", "a.yml", QUEUE_CHANGED, 0);
	assert_int_equal(queue_len(q), 3);
	pop_expect(q, 0, "d", "b.yml");
	pop_expect(q, 0, "e", "a.yml");
	pop_expect(q, 0, "d", "a.yml");
	assert_false(queue_pop(q, 0, &b, &f));

	/* pushed while running: queued again when done, not handed out twice */
	queue_push(q, "d", "a.yml", QUEUE_CHANGED, 0);
	queue_push(q, "d", "a.yml", QUEUE_REQUESTED, 0);
	assert_int_equal(queue_len(q), 0);
	assert_false(queue_pop(q, 0, &b, &f));
	queue_done(q, "d", "a.yml", 1);
	assert_int_equal(queue_count(q, QUEUE_REQUESTED), 1);
	pop_expect(q, 1, "d", "a.yml");
	queue_done(q, "d", "a.yml", 2);
	assert_int_equal(queue_running(q), 2); /* b.yml and e/a.yml */

	/* removal */
	queue_push(q, "d", "c.yml", QUEUE_CHANGED, 0);
	assert_true(queue_remove(q, "d", "c.yml"));
	assert_false(queue_remove(q, "d", "c.yml"));
	assert_true(queue_remove(q, "d", "b.yml")); /* while running */
	assert_int_equal(queue_running(q), 1);
	queue_done(q, "d", "b.yml", 3); /* harmless */
	assert_int_equal(queue_len(q), 0);
	assert_false(queue_pop(q, 100, &b, &f));
	queue_free(q);
}

static void test_queue_min_interval(void **state)
{
	(void)state;
	queue *q = queue_new(QUEUE_SORT_ALPHABETICAL, 30, "host");
	const char *b, *f;

	/* never parsed: due at once */
	queue_push(q, "d", "a.yml", QUEUE_DUE, 0);
	pop_expect(q, 1000, "d", "a.yml");
	queue_done(q, "d", "a.yml", 1000);
	/* due again only 30 s after its last parse */
	queue_push(q, "d", "a.yml", QUEUE_DUE, 0);
	assert_int_equal(queue_len(q), 1);
	assert_false(queue_pop(q, 1010, &b, &f));
	assert_true(queue_next_due(q, 1010) > 19.9 && queue_next_due(q, 1010) < 20.1);
	/* another file never parsed goes ahead */
	queue_push(q, "d", "z.yml", QUEUE_DUE, 0);
	assert_true(queue_next_due(q, 1010) == 0);
	pop_expect(q, 1010, "d", "z.yml");
	queue_done(q, "d", "z.yml", 1011);
	assert_false(queue_pop(q, 1029.9, &b, &f));
	pop_expect(q, 1030, "d", "a.yml");
	queue_done(q, "d", "a.yml", 1031);
	/* changed and requested bypass the interval */
	queue_push(q, "d", "a.yml", QUEUE_CHANGED, 0);
	pop_expect(q, 1032, "d", "a.yml");
	queue_done(q, "d", "a.yml", 1033);
	queue_push(q, "d", "a.yml", QUEUE_REQUESTED, 0);
	pop_expect(q, 1034, "d", "a.yml");
	queue_done(q, "d", "a.yml", 1035);
	/* a due push during the run waits for the interval after it */
	queue_push(q, "d", "z.yml", QUEUE_DUE, 0);
	pop_expect(q, 1050, "d", "z.yml");
	queue_push(q, "d", "z.yml", QUEUE_DUE, 0);
	queue_done(q, "d", "z.yml", 1051);
	assert_false(queue_pop(q, 1080, &b, &f));
	pop_expect(q, 1081, "d", "z.yml");
	/* a shorter interval on reload applies */
	queue_done(q, "d", "z.yml", 1100);
	queue_push(q, "d", "z.yml", QUEUE_DUE, 0);
	queue_set_min_interval(q, 5);
	assert_false(queue_pop(q, 1104, &b, &f));
	pop_expect(q, 1105, "d", "z.yml");
	queue_free(q);
}

/* A look past the head of the queue (the loop's claim ahead) gives files
 * back where they were: same class, same place, interval untouched. */
static void test_queue_unpop(void **state)
{
	(void)state;
	queue *q = queue_new(QUEUE_SORT_ALPHABETICAL, 30, "host");
	const char *b, *f;

	/* requests keep their request order */
	queue_push(q, "d", "y_req.yml", QUEUE_REQUESTED, 0);
	queue_push(q, "d", "b_req.yml", QUEUE_REQUESTED, 0);
	queue_push(q, "d", "c_changed.yml", QUEUE_CHANGED, 0);
	pop_expect(q, 0, "d", "y_req.yml");
	pop_expect(q, 0, "d", "b_req.yml");
	assert_int_equal(queue_running(q), 2);
	queue_unpop(q, "d", "b_req.yml");
	queue_unpop(q, "d", "y_req.yml");
	assert_int_equal(queue_running(q), 0);
	assert_int_equal(queue_count(q, QUEUE_REQUESTED), 2);
	pop_expect(q, 0, "d", "y_req.yml");
	pop_expect(q, 0, "d", "b_req.yml");
	queue_done(q, "d", "y_req.yml", 0);
	queue_done(q, "d", "b_req.yml", 0);

	/* a changed file pushed as requested while out: back as requested */
	pop_expect(q, 0, "d", "c_changed.yml");
	queue_push(q, "d", "c_changed.yml", QUEUE_REQUESTED, 0);
	queue_unpop(q, "d", "c_changed.yml");
	assert_int_equal(queue_count(q, QUEUE_REQUESTED), 1);
	assert_int_equal(queue_count(q, QUEUE_CHANGED), 0);
	pop_expect(q, 0, "d", "c_changed.yml");
	queue_done(q, "d", "c_changed.yml", 1000);

	/* raised to a request while out: behind the requests already queued */
	queue_push(q, "d", "r2.yml", QUEUE_CHANGED, 0); /* queued before r1 */
	queue_push(q, "d", "r1.yml", QUEUE_REQUESTED, 0);
	pop_expect(q, 0, "d", "r1.yml");
	pop_expect(q, 0, "d", "r2.yml");
	queue_unpop(q, "d", "r1.yml");
	queue_push(q, "d", "r2.yml", QUEUE_REQUESTED, 0);
	queue_unpop(q, "d", "r2.yml");
	pop_expect(q, 0, "d", "r1.yml");
	pop_expect(q, 0, "d", "r2.yml");
	queue_done(q, "d", "r1.yml", 0);
	queue_done(q, "d", "r2.yml", 0);

	/* a due file: still due, its interval not started again */
	queue_push(q, "d", "c_changed.yml", QUEUE_DUE, 0);
	assert_false(queue_pop(q, 1029, &b, &f));
	pop_expect(q, 1030, "d", "c_changed.yml");
	queue_unpop(q, "d", "c_changed.yml");
	assert_int_equal(queue_count(q, QUEUE_DUE), 1);
	pop_expect(q, 1030, "d", "c_changed.yml");

	/* a file not handed out: nothing happens */
	queue_unpop(q, "d", "nothing.yml");
	queue_push(q, "d", "e.yml", QUEUE_CHANGED, 0);
	queue_unpop(q, "d", "e.yml");
	assert_int_equal(queue_len(q), 1);
	assert_int_equal(queue_running(q), 1);
	queue_free(q);
}

static void test_queue_sort_modes(void **state)
{
	(void)state;
	queue *q = queue_new(QUEUE_SORT_MODIFIED_TIME, 0, "host");
	const char *b, *f;

	/* modified_time: newest first */
	queue_push(q, "d", "old.yml", QUEUE_DUE, 100);
	queue_push(q, "d", "newest.yml", QUEUE_DUE, 300);
	queue_push(q, "d", "mid.yml", QUEUE_DUE, 200);
	/* an mtime update reorders a queued file */
	queue_push(q, "d", "old.yml", QUEUE_DUE, 250);
	pop_expect(q, 0, "d", "newest.yml");
	pop_expect(q, 0, "d", "old.yml");
	pop_expect(q, 0, "d", "mid.yml");
	/* new/changed files follow the sort mode too */
	queue_push(q, "d", "c1.yml", QUEUE_CHANGED, 1);
	queue_push(q, "d", "c2.yml", QUEUE_CHANGED, 2);
	pop_expect(q, 0, "d", "c2.yml");
	pop_expect(q, 0, "d", "c1.yml");
	queue_free(q);

	/* random_seeded_by_host: the same order for the same host, whatever the
	 * push order; another order for another host */
	char order[3][8][16];
	const char *hosts[3] = {"alpha", "alpha", "beta"};
	for (int h = 0; h < 3; h++) {
		q = queue_new(QUEUE_SORT_RANDOM_SEEDED_BY_HOST, 0, hosts[h]);
		for (int i = 0; i < 8; i++) {
			char rel[16];
			int k = h == 1 ? 7 - i : i;
			snprintf(rel, sizeof(rel), "f%d.yml", k);
			queue_push(q, "d", rel, QUEUE_DUE, 0);
		}
		for (int i = 0; i < 8; i++) {
			assert_true(queue_pop(q, 0, &b, &f));
			snprintf(order[h][i], sizeof(order[h][i]), "%s", f);
		}
		queue_free(q);
	}
	bool same01 = true, same02 = true;
	for (int i = 0; i < 8; i++) {
		same01 = same01 && strcmp(order[0][i], order[1][i]) == 0;
		same02 = same02 && strcmp(order[0][i], order[2][i]) == 0;
	}
	assert_true(same01);
	assert_false(same02);

	/* switching the mode on reload reorders the queued files */
	q = queue_new(QUEUE_SORT_MODIFIED_TIME, 0, "host");
	queue_push(q, "d", "b.yml", QUEUE_DUE, 1);
	queue_push(q, "d", "a.yml", QUEUE_DUE, 2);
	queue_push(q, "d", "c.yml", QUEUE_DUE, 3);
	queue_set_sort(q, QUEUE_SORT_ALPHABETICAL);
	pop_expect(q, 0, "d", "a.yml");
	pop_expect(q, 0, "d", "b.yml");
	pop_expect(q, 0, "d", "c.yml");
	queue_free(q);
}

/* Checks the heap invariants under a random workload of 100,000 files. */
static void test_queue_large(void **state)
{
	(void)state;
	queue *q = queue_new(QUEUE_SORT_MODIFIED_TIME, 10, "host");
	const int n = 100000;
	char rel[32];
	const char *b, *f;
	double t0 = now_s();

	srand(42);
	for (int i = 0; i < n; i++) {
		snprintf(rel, sizeof(rel), "f%06d.yml", i);
		queue_push(q, "d", rel, QUEUE_DUE, rand());
	}
	for (int i = 0; i < n / 10; i++) {
		snprintf(rel, sizeof(rel), "f%06d.yml", rand() % n);
		queue_push(q, "d", rel, (queue_prio)(rand() % 3), rand());
	}
	for (int i = 0; i < n / 20; i++) {
		snprintf(rel, sizeof(rel), "f%06d.yml", rand() % n);
		queue_remove(q, "d", rel);
	}
	size_t len = queue_len(q), popped = 0;
	int last_class = 0;
	size_t nreq = queue_count(q, QUEUE_REQUESTED), nchg = queue_count(q, QUEUE_CHANGED);
	while (queue_pop(q, 0, &b, &f)) {
		popped++;
		int cls = popped <= nreq ? 0 : popped <= nreq + nchg ? 1 : 2;
		assert_true(cls >= last_class);
		last_class = cls;
		queue_done(q, b, f, 0);
	}
	assert_int_equal(popped, len);
	double t1 = now_s();
	printf("# queue: %d files pushed, re-pushed, removed and popped in %.1f ms\n", n,
	       (t1 - t0) * 1e3);
	queue_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scan_config_errors),
	    cmocka_unit_test(test_scan_initial),
	    cmocka_unit_test(test_scan_changes),
	    cmocka_unit_test(test_scan_defaults_change),
	    cmocka_unit_test(test_scan_missing_root),
	    cmocka_unit_test(test_watch_basics),
	    cmocka_unit_test(test_watch_dagignore_and_folders),
	    cmocka_unit_test(test_watch_burst),
	    cmocka_unit_test(test_watch_overflow),
	    cmocka_unit_test(test_scan_10k_timing),
	    cmocka_unit_test(test_queue_sort_names),
	    cmocka_unit_test(test_queue_classes),
	    cmocka_unit_test(test_queue_dedupe_upgrade),
	    cmocka_unit_test(test_queue_min_interval),
	    cmocka_unit_test(test_queue_unpop),
	    cmocka_unit_test(test_queue_sort_modes),
	    cmocka_unit_test(test_queue_large),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
