/* libFuzzer target over the DAG file front end: YAML loading, the dag-factory
 * schema, validation and serialization of one file held in memory. The
 * operator catalog is loaded once. Built by `make fuzz` (build-fuzz/). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "dagfile/catalog.h"
#include "dagfile/dagfile.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static catalog *cat;

static void free_catalog(void)
{
	catalog_free(cat);
	cat = NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	char *err = NULL;
	cat = catalog_load(NULL, 0, &err);
	if (!cat) {
		fprintf(stderr, "fuzz_dagfile: cannot load the built-in catalog: %s\n",
		        err ? err : "unknown error");
		free(err);
		abort();
	}
	atexit(free_catalog);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	dagfile_opts opts = {0};
	dagfile_result res = {0};

	opts.cat = cat;
	opts.bundle_root = NULL;
	opts.max_file_size = 10u << 20;
	dagfile_parse_text("fuzz.yml", (const char *)data, size, &opts, &res);
	dagfile_result_free(&res);
	return 0;
}
