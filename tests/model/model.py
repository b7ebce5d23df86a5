#!/usr/bin/env python3
"""Model-based test of issue 9: random bursts of file operations on a live
`dagproc run`, with processor crashes and database faults between bursts;
after each burst, once the processor has settled, the tables must equal what
the front end alone (`dagproc check --format json` on the final tree) says.

Driven by tests/model/model_test.sh, which owns the database server (the
harness of tests/db/pg.sh and tests/db/mariadb.sh): this program asks it for
server faults with a line on stdout ("FAULT restart", "FAULT kill") and waits
for "OK" on stdin. Everything else it prints goes to stderr.

    model.py --bin BIN --backend sqlite|pg|mariadb --url URL --seed N
             [--bursts K] [--ops M] [--work DIR] [--keep] [--stop-after K]

The oracle (SPEC §3 and §5, with the DAG id rule that the recorded holder
keeps an id while its DAG is live):
  * import_error: exactly the files with errors, each with check's codes,
    plus E034 where another file holds the id;
  * each DAG id some file defines correctly has one live row, at a file that
    defines it (correctly, or with errors if that file held it before), with
    has_import_errors equal to whether that file has errors; its
    serialized_dag hash is check's when the holder defines it correctly;
  * every other correct definition of the id is refused with E034;
  * a live row of an id no file defines correctly is at a file that defines it
    with errors; ids no file defines have no live row;
  * dag_warning: exactly check's warning types of each live correct DAG;
  * parse_stat: one row per DAG file.
"""
import argparse
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

BASH = "airflow.providers.standard.operators.bash.BashOperator"
FOLDERS = ["", "sub1", "sub2", "sub1/deep"]
IDS = ["d%02d" % i for i in range(14)]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the files


class Dag:
    def __init__(self, dag_id, ver=1, broken=None, tags=False, pool=False):
        self.id, self.ver, self.broken, self.tags, self.pool = dag_id, ver, broken, tags, pool

    def render(self):
        out = ["%s:" % self.id]
        if self.tags:
            out.append("  tags: [model, v%d]" % self.ver)
        out.append("  tasks:")
        out.append("    - task_id: t")
        op = "airflow.operators.nonexistent.Nope" if self.broken == "op" else BASH
        out.append("      operator: %s" % op)
        out.append("      bash_command: echo %s %d" % (self.id, self.ver))
        if self.pool:
            out.append("      pool: missing_pool")
        out.append("    - task_id: u")
        out.append("      operator: %s" % BASH)
        out.append("      bash_command: echo u")
        out.append("      dependencies: [%s]" % ("nope" if self.broken == "dep" else "t"))
        return "\n".join(out) + "\n"

    def copy(self):
        return Dag(self.id, self.ver, self.broken, self.tags, self.pool)


class File:
    def __init__(self, dags, bad_yaml=False):
        self.dags, self.bad_yaml = dags, bad_yaml

    def render(self):
        text = "".join(d.render() for d in self.dags) or "{}\n"
        if self.bad_yaml:
            text += "broken: [unclosed\n"
        return text

    def copy(self):
        return File([d.copy() for d in self.dags], self.bad_yaml)


