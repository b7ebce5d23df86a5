/* The operator catalog: which operator import paths exist in the target Airflow
 * (3.1 with current providers), the arguments each accepts and requires, the
 * Airflow 2 paths that are deprecated aliases and those that were removed. It
 * plays the role of the Python environment for the packages it covers (their
 * module prefixes): a missing module there is not installed (E011); a module of
 * a package it does not cover may well be installed (W004, not checked). */
#ifndef DAGPROC_CATALOG_H
#define DAGPROC_CATALOG_H

#include <stdbool.h>
#include <stddef.h>

/* Value types the validator can check an argument against (a bit set: an
 * argument may accept several, e.g. "int | None"). CAT_T_ANY disables checks. */
enum {
	CAT_T_ANY = 0,
	CAT_T_STR = 1 << 0,
	CAT_T_INT = 1 << 1,
	CAT_T_FLOAT = 1 << 2,
	CAT_T_BOOL = 1 << 3,
	CAT_T_LIST = 1 << 4,
	CAT_T_DICT = 1 << 5,
	CAT_T_NONE = 1 << 6,
	CAT_T_TIMEDELTA = 1 << 7, /* datetime.timedelta __type__ object (or number) */
	CAT_T_DATETIME = 1 << 8,
};

typedef struct cat_arg {
	const char *name;
	unsigned types; /* CAT_T_* mask; 0 = any */
	bool required;
	bool templated; /* in template_fields: a Jinja string is always fine */
} cat_arg;

typedef struct cat_operator {
	const char *path;   /* canonical import path, module.Class */
	const char *parent; /* path of the parent class or NULL */
	cat_arg *args;      /* own arguments only */
	size_t nargs;
	bool var_kwargs; /* accepts **kwargs beyond BaseOperator's (rare) */
	bool is_sensor;
} cat_operator;

typedef struct catalog catalog;

/* Lookup outcome for an operator path. */
typedef enum cat_lookup {
	CAT_FOUND,       /* canonical path */
	CAT_DEPRECATED,  /* Airflow 2 alias still redirected: W002, then as target */
	CAT_NO_MODULE,   /* E011: ModuleNotFoundError */
	CAT_NO_CLASS,    /* E012: the module exists, the class does not */
	CAT_UNCHECKED,   /* module under [core] unchecked_operator_modules */
	CAT_NOT_COVERED, /* W004: a package the catalog does not cover (E011 when strict) */
	CAT_REMOVED,     /* E011/E012: a path that no longer resolves (catalog_removal) */
} cat_lookup;

/* Loads the built-in catalog (compiled into the binary) plus the given extra
 * files (comma-separated list already split). Returns NULL and fills err
 * (malloc'd, one line naming the file and line) on a bad file. */
catalog *catalog_load(const char *const *extra_files, size_t nextra, char **err);
void catalog_free(catalog *c);
/* Prefixes accepted without checks ("mycompany.") */
void catalog_set_unchecked(catalog *c, const char *const *prefixes, size_t n);
/* [core] strict_catalog: a module of a package the catalog does not cover is
 * CAT_NO_MODULE instead of CAT_NOT_COVERED. */
void catalog_set_strict(catalog *c, bool strict);

/* Resolves path. *op is set for CAT_FOUND and CAT_DEPRECATED (the target). For
 * CAT_DEPRECATED *target_path is the new path. */
cat_lookup catalog_lookup(const catalog *c, const char *path, const cat_operator **op,
                          const char **target_path);

/* Finds an argument by name along the inheritance chain (own class, parent, ...,
 * BaseOperator). NULL when no class of the chain takes it. */
const cat_arg *catalog_find_arg(const catalog *c, const cat_operator *op, const char *name);

/* Calls fn for every argument of the chain (to list required ones and to find
 * "did you mean" candidates). */
void catalog_each_arg(const catalog *c, const cat_operator *op,
                      void (*fn)(const cat_arg *a, void *ud), void *ud);

/* For a CAT_REMOVED path: why it no longer resolves ("removed in Airflow 3"),
 * and its replacement written into use ("" when there is none). NULL when the
 * path is not a removed one. */
const char *catalog_removal(const catalog *c, const char *path, char *use, size_t uselen);

/* Whether the catalog covers the module (the first len bytes of module): the
 * longest matching `covers`/`not_covered` prefix decides. */
bool catalog_covers(const catalog *c, const char *module, size_t len);
/* Whether the module (first len bytes) exists in the catalog. */
bool catalog_module_exists(const catalog *c, const char *module, size_t len);

/* Nearest known operator paths, for "did you mean". Returns NULL if none close. */
const char *catalog_suggest(const catalog *c, const char *path);

/* Every operator of the catalog, in the order the files declare them
 * (`dagproc schema`). */
void catalog_each_operator(const catalog *c, void (*fn)(const cat_operator *op, void *ud),
                           void *ud);
/* Every other path that names a catalog operator (an Airflow 2 path still
 * redirected, a public re-export): fn(path, target, deprecated, ud). */
void catalog_each_alias(const catalog *c,
                        void (*fn)(const char *path, const cat_operator *target, bool deprecated,
                                   void *ud),
                        void *ud);

#endif
