#!/usr/bin/python3
"""`dagproc fix` (issue 16, part 1), with Debian's python3-yaml:

- on a copy of the real-world corpus: `fix --diff` lists the fixes, writes
  nothing, and its diff applies with `git apply` to what `fix` writes; after
  `fix`, `check` reports none of the fixed diagnostics and no fix is left; a
  second run changes nothing; `git diff --word-diff` shows only the edited
  tokens; every comment line survives; each file's YAML data differs only at
  the fixed places;
- the same properties over random mutations of the corpora (canonical operator
  paths turned into the Airflow 2 paths that redirect to them, in every quoting
  style, and `schedule` into `schedule_interval`), replayable by seed;
- byte-exact: CRLF line endings, a missing final newline, anchors and aliases;
- safe: a file with a YAML syntax error is not touched, the mode is kept,
  `--select` limits the codes, and the exit codes.

usage: tests/fix_test.py path/to/dagproc [SEED]
"""
import json
import os
import random
import re
import shutil
import stat
import subprocess
import sys
import tempfile

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus_test  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
passed = failed = 0


def ok(what):
    global passed
    passed += 1
    print("ok   " + what)


def bad(what, details=()):
    global failed
    failed += 1
    print("FAIL " + what)
    for d in list(details)[:15]:
        print("     " + str(d))


# libyaml's parser underneath (python3-yaml's CSafeLoader), as the issue asks
# the data to be compared
class Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    pass


Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def env():
    return {k: v for k, v in os.environ.items() if not k.startswith("DAGPROC_")}


def run(binary, *args, cwd=None):
    return subprocess.run([binary] + list(args), capture_output=True, text=True, cwd=cwd,
                          stdin=subprocess.DEVNULL, timeout=300, env=env())


def check_diags(binary, root):
    """{path: [diagnostic]} of `check --format json` over root."""
    p = run(binary, "check", "--format", "json", ".", cwd=root)
    out = json.loads(p.stdout)
    res = {}
    for f in out["files"]:
        res[os.path.normpath(f["path"])] = (f.get("errors") or []) + (f.get("warnings") or [])
    return res


def fixes_of(diags):
    return [(d["code"], d["fix"]) for d in diags if "fix" in d]


def snapshot(root):
    snap = {}
    for d, _, files in os.walk(root):
        if ".git" in d.split(os.sep):
            continue
        for f in files:
            p = os.path.join(d, f)
            with open(p, "rb") as fh:
                snap[os.path.relpath(p, root)] = fh.read()
    return snap


def load(data):
    try:
        return yaml.load(data.decode("utf-8"), Loader=Loader), None
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        return None, str(e)


