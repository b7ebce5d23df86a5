/* .dagignore: Airflow's .airflowignore glob syntax (gitignore-like). */
#ifndef DAGPROC_IGNORE_H
#define DAGPROC_IGNORE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ignore_rules ignore_rules;

/* Rules in force in a folder: the parent's rules plus the folder's own
 * .dagignore (if present). base_rel is the folder relative to the bundle root
 * ("" for the root). parent may be NULL. Returns a new object (never NULL). */
ignore_rules *ignore_push(const ignore_rules *parent, const char *folder_abs, const char *base_rel);
void ignore_free(ignore_rules *r);

/* rel is the path relative to the bundle root; is_dir for directories. Later
 * rules win; '!' negates; a pattern ending in '/' matches directories only; a
 * pattern with a '/' (other than trailing) is anchored to the .dagignore's
 * folder; "**" matches across folders; '#' starts a comment (anywhere in a
 * line, as Airflow strips r"\s*#.*"). A path below an ignored directory is
 * ignored too (the walker never descends there; '!' cannot undo that). A rule
 * only applies to paths below its own .dagignore's folder. */
bool ignore_match(const ignore_rules *r, const char *rel, bool is_dir);

/* Parses rules from text (for tests and for ignore_push). */
ignore_rules *ignore_from_text(const ignore_rules *parent, const char *text, const char *base_rel);

#endif
