#!/usr/bin/env python3
"""Generates dagproc's built-in operator catalog (catalog/*.yml) from the
reference extract airflow-operators.json (python3 stdlib only).

usage: python3 tools/gen_catalog.py path/to/airflow-operators.json [OUTDIR]

OUTDIR defaults to the catalog/ folder next to tools/. The six files written are
the ones meson.build embeds: airflow-core.yml, standard.yml, http.yml,
common-sql.yml, cncf-kubernetes.yml and legacy.yml. The format is described in
catalog/README.md.
"""

import json
import os
import re
import sys

BASE_OPERATOR = "airflow.sdk.bases.operator.BaseOperator"

FILES = [
    ("airflow-core.yml", "Airflow 3.1 core / Task SDK base classes"),
    ("standard.yml", "apache-airflow-providers-standard"),
    ("http.yml", "apache-airflow-providers-http"),
    ("common-sql.yml", "apache-airflow-providers-common-sql"),
    ("cncf-kubernetes.yml", "apache-airflow-providers-cncf-kubernetes"),
    ("legacy.yml", "Airflow 2 import paths that Airflow 3.1 still redirects (deprecated)"),
]

# Canonical path prefix -> output file (first match wins).
FILE_OF_PREFIX = [
    ("airflow.sdk.", "airflow-core.yml"),
    ("airflow.providers.smtp.", "airflow-core.yml"),
    ("airflow.providers.standard.", "standard.yml"),
    ("airflow.providers.http.", "http.yml"),
    ("airflow.providers.common.sql.", "common-sql.yml"),
    ("airflow.providers.cncf.kubernetes.", "cncf-kubernetes.yml"),
]

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


def header(name, what, ref):
    base = ref.get("baseline", {})
    prov = base.get("providers", {})
    vers = ", ".join("%s %s" % (k, v.get("version")) for k, v in sorted(prov.items()))
    return [
        "# dagproc operator catalog: %s." % what,
        "# Generated by tools/gen_catalog.py from reference/airflow-operators.json",
        "# (generated %s; Airflow 3.1 / task-sdk 1.1 baseline; providers: %s)." % (
            ref.get("generated", "?"), vers),
        "# Do not edit by hand. To refresh:",
        "#   python3 tools/gen_catalog.py path/to/airflow-operators.json catalog/",
        "# Format: catalog/README.md. Trailing comments give the Python type hint.",
    ]


def main(argv):
    if len(argv) < 2 or len(argv) > 3:
        sys.stderr.write(__doc__)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        ref = json.load(f)
    outdir = argv[2] if len(argv) == 3 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "catalog")
    ops = ref["operators"]
    redirects = ref["legacy_import_redirects_in_airflow_3_1"]
    deprecated = redirects["deprecated_virtual_modules"]
    lazy = redirects.get("non_deprecated_lazy_attributes", {})

    body = {name: [] for name, _ in FILES}
    ops_of = {name: [] for name, _ in FILES}
    same_of = {name: [] for name, _ in FILES}
    modules_of = {name: set() for name, _ in FILES}

    for path in ops:
        ops_of[file_of(path)].append(path)
    for path in UNDESCRIBED_OPERATORS:
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
        if target in ops or target in UNDESCRIBED_OPERATORS:
            legacy_aliases.append((old, target))
        else:
            legacy_skipped.append((old, new))
            modules_of["legacy.yml"].add(module_of(old))
            modules_of[file_of(new)].add(module_of(new))

    for name, what in FILES:
        out = header(name, what, ref)
        if ops_of[name]:
            out.append("operators:")
            for path in ops_of[name]:
                if path in UNDESCRIBED_OPERATORS:
                    out.append("  %s:  # %s" % (q(path), UNDESCRIBED_OPERATORS[path]))
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
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