class Tree:
    """The bundle: the model of the files and the operations on them."""

    def __init__(self, root, rng):
        self.root, self.rng = root, rng
        self.files = {}  # rel -> File
        self.defaults = {}  # folder -> text
        self.ignore = []  # .dagignore lines
        self.seq = 0
        for f in FOLDERS:
            os.makedirs(os.path.join(root, f), exist_ok=True)

    def path(self, rel):
        return os.path.join(self.root, rel)

    def write(self, rel, text):
        p = self.path(rel)
        tmp = p + ".part"  # not a DAG file name
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, p)

    def write_file(self, rel, fobj, atomic=True):
        self.files[rel] = fobj
        if atomic:
            self.write(rel, fobj.render())
        else:
            with open(self.path(rel), "w") as f:
                f.write(fobj.render())

    def new_name(self, folder=None):
        self.seq += 1
        folder = self.rng.choice(FOLDERS) if folder is None else folder
        prefix = "ign_" if self.rng.random() < 0.15 else "f"
        return os.path.join(folder, "%s%03d.yml" % (prefix, self.seq)) if folder else "%s%03d.yml" % (prefix, self.seq)

    def pick(self):
        return self.rng.choice(sorted(self.files)) if self.files else None

    def random_dag(self):
        return Dag(self.rng.choice(IDS), self.rng.randint(1, 9), tags=self.rng.random() < 0.5,
                   pool=self.rng.random() < 0.2)

    # each returns a line describing what it did, or None when it could not
    def op_create(self):
        rel = self.new_name()
        dags = {}
        for _ in range(self.rng.randint(1, 3)):
            d = self.random_dag()
            dags[d.id] = d
        self.write_file(rel, File(list(dags.values())))
        return "create %s %s" % (rel, ",".join(dags))

    def op_edit(self):
        rel = self.pick()
        if not rel or not self.files[rel].dags:
            return None
        f = self.files[rel].copy()
        d = self.rng.choice(f.dags)
        d.ver += 1
        d.tags = self.rng.random() < 0.5
        d.pool = self.rng.random() < 0.2
        self.write_file(rel, f, atomic=self.rng.random() < 0.5)
        return "edit %s %s v%d" % (rel, d.id, d.ver)

    def op_break(self):
        rel = self.pick()
        if not rel:
            return None
        f = self.files[rel].copy()
        kind = self.rng.choice(["dep", "op", "yaml"])
        if kind == "yaml" or not f.dags:
            f.bad_yaml = True
            what = "yaml"
        else:
            d = self.rng.choice(f.dags)
            d.broken = kind
            what = "%s %s" % (d.id, kind)
        self.write_file(rel, f)
        return "break %s %s" % (rel, what)

    def op_fix(self):
        broken = [r for r, f in self.files.items() if f.bad_yaml or any(d.broken for d in f.dags)]
        if not broken:
            return None
        rel = self.rng.choice(sorted(broken))
        f = self.files[rel].copy()
        f.bad_yaml = False
        for d in f.dags:
            d.broken = None
        self.write_file(rel, f)
        return "fix %s" % rel

    def op_delete(self):
        rel = self.pick()
        if not rel:
            return None
        os.unlink(self.path(rel))
        del self.files[rel]
        return "delete %s" % rel

    def op_rename(self, across):
        rel = self.pick()
        if not rel:
            return None
        folder = self.rng.choice(FOLDERS) if across else os.path.dirname(rel)
        new = self.new_name(folder)
        os.rename(self.path(rel), self.path(new))
        self.files[new] = self.files.pop(rel)
        return "rename %s %s" % (rel, new)

    def op_move_dag(self):
        if len(self.files) < 2:
            return None
        a, b = self.rng.sample(sorted(self.files), 2)
        fa, fb = self.files[a].copy(), self.files[b].copy()
        if not fa.dags:
            return None
        d = fa.dags.pop(self.rng.randrange(len(fa.dags)))
        fb.dags = [x for x in fb.dags if x.id != d.id] + [d]
        first, second = (a, b) if self.rng.random() < 0.5 else (b, a)
        for rel in (first, second):
            self.write_file(rel, fa if rel == a else fb)
        return "move %s from %s to %s" % (d.id, a, b)

    def op_swap(self):
        if len(self.files) < 2:
            return None
        a, b = self.rng.sample(sorted(self.files), 2)
        tmp = self.path(a) + ".swap"
        os.rename(self.path(a), tmp)
        os.rename(self.path(b), self.path(a))
        os.rename(tmp, self.path(b))
        self.files[a], self.files[b] = self.files[b], self.files[a]
        return "swap %s %s" % (a, b)

    def op_recreate(self):
        rel = self.pick()
        if not rel:
            return None
        f = self.files[rel].copy()
        os.unlink(self.path(rel))
        if self.rng.random() < 0.5 and f.dags:
            f.dags[0].ver += 1
        self.write_file(rel, f, atomic=False)
        return "delete and recreate %s" % rel

    def op_replace(self):
        rel = self.pick()
        if not rel:
            return None
        f = File([self.random_dag()])
        self.write_file(rel, f, atomic=True)
        return "replace by rename %s %s" % (rel, f.dags[0].id)

    def op_duplicate(self):
        ids = [d.id for f in self.files.values() for d in f.dags]
        if not ids:
            return None
        d = Dag(self.rng.choice(ids), self.rng.randint(1, 9))
        rel = self.new_name()
        self.write_file(rel, File([d]))
        return "duplicate %s in %s" % (d.id, rel)

    def op_defaults(self):
        folder = self.rng.choice(FOLDERS)
        choice = self.rng.choice(["none", "owner", "retries", "tags"])
        rel = os.path.join(folder, "defaults.yml") if folder else "defaults.yml"
        if choice == "none":
            if os.path.exists(self.path(rel)):
                os.unlink(self.path(rel))
        else:
            text = {
                "owner": "default_args:\n  owner: team_%d\n" % self.rng.randint(1, 3),
                "retries": "default_args:\n  retries: %d\n" % self.rng.randint(0, 3),
                "tags": "tags: [from_defaults_%d]\n" % self.rng.randint(1, 3),
            }[choice]
            self.write(rel, text)
        return "defaults %s %s" % (rel, choice)

    def op_dagignore(self):
        pats = self.rng.choice([[], ["ign_*"], ["sub2/"], ["ign_*", "sub1/deep/"]])
        self.write(".dagignore", "".join(p + "\n" for p in pats))
        return "dagignore %s" % (pats or "empty")

    OPS = [("create", 14), ("edit", 14), ("break", 8), ("fix", 8), ("delete", 6),
           ("rename", 5), ("rename_across", 5), ("move_dag", 8), ("swap", 4),
           ("recreate", 5), ("replace", 5), ("duplicate", 5), ("defaults", 4),
           ("dagignore", 3)]

    def random_op(self):
        names = [n for n, _ in self.OPS]
        weights = [w for _, w in self.OPS]
        for _ in range(10):
            name = self.rng.choices(names, weights)[0]
            fn = {"rename": lambda: self.op_rename(False),
                  "rename_across": lambda: self.op_rename(True)}.get(name) or getattr(self, "op_" + name)
            line = fn()
            if line:
                return line
        return self.op_create()


