#!/usr/bin/env python3
"""Generates dagproc's built-in operator catalog (catalog/*.yml) from the
reference extracts airflow-operators.json and airflow-providers-operators.json
(python3 stdlib only).

usage: python3 tools/gen_catalog.py path/to/airflow-operators.json \
           [path/to/airflow-providers-operators.json] [OUTDIR]

OUTDIR defaults to the catalog/ folder next to tools/. With the providers
extract, one file is written per catalogued provider (standard.yml,
common-sql.yml, amazon.yml, google.yml, ...), plus airflow-core.yml and
legacy.yml; each provider file says which module prefix it covers (`covers`)
and lists every module of the package (`modules`), so that a missing module of
a covered provider is E011 and a module of a provider the catalog does not
cover is W004. Without it, only the six files of the first extract are
written. The list of files is printed; meson.build embeds the same list. The
format is described in catalog/README.md.
"""

import json
import os
import re
import sys

BASE_OPERATOR = "airflow.sdk.bases.operator.BaseOperator"

# Without the providers extract: the six files of airflow-operators.json.
BASE_FILES = [
    ("airflow-core.yml", "Airflow 3.1 core / Task SDK base classes"),
    ("standard.yml", "apache-airflow-providers-standard"),
    ("http.yml", "apache-airflow-providers-http"),
    ("common-sql.yml", "apache-airflow-providers-common-sql"),
    ("cncf-kubernetes.yml", "apache-airflow-providers-cncf-kubernetes"),
    ("legacy.yml", "Airflow 2 import paths that Airflow 3.1 still redirects (deprecated) or removed"),
]

# Canonical path prefix -> output file (first match wins); the providers
# extract adds one entry per provider.
BASE_FILE_OF_PREFIX = [
    ("airflow.sdk.", "airflow-core.yml"),
    ("airflow.providers.smtp.", "airflow-core.yml"),
    ("airflow.providers.standard.", "standard.yml"),
    ("airflow.providers.http.", "http.yml"),
    ("airflow.providers.common.sql.", "common-sql.yml"),
    ("airflow.providers.cncf.kubernetes.", "cncf-kubernetes.yml"),
]

FILES = list(BASE_FILES)
FILE_OF_PREFIX = list(BASE_FILE_OF_PREFIX)

# What airflow-core.yml covers: every module below airflow. is Airflow's own
# (a missing one is E011), except the airflow.providers. namespace, which each
# provider file covers for its own prefix (a provider no file covers is W004).
CORE_COVERS = ["airflow."]
CORE_NOT_COVERED = ["airflow.providers."]

