#!/usr/bin/env python3
"""Generates a folder of typical dag-factory DAG files for `make bench`.

    bench/gen_dags.py --files 10000 --out build/bench/dags [--seed 1] [--error-share 0.05]

Deterministic for a given seed. Files go into folders of about 100 files, each
folder with a defaults.yml. Each file holds 1-3 DAGs of 5-40 tasks, with task
groups (list and mapping forms), dependencies on tasks and groups, Bash, Python,
Empty and Http operators with realistic arguments. A share of the files
(--error-share) has one import error: an unknown dependency (E020) or an unknown
operator module (E011). DAG ids are unique across the whole output, so a check
of the whole folder gives no E034. Stdlib only.
"""
import argparse
import os
import random
import shutil
import sys

FILES_PER_FOLDER = 100

TEAMS = ["orders", "payments", "marketing", "growth", "search", "ml", "finance", "logistics",
         "inventory", "support", "risk", "web", "mobile", "ads", "billing", "crm"]
NOUNS = ["orders", "customers", "sessions", "events", "invoices", "payments", "products",
         "stock", "clicks", "campaigns", "tickets", "refunds", "shipments", "users", "reviews",
         "prices", "leads", "subscriptions", "devices", "partners"]
VERBS = ["extract", "load", "clean", "dedupe", "enrich", "aggregate", "validate", "export",
         "publish", "score", "sync", "snapshot", "backfill", "compact", "index", "notify"]
GROUPS = ["ingest", "staging", "transform", "quality", "publish", "reporting", "features", "exports"]
CRONS = ["0 2 * * *", "30 3 * * *", "*/15 * * * *", "0 */4 * * *", "15 6 * * 1-5", "0 7 * * mon",
         "45 23 * * *", "0 0 1 * *", "5 4 * * sun", "*/30 8-20 * * *"]
PRESETS = ["@daily", "@hourly", "@weekly", "@monthly", None]

BASH = "airflow.providers.standard.operators.bash.BashOperator"
PYTHON = "airflow.providers.standard.operators.python.PythonOperator"
EMPTY = "airflow.providers.standard.operators.empty.EmptyOperator"
HTTP = "airflow.providers.http.operators.http.HttpOperator"


