#!/usr/bin/env python3
"""The DAG hashes of dagproc check stay what they were.

A stored DAG is rewritten when its hash changes (SPEC: `dag_hash` changes
exactly when `data` does), so a change to the canonical JSON, however small,
rewrites every stored DAG at the next start and makes `no writes for unchanged
files` false once. Scenario tests did not see such a change: a speed-up of the
canonical JSON once wrote keys with an escaped NUL differently, and 394 of 500
random files with such keys changed hash (found by review, issue 13).

This test generates files from a fixed seed with its own generator (no
`random` module, so the files are the same under every Python): DAG and task
keys and values of every YAML kind dagproc reads (integers at their bounds and
in other bases, floats, booleans and nulls in their spellings, strings plain,
quoted, escaped, folded and literal, Unicode and escaped NUL keys, anchors,
aliases and merge keys, nested maps and lists), then compares what
`dagproc check --format json` says of each file (its DAGs' hashes, its error
codes) with tests/hash_stability_expected.json.

usage: tests/hash_stability_test.py DAGPROC_BIN [--write]
  --write  records the current verdicts as the expected ones: only for a
           change of the canonical form made on purpose (say so in the
           commit: every stored DAG will be written again)
"""
import json
import os
import subprocess
import sys
import tempfile

SEED = 20261204
FILES = 400
HERE = os.path.dirname(os.path.abspath(__file__))
EXPECTED = os.path.join(HERE, "hash_stability_expected.json")


class Rand:
    """xorshift64*: the same numbers on every platform and Python version."""

    def __init__(self, seed):
        self.s = seed or 1

    def next(self):
        x = self.s
        x ^= (x >> 12)
        x ^= (x << 25) & 0xFFFFFFFFFFFFFFFF
        x ^= (x >> 27)
        self.s = x
        return (x * 0x2545F4914F6CDD1D) & 0xFFFFFFFFFFFFFFFF

    def below(self, n):
        return self.next() % n

    def pick(self, seq):
        return seq[self.below(len(seq))]

    def chance(self, percent):
        return self.below(100) < percent


INTS = ["0", "-0", "7", "-42", "9223372036854775807", "-9223372036854775808",
        "9223372036854775808", "0x1F", "0o17", "017", "1_000", "+12", "00"]
FLOATS = ["1.5", "-0.0", "0.0", "1e308", "1e309", "6.02e+23", "-1.25E-7", ".inf",
          "-.inf", ".nan", ".5", "3.", "1_000.5", "2.50"]
BOOLS = ["true", "false", "True", "FALSE", "yes", "No", "on", "off", "y", "n"]
NULLS = ["null", "~", "Null", "NULL", ""]
WORDS = ["alpha", "beta", "étoile", "中文", "emoji😀", "with space", "a:b", "x#y",
         "-dash", "0123", "true_ish", "null_ish", "tab\tin", "quote'q", 'dq"d',
         "back\\slash", "long" * 40]
ESCAPES = ["\\0", "\\x41", "\\u00e9", "\\U0001F600", "\\t", "\\n", "\\\\", '\\"',
           "\\r", "\\e", "\\_", "\\N", "\\L", "\\P", "\\ ", "\\/"]


def dq(r):
    """a double-quoted scalar with escapes"""
    parts = []
    for _ in range(1 + r.below(4)):
        if r.chance(50):
            parts.append(r.pick(ESCAPES))
        else:
            parts.append(r.pick(WORDS).replace("\\", "\\\\").replace('"', '\\"')
                         .replace("\t", "\\t"))
    return '"' + "".join(parts) + '"'


def sq(r):
    return "'" + r.pick(WORDS).replace("'", "''").replace("\t", " ") + "'"


def plain_word(r):
    return r.pick(["alpha", "beta", "gamma_1", "étoile", "中文", "v1.2.3", "a-b-c",
                   "2024-01-01", "12:30", "1:2:3", "path/to/x", "x=y", "e1"])


def text(r):
    """a scalar that is a string in every reading"""
    return r.pick([dq, sq, lambda r: r.pick(["alpha", "beta gamma", "étoile", "中文", "a-b-c",
                                             "path/to/x", "echo {{ ds }}", "x=y"])])(r)