# Airflow 1.10 / 2 import paths that Airflow 3.1 no longer resolves, with the
# class that replaces each (the 3.1 redirect table in airflow-core's
# operators/__init__.py and sensors/__init__.py lists only the Airflow 2
# module names; the *_operator / *_sensor modules and dummy were removed). A
# replacement of None means there is none. Module-level entries (ending in
# ".*") apply to every class of that module: the class keeps its name in the
# replacement module.
AIRFLOW2_REMOVED = [
    ("airflow.operators.bash_operator.*", "airflow.providers.standard.operators.bash.*"),
    ("airflow.operators.python_operator.*", "airflow.providers.standard.operators.python.*"),
    ("airflow.operators.dummy_operator.DummyOperator",
     "airflow.providers.standard.operators.empty.EmptyOperator"),
    ("airflow.operators.dummy.DummyOperator",
     "airflow.providers.standard.operators.empty.EmptyOperator"),
    ("airflow.operators.dummy.EmptyOperator",
     "airflow.providers.standard.operators.empty.EmptyOperator"),
    ("airflow.operators.email_operator.EmailOperator",
     "airflow.providers.smtp.operators.smtp.EmailOperator"),
    ("airflow.operators.dagrun_operator.TriggerDagRunOperator",
     "airflow.providers.standard.operators.trigger_dagrun.TriggerDagRunOperator"),
    ("airflow.operators.latest_only_operator.LatestOnlyOperator",
     "airflow.providers.standard.operators.latest_only.LatestOnlyOperator"),
    ("airflow.operators.branch_operator.BaseBranchOperator",
     "airflow.providers.standard.operators.branch.BaseBranchOperator"),
    ("airflow.operators.subdag_operator.SubDagOperator", None),
    ("airflow.operators.subdag.SubDagOperator", None),
    ("airflow.operators.http_operator.SimpleHttpOperator",
     "airflow.providers.http.operators.http.HttpOperator"),
    ("airflow.operators.sql.*", "airflow.providers.common.sql.operators.sql.*"),
    ("airflow.operators.check_operator.CheckOperator",
     "airflow.providers.common.sql.operators.sql.SQLCheckOperator"),
    ("airflow.operators.check_operator.ValueCheckOperator",
     "airflow.providers.common.sql.operators.sql.SQLValueCheckOperator"),
    ("airflow.operators.check_operator.IntervalCheckOperator",
     "airflow.providers.common.sql.operators.sql.SQLIntervalCheckOperator"),
    ("airflow.operators.check_operator.ThresholdCheckOperator",
     "airflow.providers.common.sql.operators.sql.SQLThresholdCheckOperator"),
    ("airflow.operators.postgres_operator.PostgresOperator",
     "airflow.providers.common.sql.operators.sql.SQLExecuteQueryOperator"),
    ("airflow.operators.mysql_operator.MySqlOperator",
     "airflow.providers.common.sql.operators.sql.SQLExecuteQueryOperator"),
    ("airflow.operators.docker_operator.DockerOperator",
     "airflow.providers.docker.operators.docker.DockerOperator"),
    ("airflow.sensors.base_sensor_operator.BaseSensorOperator",
     "airflow.sdk.bases.sensor.BaseSensorOperator"),
    ("airflow.sensors.external_task_sensor.*",
     "airflow.providers.standard.sensors.external_task.*"),
    ("airflow.sensors.time_delta_sensor.TimeDeltaSensor",
     "airflow.providers.standard.sensors.time_delta.TimeDeltaSensor"),
    ("airflow.sensors.date_time_sensor.DateTimeSensor",
     "airflow.providers.standard.sensors.date_time.DateTimeSensor"),
    ("airflow.sensors.http_sensor.HttpSensor", "airflow.providers.http.sensors.http.HttpSensor"),
    ("airflow.sensors.sql_sensor.SqlSensor", "airflow.providers.common.sql.sensors.sql.SqlSensor"),
    ("airflow.sensors.sql.SqlSensor", "airflow.providers.common.sql.sensors.sql.SqlSensor"),
    ("airflow.sensors.time.TimeSensor", "airflow.providers.standard.sensors.time.TimeSensor"),
    ("airflow.providers.cncf.kubernetes.operators.kubernetes_pod.KubernetesPodOperator",
     "airflow.providers.cncf.kubernetes.operators.pod.KubernetesPodOperator"),
]
AIRFLOW2_WHY = "removed in Airflow 3"

# Operators that Airflow 3.1 resolves (redirect targets of deprecated paths)
# but whose signatures the reference does not describe: they are listed with
# var_kwargs so that the validator accepts any argument (a false error on valid
# input is worse than a missed one).
UNDESCRIBED_OPERATORS = {
    "airflow.providers.smtp.operators.smtp.EmailOperator":
        "smtp provider (a dependency of apache-airflow-core 3.1); signature not in the reference",
    "airflow.providers.common.sql.operators.generic_transfer.GenericTransfer":
        "signature not in the reference",
}

# Values dag-factory converts before instantiating the operator, so a YAML
# string is valid input there even though the Python hint does not say so.
DAG_FACTORY_EXTRA_TYPES = {
    (BASE_OPERATOR, "start_date"): ["str"],  # ISO or relative ("2 days") date
    (BASE_OPERATOR, "end_date"): ["str"],
    ("airflow.providers.standard.sensors.external_task.ExternalTaskSensor",
     "execution_delta"): ["str"],  # utils.get_time_delta("1 days")
}

TYPE_ORDER = ["str", "int", "float", "bool", "list", "dict", "none", "timedelta", "datetime"]

ANY = None  # marker: the hint cannot be represented, no type check

