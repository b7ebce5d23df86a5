/* Small filesystem helpers: whole-file reads with a size cap and path strings. */
#ifndef DAGPROC_FSUTIL_H
#define DAGPROC_FSUTIL_H

#include <stddef.h>

/* Reads the whole file at path into a malloc'd buffer (*data, NUL-terminated,
 * *len bytes without the NUL). Returns 0, or -1 with errno set: EFBIG when the
 * file holds more than max bytes, EISDIR for a directory, or open/read's errno.
 * On failure *data is NULL and *len is 0. */
int fs_read_file(const char *path, size_t max, char **data, size_t *len);

/* a + "/" + b without doubling slashes; an empty side yields the other one.
 * Returns a malloc'd string (never NULL). */
char *fs_path_join(const char *a, const char *b);

/* Like dirname(3) but never modifies p: "a/b" -> "a", "a" -> ".", "/a" -> "/",
 * "a/b/" -> "a". Returns a malloc'd string (never NULL). */
char *fs_dirname(const char *p);

/* The last component of p (a pointer into p): "a/b.yml" -> "b.yml". A trailing
 * slash is not stripped ("a/" -> ""). */
const char *fs_basename(const char *p);

#endif
