#!/usr/bin/env python3
"""The dag-factory compatibility corpus as a test (see EXPECTED.md there).

    tests/corpus_test.py BIN [-v] [PATH_SUBSTRING...]
    tests/corpus_test.py --print-corpus-dir

For each file that expected.json lists, runs `BIN check --format json FILE` on
its own, from an empty working directory, with CONFIG_ROOT_DIR set to the corpus
folder and no DAGPROC_* variables but DAGPROC__CORE__STRICT_CATALOG=true, and
compares the result with the expectation. (EXPECTED.md was written before SPEC
§5 made a module outside the catalog's coverage W004; its reading that the
examples' `customized.` user code is E011 is what `strict_catalog` gives.) Each file is one test case. The corpus is found through
$DAGPROC_CORPUS, else ../shared/corpus/dag-factory beside the repository, else
beside the repository this one was cloned from (a fresh clone in a temporary
folder). Ends with the line "N passed, N failed".
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS_REL = os.path.join("shared", "corpus", "dag-factory")
TIMEOUT = 60


def find_corpus(rel=CORPUS_REL, marker="expected.json", env_var="DAGPROC_CORPUS"):
    """The corpus folder `rel` (holding `marker`): $env_var, else beside the
    repository, else beside the repository this one was cloned from."""
    env = os.environ.get(env_var)
    if env:
        return os.path.abspath(env) if os.path.isfile(os.path.join(env, marker)) else None
    candidates = [os.path.join(os.path.dirname(REPO), rel)]
    try:
        origin = subprocess.run(["git", "-C", REPO, "config", "--get", "remote.origin.url"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        origin = ""
    if origin.startswith("file://"):
        origin = origin[len("file://"):]
    if origin.startswith("/") and os.path.isdir(origin):
        candidates.append(os.path.join(os.path.dirname(os.path.abspath(origin)), rel))
    for c in candidates:
        if os.path.isfile(os.path.join(c, marker)):
            return c
    return None


def strip_parens(text):
    """text without (...) groups, nested ones included, and `...` spans."""
    text = re.sub(r"`[^`]*`", "", text)
    out, depth = [], 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def positions_of(cell):
    """{code: [(line, col), ...]} from an EXPECTED.md table cell such as
    "E040 @6:31 (`default...`), @9:29" or "W003 `vars` @68:3 (example_dag4)"."""
    out = {}
    parts = re.split(r"\b([EW]\d{3})\b", strip_parens(cell))
    for i in range(1, len(parts) - 1, 2):
        for line, col in re.findall(r"@?(\d+):(\d+)", parts[i + 1]):
            out.setdefault(parts[i], []).append((int(line), int(col)))
    return out


def load_columns(corpus):
    """{path: {"errors": {code: [(line, col)]}, "warnings": {...}}} from the
    table of EXPECTED.md: expected.json gives lines only, the table gives
    line:column for each error it lists (and for a few warnings)."""
    cols = {}
    try:
        with open(os.path.join(corpus, "EXPECTED.md"), encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return cols
    for row in text.splitlines():
        cells = [c.strip() for c in row.split("|")]
        if len(cells) < 6 or not re.match(r"^[\w./-]+\.ya?ml$", cells[1]):
            continue
        cols[cells[1]] = {"errors": positions_of(cells[3]), "warnings": positions_of(cells[4])}
    return cols


def line_ok(want, got):
    if want is None:
        return True
    if isinstance(want, list):
        return got in want
    return got == want


def fmt_tasks(tasks):
    return "\n".join("        %-50s <- %s" % (t, ", ".join(u) or "-") for t, u in sorted(tasks.items()))


def check_file(binary, corpus, rel, exp, workdir, cols=None, strict=True, unset=(), exact=False):
    """Returns a list of problems (empty when the file passes). strict: run with
    [core] strict_catalog; unset: prefixes of environment variables to remove;
    exact: every error reported must be one that exp lists (code and line), not
    only of a code it lists."""
    path = os.path.join(corpus, rel)
    if not os.path.exists(path):
        return ["corpus file missing: %s" % path]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("DAGPROC_") and not any(k.startswith(u) for u in unset)}
    if strict:
        env["DAGPROC__CORE__STRICT_CATALOG"] = "true"
    env["CONFIG_ROOT_DIR"] = corpus
    env["PWD"] = workdir
    env.pop("OLDPWD", None)
    try:
        p = subprocess.run([binary, "check", "--format", "json", path], cwd=workdir, env=env,
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return ["timed out after %d s" % TIMEOUT]
    stderr = p.stderr.decode("utf-8", "replace").strip()
    if p.returncode < 0 or p.returncode > 1:
        return ["exit status %d\nstderr: %s" % (p.returncode, stderr[-2000:])]
    try:
        out = json.loads(p.stdout)
    except ValueError as e:
        return ["output is not JSON (%s): %r" % (e, p.stdout[:500])]
    if not isinstance(out, dict) or not isinstance(out.get("files"), list):
        return ["output has no 'files' list: %r" % (p.stdout[:500],)]

    dags, errors, warnings = {}, [], []
    for f in out["files"]:
        for d in f.get("dags") or []:
            dags[d.get("dag_id")] = d
        errors += f.get("errors") or []
        warnings += f.get("warnings") or []

    problems = []
    if exp.get("not_a_dag_file"):
        if dags or errors or warnings:
            problems.append("not a DAG file, but got dags %s, errors %s, warnings %s" % (
                sorted(dags), [(e.get("code"), e.get("line")) for e in errors],
                [(w.get("code"), w.get("dag_id")) for w in warnings]))
        if p.returncode != 0:
            problems.append("exit status %d, expected 0" % p.returncode)
        return problems

    want_rc = 1 if exp["errors"] else 0
    if p.returncode != want_rc:
        problems.append("exit status %d, expected %d" % (p.returncode, want_rc))

    for dag_id, want in exp["dags"].items():
        got = dags.get(dag_id)
        if got is None:
            problems.append("DAG %s missing (reported: %s)" % (dag_id, sorted(dags) or "none"))
            continue
        got_tasks = {t.get("task_id"): sorted(t.get("upstream") or []) for t in got.get("tasks") or []}
        want_tasks = {t: sorted(u) for t, u in want["tasks"].items()}
        if got_tasks != want_tasks:
            lines = ["DAG %s: tasks differ" % dag_id]
            for t in sorted(set(want_tasks) | set(got_tasks)):
                if t not in got_tasks:
                    lines.append("    missing task %s (upstream %s)" % (t, want_tasks[t]))
                elif t not in want_tasks:
                    lines.append("    unexpected task %s (upstream %s)" % (t, got_tasks[t]))
                elif got_tasks[t] != want_tasks[t]:
                    lines.append("    task %s: upstream %s, expected %s" % (t, got_tasks[t], want_tasks[t]))
            lines += ["    expected:", fmt_tasks(want_tasks), "    got:", fmt_tasks(got_tasks)]
            problems.append("\n".join(lines))
        if "schedule" in want and got.get("schedule") != want["schedule"]:
            problems.append("DAG %s: schedule %r, expected %r" % (dag_id, got.get("schedule"), want["schedule"]))
        if "tags_if_reported" in want and got.get("tags") is not None:
            if sorted(got["tags"]) != sorted(want["tags_if_reported"]):
                problems.append("DAG %s: tags %r, expected %r" % (dag_id, got["tags"], want["tags_if_reported"]))
    unexpected = sorted(d for d in dags if d not in exp["dags"])
    if unexpected:
        problems.append("unexpected DAGs reported: %s" % ", ".join(map(str, unexpected)))

    got_errors = [(e.get("code"), e.get("line")) for e in errors]
    cols = cols or {}
    for code, line in exp["errors"]:
        if not any(c == code and line_ok(line, l) for c, l in got_errors):
            problems.append("expected error %s at line %s not reported" % (
                code, "any" if line is None else line))
            continue
        # the column, where EXPECTED.md gives one for this code and line
        lines = line if isinstance(line, list) else [line]
        want = [(l, c) for l, c in cols.get("errors", {}).get(code, []) if l in lines]
        if not want:
            continue
        got = [(e.get("line"), e.get("column")) for e in errors
               if e.get("code") == code and e.get("line") in lines]
        if not any(g in want for g in got):
            problems.append("error %s at line %s: column %s, expected %s" % (
                code, "/".join(map(str, lines)), [g[1] for g in got],
                " or ".join("%d:%d" % w for w in want)))
    allowed = {code for code, _ in exp["errors"]}
    for e in errors:
        if exact and e.get("code") in allowed and not any(
                c == e.get("code") and line_ok(l, e.get("line")) for c, l in exp["errors"]):
            problems.append("unexpected error %s at %s:%s: %s" % (
                e.get("code"), e.get("line"), e.get("column"), e.get("message")))
        if e.get("code") not in allowed:
            problems.append("unexpected error %s at %s:%s: %s" % (
                e.get("code"), e.get("line"), e.get("column"), e.get("message")))
    if problems and errors:
        problems.append("all errors reported:\n" + "\n".join(
            "    %s %s:%s %s" % (e.get("code"), e.get("line"), e.get("column"), e.get("message"))
            for e in errors))

    got_warnings = {(w.get("code"), w.get("dag_id")) for w in warnings}
    for code, dag_id in exp["warnings"]:
        if (code, dag_id) not in got_warnings:
            problems.append("expected warning %s for DAG %s not reported (got %s)" % (
                code, dag_id, sorted(got_warnings, key=str) or "none"))
    # the warnings of the DAGs asserted correct are all listed: any other is
    # unexpected (those of DAGs with errors are not asserted, see EXPECTED.md)
    want_w = {(c, d) for c, d in exp["warnings"]}
    for w in warnings:
        key = (w.get("code"), w.get("dag_id"))
        if w.get("dag_id") in exp["dags"] and key not in want_w:
            problems.append("unexpected warning %s for DAG %s at %s:%s: %s" % (
                key[0], key[1], w.get("line"), w.get("column"), w.get("message")))
        # a warning at a line EXPECTED.md gives must be at its column too
        where = cols.get("warnings", {}).get(w.get("code")) or []
        at = (w.get("line"), w.get("column"))
        if key in want_w and any(l == at[0] for l, _ in where) and at not in where:
            problems.append("warning %s for DAG %s at %s:%s, expected %s" % (
                key[0], key[1], at[0], at[1], " or ".join("%d:%d" % p for p in where)))
    return problems


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("-")]
    verbose = "-v" in argv[1:]
    corpus = find_corpus()
    if "--print-corpus-dir" in argv[1:]:
        if corpus:
            print(corpus)
            return 0
        return 1
    if not args:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    binary = os.path.abspath(args[0])
    only = args[1:]
    if corpus is None:
        print("corpus not found: set DAGPROC_CORPUS or put shared/corpus/dag-factory beside the repository")
        print("0 passed, 1 failed")
        return 1
    if not os.access(binary, os.X_OK):
        print("%s: not an executable" % binary)
        print("0 passed, 1 failed")
        return 1
    with open(os.path.join(corpus, "expected.json"), encoding="utf-8") as f:
        expected = json.load(f)
    columns = load_columns(corpus)

    passed = failed = 0
    for rel in sorted(expected):
        if only and not any(s in rel for s in only):
            continue
        workdir = tempfile.mkdtemp(prefix="dagproc-corpus-")
        try:
            problems = check_file(binary, corpus, rel, expected[rel], workdir,
                                  columns.get(rel))
            if os.listdir(workdir):
                problems.append("check wrote into its working directory: %s" % sorted(os.listdir(workdir)))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        if problems:
            failed += 1
            print("FAIL %s" % rel)
            for pr in problems:
                print("    " + pr.replace("\n", "\n    "))
        else:
            passed += 1
            if verbose:
                print("ok   %s" % rel)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