DICT_NAMES = {
    "dict", "Dict", "Mapping", "MutableMapping", "typing.Mapping", "typing.Dict",
    "collections.abc.Mapping", "collections.abc.MutableMapping", "ParamsDict",
}
LIST_NAMES = {
    "list", "List", "Sequence", "Iterable", "Collection", "tuple", "Tuple", "set", "Set",
    "frozenset", "typing.List", "typing.Sequence", "typing.Iterable",
    "collections.abc.Sequence", "collections.abc.Iterable", "collections.abc.Collection",
}


def split_top(s, sep="|"):
    """Splits s on sep outside brackets."""
    parts, depth, cur = [], 0, []
    for ch in s:
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur).strip())
    return [p for p in parts if p]


def map_alternative(alt):
    """Maps one alternative of a union to a set of catalog type names, or ANY."""
    base = alt.split("[", 1)[0].strip()
    inner = alt[len(base):].strip()
    if base == "None":
        return {"none"}
    if base == "ArgNotSet":  # the NOTSET sentinel: not something a user writes
        return set()
    if base == "str":
        return {"str"}
    if base == "int":
        return {"int"}
    if base == "float":
        return {"float", "int"}  # an int is fine where a float is
    if base == "bool":
        return {"bool"}
    if base in ("Literal", "typing.Literal") and inner.startswith("["):
        out = set()
        for lit in split_top(inner[1:-1], ","):
            if lit in ("True", "False"):
                out.add("bool")
            elif lit == "None":
                out.add("none")
            elif re.fullmatch(r"-?\d+", lit):
                out.add("int")
            elif lit[:1] in "'\"":
                out.add("str")
            else:
                return ANY
        return out
    if base in DICT_NAMES:
        return {"dict"}
    if base in LIST_NAMES:
        return {"list"}
    if base in ("timedelta", "datetime.timedelta"):
        return {"timedelta"}
    if base in ("datetime", "datetime.datetime", "pendulum.DateTime"):
        return {"datetime"}
    if base in ("os.PathLike", "PathLike", "Path", "pathlib.Path"):
        return {"str"}  # a path given in YAML is a string
    # Callable, Any, classes (k8s.V1Pod, DAG, TaskGroup, WeekDay...), Container[int]
    return ANY


def map_type(hint):
    """Python annotation text -> sorted list of catalog type names, or ANY."""
    if hint is None:
        return ANY
    out = set()
    for alt in split_top(hint):
        m = map_alternative(alt)
        if m is ANY:
            return ANY
        out |= m
    if not out:
        return ANY
    return [t for t in TYPE_ORDER if t in out]


PLAIN_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
YAML_RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}


def q(s):
    """A YAML scalar for s: plain when unambiguous, else double-quoted."""
    if PLAIN_RE.match(s) and s.lower() not in YAML_RESERVED:
        return s
    return json.dumps(s)  # a JSON string is a valid YAML double-quoted scalar


def comment_text(s):
    return " ".join(str(s).split())


def file_of(path):
    for prefix, name in FILE_OF_PREFIX:
        if path.startswith(prefix):
            return name
    raise SystemExit("gen_catalog: no catalog file for %s" % path)


def module_of(path):
    return path.rsplit(".", 1)[0]


def arg_line(name, spec, required, templated, hint, note=None):
    fields = []
    types = map_type(hint)
    extra = spec.get("extra_types")
    if types is not ANY and extra:
        types = [t for t in TYPE_ORDER if t in set(types) | set(extra)]
    fields.append("type: any" if types is ANY else "type: [%s]" % ", ".join(types))
    if required:
        fields.append("required: true")
    if templated:
        fields.append("templated: true")
    text = "      %s: {%s}" % (q(name), ", ".join(fields))
    comments = []
    if hint is not None:
        comments.append(comment_text(hint))
    if note:
        comments.append(note)
    if comments:
        text += "  # " + "; ".join(comments)
    return text


def chain_of(ops, path):
    chain = []
    while path:
        chain.append(path)
        path = ops[path].get("parent")
    return chain