def same_but_fixed(a, b, pairs, path="", out=None):
    """Paths where a and b differ other than by a fix (old -> new of pairs,
    for a value or a key)."""
    out = [] if out is None else out
    if isinstance(a, dict) and isinstance(b, dict):
        ka, kb = set(map(str, a)), set(map(str, b))
        ren = {}
        for k in ka - kb:
            if (k, pairs.get(k)) and pairs.get(k) in kb - ka:
                ren[k] = pairs[k]
            else:
                out.append("%s: key %r gone" % (path, k))
        for k in kb - ka - set(ren.values()):
            out.append("%s: key %r new" % (path, k))
        bmap = {str(k): v for k, v in b.items()}
        for k, v in a.items():
            k2 = ren.get(str(k), str(k))
            if k2 in bmap:
                same_but_fixed(v, bmap[k2], pairs, "%s/%s" % (path, k), out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append("%s: %d items, then %d" % (path, len(a), len(b)))
        for i, (x, y) in enumerate(zip(a, b)):
            same_but_fixed(x, y, pairs, "%s/%d" % (path, i), out)
    elif a != b and not (isinstance(a, str) and pairs.get(a) == b):
        out.append("%s: %r became %r" % (path, a, b))
    return out


def properties(binary, root, label, seed=None):
    """Runs fix --diff, then fix twice, on the folder root (a git repository
    with everything committed); checks every property; True when all hold."""
    replay = " (seed %d)" % seed if seed is not None else ""
    problems = []
    before = snapshot(root)
    diags_before = check_diags(binary, root)
    pairs = {}
    for diags in diags_before.values():
        for code, fx in fixes_of(diags):
            desc = re.match(r"replace '(.*)' with '(.*)'$", fx["description"])
            if desc:
                pairs[desc.group(1)] = desc.group(2)
    nfix = sum(len(fixes_of(d)) for d in diags_before.values())

    # bytes: a CRLF file's diff keeps its carriage returns
    p = subprocess.run([binary, "fix", "--diff", "."], capture_output=True, cwd=root,
                       stdin=subprocess.DEVNULL, timeout=300, env=env())
    if p.returncode not in (0, 1):
        problems.append("fix --diff exit %d: %s" % (p.returncode, p.stderr[-300:]))
    if snapshot(root) != before:
        problems.append("fix --diff wrote files")
    diff = p.stdout
    p = run(binary, "fix", ".", cwd=root)
    if p.returncode not in (0, 1):
        problems.append("fix exit %d: %s" % (p.returncode, p.stderr[-300:]))
    after = snapshot(root)
    changed = sorted(k for k in after if after[k] != before.get(k))
    # the --diff output is what fix wrote
    g = subprocess.run(["git", "diff"], cwd=root, capture_output=True, text=True)
    if diff.strip():
        subprocess.run(["git", "stash", "-q"], cwd=root, check=True)
        a = subprocess.run(["git", "apply", "-"], cwd=root, input=diff, capture_output=True)
        g2 = subprocess.run(["git", "diff"], cwd=root, capture_output=True, text=True)
        subprocess.run(["git", "checkout", "-q", "."], cwd=root, check=True)
        subprocess.run(["git", "stash", "pop", "-q"], cwd=root, check=True)
        if a.returncode != 0 or g2.stdout != g.stdout:
            problems.append("the --diff output does not apply as fix wrote it: %s" %
                            a.stderr[:300].decode("utf-8", "replace"))
    elif changed:
        problems.append("fix --diff printed nothing, fix changed %s" % changed[:3])
    if nfix and not changed:
        problems.append("check reported %d fixes, fix changed no file" % nfix)

    # check: no fix left, none of the fixed diagnostics reported again
    diags_after = check_diags(binary, root)
    left = [(f, fixes_of(d)) for f, d in diags_after.items() if fixes_of(d)]
    if left:
        problems.append("fixes left after fix: %s" % left[:3])
    for f, diags in diags_before.items():
        again = {(d["code"], d["line"], d["column"]) for d in diags_after.get(f, [])}
        for d in diags:
            if "fix" in d and (d["code"], d["line"], d["column"]) in again:
                problems.append("%s:%s:%s %s still reported" % (f, d["line"], d["column"], d["code"]))
    # a second run changes nothing
    p = run(binary, "fix", ".", cwd=root)
    if snapshot(root) != after:
        problems.append("a second fix changed files")
    # word diff: only the edited tokens
    wd = subprocess.run(["git", "diff", "--word-diff=porcelain", "--word-diff-regex=[^ \t\"':]+"],
                        cwd=root, capture_output=True, text=True).stdout
    for line in wd.splitlines():
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("-") and line[1:] not in pairs:
            problems.append("word diff removes %r, not a fixed text" % line[1:])
        if line.startswith("+") and line[1:] not in pairs.values():
            problems.append("word diff adds %r, not a fix" % line[1:])
    for rel in changed:
        a, b = before[rel], after[rel]
        la, lb = a.split(b"\n"), b.split(b"\n")
        if len(la) != len(lb):
            problems.append("%s: %d lines, then %d" % (rel, len(la), len(lb)))
            continue
        olds = sorted(pairs, key=len, reverse=True)
        rx = re.compile("|".join(re.escape(o) for o in olds).encode()) if olds else None
        for i, (x, y) in enumerate(zip(la, lb)):
            if x.lstrip().startswith(b"#") and x != y:
                problems.append("%s:%d: comment line changed" % (rel, i + 1))
            # every changed line holds edits and nothing else: the old texts
            # replaced by the new ones give it byte for byte
            if x != y and (rx is None or rx.sub(lambda m: pairs[m.group().decode()].encode(), x) != y):
                problems.append("%s:%d: %r became %r: more than the fixed tokens changed" %
                                (rel, i + 1, x[:120], y[:120]))
        da, ea = load(a)
        db, eb = load(b)
        if ea:
            continue  # not YAML before: fix must not have touched it
        if eb:
            problems.append("%s: not YAML after fix: %s" % (rel, eb[:200]))
            continue
        for w in same_but_fixed(da, db, pairs):
            problems.append("%s: %s" % (rel, w))
    if problems:
        bad("%s%s: %d problems" % (label, replay, len(problems)), problems)
        return False
    ok("%s%s: %d fixes in %d files; diff applies; no fix left; a second run changes nothing; "
       "only the edited tokens and data changed" % (label, replay, nfix, len(changed)))
    return True


def git_folder(src_files, dest):
    os.makedirs(dest)
    for rel, data in src_files.items():
        p = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    subprocess.run(["git", "add", "-A"], cwd=dest, check=True)
    subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "base"],
                   cwd=dest, check=True)


