/* Lists the DAG files of a bundle: a recursive readdir that applies every
 * .dagignore on the way down and follows symlinks only inside the bundle root. */
#include "bundle/walk.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bundle/ignore.h"
#include "util/fsutil.h"
#include "util/xalloc.h"

/* Deepest folder nesting followed; deeper folders are skipped. */
#define WALK_MAX_DEPTH 128

bool walk_is_dag_name(const char *basename)
{
	size_t n;

	if (!basename)
		return false;
	n = strlen(basename);
	if (walk_is_defaults_name(basename))
		return false;
	if (n > 4 && strcmp(basename + n - 4, ".yml") == 0)
		return true;
	if (n > 5 && strcmp(basename + n - 5, ".yaml") == 0)
		return true;
	return false;
}

bool walk_is_defaults_name(const char *basename)
{
	return basename &&
	       (strcmp(basename, "defaults.yml") == 0 || strcmp(basename, "defaults.yaml") == 0);
}

/* Folders already entered, by (dev, ino): a symlink loop stops here. */
typedef struct dir_id {
	dev_t dev;
	ino_t ino;
} dir_id;

typedef struct walk_ctx {
	char *root_real;
	dir_id *seen;
	size_t nseen, capseen;
	const walk_visitor *v;
} walk_ctx;

static bool seen_add(walk_ctx *c, dev_t dev, ino_t ino)
{
	for (size_t i = 0; i < c->nseen; i++)
		if (c->seen[i].dev == dev && c->seen[i].ino == ino)
			return false;
	if (c->nseen == c->capseen) {
		c->capseen = c->capseen ? c->capseen * 2 : 32;
		c->seen = xrealloc(c->seen, c->capseen * sizeof(*c->seen));
	}
	c->seen[c->nseen].dev = dev;
	c->seen[c->nseen].ino = ino;
	c->nseen++;
	return true;
}