def gen_operator(ops, path):
    op = ops[path]
    lines = ["  %s:" % q(path)]
    parent = op.get("parent")
    if parent:
        lines.append("    parent: %s" % q(parent))
    elif path != BASE_OPERATOR:
        raise SystemExit("gen_catalog: %s has no parent" % path)
    fixed = (op.get("parent_args_fixed_by_class") or {}).get("args") or []
    if fixed:
        lines.append("    rejects: [%s]  # %s" % (", ".join(q(a) for a in fixed),
                                                 comment_text(op["parent_args_fixed_by_class"].get("how", ""))))
    required = set(op.get("effective_required") or [])
    templated = set(op.get("template_fields") or [])
    own = dict(op.get("args") or {})
    arg_lines = []
    for name, spec in own.items():
        spec = dict(spec)
        spec["extra_types"] = DAG_FACTORY_EXTRA_TYPES.get((path, name))
        arg_lines.append(arg_line(name, spec, name in required, name in templated,
                                  spec.get("type")))
    # Changes in later provider releases of the pinned line ("current providers"):
    # added arguments are accepted so that valid input is never an error.
    for ch in op.get("changes_after_baseline") or []:
        where = ch.get("in", "")
        if ch.get("change") == "added" and where.startswith("apache-airflow-providers") \
                and ch["arg"] not in own:
            to = ch.get("to") or {}
            own[ch["arg"]] = to
            arg_lines.append(arg_line(ch["arg"], {}, False, ch["arg"] in templated,
                                      to.get("type"), "added in " + where))
    # Inherited arguments whose requiredness or templating differs here are
    # re-declared with the parent's type (the nearest declaration wins).
    for anc in chain_of(ops, parent) if parent else []:
        for name, spec in (ops[anc].get("args") or {}).items():
            if name in own or name in fixed:
                continue
            anc_req = name in set(ops[anc].get("effective_required") or [])
            anc_tpl = name in set(ops[anc].get("template_fields") or [])
            is_req = name in required
            is_tpl = name in templated or anc_tpl
            if anc_req != is_req or (is_tpl and not anc_tpl):
                own[name] = spec
                spec = dict(spec)
                spec["extra_types"] = DAG_FACTORY_EXTRA_TYPES.get((anc, name))
                why = "inherited from %s" % anc.rsplit(".", 1)[1]
                if anc_req and not is_req:
                    why += ", supplied by this class"
                arg_lines.append(arg_line(name, spec, is_req, is_tpl, spec.get("type"), why))
            else:
                own.setdefault(name, None)
    missing = required - set(own) - {"task_id"}
    for anc in chain_of(ops, parent) if parent else []:
        missing -= set(ops[anc].get("args") or {})
    if missing:
        raise SystemExit("gen_catalog: %s requires unknown %s" % (path, sorted(missing)))
    if arg_lines:
        lines.append("    args:")
        lines.extend(arg_lines)
    return lines


def header(name, what, ref, prov_ref=None):
    src = "reference/airflow-operators.json"
    base = ref.get("baseline", {})
    prov = dict(base.get("providers", {}))
    generated = ref.get("generated", "?")
    if prov_ref is not None:
        src += " and reference/airflow-providers-operators.json"
        prov = {p["name"]: {"version": p["version"]} for p in prov_ref.get("providers", [])}
        generated = prov_ref.get("generated", generated)
    vers = ", ".join("%s %s" % (k, v.get("version")) for k, v in sorted(prov.items()))
    return [
        "# dagproc operator catalog: %s." % what,
        "# Generated by tools/gen_catalog.py from %s" % src,
        "# (generated %s; Airflow 3.1 / task-sdk 1.1 baseline; providers: %s)." % (
            generated, vers),
        "# Do not edit by hand. To refresh:",
        "#   python3 tools/gen_catalog.py path/to/airflow-operators.json \\",
        "#       path/to/airflow-providers-operators.json catalog/",
        "# Format: catalog/README.md. Trailing comments give the Python type hint.",
    ]


def provider_file(name):
    return name.replace(".", "-") + ".yml"


def merge_decorated(ops, dec):
    """Decorated operator classes (TaskFlow's private ones) inherit from
    DecoratedOperator and from the operator they wrap. The catalog has one
    parent per class: the wrapped operator, with the arguments of the other
    init_chain members added as the class's own."""
    out = {}
    for path, op in dec.items():
        op = dict(op)
        bases = [b for b in op.get("bases") or [] if b in ops or b in dec]
        if len(bases) > 1:
            wrapped = bases[-1]
            chain = set(chain_of({**ops, **dec}, wrapped))
            args = dict(op.get("args") or {})
            for member in op.get("init_chain") or []:
                if member == path or member in chain:
                    continue
                src = ops.get(member) or dec.get(member) or {}
                for name, spec in (src.get("args") or {}).items():
                    args.setdefault(name, spec)
            op["args"] = args
            op["parent"] = wrapped
        out[path] = op
    return out


