/* Schedules and dates: cron expressions and presets as Airflow 3.1 and
 * croniter read them, timetables, assets, timedeltas, start_date/end_date. */
#include "dagfile/schema_int.h"

#include <string.h>
#include <strings.h>

/* A date as dag-factory's get_datetime takes it (DAG-level start_date and
 * end_date, and those of default_args): a date or datetime PyYAML made from
 * an unquoted timestamp, a string pendulum parses, a relative date, or a
 * __type__ date constructor. */
void sch_check_date(dctx *d, ypair *p)
{
	ynode *v = p->val;
	if (!v || v->kind == YN_NULL)
		return;
	if ((v->kind == YN_DATE || v->kind == YN_DATETIME) && date_yaml_valid(v->str))
		return;
	if (is_str(v) && (date_iso_valid(v->str) || date_relative_valid(v->str)))
		return;
	sch_type k = sch_type_of(v);
	if (k == ST_DATE || k == ST_UNKNOWN)
		return; /* a constructor dagproc knows, or one it cannot judge */
	if (ynode_is_scalar(v))
		sch_err(d, "E032", v,
		        "invalid %s '%s': expected an ISO date (2024-01-01), a datetime "
		        "(2024-01-01T10:00:00) or a relative date such as '2 days' (digits then "
		        "hours, minutes, seconds or days)",
		        key_text(p), v->str);
	else
		sch_err(d, "E032", v, "invalid %s: expected a date, not a %s", key_text(p),
		        type_name_of(v));
}

/* ------------------------------------------------------------------------ */
/* Schedules                                                                 */

/* W006 for what croniter reads otherwise than five-field cron. */
static void cron_unusual(dctx *d, const ynode *at, const char *expr, const cron_info *in)
{
	if (in->nfields < 6 && !in->question && !in->random)
		return;
	strbuf b;
	sb_init(&b);
	if (in->nfields >= 6) {
		sb_adds(&b, "croniter reads the 6th field as seconds");
		if (strcmp(in->second, "*") == 0)
			sb_adds(&b, " ('*': a run every second of each matching minute)");
		if (in->nfields == 7)
			sb_adds(&b, " and the 7th as the year");
	}
	if (in->question)
		sb_printf(&b, "%s'?' is read as '*'", b.len ? "; " : "");
	if (in->random)
		sb_printf(&b, "%s'R' picks a new random value each time the file is parsed",
		          b.len ? "; " : "");
	sch_warn(d, "W006", "schedule", at, "schedule '%s' is not five-field cron: %s", expr,
	         b.data);
	sb_free(&b);
}

/* A cron expression of a timetable or a schedule string; what is accepted is
 * what croniter accepts after Airflow's presets. */
static void check_cron_text(dctx *d, const ynode *at, const char *expr, const char *in_what)
{
	char why[200];
	cron_info info;
	if (!cron_check(expr, &info, why, sizeof(why))) {
		if (in_what)
			sch_err(d, "E030", at, "invalid cron '%s' in %s: %s", expr, in_what, why);
		else
			sch_err(d, "E030", at, "invalid schedule '%s': %s", expr, why);
		return;
	}
	cron_unusual(d, at, expr, &info);
}

static void check_timetable(dctx *d, ynode *v);

/* Cron-based timetables carry cron expressions (presets mapped as Airflow's
 * CronMixin does) and need a timezone. */
static void check_cron_timetable(dctx *d, ynode *v, sch_type k)
{
	const char *t = type_name_of(v);
	ynode *args = map_get(v, "__args__");
	ynode *crons[16];
	size_t n = 0;
	if (k == ST_CRON_TT) {
		ynode *c = map_get(v, "cron");
		if (c)
			crons[n++] = c;
		else if (is_seq(args) && args->n)
			crons[n++] = args->items[0];
	} else {
		if (map_get(v, "crons"))
			sch_err(d, "E030", map_get(v, "crons"),
			        "%s takes its cron expressions as __args__, not 'crons'", t);
		for (size_t i = 0; is_seq(args) && i < args->n && n < 16; i++)
			crons[n++] = args->items[i];
	}
	if (!n) {
		sch_err(d, "E030", v, "%s needs a cron expression (%s)", t,
		        k == ST_CRON_TT ? "'cron' or __args__" : "__args__");
		return;
	}
	bool tz = map_get(v, "timezone") != NULL ||
	          (strstr(t, "DataInterval") && is_seq(args) && args->n >= 2);
	if (!tz)
		sch_err(d, "E030", v, "%s needs a 'timezone' (such as UTC)", t);
	for (size_t i = 0; i < n; i++) {
		strbuf sb;
		sb_init(&sb);
		if (!sch_string_value(crons[i], &sb))
			sch_err(d, "E030", crons[i], "the cron of %s must be a string, not a %s", t,
			        type_name_of(crons[i]));
		else
			check_cron_text(d, crons[i], sb.data ? sb.data : "", t);
		sb_free(&sb);
	}
}