def legacy_aliases():
    with open(os.path.join(REPO, "catalog", "legacy.yml")) as f:
        doc = yaml.safe_load(f)
    by_target = {}
    for alias, target in (doc.get("aliases") or {}).items():
        by_target.setdefault(target, []).append(alias)
    return by_target


OP_LINE = re.compile(rb"^(\s*-?\s*operator:\s*)(['\"]?)([A-Za-z0-9_.]+)(['\"]?)(.*)$")


def mutate(data, rng, by_target):
    """Canonical operator paths -> an Airflow 2 path that redirects to them,
    in a random quoting style; schedule: -> schedule_interval: sometimes."""
    out = []
    eol = b"\r\n" if b"\r\n" in data else b"\n"
    lines = data.split(b"\n")
    for ln in lines:
        m = OP_LINE.match(ln)
        if m and m.group(2) == m.group(4) and m.group(3).decode() in by_target and rng.random() < 0.8:
            alias = rng.choice(by_target[m.group(3).decode()]).encode()
            q = rng.choice([b"", b"'", b'"'])
            tail = m.group(5)
            if not tail.strip() and rng.random() < 0.3:
                tail = b"   # was " + m.group(3) + tail  # a comment after the value
            ln = m.group(1) + q + alias + q + tail
        elif re.match(rb"^  schedule:", ln) and b"schedule_interval" not in data and rng.random() < 0.5:
            ln = ln.replace(b"schedule:", b"schedule_interval:", 1)
        out.append(ln)
    del eol
    return b"\n".join(out)


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    binary = os.path.abspath(argv[1])
    seed = int(argv[2]) if len(argv) > 2 else random.SystemRandom().randrange(1 << 30)
    work = tempfile.mkdtemp(prefix="dagproc-fix-")
    try:
        corpora = {}
        for name, rel, marker, var in (
                ("realworld", os.path.join("shared", "corpus", "realworld"), "SOURCES.md",
                 "DAGPROC_REALWORLD_CORPUS"),
                ("dag-factory", corpus_test.CORPUS_REL, "expected.json", "DAGPROC_CORPUS")):
            found = corpus_test.find_corpus(rel, marker, var)
            if found is None:
                bad("corpus %s not found (set %s)" % (name, var))
                continue
            files = {}
            for d, _, fs in os.walk(found):
                for f in fs:
                    if f.endswith((".yml", ".yaml")):
                        p = os.path.join(d, f)
                        with open(p, "rb") as fh:
                            files[os.path.relpath(p, found)] = fh.read()
            corpora[name] = files
        if "realworld" in corpora:
            dest = os.path.join(work, "realworld")
            git_folder(corpora["realworld"], dest)
            p = run(binary, "fix", "--diff", ".", cwd=dest)
            listed = len(re.findall(r"^\+\+\+ ", p.stdout, re.M))
            if listed and p.returncode in (0, 1):
                ok("fix --diff on the real-world corpus lists fixes in %d files" % listed)
            else:
                bad("fix --diff on the real-world corpus: exit %d, %d files" % (p.returncode, listed))
            properties(binary, dest, "real-world corpus")

        # random mutations of both corpora, replayable
        print("fix_test: mutation seed %d (replay: tests/fix_test.py BIN %d)" % (seed, seed))
        rng = random.Random(seed)
        by_target = legacy_aliases()
        for round_ in range(3):
            files = {}
            for name, fs in sorted(corpora.items()):
                for rel, data in sorted(fs.items()):
                    if rng.random() < 0.6:
                        files[os.path.join(name, rel)] = mutate(data, rng, by_target)
            dest = os.path.join(work, "mutated%d" % round_)
            git_folder(files, dest)
            properties(binary, dest, "mutated corpora, round %d" % (round_ + 1), seed)

        edge_cases(binary, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


BASH2 = "airflow.operators.bash.BashOperator"
BASH3 = "airflow.providers.standard.operators.bash.BashOperator"


def edge_cases(binary, work):
    d = os.path.join(work, "edge")
    os.makedirs(d)
    # CRLF, no final newline, anchors, aliases, a merge, comments, quoting
    src = ("# header comment\r\n"
           "base: &base\r\n"
           "  schedule_interval: '@daily'  # old key\r\n"
           "dag_a:\r\n"
           "  <<: *base\r\n"
           "  tasks:\r\n"
           "    - task_id: one\r\n"
           "      operator: &op \"%s\"\r\n"
           "      bash_command: echo 1\r\n"
           "    - {task_id: two, operator: *op, bash_command: echo 2}\r\n"
           "    - task_id: three\r\n"
           "      operator: '%s'   # quoted\r\n"
           "      bash_command: echo 3") % (BASH2, BASH2)
    path = os.path.join(d, "crlf.yml")
    with open(path, "wb") as f:
        f.write(src.encode())
    os.chmod(path, 0o640)
    p = run(binary, "fix", path)
    with open(path, "rb") as f:
        got = f.read()
    want = src.replace(BASH2, BASH3).replace("schedule_interval", "schedule").encode()
    if got == want:
        ok("CRLF, no final newline, an anchor used through an alias, a merge: only the "
           "tokens change (exit %d)" % p.returncode)
    else:
        bad("CRLF/anchor file: got %r" % got[:400])
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode == 0o640:
        ok("the file's mode is kept (0640)")
    else:
        bad("mode %o after fix, was 0640" % mode)
    leftovers = [f for f in os.listdir(d) if f != "crlf.yml"]
    if leftovers:
        bad("temporary files left: %s" % leftovers)
    else:
        ok("no temporary file left beside the fixed file")

    review_cases(binary, d)

    # a YAML syntax error: never touched
    broken = os.path.join(d, "broken.yml")
    text = ("dag_b:\n  schedule_interval: '@daily'\n  tasks:\n"
            "    - {task_id: a, operator: %s, bash_command: [echo\n" % BASH2).encode()
    with open(broken, "wb") as f:
        f.write(text)
    st0 = os.stat(broken)
    p = run(binary, "fix", broken)
    with open(broken, "rb") as f:
        same = f.read() == text
    if same and os.stat(broken).st_mtime_ns == st0.st_mtime_ns and "not valid YAML" in p.stdout:
        ok("a file with a YAML syntax error is not touched, and fix says so (exit %d)" % p.returncode)
    else:
        bad("broken file: same=%s, output %r" % (same, p.stdout[:300]))
    os.unlink(broken)

    # --select: only the codes named
    sel = os.path.join(d, "select.yml")
    src2 = ("dag_c:\n  schedule_interval: '@daily'\n  tasks:\n"
            "    - {task_id: a, operator: %s, bash_command: echo}\n" % BASH2)
    with open(sel, "w") as f:
        f.write(src2)
    run(binary, "fix", "--select", "E031", sel)
    with open(sel) as f:
        got = f.read()
    if got == src2.replace("schedule_interval", "schedule"):
        ok("--select E031 fixes schedule_interval only")
    else:
        bad("--select E031 gave %r" % got)
    # exit codes: 0 nothing left to fix and no error; 1 errors remain; 2 usage, I/O
    p0 = run(binary, "fix", sel)
    p1 = run(binary, "fix", os.path.join(d, "crlf.yml"))
    with open(os.path.join(d, "err.yml"), "w") as f:
        f.write("dag_e:\n  tasks:\n    - {task_id: a, operator: %s}\n" % BASH3)
    pe = run(binary, "fix", os.path.join(d, "err.yml"))
    pu = run(binary, "fix")
    pm = run(binary, "fix", os.path.join(d, "missing.yml"))
    po = run(binary, "fix", "--frobnicate", sel)
    codes = (p0.returncode, p1.returncode, pe.returncode, pu.returncode, pm.returncode,
             po.returncode)
    if codes == (0, 0, 1, 2, 2, 2):
        ok("exit codes: 0 fixed and clean, 1 errors left (E014), 2 usage and I/O errors")
    else:
        bad("exit codes %s, want (0, 0, 1, 2, 2, 2)" % (codes,))


def review_cases(binary, d):
    """The cases an adversarial review found (issue 16), each once wrong."""
    def fix_file(name, text, *args):
        path = os.path.join(d, name)
        with open(path, "wb") as f:
            f.write(text.encode())
        p = run(binary, "fix", *(list(args) + [path]))
        with open(path, "rb") as f:
            return p, f.read().decode(), path

    # line breaks libyaml counts that are not LF: a lone CR in a comment, an
    # LS in a quoted string; the same path as a later env value
    for what, pre in (("a lone CR between comments", "# one\r# two\n"),
                      ("an LS in a quoted string", "x:\n  description: \"a\u2028b\"\n")):
        text = (pre + "dag_cr:\n  tasks:\n    - task_id: a\n      operator: %s\n"
                "      bash_command: echo\n      env: {P: %s}\n") % (BASH2, BASH2)
        p, got, _ = fix_file("breaks.yml", text)
        want = text.replace("operator: " + BASH2, "operator: " + BASH3)
        if got == want:
            ok("%s before the operator: the operator is fixed, the env value is not" % what)
        else:
            bad("%s: got %r" % (what, got))
    # an anchored path also used as another kind of value: not fixed
    text = ("dag_an:\n  tasks:\n    - task_id: a\n      operator: &op %s\n"
            "      bash_command: echo\n      env: {P: *op}\n") % BASH2
    p, got, path = fix_file("anchor_env.yml", text)
    out = json.loads(run(binary, "check", "--format", "json", path).stdout)
    fixes = [w for f in out["files"] for w in f["warnings"] if "fix" in w]
    if got == text and not fixes and "not fixed" in p.stdout and "replace it by hand" in p.stdout:
        ok("an anchored path also used as an env value: reported, not fixed, and fix says why")
    else:
        bad("anchored path used elsewhere: fixes %r, file %r" % (fixes, got))
    # an explicit key over a merged one: the merged key is not the one in effect
    text = ("base: &b\n  schedule_interval: '@daily'\n  tasks: []\n"
            "dag_m:\n  <<: *b\n  schedule_interval: '@hourly'\n  tasks: []\n")
    p, got, _ = fix_file("merge.yml", text)
    if "'@hourly'" in got and got.count("schedule_interval") >= 1 and \
            "schedule: '@daily'" not in got:
        ok("schedule_interval over a merged one: the anchored key is not rewritten")
    else:
        bad("merge override: %r" % got)
    # a default block's key, one DAG of which has a schedule: no fix, in
    # either order of the DAGs
    for order in (0, 1):
        dags = ["d1:\n  tasks: []\n", "d2:\n  schedule: '@hourly'\n  tasks: []\n"]
        if order:
            dags.reverse()
        text = "default:\n  schedule_interval: '@daily'\n" + "".join(dags)
        p, got, _ = fix_file("default_block.yml", text)
        if got == text:
            ok("a default block's schedule_interval where a DAG has schedule: not fixed "
               "(DAG order %d)" % order)
        else:
            bad("default block order %d: %r" % (order, got))
    # a renamed class (an async sensor merged into the plain one): not certain
    text = ("dag_r:\n  tasks:\n    - task_id: a\n      operator: "
            "airflow.providers.http.operators.http.SimpleHttpOperator\n      endpoint: x\n")
    p, got, _ = fix_file("renamed.yml", text)
    if got == text:
        ok("a class renamed by its provider (SimpleHttpOperator): reported, not rewritten")
    else:
        bad("renamed class rewritten: %r" % got)
    # setgid kept; a file named twice fixed and diffed once
    text = "dag_s:\n  schedule_interval: '@daily'\n  tasks: []\n"
    path = os.path.join(d, "setgid.yml")
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o2750)
    p = run(binary, "fix", "--diff", path, path)
    heads = p.stdout.count("+++ b/")
    run(binary, "fix", path)
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode == 0o2750 and heads == 1:
        ok("the setgid bit is kept; a file named twice is diffed once")
    else:
        bad("mode %o, %d diff headers" % (mode, heads))
    # --select: any case; an unknown code is a usage error
    with open(path, "w") as f:
        f.write(text)
    p1 = run(binary, "fix", "--select", "e031", path)
    with open(path) as f:
        fixed = "schedule:" in f.read()
    p2 = run(binary, "fix", "--select", "X999", path)
    if fixed and p2.returncode == 2 and "X999" in p2.stderr:
        ok("--select e031 works in lower case; --select X999 is a usage error")
    else:
        bad("--select: fixed %s, unknown code exit %d %r" % (fixed, p2.returncode, p2.stderr))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
