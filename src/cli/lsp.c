/* `dagproc lsp`: the language server on stdin/stdout. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/check_int.h"
#include "cli/cli.h"
#include "config/config.h"
#include "lsp/lsp.h"
#include "util/xalloc.h"

#ifndef DAGPROC_DOCDIR
#define DAGPROC_DOCDIR "/usr/local/share/doc/dagproc"
#endif
#ifndef DAGPROC_SOURCE_DOCS
#define DAGPROC_SOURCE_DOCS ""
#endif

void cli_lsp_usage(FILE *f)
{
	fputs("usage: dagproc lsp [--stdio] [--config FILE]\n"
	      "\n"
	      "A language server (LSP 3.17, JSON-RPC over stdin and stdout) for\n"
	      "dag-factory files: the diagnostics `dagproc check` gives for the unsaved\n"
	      "text as you type (the defaults.yml files of the folder chain read from\n"
	      "disk), its fixes as code actions, hover on operator paths and keys, and\n"
	      "completion of DAG keys, task keys, operator paths and the arguments of the\n"
	      "task's operator. Editors start it themselves (README: In the editor). It\n"
	      "writes no file.\n"
	      "\n"
	      "  --stdio        accepted for clients that pass it (stdio is the only\n"
	      "                 transport)\n"
	      "  --config FILE  configuration file (operator catalogs, pools)\n"
	      "\n"
	      "Exit status: 0 after shutdown and exit, 1 on exit without shutdown or at\n"
	      "the end of the input, 2 usage error.\n",
	      f);
}

/* The documentation of the codes: installed beside the man pages, else in
 * the source tree this binary was built from. */
static char *codes_url(void)
{
	const char *dirs[] = {DAGPROC_DOCDIR, DAGPROC_SOURCE_DOCS};
	for (size_t i = 0; i < 2; i++) {
		if (!dirs[i][0])
			continue;
		char *p = xasprintf("%s/codes.md", dirs[i]);
		if (access(p, R_OK) == 0) {
			char *u = xasprintf("file://%s", p);
			free(p);
			return u;
		}
		free(p);
	}
	return xasprintf("file://%s/codes.md", DAGPROC_DOCDIR);
}

int cli_lsp(int argc, char **argv, struct dagproc_config *cfg)
{
	static const struct option longopts[] = {{"stdio", no_argument, NULL, 's'},
	                                         {"config", required_argument, NULL, 'c'},
	                                         {"help", no_argument, NULL, 'h'},
	                                         {NULL, 0, NULL, 0}};
	optind = 1;
	for (;;) {
		int c = getopt_long(argc, argv, "c:h", longopts, NULL);
		if (c == -1)
			break;
		switch (c) {
		case 's':
		case 'c':
			break;
		case 'h':
			cli_lsp_usage(stdout);
			return 0;
		default:
			fputs("dagproc lsp: try 'dagproc help lsp'\n", stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "dagproc lsp: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	catalog *cat = NULL;
	dagfile_opts opts;
	if (check_setup(cfg, "lsp", &cat, &opts) != 0)
		return 2;
	char *url = codes_url();
	int rc = lsp_serve(STDIN_FILENO, STDOUT_FILENO, &opts, url);
	free(url);
	catalog_free(cat);
	return rc;
}