def scalar(r):
    k = r.below(9)
    if k == 0:
        return r.pick(INTS)
    if k == 1:
        return r.pick(FLOATS)
    if k == 2:
        return r.pick(BOOLS)
    if k == 3:
        return r.pick(NULLS)
    if k == 4:
        return dq(r)
    if k == 5:
        return sq(r)
    return plain_word(r)


def key(r):
    k = r.below(12)
    if k == 0:
        return dq(r)  # escaped NULs and the rest
    if k == 1:
        return sq(r)
    if k == 2:
        return r.pick(INTS[:4])
    if k == 3:
        return r.pick(["true", "null", "1.5", "~"])
    return r.pick(["k", "key", "name", "ключ", "clé", "z", "a", "B", "_x", "k2", "k10",
                   "nested", "items", "value", "v"]) + str(r.below(50))


class Doc:
    def __init__(self, r):
        self.r = r
        self.lines = []
        self.anchors = []  # every anchor so far
        self.map_anchors = []  # the anchors of mappings: what a merge key takes
        self.nanchor = 0

    def emit(self, indent, text):
        self.lines.append("  " * indent + text)

    def text(self, indent, prefix):
        """writes `prefix` followed by a string, inline or as a block scalar"""
        r = self.r
        if r.chance(70):
            self.emit(indent, prefix + text(r))
            return
        self.emit(indent, prefix + r.pick(["|", "|-", "|+", ">", ">-", "|2"]))
        for _ in range(1 + r.below(3)):
            self.emit(indent + 1, r.pick(WORDS).replace("\t", " ") + (" " * r.below(2)))

    def value(self, indent, prefix, depth):
        """writes `prefix` followed by a value (inline or on the next lines)"""
        r = self.r
        anchor = name = ""
        if r.chance(8):
            self.nanchor += 1
            name = "a%d" % self.nanchor
            anchor = "&" + name + " "
        if self.anchors and r.chance(6):
            self.emit(indent, prefix + "*" + r.pick(self.anchors))
            return
        k = r.below(10) if depth < 4 else 0
        if k <= 4:
            self.emit(indent, prefix + anchor + scalar(r))
        elif k == 5:
            style = r.pick(["|", "|-", "|+", ">", ">-", "|2"])
            self.emit(indent, prefix + anchor + style)
            for _ in range(1 + r.below(3)):
                self.emit(indent + 1, r.pick(WORDS).replace("\t", " ") + (" " * r.below(2)))
            if style.endswith("+") or r.chance(30):
                self.lines.append("")
        elif k == 6:
            items = ", ".join(scalar(r) or "null" for _ in range(r.below(4)))
            self.emit(indent, prefix + anchor + "[" + items + "]")
        elif k == 7:
            self.emit(indent, prefix + anchor.rstrip())
            for _ in range(1 + r.below(3)):
                self.value(indent + 1, "- ", depth + 1)
        else:
            self.emit(indent, prefix + anchor.rstrip())
            if self.map_anchors and r.chance(15):
                self.emit(indent + 1, "<<: *" + r.pick(self.map_anchors))
            self.mapping(indent + 1, depth + 1)
            if name:
                self.map_anchors.append(name)
        if name:
            self.anchors.append(name)

    def mapping(self, indent, depth):
        seen = set()
        for _ in range(1 + self.r.below(4)):
            k = key(self.r)
            if k in seen:
                continue
            seen.add(k)
            self.value(indent, k + ": ", depth)


OPERATORS = [
    "airflow.providers.standard.operators.bash.BashOperator",
    "airflow.operators.bash.BashOperator",
]