def removed_entries(ops, aliases, prov_ref, base_ref):
    """(pattern, replacement or None, why): paths that do not resolve on
    Airflow 3.1 with current providers, and what replaces them."""
    out = []
    seen = set()

    def add(pat, use, why):
        if pat in seen or pat in ops or pat in aliases:
            return
        if use is not None and "*" not in use and use not in ops:
            use = None
        seen.add(pat)
        out.append((pat, use, why))

    for pat, use in AIRFLOW2_REMOVED:
        add(pat, use, AIRFLOW2_WHY)
    if prov_ref is None:
        return out
    prefix_of = {p["name"]: p["module_prefixes"][0] for p in prov_ref["providers"]}
    by_class = {}
    for path in ops:
        by_class.setdefault(path.rsplit(".", 1)[1], []).append(path)
    for r in prov_ref["removed_operator_names"]["from_changelogs"]:
        name, text = r["name"], " ".join(r["changelog_text"].split())
        cls = name.rsplit(".", 1)[-1]
        prefix = prefix_of[r["provider"]]
        use = None
        for tok in re.findall(r"``([A-Za-z_][A-Za-z0-9_.]*)``", text):
            if tok.rsplit(".", 1)[-1] == cls:
                continue
            if tok in ops:
                use = tok
                break
            cands = by_class.get(tok.rsplit(".", 1)[-1], [])
            near = [c for c in cands if c.startswith(prefix)] or \
                [c for c in cands if c.startswith("airflow.providers.common.sql.")] or cands
            if len(near) == 1:
                use = near[0]
                break
        why = "removed in %s %s" % (
            "apache-airflow-providers-" + r["provider"].replace(".", "-"), r["removed_in"])
        pat = name if "." in name else prefix + "*." + cls
        add(pat, use, why)
    return out


