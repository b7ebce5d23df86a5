/* Small validators shared by the schema: cron expressions, dates, Airflow ids,
 * edit distance for "did you mean". Pure functions, no allocation unless said. */
#ifndef DAGPROC_CHECKS_H
#define DAGPROC_CHECKS_H

#include <stdbool.h>
#include <stddef.h>

/* A cron expression as Airflow 3.1 reads a schedule string: its cron_presets
 * (@hourly @daily @weekly @monthly @quarterly @yearly, exact spelling) are
 * mapped first, then croniter 6.0.0 (the version Airflow 3.1 installs) must
 * accept it: its aliases (@midnight @hourly @daily @weekly @monthly @yearly
 * @annually, any case), or 5 fields (minute hour day-of-month month
 * day-of-week), 6 (then seconds) or 7 (then the year), each a comma list of
 * '*', values, names (JAN-DEC, SUN-SAT, any case), ranges (a reversed one
 * wraps), steps; 'L' and 'L-' bounds in the day of month, 'day#n' and 'Ln' in
 * the day of week, '?' alone in the day fields (read as '*'), 'R' forms
 * (random). The same rules as croniter's _expand, with its quirks (0 is 1 in
 * the day field with 6 fields, 7 is Sunday only with 5). Returns true when
 * valid; else writes a reason such as "field 2 (hour): 25 is out of range
 * 0-23" into why (size whylen; why may be NULL). @once and @continuous are
 * schedule values, not cron: the caller handles them. */
typedef struct cron_info {
	int nfields;     /* 0 for a preset */
	bool question;   /* a '?' (read as '*') */
	bool random;     /* an 'R' field: a random value each time it is read */
	char second[32]; /* the seconds field (6 or 7 fields) */
} cron_info;
bool cron_check(const char *expr, cron_info *info, char *why, size_t whylen);
bool cron_valid(const char *expr, char *why, size_t whylen);
/* True for a preset cron_check accepts (Airflow's exact, croniter's any case). */
bool cron_is_preset(const char *expr);

/* ISO 8601 date or datetime as Airflow/pendulum accept for start_date:
 * YYYY-MM-DD, YYYY-MM-DDTHH[:MM[:SS[.f{1,9}]]] ('T', 't' or a space), then
 * optionally Z or +HH, +HHMM, +HH:MM (or '-'), with a real calendar check (no
 * 2023-02-30; leap years), hours 0-23, minutes and seconds 0-59, year >= 1.
 * No surrounding blanks. */
bool date_iso_valid(const char *s);
/* dag-factory's relative dates (utils.get_time_delta, used when pendulum
 * cannot parse the text): digits, blanks and hour, minute, second or day (any
 * case, plural or not) at the start; what follows is ignored ("2 days ago").
 * "1 week" and "2 weeks ago" are not relative dates there. */
bool date_relative_valid(const char *s);
/* A timestamp as PyYAML resolves and constructs an unquoted one (see
 * date_yaml_valid in checks.c): a space before the zone is fine. */
bool date_yaml_valid(const char *s);

/* Airflow's KEY_REGEX ^[\w.-]+$ and 250 characters (code points) max. \w is
 * Python's Unicode-aware class: ASCII letters, digits and '_', plus non-ASCII
 * letters and digits (approximated: common symbol, punctuation, space and
 * emoji blocks are rejected). Invalid UTF-8 is rejected. For a group name the
 * same rule applies. why gets a reason such as "contains ':' at position 23;
 * only letters, digits, '_', '.' and '-' are allowed" or "is 251 characters
 * long; at most 250". */
bool airflow_id_valid(const char *id, char *why, size_t whylen);

/* Levenshtein distance over bytes, capped: returns cap+1 once over cap
 * (O(strlen(b)) memory, stops early when a whole row exceeds cap). */
size_t edit_distance(const char *a, const char *b, size_t cap);
/* Best candidate within max(2, strlen(name)/3) edits, or NULL. An exact match
 * ranks first, then a case-only difference, then by distance; ties go to the
 * earliest candidate. NULL entries are skipped. */
const char *suggest_name(const char *name, const char *const *candidates, size_t n);

#endif