# ---------------------------------------------------------------- the oracle


def check_tree(binary, root):
    r = subprocess.run([binary, "check", "--format", "json", root], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=120)
    if r.returncode not in (0, 1):
        raise RuntimeError("check failed (%d): %s" % (r.returncode, r.stderr[-500:]))
    return json.loads(r.stdout)


def expectations(doc, root):
    """Per file: error codes (without E034), correct DAGs {id: hash}, ids with
    errors, warnings {id: set(types)}; and per id the files defining it."""
    files = {}
    for f in doc["files"]:
        rel = os.path.relpath(f["path"], root)
        e = {"codes": set(), "ok": {}, "bad": set(), "warn": {}}
        for d in f["dags"]:
            e["ok"][d["dag_id"]] = d["hash"]
        for err in f["errors"]:
            if err["code"] == "E034":
                e["ok"].setdefault(err["dag_id"], None)  # correct, refused by check
            else:
                e["codes"].add(err["code"])
                if err.get("dag_id"):
                    e["bad"].add(err["dag_id"])
        for w in f["warnings"]:
            if w.get("dag_id") and w.get("warning_type"):
                e["warn"].setdefault(w["dag_id"], set()).add(w["warning_type"])
        e["bad"] -= set(e["ok"])
        files[rel] = e
    return files


# ---------------------------------------------------------------- the database