static void check_timetable(dctx *d, ynode *v)
{
	sch_type k = sch_type_of(v);
	switch (k) {
	case ST_CRON_TT:
	case ST_MULTI_CRON_TT:
		check_cron_timetable(d, v, k);
		return;
	case ST_ASSET_OR_TIME: {
		const char *t = type_name_of(v);
		bool dataset = strstr(t, "Dataset") != NULL;
		ynode *tt = map_get(v, "timetable");
		if (!tt)
			sch_err(d, "E030", v, "%s needs a 'timetable'", t);
		else if (is_map(tt) && sch_type_of(tt) != ST_NONE)
			check_timetable(d, tt);
		if (!map_get(v, dataset ? "datasets" : "assets"))
			sch_err(d, "E030", v, "%s needs '%s'", t, dataset ? "datasets" : "assets");
		return;
	}
	default:
		return;
	}
}

/* An element of a schedule list: a URI (dag-factory makes it an Asset), an
 * asset object or condition, or a class dagproc cannot judge. */
static bool asset_like(const ynode *v)
{
	if (!v || v->kind == YN_NULL || is_str(v))
		return true;
	if (!is_map(v))
		return false;
	switch (sch_type_of(v)) {
	case ST_ASSET:
	case ST_ASSET_ALIAS:
	case ST_ASSET_COND:
	case ST_UNKNOWN:
		return true;
	case ST_NONE:
		return map_get(v, "__and__") || map_get(v, "__or__") || map_get(v, "__join__");
	default:
		return false;
	}
}

static void check_schedule_list(dctx *d, ynode *list)
{
	for (size_t i = 0; i < list->n; i++)
		if (!asset_like(list->items[i]))
			sch_err(d, "E030", list->items[i],
			        "a schedule list holds asset URIs or Asset objects, not a %s",
			        type_name_of(list->items[i]));
}

void sch_check_schedule(dctx *d, ypair *p)
{
	ynode *v = p->val;
	if (!v || v->kind == YN_NULL)
		return;
	strbuf sb;
	sb_init(&sb);
	if (sch_string_value(v, &sb)) {
		/* dag-factory: "none" in any case with blanks trimmed is None; Airflow:
		 * "@once" and "@continuous" exactly, else a cron for croniter */
		const char *s = sb.data ? sb.data : "";
		size_t n = sb.len;
		while (n && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
			s++, n--;
		while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' ||
		             s[n - 1] == '\r'))
			n--;
		bool none = n == 4 && strncasecmp(s, "none", 4) == 0;
		bool special = !strcmp(sb.data ? sb.data : "", "@once") ||
		               !strcmp(sb.data ? sb.data : "", "@continuous");
		if (!none && !special)
			check_cron_text(d, v, sb.data ? sb.data : "", NULL);
		sb_free(&sb);
		return;
	}
	sb_free(&sb);
	if (is_seq(v)) {
		check_schedule_list(d, v);
		return;
	}
	if (is_map(v)) {
		sch_type k = sch_type_of(v);
		switch (k) {
		case ST_LIST:
			if (is_seq(map_get(v, "items")))
				check_schedule_list(d, map_get(v, "items"));
			return;
		case ST_CRON_TT:
		case ST_MULTI_CRON_TT:
		case ST_ASSET_OR_TIME:
			check_timetable(d, v);
			return;
		case ST_DELTA_TT:
		case ST_TIMETABLE:
		case ST_TIMEDELTA:
		case ST_RELATIVEDELTA:
		case ST_ASSET:
		case ST_ASSET_ALIAS:
		case ST_ASSET_COND:
		case ST_UNKNOWN: /* perhaps a timetable of the user's own */
			return;
		case ST_DATE:
			sch_err(d, "E030", v, "invalid schedule: %s is a date, not a timetable",
			        type_name_of(v));
			return;
		case ST_NONE:
			break;
		}
		if (map_get(v, "__and__") || map_get(v, "__or__"))
			return;
		if (map_get(v, "datasets") || map_get(v, "assets") || map_get(v, "timetable") ||
		    map_get(v, "file")) {
			ynode *tt = map_get(v, "timetable");
			if (is_map(tt))
				check_timetable(d, tt);
			for (size_t i = 0; i < v->n; i++) {
				const char *kt = key_text(&v->pairs[i]);
				if (strcmp(kt, "datasets") && strcmp(kt, "assets") &&
				    strcmp(kt, "timetable") && strcmp(kt, "file"))
					sch_err(d, "E030", v->pairs[i].key,
					        "unknown key '%s' in a schedule mapping (expected "
					        "datasets, file, timetable)",
					        kt);
			}
			return;
		}
	}
	sch_err(d, "E030", v,
	        "invalid schedule: expected a cron expression, a preset such as @daily, none, a "
	        "timedelta or timetable object, or assets; got a %s",
	        type_name_of(v));
}
