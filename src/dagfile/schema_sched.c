/* Schedules and dates: cron expressions and presets, timetables, assets,
 * timedeltas, start_date/end_date. */
#include "dagfile/schema_int.h"

#include <string.h>
#include <strings.h>

void sch_check_date(dctx *d, ypair *p)
{
	ynode *v = p->val;
	if (!v || v->kind == YN_NULL)
		return;
	if ((v->kind == YN_DATE || v->kind == YN_DATETIME) && date_iso_valid(v->str))
		return;
	if (is_str(v) && (date_iso_valid(v->str) || date_relative_valid(v->str)))
		return;
	if (is_map(v)) {
		const char *t = type_name_of(v);
		if (strcmp(t, "datetime.datetime") == 0 || strcmp(t, "pendulum.datetime") == 0 ||
		    strcmp(t, "datetime") == 0)
			return;
	}
	if (ynode_is_scalar(v))
		sch_err(d, "E032", v,
		        "invalid %s '%s': expected an ISO date (2024-01-01), a datetime "
		        "(2024-01-01T10:00:00) or a relative date ('2 days')",
		        key_text(p), v->str);
	else
		sch_err(d, "E032", v, "invalid %s: expected a date, not a %s", key_text(p),
		        type_name_of(v));
}

/* ------------------------------------------------------------------------ */
/* Schedules                                                                 */

static bool is_asset_like(const ynode *v)
{
	if (is_str(v))
		return true;
	if (is_map(v)) {
		const char *t = type_name_of(v);
		if (strstr(t, "Asset") || strstr(t, "Dataset"))
			return true;
		if (map_get(v, "__and__") || map_get(v, "__or__"))
			return true;
	}
	return false;
}

/* Cron-based timetables (CronTriggerTimetable, CronDataIntervalTimetable,
 * MultipleCronTriggerTimetable) carry cron expressions: check them like a cron
 * schedule. */
static void check_timetable(dctx *d, ynode *v)
{
	const char *t = type_name_of(v);
	if (!strstr(t, "Cron"))
		return;
	ynode *args = map_get(v, "__args__");
	ynode *crons[16];
	size_t n = 0;
	ynode *c = map_get(v, "cron");
	if (c)
		crons[n++] = c;
	ynode *cs = map_get(v, "crons");
	if (is_seq(cs))
		for (size_t i = 0; i < cs->n && n < 16; i++)
			crons[n++] = cs->items[i];
	if (!n && is_seq(args))
		for (size_t i = 0; i < args->n && n < 16; i++)
			if (is_str(args->items[i]))
				crons[n++] = args->items[i];
	if (!n) {
		sch_err(d, "E030", v, "%s needs a cron expression ('cron' or __args__)", t);
		return;
	}
	char why[160];
	for (size_t i = 0; i < n; i++) {
		if (!is_str(crons[i]))
			sch_err(d, "E030", crons[i], "the cron of %s must be a string", t);
		else if (!cron_valid(crons[i]->str, why, sizeof(why)) ||
		         cron_is_preset(crons[i]->str))
			sch_err(d, "E030", crons[i], "invalid cron '%s' in %s: %s", crons[i]->str,
			        t,
			        cron_is_preset(crons[i]->str) ? "a preset is not a cron expression"
			                                      : why);
	}
}

void sch_check_schedule(dctx *d, ypair *p)
{
	ynode *v = p->val;
	char why[160];
	if (!v || v->kind == YN_NULL)
		return;
	if (is_str(v)) {
		/* "none" in any case with spaces trimmed */
		const char *s = v->str;
		while (*s == ' ' || *s == '\t')
			s++;
		size_t n = strlen(s);
		while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		if (n == 4 && strncasecmp(s, "none", 4) == 0)
			return;
		if (cron_valid(v->str, why, sizeof(why)))
			return;
		sch_err(d, "E030", v, "invalid schedule '%s': %s", v->str, why);
		return;
	}
	if (is_seq(v)) {
		for (size_t i = 0; i < v->n; i++)
			if (!is_asset_like(v->items[i]))
				sch_err(
				    d, "E030", v->items[i],
				    "a schedule list holds asset URIs or Asset objects, not a %s",
				    type_name_of(v->items[i]));
		return;
	}
	if (is_map(v)) {
		const char *t = type_name_of(v);
		if (map_get(v, "__type__")) {
			if (strstr(t, "Timetable")) {
				check_timetable(d, v);
				return;
			}
			if (strcmp(t, "datetime.timedelta") == 0 || strstr(t, "relativedelta") ||
			    strstr(t, "Asset") || strstr(t, "Dataset"))
				return;
			sch_err(d, "E030", v,
			        "invalid schedule: %s is not a timetable or timedelta", t);
			return;
		}
		if (map_get(v, "__and__") || map_get(v, "__or__"))
			return;
		if (map_get(v, "datasets") || map_get(v, "assets") || map_get(v, "timetable") ||
		    map_get(v, "file")) {
			ynode *tt = map_get(v, "timetable");
			if (is_map(tt) && strstr(type_name_of(tt), "Timetable"))
				check_timetable(d, tt);
			for (size_t i = 0; i < v->n; i++) {
				const char *k = key_text(&v->pairs[i]);
				if (strcmp(k, "datasets") && strcmp(k, "assets") &&
				    strcmp(k, "timetable") && strcmp(k, "file"))
					sch_err(d, "E030", v->pairs[i].key,
					        "unknown key '%s' in a schedule mapping (expected "
					        "datasets, file, timetable)",
					        k);
			}
			return;
		}
	}
	sch_err(d, "E030", v,
	        "invalid schedule: expected a cron expression, a preset such as @daily, none, a "
	        "timedelta or timetable object, or assets; got a %s",
	        type_name_of(v));
}