class Db:
    def __init__(self, backend, url, sqlite_path):
        self.backend, self.url, self.sqlite_path = backend, url, sqlite_path

    def rows(self, sql, cols):
        if self.backend == "sqlite":
            con = sqlite3.connect("file:%s?mode=ro" % self.sqlite_path, uri=True, timeout=10)
            try:
                return [dict(zip(cols, r)) for r in con.execute(sql)]
            finally:
                con.close()
        if self.backend == "pg":
            q = "SELECT coalesce(json_agg(t), '[]') FROM (%s) t" % sql
            out = subprocess.run(["psql", "-X", "-q", "-tA", "-h", "127.0.0.1", "-p", os.environ["PG_PORT"],
                                  "-U", "postgres", "-d", os.environ["PG_DB"], "-c", q],
                                 capture_output=True, text=True, timeout=60)
        else:
            obj = ", ".join("'%s', %s" % (c, c) for c in cols)
            q = "SELECT coalesce(JSON_ARRAYAGG(JSON_OBJECT(%s)), '[]') FROM (%s) t" % (obj, sql)
            out = subprocess.run(["mariadb", "--no-defaults", "-N", "-B", "-r", "-h", "127.0.0.1",
                                  "-P", os.environ["MY_PORT"], "-u", "root",
                                  "-p" + os.environ["MY_ADMIN_PASSWORD"], "-D", os.environ["MY_DB"],
                                  "-e", q], capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise RuntimeError("query failed: %s" % out.stderr.strip())
        return json.loads(out.stdout.strip() or "[]")

    def execute(self, sql):
        if self.backend == "pg":
            cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", os.environ["PG_PORT"],
                   "-U", "postgres", "-d", os.environ["PG_DB"], "-c", sql]
        else:
            cmd = ["mariadb", "--no-defaults", "-h", "127.0.0.1", "-P", os.environ["MY_PORT"], "-u", "root",
                   "-p" + os.environ["MY_ADMIN_PASSWORD"], "-D", os.environ["MY_DB"], "-e", sql]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise RuntimeError("statement failed: %s" % out.stderr.strip())

    def stray_leases(self, names, burst, rng):
        """Leases held by live processors of files that do not exist (what a crash
        between a claim and the write of a deletion leaves): they must go."""
        later = "now() + interval '1 hour'" if self.backend == "pg" else "NOW(6) + INTERVAL 1 HOUR"
        rows = ["('dags-folder', 'gone/%s-%d-%d.yml', '%s', 1, %s)" % (n, burst, i, n, later)
                for n in names for i in range(rng.randint(1, 3))]
        self.execute("INSERT INTO file_lease (bundle_name, relative_fileloc, owner, token, expires_at) "
                     "VALUES " + ", ".join(rows))

    def leases_astray(self, exp):
        """Leases held by live processors of files that are no DAG file, as lines."""
        rows = self.rows("SELECT relative_fileloc, owner FROM file_lease WHERE owner IS NOT NULL",
                         ["relative_fileloc", "owner"])
        bad = sorted("%s (%s)" % (r["relative_fileloc"], r["owner"]) for r in rows
                     if r["relative_fileloc"] not in exp)
        return ["file_lease: held for files that are no DAG file: %s" % bad[:10]] if bad else []

    def state(self):
        b = lambda v: bool(v) and v not in ("0", "f", "false")
        dags = {}
        for r in self.rows("SELECT d.dag_id, d.relative_fileloc, d.is_stale, d.has_import_errors, "
                           "s.dag_hash FROM dag d LEFT JOIN serialized_dag s ON s.dag_id = d.dag_id",
                           ["dag_id", "relative_fileloc", "is_stale", "has_import_errors", "dag_hash"]):
            dags[r["dag_id"]] = (r["relative_fileloc"], b(r["is_stale"]), b(r["has_import_errors"]),
                                 r["dag_hash"])
        ies = {r["filename"]: r["stacktrace"] for r in
               self.rows("SELECT filename, stacktrace FROM import_error", ["filename", "stacktrace"])}
        warns = {}
        for r in self.rows("SELECT dag_id, warning_type FROM dag_warning", ["dag_id", "warning_type"]):
            warns.setdefault(r["dag_id"], set()).add(r["warning_type"])
        stats = {r["relative_fileloc"] for r in
                 self.rows("SELECT relative_fileloc FROM parse_stat", ["relative_fileloc"])}
        return dags, ies, warns, stats