/* True when the real path of abs lies inside the real bundle root. */
static bool inside_root(const char *root_real, const char *abs)
{
	char *real = realpath(abs, NULL);
	bool ok = false;
	size_t n = strlen(root_real);

	if (!real)
		return false;
	if (strcmp(root_real, "/") == 0)
		ok = true;
	else if (strncmp(real, root_real, n) == 0 && (real[n] == '\0' || real[n] == '/'))
		ok = true;
	free(real);
	return ok;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void walk_dir(walk_ctx *c, const char *abs_dir, const char *rel_dir,
                     const ignore_rules *parent, int depth)
{
	const walk_visitor *v = c->v;
	ignore_rules *rules = NULL;
	DIR *d = NULL;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;

	if (depth > WALK_MAX_DEPTH)
		return;
	if (v->dir)
		v->dir(v->ud, abs_dir, rel_dir);
	d = opendir(abs_dir);
	if (!d) {
		if (v->dir_error)
			v->dir_error(v->ud, abs_dir, rel_dir, errno);
		return;
	}
	rules = ignore_push(parent, abs_dir, rel_dir);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			names = xrealloc(names, cap * sizeof(*names));
		}
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	d = NULL;
	if (n)
		qsort(names, n, sizeof(*names), name_cmp);

	for (size_t i = 0; i < n; i++) {
		char *abs = fs_path_join(abs_dir, names[i]);
		char *rel = fs_path_join(rel_dir, names[i]);
		struct stat lst, st;

		if (lstat(abs, &lst) != 0)
			goto next;
		if (S_ISLNK(lst.st_mode)) {
			/* the symlink rule: never leave the bundle root */
			if (!inside_root(c->root_real, abs) || stat(abs, &st) != 0)
				goto next;
		} else {
			st = lst;
		}
		if (S_ISDIR(st.st_mode)) {
			if (ignore_match(rules, rel, true))
				goto next;
			if (!seen_add(c, st.st_dev, st.st_ino))
				goto next;
			walk_dir(c, abs, rel, rules, depth + 1);
		} else if (S_ISREG(st.st_mode)) {
			if (walk_is_dag_name(names[i]) && !ignore_match(rules, rel, false))
				v->file(v->ud, abs, rel, &st, WALK_DAG);
			else if (walk_is_defaults_name(names[i]))
				v->file(v->ud, abs, rel, &st, WALK_DEFAULTS);
		}
	next:
		free(abs);
		free(rel);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	ignore_free(rules);
}

int walk_tree(const char *root, const char *rel_dir, const walk_visitor *v)
{
	walk_ctx c = {.v = v};
	ignore_rules *rules = NULL;
	char *abs = NULL;
	strbuf p;
	struct stat st;
	int depth = 0, err = 0;

	sb_init(&p);
	c.root_real = realpath(root, NULL);
	if (!c.root_real)
		err = errno;
	else if (stat(c.root_real, &st) != 0)
		err = errno;
	else if (!S_ISDIR(st.st_mode))
		err = ENOTDIR;
	else {
		DIR *d = opendir(c.root_real);
		if (!d)
			err = errno;
		else
			closedir(d);
	}
	if (err)
		goto out;
	seen_add(&c, st.st_dev, st.st_ino);
	if (*rel_dir == '\0') {
		walk_dir(&c, root, "", NULL, 0);
		goto out;
	}
	/* The rules and folders from the root down to rel_dir, as a walk of the
	 * whole bundle would have met them. */
	rules = ignore_push(NULL, root, "");
	for (const char *e, *comp = rel_dir;; comp = e + 1) {
		e = strchr(comp, '/');
		p.len = 0;
		sb_add(&p, rel_dir, e ? (size_t)(e - rel_dir) : strlen(rel_dir));
		depth++;
		if (ignore_match(rules, p.data, true))
			goto out;
		char *dabs = fs_path_join(root, p.data);
		bool ok = stat(dabs, &st) == 0 && S_ISDIR(st.st_mode) &&
		          inside_root(c.root_real, dabs) && seen_add(&c, st.st_dev, st.st_ino);
		if (ok && e) {
			ignore_rules *next = ignore_push(rules, dabs, p.data);
			ignore_free(rules);
			rules = next;
		}
		free(dabs);
		if (!ok)
			goto out;
		if (!e)
			break;
	}
	abs = fs_path_join(root, rel_dir);
	walk_dir(&c, abs, rel_dir, rules, depth);
out:
	ignore_free(rules);
	sb_free(&p);
	free(abs);
	free(c.root_real);
	free(c.seen);
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

static void list_add(void *ud, const char *abs, const char *rel, const struct stat *st,
                     walk_kind kind)
{
	walk_list *l = ud;
	walk_file *f;

	if (kind != WALK_DAG)
		return;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->files = xrealloc(l->files, l->cap * sizeof(*l->files));
	}
	f = &l->files[l->n++];
	f->rel = xstrdup(rel);
	f->abs = xstrdup(abs);
	f->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	f->size = (int64_t)st->st_size;
	f->inode = (uint64_t)st->st_ino;
}

static int file_cmp(const void *a, const void *b)
{
	return strcmp(((const walk_file *)a)->rel, ((const walk_file *)b)->rel);
}

int walk_bundle(const char *root, walk_list *out)
{
	walk_visitor v = {.ud = out, .file = list_add};

	out->files = NULL;
	out->n = out->cap = 0;
	if (walk_tree(root, "", &v) != 0)
		return -1;
	if (out->n)
		qsort(out->files, out->n, sizeof(*out->files), file_cmp);
	return 0;
}

/* rel must be a plain relative path: no empty, "." or ".." components. */
static bool rel_is_clean(const char *rel)
{
	const char *p = rel;

	if (*p == '\0' || *p == '/')
		return false;
	while (*p) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (!e)
			break;
		p = e + 1;
	}
	return true;
}

bool walk_file_is_dag(const char *root, const char *rel)
{
	ignore_rules *rules = NULL;
	char *abs = NULL, *root_real = NULL;
	strbuf dir;
	bool ok = false;
	struct stat lst, st;

	sb_init(&dir);
	if (!root || !rel || !rel_is_clean(rel) || !walk_is_dag_name(fs_basename(rel)))
		goto out;
	/* The .dagignore of every folder from the root down to the file's. */
	rules = ignore_push(NULL, root, "");
	for (const char *p = strchr(rel, '/'); p; p = strchr(p + 1, '/')) {
		dir.len = 0;
		sb_add(&dir, rel, (size_t)(p - rel));
		if (ignore_match(rules, dir.data, true))
			goto out;
		char *dabs = fs_path_join(root, dir.data);
		ignore_rules *next = ignore_push(rules, dabs, dir.data);
		free(dabs);
		ignore_free(rules);
		rules = next;
	}
	if (ignore_match(rules, rel, false))
		goto out;
	/* An existing file must also pass the walker's checks: a regular file
	 * whose real path stays inside the root. A missing file (just deleted)
	 * is judged by its name and the ignore rules alone. */
	abs = fs_path_join(root, rel);
	if (lstat(abs, &lst) == 0) {
		if (stat(abs, &st) != 0 || !S_ISREG(st.st_mode))
			goto out;
		root_real = realpath(root, NULL);
		if (!root_real || !inside_root(root_real, abs))
			goto out;
	}
	ok = true;
out:
	sb_free(&dir);
	ignore_free(rules);
	free(abs);
	free(root_real);
	return ok;
}

void walk_list_free(walk_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->files[i].rel);
		free(l->files[i].abs);
	}
	free(l->files);
	l->files = NULL;
	l->n = l->cap = 0;
}
