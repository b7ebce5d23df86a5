/* Listing the DAG files of a bundle: recursive walk honouring .dagignore and the
 * symlink rule (links that lead outside the bundle root are not followed). */
#ifndef DAGPROC_WALK_H
#define DAGPROC_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct walk_file {
	char *rel; /* path relative to the bundle root, '/'-separated */
	char *abs; /* root joined with rel (as given, not canonicalised) */
	int64_t mtime_ns;
	int64_t size;
	uint64_t inode;
} walk_file;

typedef struct walk_list {
	walk_file *files;
	size_t n, cap;
} walk_list;

/* True for *.yml / *.yaml other than defaults.yml / defaults.yaml. */
bool walk_is_dag_name(const char *basename);
/* True for defaults.yml / defaults.yaml. */
bool walk_is_defaults_name(const char *basename);

struct stat;

typedef enum walk_kind {
	WALK_DAG,      /* a DAG file that no .dagignore excludes */
	WALK_DEFAULTS, /* a defaults file: it applies whatever .dagignore says of it */
} walk_kind;

/* What walk_tree calls. dir and dir_error may be NULL. */
typedef struct walk_visitor {
	void *ud;
	/* a folder about to be listed (after its parent's listing) */
	void (*dir)(void *ud, const char *abs, const char *rel);
	/* a folder that could not be opened, with the errno of opendir */
	void (*dir_error)(void *ud, const char *abs, const char *rel, int err);
	/* a file, with the stat of what it leads to (links followed) */
	void (*file)(void *ud, const char *abs, const char *rel, const struct stat *st,
	             walk_kind kind);
} walk_visitor;

/* Walks the folder rel_dir of the bundle at root ("" for the whole bundle) and
 * everything below it, in name order, with the .dagignore rules of every
 * folder from the root down and the symlink rule. Returns 0; a rel_dir that is
 * missing, ignored, not a folder or outside the root is visited as empty. -1
 * with errno when the root itself cannot be read. */
int walk_tree(const char *root, const char *rel_dir, const walk_visitor *v);

/* Lists the DAG files under root, sorted by rel. Returns 0, or -1 with errno
 * when root cannot be opened. Unreadable subfolders are skipped. */
int walk_bundle(const char *root, walk_list *out);
/* True when the single file rel (relative to root) is a DAG file: right name
 * and not ignored by any .dagignore from root down to its folder (nor inside
 * an ignored folder). rel must not contain "." or ".." components. When the
 * path exists it must also be a regular file (or a link to one) whose real
 * path is inside root; a missing (deleted) file is judged by name and rules. */
bool walk_file_is_dag(const char *root, const char *rel);
void walk_list_free(walk_list *l);

#endif