def codes_of(stacktrace):
    out = set()
    for line in (stacktrace or "").splitlines():
        i = line.find("error[")
        if i >= 0:
            out.add(line[i + 6:i + 10])
    return out


def refused_ids(stacktrace):
    out = set()
    for line in (stacktrace or "").splitlines():
        i = line.find("error[E034]: DAG id '")
        if i >= 0:
            rest = line[i + len("error[E034]: DAG id '"):]
            out.add(rest[:rest.find("'")])
    return out


def compare(exp, db_state):
    """The differences between what the files say and the tables, as lines."""
    dags, ies, warns, stats = db_state
    diffs = []
    defs_ok, defs_bad = {}, {}
    for rel, e in exp.items():
        for i in e["ok"]:
            defs_ok.setdefault(i, set()).add(rel)
        for i in e["bad"]:
            defs_bad.setdefault(i, set()).add(rel)
    # who holds each id, per the tables; E034 refusals it implies
    refused = {rel: set() for rel in exp}
    for i in sorted(set(defs_ok) | set(defs_bad) | set(dags)):
        row = dags.get(i)
        live = row is not None and not row[1]
        ok, bad = defs_ok.get(i, set()), defs_bad.get(i, set())
        if ok:
            if not live:
                diffs.append("dag %s: defined correctly by %s, but %s" %
                             (i, sorted(ok), "no row" if row is None else "stale at %s" % row[0]))
                continue
            holder = row[0]
            if holder not in ok and holder not in bad:
                diffs.append("dag %s: live at %s, which does not define it (defined by %s)" %
                             (i, holder, sorted(ok | bad)))
                continue
            for rel in ok - {holder}:
                refused[rel].add(i)
            if holder in ok and exp[holder]["ok"][i] and row[3] != exp[holder]["ok"][i]:
                diffs.append("dag %s: serialized_dag hash %s, the file %s says %s" %
                             (i, row[3], holder, exp[holder]["ok"][i]))
        elif live:
            if row[0] not in bad:
                diffs.append("dag %s: live at %s, but no file defines it%s" %
                             (i, row[0], " (with errors: %s)" % sorted(bad) if bad else ""))
    # import errors and the has_import_errors flag
    for rel, e in exp.items():
        want = set(e["codes"]) | ({"E034"} if refused[rel] else set())
        got = ies.get(rel)
        if not want and got is not None:
            diffs.append("import_error %s: present (%s), the file has no errors" %
                         (rel, got.strip().replace("\n", " | ")[:300]))
        elif want and got is None:
            diffs.append("import_error %s: missing, the file has %s" % (rel, sorted(want)))
        elif want and codes_of(got) != want:
            diffs.append("import_error %s: codes %s, the file has %s" % (rel, sorted(codes_of(got)), sorted(want)))
        elif refused[rel] and refused_ids(got) != refused[rel]:
            diffs.append("import_error %s: E034 for %s, expected for %s" %
                         (rel, sorted(refused_ids(got)), sorted(refused[rel])))
    for rel in ies:
        if rel not in exp:
            diffs.append("import_error %s: the file is not a DAG file (gone or ignored)" % rel)
    for i, row in dags.items():
        if row[1] or row[0] not in exp:
            if not row[1]:
                diffs.append("dag %s: live at %s, which is not a DAG file" % (i, row[0]))
            continue
        has = bool(exp[row[0]]["codes"]) or bool(refused[row[0]])
        if row[2] != has:
            diffs.append("dag %s: has_import_errors %s, its file %s %s" %
                         (i, row[2], row[0], "has errors" if has else "has none"))
        e = exp[row[0]]
        if i in e["ok"] and i not in refused[row[0]]:
            want_w = e["warn"].get(i, set())
            if warns.get(i, set()) != want_w:
                diffs.append("dag_warning %s: %s, the file says %s" % (i, sorted(warns.get(i, set())), sorted(want_w)))
    for i in warns:
        row = dags.get(i)
        if row is None or row[1]:
            diffs.append("dag_warning %s: %s for a DAG that is not live" % (i, sorted(warns[i])))
    if stats != set(exp):
        extra, missing = sorted(stats - set(exp)), sorted(set(exp) - stats)
        diffs.append("parse_stat: rows for %s that are not DAG files; missing for %s" % (extra, missing))
    return diffs


