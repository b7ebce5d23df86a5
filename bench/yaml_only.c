/* The benchmark's floor: reads every .yml/.yaml file below the given folders
 * and runs libyaml's event parser over it, doing nothing with the events.
 * dagproc check cannot be faster than this. Standalone (cc -O2 ... -lyaml).
 *
 *   yaml_only DIR...   prints: files=N bytes=N seconds=S errors=N
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

static size_t nfiles, nbytes, nerrors;
static unsigned char *buf;
static size_t bufcap;

static int is_yaml(const char *path)
{
	size_t n = strlen(path);
	return (n > 4 && strcmp(path + n - 4, ".yml") == 0) ||
	       (n > 5 && strcmp(path + n - 5, ".yaml") == 0);
}

static int parse_file(const char *path, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		perror(path);
		return -1;
	}
	if (size + 1 > bufcap) {
		bufcap = (size + 1) * 2;
		buf = realloc(buf, bufcap);
		if (!buf) {
			perror("realloc");
			exit(2);
		}
	}
	size_t got = 0;
	while (got < size) {
		ssize_t r = read(fd, buf + got, size - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);

	yaml_parser_t p;
	yaml_event_t ev;
	int done = 0;
	yaml_parser_initialize(&p);
	yaml_parser_set_input_string(&p, buf, got);
	while (!done) {
		if (!yaml_parser_parse(&p, &ev)) {
			nerrors++;
			fprintf(stderr, "%s:%zu:%zu: %s\n", path, p.problem_mark.line + 1,
			        p.problem_mark.column + 1, p.problem ? p.problem : "error");
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	nfiles++;
	nbytes += got;
	return 0;
}

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)ftw;
	if (type == FTW_F && S_ISREG(st->st_mode) && is_yaml(path))
		parse_file(path, (size_t)st->st_size);
	return 0;
}

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR...\n", argv[0]);
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 1; i < argc; i++) {
		if (nftw(argv[i], visit, 64, FTW_PHYS) != 0) {
			perror(argv[i]);
			return 2;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("files=%zu bytes=%zu seconds=%.6f errors=%zu\n", nfiles, nbytes, secs, nerrors);
	free(buf);
	return 0;
}
