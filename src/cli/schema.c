/* `dagproc schema`: the JSON Schema of dag-factory files for editors. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "config/config.h"
#include "dagfile/catalog.h"
#include "dagfile/jsonschema.h"

void cli_schema_usage(FILE *f)
{
	fputs("usage: dagproc schema [--compact] [--config FILE]\n"
	      "\n"
	      "Prints a JSON Schema (draft-07) of dag-factory DAG files, built from the\n"
	      "tables `dagproc check` validates with: the DAG and task keys, default_args,\n"
	      "task groups, and for each operator of the catalog (the built-in one and\n"
	      "[core] operator_catalog files) the arguments it accepts and their types.\n"
	      "Editors using yaml-language-server read it for completion, hover and\n"
	      "validation (docs/schema.md). It accepts every file `check` accepts\n"
	      "without errors; what a schema cannot express is left to `check`.\n"
	      "\n"
	      "  --compact  one line instead of indented JSON\n"
	      "\n"
	      "Exit status: 0 printed, 2 usage error or a bad catalog file.\n",
	      f);
}

int cli_schema(int argc, char **argv, struct dagproc_config *cfg)
{
	static const struct option longopts[] = {{"compact", no_argument, NULL, 'C'},
	                                         {"config", required_argument, NULL, 'c'},
	                                         {"help", no_argument, NULL, 'h'},
	                                         {NULL, 0, NULL, 0}};
	int pretty = 1;
	optind = 1;
	for (;;) {
		int c = getopt_long(argc, argv, "c:h", longopts, NULL);
		if (c == -1)
			break;
		switch (c) {
		case 'C':
			pretty = 0;
			break;
		case 'c':
			break; /* read by main.c */
		case 'h':
			cli_schema_usage(stdout);
			return 0;
		default:
			fputs("dagproc schema: try 'dagproc help schema'\n", stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "dagproc schema: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	char *err = NULL;
	catalog *cat = catalog_load((const char *const *)cfg->core.operator_catalog.v,
	                            cfg->core.operator_catalog.n, &err);
	if (!cat) {
		fprintf(stderr, "dagproc schema: %s\n",
		        err ? err : "cannot load the operator catalog");
		free(err);
		return 2;
	}
	char *text = dagfile_json_schema(cat, pretty);
	catalog_free(cat);
	if (!text) {
		fputs("dagproc schema: out of memory\n", stderr);
		return 2;
	}
	int rc = 0;
	if (fputs(text, stdout) == EOF || fputc('\n', stdout) == EOF || fflush(stdout) != 0) {
		fprintf(stderr, "dagproc schema: writing: %s\n", strerror(errno));
		rc = 2;
	}
	free(text);
	return rc;
}