# ---------------------------------------------------------------- the processor


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Processor:
    def __init__(self, binary, root, url, work, port, name="p0"):
        self.binary, self.root, self.url, self.work, self.port = binary, root, url, work, port
        self.name = name
        self.log = os.path.join(work, "processor-%s.log" % name)
        self.proc = None
        self.starts = 0

    def start(self):
        env = dict(os.environ)
        env.update({"DAGPROC__API__PORT": str(self.port), "DAGPROC__DATABASE__RETRY_BACKOFF_MAX": "1",
                    "DAGPROC__DATABASE__CONNECT_TIMEOUT": "3", "DAGPROC__DAG_PROCESSOR__PARSING_PROCESSES": "2",
                    "DAGPROC__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "0",
                    "DAGPROC__DAG_PROCESSOR__LEASE_SECONDS": "5",
                    "DAGPROC__DAG_PROCESSOR__INSTANCE_NAME": self.name})
        self.starts += 1
        logf = open(self.log, "a")
        logf.write("---- start %d\n" % self.starts)
        logf.flush()
        self.proc = subprocess.Popen([self.binary, "run", "--dags", self.root, "--db", self.url],
                                     stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, env=env,
                                     cwd=self.work)
        logf.close()

    def kill(self):
        if self.proc:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            self.proc = None

    def stop(self):
        """SIGTERM; returns the exit status (None when it had to be killed)."""
        rc = 0
        if self.proc:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
                rc = None
            self.proc = None
        return rc

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def ready(self):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/readyz" % self.port, timeout=2) as r:
                return r.status == 200
        except Exception:
            return False


# ---------------------------------------------------------------- the run


