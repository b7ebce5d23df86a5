/* libFuzzer target over the language server's framing and message handling:
 * one input is the whole byte stream a client sends on stdin (headers,
 * bodies, several messages). The server must answer or skip every message and
 * return; the answers go to /dev/null. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "dagfile/catalog.h"
#include "dagfile/dagfile.h"
#include "lsp/lsp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static catalog *cat;
	static int devnull = -1;
	if (!cat) {
		char *err = NULL;
		cat = catalog_load(NULL, 0, &err);
		if (!cat)
			abort();
		devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	}
	/* the input through a pipe, whole: it must fit the pipe's buffer */
	if (size > 60000)
		return 0;
	int p[2];
	if (pipe(p) != 0)
		abort();
	size_t off = 0;
	while (off < size) {
		ssize_t w = write(p[1], data + off, size - off);
		if (w <= 0)
			abort();
		off += (size_t)w;
	}
	close(p[1]);
	static const char *const pools[] = {"default_pool"};
	dagfile_opts o = {.cat = cat, .pools = pools, .npools = 1, .max_file_size = 1 << 20};
	int rc = lsp_serve(p[0], devnull, &o, "file:///codes.md");
	close(p[0]);
	if (rc != 0 && rc != 1)
		abort();
	return 0;
}
