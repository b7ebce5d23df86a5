/* The diagnostic codes of SPEC §5: what each means and what to do about it. */
#include "dagfile/codes.h"

#include <string.h>

const diag_code diag_codes[] = {
    {"E001", "invalid-yaml", "The file is not valid YAML.",
     "Fix the syntax at the position given (libyaml's problem: indentation, an unclosed "
     "quote or bracket, a tab where spaces are expected, a duplicate key)."},
    {"E002", "wrong-shape",
     "The top level, a DAG or a task is not a mapping, or `tasks` is neither a list nor a "
     "mapping.",
     "A DAG file maps DAG ids to mappings; `tasks` is a list of task mappings or a mapping "
     "of task ids to task mappings."},
    {"E003", "unreadable-file",
     "The file cannot be read, is too large, is not UTF-8, or expands past the alias "
     "limits.",
     "Check the file's permissions and encoding; split very large files; do not use "
     "aliases to multiply a document."},
    {"E004", "parse-failed", "Parsing timed out, or its worker died or ran out of memory.",
     "Make the file smaller or simpler, or raise `[dag_processor] "
     "dag_file_processor_timeout` or `worker_memory_limit`."},
    {"E010", "no-operator", "A task has neither `operator` nor `decorator`.",
     "Give the task an `operator:` (a dotted class path) or a `decorator:`."},
    {"E011", "module-not-found", "The operator's module does not exist.",
     "Use the module path of Airflow 3 or of the provider that ships the operator; the "
     "message names the replacement of an Airflow 2 path."},
    {"E012", "class-not-found", "The operator's class is not in its module.",
     "Check the class name's spelling and the module it lives in."},
    {"E013", "unexpected-argument", "The operator does not accept an argument.",
     "Remove the argument or rename it to one the operator accepts (the message suggests "
     "one); Airflow raises \"Invalid arguments were passed\"."},
    {"E014", "missing-argument", "A required argument of the operator is missing.",
     "Add the argument the message names."},
    {"E015", "wrong-type", "An argument has the wrong type.",
     "Give the argument a value of the type the message names."},
    {"E020", "unknown-dependency", "A dependency names an unknown task or group.",
     "Fix the name in `dependencies` (the message suggests the closest name)."},
    {"E021", "dependency-cycle", "The dependencies form a cycle.",
     "Remove one of the dependencies of the cycle the message lists."},
    {"E022", "duplicate-id", "A task id or group name is used twice.",
     "Give each task and group of a DAG a name of its own."},
    {"E023", "missing-id", "A list entry has no `task_id` or `group_name`.",
     "Add `task_id:` to the task (or `group_name:` to the group)."},
    {"E024", "unknown-group",
     "`task_group_name` or `parent_group_name` names an unknown "
     "group, or groups nest in a cycle.",
     "Name a group defined under the DAG's `task_groups`."},
    {"E030", "invalid-schedule", "The schedule is not one Airflow 3 accepts.",
     "Use a cron expression, a preset such as `@daily`, `null`, a timedelta or an asset "
     "schedule."},
    {"E031", "removed-schedule-key",
     "`schedule_interval` or `timetable` was removed in "
     "Airflow 3.",
     "Rename the key to `schedule`."},
    {"E032", "invalid-date", "`start_date` or `end_date` is not a valid date.",
     "Write a date such as `2024-01-01` or a datetime with its zone."},
    {"E033", "invalid-id",
     "A DAG id or task id has characters Airflow does not allow or "
     "more than 250 characters.",
     "Use letters, digits, `_`, `-` and `.` only."},
    {"E034", "duplicate-dag-id", "Another file already defines this DAG id.",
     "Rename one of the DAGs, or delete the other file's definition."},
    {"E040", "callable-file",
     "`python_callable_file` is missing, not absolute, or has no "
     "`python_callable_name`.",
     "Give an absolute path to an existing file and the name of the callable in it."},
    {"E050", "invalid-defaults", "A `defaults.yml` that applies to the file is invalid.",
     "Fix the `defaults.yml` named in the message."},
    {"W001", "non-existent-pool", "A task uses a pool the configuration does not list.",
     "Create the pool in Airflow and list it in `[core] pools`, or use an existing one."},
    {"W002", "deprecated", "A deprecated key or operator path.",
     "Use the replacement the message names before it is removed."},
    {"W003", "unknown-key", "A DAG-level key no DAG accepts; Airflow ignores it.",
     "Remove the key or fix its spelling (the message suggests one)."},
    {"W004", "not-checked",
     "The operator's module is outside what the catalog covers: its arguments were not "
     "checked.",
     "Add a catalog for the provider (`[core] operator_catalog`), or list the module in "
     "`[core] unchecked_operator_modules` to silence this."},
    {"W005", "environment", "A `$VAR` the DAG files may not read was left as written.",
     "Do not read secrets or the processor's settings from DAG files; allow the variable "
     "with `[core] dag_env_allow` if it is not secret."},
    {"W006", "schedule-meaning",
     "A schedule croniter accepts with another meaning than five-field cron (6 or 7 "
     "fields, `?`).",
     "Write the five-field cron expression you mean; croniter reads a sixth field as "
     "seconds."},
};

const size_t diag_ncodes = sizeof(diag_codes) / sizeof(diag_codes[0]);

const diag_code *diag_code_find(const char *code)
{
	for (size_t i = 0; i < diag_ncodes; i++)
		if (strcmp(diag_codes[i].code, code) == 0)
			return &diag_codes[i];
	return NULL;
}
