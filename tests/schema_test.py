#!/usr/bin/python3
"""`dagproc schema` against `dagproc check` (issue 16, part 2), with Debian's
python3-jsonschema and python3-yaml (/usr/bin/python3, not a virtualenv):

- the schema is a valid draft-07 schema;
- every corpus file `check` accepts without errors, checked on its own (the
  dag-factory corpus, the real-world corpus, examples/dags), validates;
- files `check` rejects for a task argument are rejected by the schema too: an
  argument BashOperator does not have, a list where it takes a string, and the
  same through an Airflow 2 path it still redirects;
- extra catalog files ([core] operator_catalog) reach the schema.

usage: tests/schema_test.py path/to/dagproc
"""
import json
import os
import subprocess
import sys
import tempfile

import jsonschema
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus_test  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASH = "airflow.providers.standard.operators.bash.BashOperator"


class Loader(yaml.SafeLoader):
    """YAML as editors see it: timestamps stay strings (yaml-language-server
    validates the text of a date), everything else as dag-factory's PyYAML."""


Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}

passed = failed = 0


def ok(what):
    global passed
    passed += 1
    print("ok   " + what)


def bad(what):
    global failed
    failed += 1
    print("FAIL " + what)


def check_json(binary, path, env=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("DAGPROC_")}
    e.update(env or {})
    p = subprocess.run([binary, "check", "--format", "json", path], capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=60, env=e,
                       cwd=os.path.dirname(path))
    if p.returncode not in (0, 1):
        raise RuntimeError("check %s: exit %d: %s" % (path, p.returncode, p.stderr[-500:]))
    return json.loads(p.stdout)


def schema_of(binary, env=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("DAGPROC_")}
    e.update(env or {})
    p = subprocess.run([binary, "schema"], capture_output=True, stdin=subprocess.DEVNULL,
                       timeout=60, env=e)
    if p.returncode != 0:
        raise RuntimeError("dagproc schema: exit %d: %s" % (p.returncode, p.stderr))
    return json.loads(p.stdout)


def errors_of(validator, data):
    return sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))


def yaml_files(root):
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for f in sorted(files):
            if f.endswith((".yml", ".yaml")):
                yield os.path.join(d, f)


SAMPLE = {"str": "x", "int": 1, "float": 1.5, "bool": True, "list": [], "dict": {},
          "none": None, "timedelta": 60, "datetime": "2024-01-01"}


