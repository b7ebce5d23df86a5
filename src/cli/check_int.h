/* What `dagproc check` and `dagproc fix` share: the files named on the
 * command line and the parse options. */
#ifndef DAGPROC_CHECK_INT_H
#define DAGPROC_CHECK_INT_H

#include <stddef.h>

#include "dagfile/catalog.h"
#include "dagfile/dagfile.h"

struct dagproc_config;

typedef struct check_item {
	char *shown; /* path as printed: the argument joined with the file below it */
	char *abs;   /* path to read */
	char *root;  /* bundle root for defaults.yml */
	int group;   /* index of the argument (E034 applies within a folder argument) */
	dagfile_result res;
	char *out; /* the item's rendered output */
} check_item;

/* The catalog and parse options of the configuration; 0, or 2 with a message
 * on stderr naming the command. */
int check_setup(const struct dagproc_config *cfg, const char *cmd, catalog **cat,
                dagfile_opts *opts);
/* The DAG files named by argv[first..argc-1] (files, or folders walked with
 * their .dagignore); 0, or 2 when one could not be read (said on stderr). */
int check_collect(int argc, char **argv, int first, const struct dagproc_config *cfg,
                  const char *cmd, check_item **items, size_t *n);

#endif
