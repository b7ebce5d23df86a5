/* Small validators shared by the schema: cron expressions, dates, Airflow ids,
 * edit distance for "did you mean". Pure functions, no allocation unless said. */
#ifndef DAGPROC_CHECKS_H
#define DAGPROC_CHECKS_H

#include <stdbool.h>
#include <stddef.h>

/* Airflow cron (croniter): five fields (minute hour day-of-month month
 * day-of-week) separated by blanks; each a comma list of '*', a value or a
 * range a-b (a <= b), each optionally followed by a step ("/n", n >= 1); month
 * names JAN-DEC and day names SUN-SAT (case-insensitive, also in ranges); '?'
 * in the day fields; 0-7 for day-of-week (7 = Sunday); croniter's 'L' (last
 * day) in day-of-month and 'day#n' (n 1-5) in day-of-week. Also the presets
 * (@once @hourly @daily @weekly @monthly @quarterly @yearly @annually
 * @continuous), exact spelling. Returns true when valid; else writes a reason
 * such as "field 2 (hour): 25 is out of range 0-23" into why (size whylen; why
 * may be NULL). */
bool cron_valid(const char *expr, char *why, size_t whylen);
/* True for one of the presets above (blanks around it are ignored). */
bool cron_is_preset(const char *expr);

/* ISO 8601 date or datetime as Airflow/pendulum accept for start_date:
 * YYYY-MM-DD, YYYY-MM-DDTHH[:MM[:SS[.f{1,9}]]] ('T', 't' or a space), then
 * optionally Z or +HH, +HHMM, +HH:MM (or '-'), with a real calendar check (no
 * 2023-02-30; leap years), hours 0-23, minutes and seconds 0-59, year >= 1.
 * No surrounding blanks. */
bool date_iso_valid(const char *s);
/* dag-factory's relative spellings: "2 days", "3 hours", "1 week", "30 minutes",
 * "10 seconds": a number, blanks, a unit (second minute hour day week, singular
 * or plural, any case); several parts may be combined, each unit once ("1 day
 * 2 hours", "1 day, 2 hours"), optionally followed by "ago". */
bool date_relative_valid(const char *s);

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
