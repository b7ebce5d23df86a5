#!/usr/bin/env python3
"""Checks SPEC §3 invariants 1-4: the database holds exactly what the files say.

usage: invariants.py DAGPROC_BIN DAGS_DIR DIALECT [--wait SECONDS]

What the files say comes from `dagproc check --format json DAGS_DIR` (the same
parser the daemon uses); what the database holds comes from the server's own
command-line client (psql or mariadb), so the check does not trust dagproc's
store. DIALECT is pg, mariadb or sqlite; connection details come from the
environment the harness sets (PG_PORT/PG_DB, MY_PORT/MY_DB/MY_ADMIN_PASSWORD,
SQLITE_PATH). With --wait, retries until the invariants hold or the time is up
and prints how long it took. Exit 0 when they hold, 1 with the differences.
"""
import json
import os
import subprocess
import sys
import time


def expected(binary, dags):
    out = subprocess.run([binary, "check", "--format", "json", dags],
                         capture_output=True, text=True, cwd=dags)
    if out.returncode not in (0, 1):
        raise SystemExit("check failed: " + out.stderr)
    doc = json.loads(out.stdout)
    files = {}
    for f in doc["files"]:
        rel = os.path.relpath(f["path"], dags)
        files[rel] = f
    return files


def query(dialect, sql):
    if dialect == "pg":
        cmd = ["psql", "-X", "-q", "-At", "-F", "\t", "-h", "127.0.0.1",
               "-p", os.environ["PG_PORT"], "-U", "postgres", "-d",
               os.environ["PG_DB"], "-c", sql]
    elif dialect == "mariadb":
        cmd = ["mariadb", "--no-defaults", "-h", "127.0.0.1", "-P",
               os.environ["MY_PORT"], "-u", "root",
               "-p" + os.environ["MY_ADMIN_PASSWORD"], "-N", "-B",
               os.environ["MY_DB"], "-e", sql]
    else:
        cmd = ["sqlite3", "-separator", "\t", os.environ["SQLITE_PATH"], sql]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip())
    rows = []
    for line in out.stdout.splitlines():
        rows.append(line.split("\t"))
    return rows


def truth(v):
    return v in ("t", "1", "true", "True")


def differences(binary, dags, dialect):
    files = expected(binary, dags)
    problems = []
    # one line per row: the stack trace's newlines become spaces
    nl = {"pg": "chr(10)", "mariadb": "char(10)", "sqlite": "char(10)"}[dialect]
    ie = {r[0]: r[1] if len(r) > 1 else "" for r in query(
        dialect, f"SELECT filename, replace(stacktrace, {nl}, ' ') FROM import_error")}
    dag_rows = {r[0]: r for r in query(
        dialect, "SELECT dag_id, relative_fileloc, is_stale, has_import_errors FROM dag")}
    hashes = {r[0]: r[1] for r in query(
        dialect, "SELECT dag_id, dag_hash FROM serialized_dag")}
    warns = set((r[0], r[1]) for r in query(
        dialect, "SELECT dag_id, warning_type FROM dag_warning"))

    # 1. exactly one import_error row per file with errors, none for the others
    with_errors = {rel for rel, f in files.items() if f["errors"]}
    for rel in sorted(with_errors - set(ie)):
        problems.append(f"missing import_error for {rel}")
    for rel in sorted(set(ie) - with_errors):
        problems.append(f"import_error for {rel}, which has no errors")
    for rel in sorted(with_errors & set(ie)):
        for e in files[rel]["errors"]:
            if f"error[{e['code']}]" not in ie[rel]:
                problems.append(f"import_error of {rel} lacks {e['code']}")

    # 2. every correct DAG: a live row, has_import_errors as its file, its hash
    defined = {}
    for rel, f in files.items():
        for d in f["dags"]:
            defined[d["dag_id"]] = (rel, d, bool(f["errors"]))
        for e in f["errors"]:
            if e.get("dag_id"):
                defined.setdefault(e["dag_id"], (rel, None, True))
    for dag_id, (rel, d, file_err) in sorted(defined.items()):
        row = dag_rows.get(dag_id)
        if d is None:
            # a DAG with errors: no row, or a live row flagged with errors
            if row and (row[1] != rel or truth(row[2]) or not truth(row[3])):
                problems.append(f"DAG {dag_id} (with errors in {rel}): row {row[1:]}")
            continue
        if not row:
            problems.append(f"DAG {dag_id} of {rel}: no dag row")
            continue
        if row[1] != rel:
            problems.append(f"DAG {dag_id}: row says {row[1]}, file is {rel}")
        if truth(row[2]):
            problems.append(f"DAG {dag_id} of {rel}: is_stale")
        if truth(row[3]) != file_err:
            problems.append(f"DAG {dag_id} of {rel}: has_import_errors={row[3]}, "
                            f"file errors={file_err}")
        if hashes.get(dag_id) != d["hash"]:
            problems.append(f"DAG {dag_id}: serialized hash {hashes.get(dag_id)} "
                            f"!= {d['hash']}")

    # 3. a DAG no file defines is stale
    for dag_id, row in sorted(dag_rows.items()):
        if dag_id not in defined and not truth(row[2]):
            problems.append(f"DAG {dag_id} is gone from {row[1]} but not stale")

    # 4. warnings: exactly those of the latest parse of each live DAG
    want = set()
    for rel, f in files.items():
        for w in f["warnings"]:
            row = dag_rows.get(w["dag_id"])
            if row and not truth(row[2]):
                want.add((w["dag_id"], w["warning_type"]))
    for w in sorted(want - warns):
        problems.append(f"missing dag_warning {w}")
    for w in sorted(warns - want):
        problems.append(f"extra dag_warning {w}")
    return problems


def main():
    args = sys.argv[1:]
    wait = 0.0
    if "--wait" in args:
        i = args.index("--wait")
        wait = float(args[i + 1])
        del args[i:i + 2]
    binary, dags, dialect = args
    t0 = time.monotonic()
    while True:
        try:
            problems = differences(binary, dags, dialect)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            problems = [f"query failed: {e}"]
        if not problems:
            print(f"invariants hold (after {time.monotonic() - t0:.1f} s)")
            return 0
        if time.monotonic() - t0 >= wait:
            break
        time.sleep(0.25)
    print(f"invariants do not hold after {time.monotonic() - t0:.1f} s:")
    for p in problems[:40]:
        print("  " + p)
    if len(problems) > 40:
        print(f"  ... and {len(problems) - 40} more")
    return 1


if __name__ == "__main__":
    sys.exit(main())