def every_operator(binary, v, work):
    """One DAG per operator of the built-in catalog (catalog/*.yml, read here
    with PyYAML), its task given every argument the operator takes, each with
    a value of one of its declared types (rotating through them): every DAG
    `check` accepts must validate."""
    ops, aliases = {}, {}
    for name in sorted(os.listdir(os.path.join(REPO, "catalog"))):
        if name.endswith(".yml"):
            with open(os.path.join(REPO, "catalog", name)) as f:
                doc = yaml.safe_load(f) or {}
            ops.update(doc.get("operators") or {})
            aliases.update(doc.get("aliases") or {})
    base = "airflow.sdk.bases.operator.BaseOperator"

    def resolve(path):
        for _ in range(10):
            if path in ops:
                return path
            path = aliases.get(path)
            if path is None:
                return None
        return None

    def flat(path):
        out, rejected = {}, set()
        seen = 0
        while path and seen < 64:
            seen += 1
            o = ops[path] or {}
            rejected |= set(o.get("rejects") or [])
            for a, spec in (o.get("args") or {}).items():
                if a not in out and a not in rejected:
                    out[a] = spec or {}
            parent = o.get("parent") or (None if path == base else base)
            path = resolve(parent) if parent else None
        return out

    doc, turn = {}, 0
    for i, path in enumerate(sorted(ops)):
        task = {"task_id": "t", "operator": path}
        for a, spec in flat(path).items():
            if a == "task_id":
                continue
            types = spec.get("type")
            if not isinstance(types, list) or not types:
                task[a] = "pkg.mod.fn"  # any: an import path fits the callbacks
            else:
                turn += 1
                task[a] = SAMPLE.get(types[turn % len(types)], "x")
        doc["op%04d" % i] = {"start_date": "2024-01-01", "schedule": None, "tasks": [task]}
    path = os.path.join(work, "every_operator.yml")
    with open(path, "w") as f:
        yaml.safe_dump(doc, f)
    out = check_json(binary, path)
    refused = {e.get("dag_id") for fl in out["files"] for e in fl.get("errors") or []}
    accepted = {k: d for k, d in doc.items() if k not in refused}
    wrong = []
    for k, d in sorted(accepted.items()):
        errs = errors_of(v, {k: d})
        if errs:
            leaf = errs[0]
            while leaf.context:
                leaf = leaf.context[-1]
            wrong.append("%s (%s): /%s: %s" % (k, d["tasks"][0]["operator"],
                                               "/".join(str(x) for x in leaf.absolute_path),
                                               leaf.message[:200]))
    if len(accepted) < len(doc) // 2:
        bad("every operator: check accepts only %d of %d generated DAGs" % (len(accepted), len(doc)))
    elif wrong:
        bad("every operator: %d of the %d DAGs check accepts fail the schema" % (len(wrong), len(accepted)))
        for w in wrong[:15]:
            print("     " + w)
    else:
        ok("every operator: all %d DAGs check accepts (of %d, one per catalogued operator, every "
           "argument set) validate" % (len(accepted), len(doc)))


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    binary = os.path.abspath(argv[1])
    schema = schema_of(binary)
    try:
        jsonschema.Draft7Validator.check_schema(schema)
        ok("dagproc schema is a valid draft-07 JSON Schema (%d kB)" %
           (len(json.dumps(schema, separators=(",", ":"))) // 1000))
    except jsonschema.SchemaError as e:
        bad("dagproc schema is not a valid draft-07 schema: %s" % e.message)
        print("%d passed, %d failed" % (passed, failed))
        return 1
    v = jsonschema.Draft7Validator(schema)

    roots = [("examples", os.path.join(REPO, "examples", "dags"))]
    for name, rel, marker, var in (
            ("dag-factory", corpus_test.CORPUS_REL, "expected.json", "DAGPROC_CORPUS"),
            ("realworld", os.path.join("shared", "corpus", "realworld"), "SOURCES.md",
             "DAGPROC_REALWORLD_CORPUS")):
        found = corpus_test.find_corpus(rel, marker, var)
        if found is None:
            bad("corpus %s not found (set %s)" % (name, var))
        else:
            roots.append((name, found))

    for name, root in roots:
        accepted = rejected = 0
        wrong = []
        for path in yaml_files(root):
            out = check_json(binary, path)
            files = out.get("files") or []
            if not files or any(f.get("errors") for f in files):
                rejected += 1  # not a DAG file, or check reports errors
                continue
            accepted += 1
            try:
                with open(path, encoding="utf-8") as f:
                    data = yaml.load(f, Loader=Loader)
            except yaml.YAMLError as e:
                wrong.append("%s: PyYAML cannot read it: %s" % (path, e))
                continue
            errs = errors_of(v, data)
            if errs:
                e = errs[0]
                wrong.append("%s: %d schema errors; first at /%s: %s" % (
                    os.path.relpath(path, root), len(errs),
                    "/".join(str(x) for x in e.absolute_path), e.message[:300]))
        if accepted == 0:
            bad("%s: no file accepted by check (is the corpus there?)" % name)
        elif wrong:
            bad("%s: %d of %d files check accepts fail the schema" % (name, len(wrong), accepted))
            for w in wrong[:20]:
                print("     " + w)
        else:
            ok("%s: all %d files check accepts validate (%d with errors or not DAG files "
               "skipped)" % (name, accepted, rejected))

    # what check rejects in a task's arguments, the schema rejects too
    work = tempfile.mkdtemp(prefix="dagproc-schema-")
    cases = [
        ("an argument BashOperator does not have",
         {"operator": BASH, "bash_command": "echo", "no_such_argument": 1}, "E013"),
        ("a list where BashOperator takes a string",
         {"operator": BASH, "bash_command": ["echo", "1"]}, "E015"),
        ("an unknown argument through an Airflow 2 path",
         {"operator": "airflow.operators.bash.BashOperator", "bash_command": "echo",
          "bash_comand": "x"}, "E013"),
    ]
    for what, task, code in cases:
        doc = {"d": {"start_date": "2024-01-01", "schedule": None,
                     "tasks": [dict(task_id="t", **task)]}}
        path = os.path.join(work, "case.yml")
        with open(path, "w") as f:
            yaml.safe_dump(doc, f)
        out = check_json(binary, path)
        codes = [e.get("code") for fl in out["files"] for e in fl.get("errors") or []]
        errs = errors_of(v, doc)
        if code not in codes:
            bad("%s: check does not report %s (%s)" % (what, code, codes))
        elif not errs:
            bad("%s: check reports %s, the schema accepts it" % (what, code))
        else:
            ok("%s: check reports %s, the schema rejects it at /%s" % (
                what, code, "/".join(str(x) for x in errs[0].absolute_path)))
        # and the file without the offending key passes both
    fine = {"d": {"tasks": [{"task_id": "t", "operator": BASH, "bash_command": "echo {{ ds }}",
                             "retries": 2, "env": None}]}}
    errs = errors_of(v, fine)
    if errs:
        bad("a correct BashOperator task fails the schema: %s" % errs[0].message)
    else:
        ok("a correct BashOperator task validates")

    every_operator(binary, v, work)

    # files check accepts that the schema once refused (review of issue 16)
    accepted = [
        ("a null default block", "default:\nd:\n  tasks: []\n"),
        ("a DAG with a null body", "d:\n"),
        ("a null task group in mapping form",
         "d:\n  task_groups:\n    g1:\n  tasks:\n    - {task_id: t, operator: %s, "
         "bash_command: echo}\n" % BASH),
        ("a $VAR where a dict goes",
         "d:\n  tasks:\n    - task_id: t\n      operator: "
         "airflow.providers.standard.operators.python.PythonOperator\n"
         "      python_callable: m.f\n      op_kwargs: $TASK_KWARGS\n"),
    ]
    for what, text in accepted:
        path = os.path.join(work, "acc.yml")
        with open(path, "w") as f:
            f.write(text)
        out = check_json(binary, path)
        errs = [e["code"] for fl in out["files"] for e in fl.get("errors") or []]
        data = yaml.load(text, Loader=Loader)
        serr = errors_of(v, data)
        if errs:
            ok("%s: check reports %s (nothing to compare)" % (what, errs))
        elif serr:
            bad("%s: check accepts it, the schema refuses it: %s" % (what, serr[0].message[:200]))
        else:
            ok("%s: accepted by check and by the schema" % what)

    # draft-07 ignores the siblings of $ref: none may carry meaning there
    def refs_alone(node, path="#"):
        if isinstance(node, dict):
            if "$ref" in node and set(node) - {"$ref"}:
                yield path
            for k, x in node.items():
                yield from refs_alone(x, path + "/" + k)
        elif isinstance(node, list):
            for i, x in enumerate(node):
                yield from refs_alone(x, "%s/%d" % (path, i))
    beside = list(refs_alone(schema))
    if beside:
        bad("keywords beside $ref (draft-07 ignores them): %s" % beside[:5])
    else:
        ok("no keyword sits beside a $ref")

    # an extra catalog file: its operator and arguments are in the schema
    cat = os.path.join(work, "extra.yml")
    with open(cat, "w") as f:
        f.write("covers:\n  - mycompany.\n"
                "operators:\n"
                "  mycompany.operators.Thing:\n"
                "    args:\n"
                "      size: {type: [int], required: true}\n")
    cfg = os.path.join(work, "dagproc.cfg")
    with open(cfg, "w") as f:
        f.write("[core]\noperator_catalog = %s\n" % cat)
    s2 = schema_of(binary, {"DAGPROC_CONFIG": cfg})
    v2 = jsonschema.Draft7Validator(s2)
    good = {"d": {"tasks": [{"task_id": "t", "operator": "mycompany.operators.Thing", "size": 3}]}}
    badd = {"d": {"tasks": [{"task_id": "t", "operator": "mycompany.operators.Thing", "size": 3,
                             "colour": "red"}]}}
    if errors_of(v2, good) or not errors_of(v2, badd):
        bad("an extra catalog's operator is not in the schema as configured")
    else:
        ok("[core] operator_catalog files reach the schema")
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