def dag_file(r, n):
    d = Doc(r)
    for di in range(1 + r.below(2)):
        d.emit(0, "dag_%d_%d:" % (n, di))
        if r.chance(70):
            d.emit(1, "default_args:")
            d.emit(2, "owner: " + r.pick(["airflow", "data-team", "'o''brien'", '"né"']))
            d.emit(2, "retries: " + r.pick(["0", "1", "3", "0x2"]))
            if r.chance(40):
                d.emit(2, "start_date: " + r.pick(["2024-01-01", "'2024-01-01'",
                                                   "2024-01-01T00:00:00Z"]))
        d.emit(1, "schedule: " + r.pick(["'@daily'", "null", "'0 4 * * *'", '"@hourly"']))
        if r.chance(60):
            d.text(1, "description: ")
        if r.chance(50):
            tags = ", ".join(r.pick(["a", "b", "'c d'", '"é"', "x1"]) for _ in range(r.below(4)))
            d.emit(1, "tags: [" + tags + "]")
        if r.chance(70):
            d.emit(1, "params:")
            d.mapping(2, 1)
        if r.chance(30):
            d.emit(1, "max_active_runs: " + r.pick(["1", "16", "0x10"]))
        d.emit(1, "tasks:")
        ntasks = 1 + r.below(4)
        for t in range(ntasks):
            d.emit(2, "- task_id: " + r.pick(["t%d" % t, "'t%d'" % t, '"t%d"' % t]))
            d.emit(3, "operator: " + r.pick(OPERATORS))
            d.text(3, "bash_command: ")
            if r.chance(70):
                d.emit(3, "params:")
                d.mapping(4, 1)
            if r.chance(30):
                d.emit(3, "env:")
                for e in range(1 + r.below(3)):
                    d.text(4, "E%d: " % e)
            if t and r.chance(60):
                ups = ", ".join("t%d" % u for u in range(t) if r.chance(60))
                if ups:
                    d.emit(3, "dependencies: [" + ups + "]")
            if r.chance(20):
                d.emit(3, "retries: " + r.pick(INTS[:5]))
            if r.chance(2):  # an import error: its verdict is kept too
                d.emit(3, r.pick(["retries: many", "bash_command: [a]", "no_such_arg: 1",
                                  "operator: no.such.Operator"]))
    return "\n".join(d.lines) + "\n"


def verdicts(binary, folder):
    out = subprocess.run([binary, "check", "--format", "json", folder],
                         capture_output=True, timeout=600)
    if out.returncode not in (0, 1):
        sys.exit("dagproc check exited %d: %s" % (out.returncode,
                                                   out.stderr.decode(errors="replace")[-2000:]))
    doc = json.loads(out.stdout)
    got = {}
    for f in doc["files"]:
        name = os.path.basename(f["path"])
        got[name] = {
            "hashes": {d["dag_id"]: d["hash"] for d in f.get("dags", [])},
            "errors": sorted(e["code"] for e in f.get("errors", [])),
        }
    return got


def main():
    rc = check()
    if "--write" not in sys.argv[2:]:
        print("%d passed, %d failed" % (rc == 0, rc != 0))
    return rc


def check():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    binary, write = sys.argv[1], "--write" in sys.argv[2:]
    r = Rand(SEED)
    with tempfile.TemporaryDirectory(prefix="dagproc-hash.") as tmp:
        for n in range(FILES):
            with open(os.path.join(tmp, "f%03d.yml" % n), "w", encoding="utf-8") as fh:
                fh.write(dag_file(r, n))
        got = verdicts(binary, tmp)
    ndags = sum(len(v["hashes"]) for v in got.values())
    nerr = sum(1 for v in got.values() if v["errors"])
    if write:
        with open(EXPECTED, "w", encoding="utf-8") as fh:
            json.dump({"seed": SEED, "files": got}, fh, indent=1, sort_keys=True)
            fh.write("\n")
        print("written %s: %d files, %d DAGs, %d files with errors" % (EXPECTED, len(got), ndags,
                                                                       nerr))
        return 0
    with open(EXPECTED, encoding="utf-8") as fh:
        want = json.load(fh)
    if want.get("seed") != SEED:
        print("FAIL the expected file is of seed %s, not %s" % (want.get("seed"), SEED))
        return 1
    want = want["files"]
    bad = [n for n in sorted(set(want) | set(got)) if want.get(n) != got.get(n)]
    for n in bad[:10]:
        print("FAIL %s: expected %s, got %s" % (n, json.dumps(want.get(n)), json.dumps(got.get(n))))
    if bad:
        print("FAIL %d of %d generated files changed verdict or hash (seed %d); a change made "
              "on purpose is recorded with --write, and rewrites every stored DAG" %
              (len(bad), len(want), SEED))
        return 1
    if ndags < FILES or nerr == len(got):
        print("FAIL the generator made too few valid DAGs (%d DAGs, %d files with errors)" %
              (ndags, nerr))
        return 1
    print("ok   %d generated files (%d DAGs, %d with import errors): every hash and verdict as "
          "recorded" % (len(got), ndags, nerr))
    return 0


if __name__ == "__main__":
    sys.exit(main())