def fault(cmd):
    print("FAULT " + cmd, flush=True)
    reply = sys.stdin.readline().strip()
    if reply != "OK":
        raise RuntimeError("fault %s: the driver answered %r" % (cmd, reply))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--backend", required=True, choices=["sqlite", "pg", "mariadb"])
    ap.add_argument("--url")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--bursts", type=int, default=6)
    ap.add_argument("--ops", type=int, default=12, help="operations per burst, at most")
    ap.add_argument("--work")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--stop-after", type=int, default=0, help="stop after burst K, keeping the work folder")
    ap.add_argument("--settle", type=float, default=45, help="seconds a burst may take to converge")
    ap.add_argument("--processors", type=int, default=1,
                    help="processors sharing the database (PostgreSQL, MariaDB)")
    a = ap.parse_args()

    rng = random.Random(a.seed)
    work = a.work or tempfile.mkdtemp(prefix="dagproc-model.")
    os.makedirs(work, exist_ok=True)
    root = os.path.join(work, "dags")
    sqlite_path = os.path.join(work, "dagproc.db")
    url = a.url or "sqlite:///" + sqlite_path
    # every argument that shapes the run, so the replay draws the same events
    replay = "SEED=%d MODEL_BURSTS=%d MODEL_OPS=%d %stests/model/model_test.sh %s %s" % (
        a.seed, a.bursts, a.ops, "MODEL_PROCESSORS=%d " % a.processors if a.processors > 1 else "",
        a.bin, a.backend)
    log("model: seed %d, backend %s, %d bursts (replay: %s)" % (a.seed, a.backend, a.bursts, replay))

    r = subprocess.run([a.bin, "db", "reset", "--yes", "--db", url], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        log("model: db reset failed: %s" % r.stderr.strip())
        return 2
    tree = Tree(root, rng)
    for _ in range(rng.randint(4, 8)):
        tree.op_create()
    if a.backend == "sqlite":
        a.processors = 1  # SQLite is for one processor
    procs = [Processor(a.bin, root, url, work, free_port(), "p%d" % i) for i in range(a.processors)]
    db = Db(a.backend, url, sqlite_path)
    for p in procs:
        p.start()
    history = []
    failed = False
    try:
        for burst in range(1, a.bursts + 1):
            # between bursts: a crash of the processor, a database fault, or nothing
            event = rng.choice(["none", "none", "kill", "kill-db", "restart-db"] if a.backend != "sqlite"
                               else ["none", "none", "kill", "lock-db"])
            if len(procs) > 1 and rng.random() < 0.25:
                event = "stray-leases"
            ops = []
            victim = rng.choice(procs)
            if event == "kill":
                victim.kill()
            elif event == "kill-db":
                fault("kill")
            elif event == "restart-db":
                fault("restart")
            elif event == "stray-leases":
                db.stray_leases([p.name for p in procs], burst, rng)
            elif event == "lock-db":
                con = sqlite3.connect(sqlite_path, timeout=10)
                con.execute("BEGIN EXCLUSIVE")
            n = rng.randint(1, a.ops)
            for _ in range(n):
                ops.append(tree.random_op())
                if rng.random() < 0.3:
                    time.sleep(rng.random() * 0.2)
            if event == "lock-db":
                time.sleep(1.0)
                con.rollback()
                con.close()
            if event == "kill":
                victim.start()
                if len(procs) > 1:
                    event = "kill %s" % victim.name
            history.append((burst, event, ops))
            log("model: burst %d (%s): %s" % (burst, event, "; ".join(ops)))
            # settle: the tables must come to equal what the files say
            deadline = time.time() + a.settle
            diffs = ["not compared yet"]
            while time.time() < deadline:
                dead = [p for p in procs if not p.alive()]
                if dead:
                    diffs = ["processor %s exited (status %s)" % (dead[0].name, dead[0].proc.poll())]
                    break
                if all(p.ready() for p in procs):
                    exp = expectations(check_tree(a.bin, root), root)
                    try:
                        diffs = compare(exp, db.state())
                        if not diffs and len(procs) > 1:
                            diffs = db.leases_astray(exp)
                    except (RuntimeError, sqlite3.Error) as e:
                        diffs = ["reading the database: %s" % e]
                    if not diffs:
                        break
                time.sleep(0.3)
            if diffs:
                failed = True
                log("FAIL model seed %d backend %s burst %d: the tables differ from what the files say:" %
                    (a.seed, a.backend, burst))
                for d in diffs[:25]:
                    log("     " + d)
                log("   operations (burst: event: ops):")
                for b, ev, o in history[-3:]:
                    log("     %d: %s: %s" % (b, ev, "; ".join(o)))
                if len(procs) > 1:
                    try:
                        leases = db.rows("SELECT relative_fileloc, owner, token FROM file_lease "
                                         "ORDER BY relative_fileloc", ["relative_fileloc", "owner", "token"])
                        log("   file_lease: %s" % "; ".join("%s %s %s" % (r["relative_fileloc"], r["owner"],
                                                                         r["token"]) for r in leases))
                    except RuntimeError as e:
                        log("   file_lease not read: %s" % e)
                log("   replay: %s (work folder kept: %s)" % (replay, work))
                break
            if a.stop_after and burst >= a.stop_after:
                log("model: stopped after burst %d; work folder %s" % (burst, work))
                a.keep = True
                break
    finally:
        rcs = [(p.name, p.stop()) for p in procs]
    bad_stops = [(n, rc) for n, rc in rcs if rc != 0]
    if bad_stops and not failed:
        failed = True
        log("FAIL model seed %d backend %s: a clean stop gave %s (a crash or a leak under the "
            "sanitizers?)" % (a.seed, a.backend, bad_stops))
        log("   replay: %s (work folder kept: %s)" % (replay, work))
    if failed:
        for p in procs:
            with open(p.log) as f:
                tail = f.readlines()[-30:]
            log("   processor %s log (last lines):" % p.name)
            for line in tail:
                log("     " + line.rstrip())
    elif not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    if not failed:
        log("ok   model seed %d backend %s%s: %d bursts, tables equal the files after each" %
            (a.seed, a.backend, " (%d processors)" % len(procs) if len(procs) > 1 else "", a.bursts))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