def main(argv):
    args = argv[1:]
    if not 1 <= len(args) <= 3:
        sys.stderr.write(__doc__)
        return 2
    with open(args[0], encoding="utf-8") as f:
        ref = json.load(f)
    prov_ref = None
    if len(args) >= 2 and args[1].endswith(".json"):
        with open(args[1], encoding="utf-8") as f:
            prov_ref = json.load(f)
        args = [args[0]] + args[2:]
    outdir = args[1] if len(args) == 2 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "catalog")

    ops = dict(ref["operators"])
    covers = {}  # file -> list of prefixes
    mods_all = {}  # file -> every module of the package
    if prov_ref is not None:
        for path, op in prov_ref["operators"].items():
            if path in ops and ops[path].get("args") != op.get("args"):
                raise SystemExit("gen_catalog: %s differs between the extracts" % path)
            ops.setdefault(path, op)
        ops.update(merge_decorated(ops, prov_ref.get("decorated_operators") or {}))
        FILES[:] = [("airflow-core.yml", "Airflow 3.1 core / Task SDK base classes")]
        FILE_OF_PREFIX[:] = [("airflow.sdk.", "airflow-core.yml")]
        for p in sorted(prov_ref["providers"], key=lambda p: p["name"]):
            name = provider_file(p["name"])
            FILES.append((name, p["package"] + " " + p["version"]))
            for prefix in p["module_prefixes"]:
                FILE_OF_PREFIX.append((prefix, name))
            covers[name] = list(p["module_prefixes"])
            mods_all[name] = set(p.get("modules") or [])
        # longest prefix first: airflow.providers.common.sql. before airflow.providers.
        FILE_OF_PREFIX.sort(key=lambda fp: -len(fp[0]))
        FILES.append(BASE_FILES[-1])
    else:
        for prefix, name in BASE_FILE_OF_PREFIX[1:]:
            covers.setdefault(name, []).append(prefix)
    covers["airflow-core.yml"] = list(CORE_COVERS)
    undescribed = {p: w for p, w in UNDESCRIBED_OPERATORS.items() if p not in ops}

    redirects = ref["legacy_import_redirects_in_airflow_3_1"]
    deprecated = redirects["deprecated_virtual_modules"]
    lazy = redirects.get("non_deprecated_lazy_attributes", {})

    body = {name: [] for name, _ in FILES}
    ops_of = {name: [] for name, _ in FILES}
    same_of = {name: [] for name, _ in FILES}
    modules_of = {name: set(mods_all.get(name, ())) for name, _ in FILES}

    for path in ops:
        ops_of[file_of(path)].append(path)
    for path in undescribed:
        ops_of[file_of(path)].append(path)

    # Non-deprecated names: public re-exports and lazy attributes.
    canonical_of_public = {}
    for path, op in ops.items():
        for alias in op.get("public_aliases") or []:
            canonical_of_public[alias] = path
            same_of[file_of(path)].append((alias, path))
    for alias, target in sorted(lazy.items()):
        target = canonical_of_public.get(target, target)
        if target not in ops:
            raise SystemExit("gen_catalog: lazy attribute %s -> unknown %s" % (alias, target))
        same_of[file_of(target)].append((alias, target))

    # Deprecated redirects whose target is an operator become aliases; the
    # others (functions, mixins, PokeReturnValue) only make their modules known.
    legacy_aliases = []
    legacy_skipped = []
    for old, new in sorted(deprecated.items()):
        target = canonical_of_public.get(new, new)
        if target in ops or target in undescribed:
            legacy_aliases.append((old, target))
        else:
            legacy_skipped.append((old, new))
            modules_of["legacy.yml"].add(module_of(old))
            modules_of[file_of(new)].add(module_of(new))
    alias_paths = {old for old, _ in legacy_aliases} | {a for f in same_of.values() for a, _ in f}
    removed = removed_entries(ops, alias_paths, prov_ref, ref)

    for name, what in FILES:
        out = header(name, what, ref, prov_ref)
        if name in covers:
            out.append("covers:  # module prefixes whose every module is known: a missing one is E011")
            for prefix in covers[name]:
                out.append("  - %s" % q(prefix))
        if name == "airflow-core.yml":
            out.append("not_covered:  # inside what is covered above, left to the provider files")
            for prefix in CORE_NOT_COVERED:
                out.append("  - %s" % q(prefix))
        if ops_of[name]:
            out.append("operators:")
            for path in ops_of[name]:
                if path in undescribed:
                    out.append("  %s:  # %s" % (q(path), undescribed[path]))
                    out.append("    parent: %s" % q(BASE_OPERATOR))
                    out.append("    var_kwargs: true")
                else:
                    out.extend(gen_operator(ops, path))
        if same_of[name]:
            out.append("same:  # other names of the same class (no warning)")
            for alias, target in sorted(same_of[name]):
                out.append("  %s: %s" % (q(alias), q(target)))
        if name == "legacy.yml":
            out.append("aliases:  # deprecated: W002, then checked as the target")
            for old, target in legacy_aliases:
                out.append("  %s: %s" % (q(old), q(target)))
            for old, new in legacy_skipped:
                out.append("  # %s -> %s is not an operator" % (old, new))
            out.append("removed:  # paths that no longer resolve: E011/E012 naming the replacement")
            for pat, use, why in removed:
                fields = ["use: %s" % (q(use) if use else "null"), "why: %s" % json.dumps(why)]
                out.append("  %s: {%s}" % (q(pat), ", ".join(fields)))
            out.append("# Paths that do not resolve in 3.1 (so they are absent, E011/E012):")
            for item in ref.get("legacy_paths_that_do_not_resolve_in_3_1") or []:
                out.append("#   %s: %s" % (comment_text(item.get("path", "")),
                                           comment_text(item.get("why", ""))))
        if modules_of[name]:
            out.append("modules:  # modules that exist (an unknown class there is E012)")
            for mod in sorted(modules_of[name]):
                out.append("  - %s" % q(mod))
        body[name] = out

    os.makedirs(outdir, exist_ok=True)
    for name, _ in FILES:
        with open(os.path.join(outdir, name), "w", encoding="utf-8") as f:
            f.write("\n".join(body[name]) + "\n")
        print(name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