def q(s):
    """A double-quoted YAML scalar."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Gen:
    def __init__(self, seed, error_share):
        self.r = random.Random(seed)
        self.error_share = error_share

    def task_args(self, team, noun, verb):
        r = self.r
        kind = r.choices(["bash", "python", "empty", "http"], weights=[45, 40, 8, 7])[0]
        lines = []
        if kind == "bash":
            cmd = r.choice([
                "scripts/{v}_{n}.sh --date {{{{ ds }}}} --env prod",
                "python -m {t}.jobs.{v}_{n} --run-id {{{{ run_id }}}}",
                "dbt run --select {n} --vars '{{run_date: {{{{ ds }}}}}}'",
                "gsutil -m cp gs://{t}-raw/{n}/{{{{ ds_nodash }}}}/*.parquet /data/{n}/",
                "spark-submit --master yarn jobs/{v}_{n}.py {{{{ ds }}}}",
            ]).format(t=team, n=noun, v=verb)
            lines.append(("operator", BASH))
            lines.append(("bash_command", q(cmd)))
            if r.random() < 0.2:
                lines.append(("env", "{RUN_ENV: prod, TEAM: %s}" % team))
        elif kind == "python":
            lines.append(("operator", PYTHON))
            lines.append(("python_callable", "%s.%s.%s_%s" % (team, noun, verb, noun)))
            if r.random() < 0.6:
                lines.append(("op_kwargs", "{table: %s_%s, date: %s, limit: %d}" % (
                    team, noun, q("{{ ds }}"), r.randint(100, 100000))))
        elif kind == "empty":
            lines.append(("operator", EMPTY))
        else:
            lines.append(("operator", HTTP))
            lines.append(("http_conn_id", "%s_api" % team))
            lines.append(("endpoint", q("/v1/%s/%s/{{ ds }}" % (noun, verb))))
            lines.append(("method", r.choice(["POST", "GET"])))
            lines.append(("headers", "{Content-Type: application/json}"))
        if r.random() < 0.15:
            lines.append(("retries", str(r.randint(0, 5))))
        if r.random() < 0.1:
            lines.append(("trigger_rule", "all_done"))
        if r.random() < 0.1:
            lines.append(("execution_timeout", "{__type__: datetime.timedelta, minutes: %d}" % r.choice([10, 30, 60, 120])))
        return lines

    def dag(self, dag_id, team, error):
        """Returns the YAML lines of one DAG. error: None, 'dep' or 'module'."""
        r = self.r
        ntasks = r.randint(5, 40)
        ngroups = r.randint(0, min(4, ntasks // 5))
        # Groups are contiguous runs of tasks; every edge goes from a lower index
        # to a higher one, so there is never a cycle.
        starts = sorted(r.sample(range(1, ntasks), ngroups)) if ngroups else []
        groups = []  # (name, first, last)
        used = set()
        for i, s in enumerate(starts):
            end = min(ntasks - 1, s + r.randint(1, 6))
            if i + 1 < len(starts):
                end = min(end, starts[i + 1] - 1)
            name = r.choice(GROUPS)
            while name in used:
                name = "%s_%d" % (r.choice(GROUPS), len(used))
            used.add(name)
            groups.append((name, s, end))
        group_of = {}
        for name, s, e in groups:
            for i in range(s, e + 1):
                group_of[i] = name

        ids = []
        seen = set()
        for i in range(ntasks):
            tid = "%s_%s" % (r.choice(VERBS), r.choice(NOUNS))
            while tid in seen:
                tid = "%s_%d" % (tid, i)
            seen.add(tid)
            ids.append(tid)

        deps = []
        for i in range(ntasks):
            d = []
            if i > 0:
                for _ in range(r.choice([1, 1, 1, 2, 2, 3])):
                    j = r.randrange(max(0, i - 8), i)
                    g = group_of.get(j)
                    if g and g != group_of.get(i) and r.random() < 0.3:
                        ge = next(e for n, _, e in groups if n == g)
                        if ge < i:  # the whole group comes before task i
                            d.append(g)
                            continue
                    d.append(ids[j])
            deps.append(sorted(set(d), key=d.index))

        bad_task = r.randrange(1, ntasks) if error else None
        mapping_form = r.random() < 0.3
        out = ["%s:" % dag_id]
        out.append("  description: %s" % q("%s pipeline for %s (generated)" % (team, dag_id)))
        sched = r.choice(CRONS) if r.random() < 0.7 else r.choice(PRESETS)
        out.append("  schedule: %s" % (q(sched) if sched else "null"))
        if r.random() < 0.5:
            out.append("  tags: [%s, generated]" % team)
        if r.random() < 0.3:
            out.append("  max_active_runs: %d" % r.randint(1, 3))
        if r.random() < 0.3:
            out.append("  default_args:")
            out.append("    owner: %s-oncall" % team)
            out.append("    retries: %d" % r.randint(1, 4))
        if groups:
            out.append("  task_groups:")
            for name, s, e in groups:
                gdeps = []
                if s > 0 and r.random() < 0.5:
                    gdeps = [ids[r.randrange(max(0, s - 5), s)]]
                if mapping_form:
                    out.append("    %s:" % name)
                else:
                    out.append("    - group_name: %s" % name)
                ind = "      "
                out.append("%stooltip: %s" % (ind, q("%s steps" % name)))
                if gdeps:
                    out.append("%sdependencies: [%s]" % (ind, ", ".join(gdeps)))
        out.append("  tasks:")
        for i, tid in enumerate(ids):
            verb, noun = tid.split("_")[0], tid.split("_")[1]
            args = self.task_args(team, noun, verb)
            if i == bad_task and error == "module":
                args = [(k, v.replace(".operators.bash.", ".operators.bashh.")
                         .replace(".operators.python.", ".operators.pyhton.")
                         .replace(".operators.empty.", ".operators.emtpy.")
                         .replace(".operators.http.", ".operators.htpp."))
                        if k == "operator" else (k, v) for k, v in args]
            d = list(deps[i])
            if i == bad_task and error == "dep":
                victim = ids[i - 1]
                d = [x for x in d if x != victim] + [victim[:-1] + victim[-1] * 2]
            if group_of.get(i):
                args.append(("task_group_name", group_of[i]))
            if d:
                args.append(("dependencies", "[%s]" % ", ".join(d)))
            if mapping_form:
                out.append("    %s:" % tid)
                ind = "      "
            else:
                out.append("    - task_id: %s" % tid)
                ind = "      "
            for k, v in args:
                out.append("%s%s: %s" % (ind, k, v))
        return out, ntasks

    def file(self, fileno):
        r = self.r
        team = r.choice(TEAMS)
        ndags = r.choice([1, 1, 1, 2, 2, 3])
        error = None
        if r.random() < self.error_share:
            error = r.choice(["dep", "module"])
        err_dag = r.randrange(ndags)
        lines = ["# Generated by bench/gen_dags.py: %s team, file %d" % (team, fileno)]
        if r.random() < 0.4:
            lines += ["default:", "  default_args:", "    owner: %s" % team,
                      "    email_on_failure: false", "  catchup: false", ""]
        tasks = 0
        for k in range(ndags):
            dag_id = "%s_%s_%05d_%d" % (team, r.choice(NOUNS), fileno, k)
            body, n = self.dag(dag_id, team, error if k == err_dag else None)
            lines += body + [""]
            tasks += n
        return "\n".join(lines), ndags, tasks, error is not None


DEFAULTS = """# Generated by bench/gen_dags.py
default_args:
  owner: data-platform
  start_date: 2025-01-01
  retries: 2
  retry_delay:
    __type__: datetime.timedelta
    minutes: 5
catchup: false
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--error-share", type=float, default=0.05)
    a = ap.parse_args()

    if os.path.exists(a.out):
        shutil.rmtree(a.out)
    os.makedirs(a.out)
    g = Gen(a.seed, a.error_share)
    dags = tasks = errors = size = 0
    for i in range(a.files):
        folder = os.path.join(a.out, "team_%03d" % (i // FILES_PER_FOLDER))
        if i % FILES_PER_FOLDER == 0:
            os.makedirs(folder)
            with open(os.path.join(folder, "defaults.yml"), "w") as f:
                f.write(DEFAULTS)
        text, nd, nt, bad = g.file(i)
        with open(os.path.join(folder, "dag_%05d.yml" % i), "w") as f:
            f.write(text)
        dags += nd
        tasks += nt
        errors += bad
        size += len(text.encode())
    print("generated %d files (%d DAGs, %d tasks, %d files with an import error, %.1f MB) in %s"
          % (a.files, dags, tasks, errors, size / 1e6, a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
