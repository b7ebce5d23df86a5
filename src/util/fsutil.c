/* Small filesystem helpers: whole-file reads with a size cap and path strings. */
#include "util/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/xalloc.h"

int fs_read_file(const char *path, size_t max, char **data, size_t *len)
{
	int rc = -1, err = 0;
	char *buf = NULL;
	size_t used = 0, cap;
	struct stat st;

	*data = NULL;
	*len = 0;
	if (max > SIZE_MAX / 4)
		max = SIZE_MAX / 4;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0) {
		err = errno;
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		err = EISDIR;
		goto out;
	}
	if (S_ISREG(st.st_mode) && st.st_size > 0 && (uintmax_t)st.st_size > max) {
		err = EFBIG;
		goto out;
	}
	/* The size is only a hint: the file may grow or be a pipe. */
	cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
	if (cap > max + 1)
		cap = max + 1;
	buf = xmalloc(cap + 1);
	for (;;) {
		if (used == cap) {
			if (used > max) {
				err = EFBIG;
				goto out;
			}
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			buf = xrealloc(buf, cap + 1);
		}
		ssize_t n = read(fd, buf + used, cap - used);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = errno;
			goto out;
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used > max) {
			err = EFBIG;
			goto out;
		}
	}
	buf[used] = '\0';
	*data = buf;
	*len = used;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	close(fd);
	if (rc != 0)
		errno = err;
	return rc;
}

char *fs_path_join(const char *a, const char *b)
{
	size_t la = strlen(a);
	strbuf sb;

	if (la == 0)
		return xstrdup(b);
	if (*b == '\0')
		return xstrdup(a);
	while (la > 1 && a[la - 1] == '/')
		la--;
	while (*b == '/')
		b++;
	sb_init(&sb);
	sb_add(&sb, a, la);
	if (a[la - 1] != '/')
		sb_addc(&sb, '/');
	sb_adds(&sb, b);
	return sb_detach(&sb);
}

char *fs_dirname(const char *p)
{
	size_t n = strlen(p);

	while (n > 1 && p[n - 1] == '/')
		n--;
	while (n > 0 && p[n - 1] != '/')
		n--;
	if (n == 0)
		return xstrdup(".");
	while (n > 1 && p[n - 1] == '/')
		n--;
	return xstrndup(p, n);
}

const char *fs_basename(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}
