#!/usr/bin/python3
"""The editor says what CI says: a property test of `dagproc lsp` against
`dagproc check --format json`, on texts no one wrote by hand.

One language-server session receives, for each of ROUNDS documents, a text
(a file of dag-factory's corpus, of the real-world corpus, or of the seeded
generator of tests/hash_stability_test.py), changed by random mutations
(lines deleted, doubled or re-indented; characters that matter to YAML and
non-ASCII ones inserted), opened with didOpen and then edited by several
incremental didChange ranges, each in UTF-16 code units as LSP counts them.
After the last change the published diagnostics must equal, one for one
(code, line, UTF-16 column, message, severity), what `check --format json`
says of the same final text saved at the same path. That checks the
server's incremental text model and its positions as much as its verdicts.

The seed is printed; `LSP_PROPERTY_SEED=n` replays a run.

usage: tests/lsp_check_property_test.py path/to/dagproc   (LSP_PROPERTY_ROUNDS, 120)
"""
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hash_stability_test import Rand, dag_file  # noqa: E402
from lsp_test import Server, check_json  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPORA = [os.path.join(ROOT, "..", "shared", "corpus", "dag-factory"),
           os.path.join(ROOT, "..", "shared", "corpus", "realworld")]
INSERTS = [":", "-", " ", "  ", "\t", "'", '"', "{", "}", "[", "]", ",", "&x ", "*x", "#",
           "é", "中", "😀", "\U0001d11e", "\n", "\n  ", "operator: ", "task_id: t9",
           "dependencies: [", "<<: *a", "\r\n", "\r", "\u0085", "\u2028", "\ufeff"]


# Line breaks: YAML's (libyaml's marks, hence check's line and column, the
# column in characters) and LSP's (positions, the character in UTF-16 units).
YAML_BREAKS = ("\r\n", "\r", "\n", "\x85", "\u2028", "\u2029")
LSP_BREAKS = ("\r\n", "\r", "\n")


def line_starts(text, breaks):
    starts, i = [0], 0
    while i < len(text):
        for b in breaks:
            if text.startswith(b, i):
                i += len(b)
                starts.append(i)
                break
        else:
            i += 1
    return starts


def line_end(text, start, breaks):
    i = start
    while i < len(text) and not any(text.startswith(b, i) for b in breaks):
        i += 1
    return i


def units(s):
    return sum(2 if ord(c) > 0xFFFF else 1 for c in s)


def lsp_position(text, index):
    """the LSP position (line, UTF-16 character) of a character index"""
    starts = line_starts(text, LSP_BREAKS)
    ln = max(k for k, st in enumerate(starts) if st <= index)
    return ln, units(text[starts[ln]:index])


def lsp_index(text, line, character):
    """the character index of an LSP position"""
    starts = line_starts(text, LSP_BREAKS)
    if line >= len(starts):
        return len(text)
    i, end, u = starts[line], line_end(text, starts[line], LSP_BREAKS), 0
    while i < end and u < character:
        u += units(text[i])
        i += 1
    return i


def apply_edit(text, edit):
    a = lsp_index(text, edit["range"]["start"]["line"], edit["range"]["start"]["character"])
    b = lsp_index(text, edit["range"]["end"]["line"], edit["range"]["end"]["character"])
    return text[:a] + edit["newText"] + text[max(a, b):]


def check_to_lsp(text, line, col):
    """check's 1-based line and column (YAML's breaks, characters) as an LSP position"""
    if not line:
        return 0, 0
    starts = line_starts(text, YAML_BREAKS)
    if line > len(starts):
        return lsp_position(text, len(text))
    st = starts[line - 1]
    return lsp_position(text, min(st + col - 1, line_end(text, st, YAML_BREAKS)))


def corpus_texts():
    out = []
    for top in CORPORA:
        for d, _, files in os.walk(top):
            for f in sorted(files):
                if f.endswith((".yml", ".yaml")):
                    try:
                        with open(os.path.join(d, f), encoding="utf-8") as fh:
                            out.append(fh.read())
                    except (OSError, UnicodeDecodeError):
                        pass
    return sorted(out)


def mutate(r, text):
    if r.chance(10):
        text = text.replace("\n", "\r\n")
    if r.chance(40):
        return text  # the edits only
    lines = text.split("\n")
    for _ in range(r.below(4)):
        if not lines:
            break
        i = r.below(len(lines))
        k = r.below(4)
        if k == 0:
            del lines[i]
        elif k == 1:
            lines.insert(i, lines[i])
        elif k == 2:
            lines[i] = " " * r.below(3) + lines[i]
        else:
            c = r.below(len(lines[i]) + 1)
            lines[i] = lines[i][:c] + r.pick(INSERTS) + lines[i][c:]
    return "\n".join(lines)


def random_edit(r, text):
    """an incremental change: a range of the text (UTF-16 positions) and its new text"""
    starts = line_starts(text, LSP_BREAKS)

    def pos():
        ln = r.below(len(starts))
        line = text[starts[ln]:line_end(text, starts[ln], LSP_BREAKS)]
        return ln, units(line[:r.below(len(line) + 1)])

    a, b = pos(), pos()
    if b < a:
        a, b = b, a
    if r.chance(30):
        b = a  # an insertion
    new = "".join(r.pick(INSERTS) for _ in range(r.below(3)))
    return {"range": {"start": {"line": a[0], "character": a[1]},
                      "end": {"line": b[0], "character": b[1]}}, "newText": new}


def expected(binary, path, text):
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
    errors, warnings = check_json(binary, path)
    want = [(e["code"], e["line"], e["column"], e["message"], 1) for e in errors] + \
        [(w["code"], w["line"], w["column"], w["message"], 2) for w in warnings]
    return sorted((c,) + check_to_lsp(text, ln, col) + (m, sev) for c, ln, col, m, sev in want)


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    binary = os.path.abspath(argv[1])
    seed = int(os.environ.get("LSP_PROPERTY_SEED") or time.time_ns() % 1000000)
    rounds = int(os.environ.get("LSP_PROPERTY_ROUNDS") or 120)
    print("lsp property: seed %d, %d documents (replay: LSP_PROPERTY_SEED=%d %s %s)"
          % (seed, rounds, seed, argv[0], argv[1]))
    r = Rand(seed)
    gen = Rand(seed ^ 0x5DEECE66D)
    texts = corpus_texts()
    work = tempfile.mkdtemp(prefix="dagproc-lspprop-")
    failures = []
    ndiag = nerrdocs = 0
    try:
        proj = os.path.join(work, "proj")
        os.makedirs(os.path.join(proj, "dags"))
        os.makedirs(os.path.join(proj, ".git"))
        s = Server(binary, proj)
        init = s.request("initialize", {"processId": None, "rootUri": "file://" + proj,
                                        "capabilities": {}})
        if not init or "result" not in init:
            print("FAIL initialize answered %r" % (init,))
            print("0 passed, 1 failed")
            return 1
        s.notify("initialized", {})
        for n in range(rounds):
            if texts and r.chance(60):
                text = r.pick(texts)
            else:
                text = dag_file(gen, n)
            text = mutate(r, text)
            path = os.path.join(proj, "dags", "doc%03d.yml" % n)
            uri = "file://" + path
            s.notify("textDocument/didOpen", {"textDocument": {
                "uri": uri, "languageId": "yaml", "version": 1, "text": text}})
            version = 1
            for _ in range(r.below(5)):
                edit = random_edit(r, text)
                text = apply_edit(text, edit)
                version += 1
                s.notify("textDocument/didChange", {
                    "textDocument": {"uri": uri, "version": version},
                    "contentChanges": [{"range": edit["range"], "text": edit["newText"]}]})
            pd = s.diagnostics(uri, version, timeout=20)
            want = expected(binary, path, text)
            if pd is None:
                failures.append("document %d (version %d): no diagnostics published" % (n, version))
                break  # the session is gone or stuck: nothing after it means anything
            got = sorted((g["code"], g["range"]["start"]["line"],
                          g["range"]["start"]["character"], g["message"], g["severity"])
                         for g in pd["diagnostics"])
            if got != want:
                failures.append("document %d (version %d):\n     lsp   %r\n     check %r\n"
                                "     text  %r" % (n, version, got[:6], want[:6], text[:400]))
            ndiag += len(want)
            nerrdocs += any(w[4] == 1 for w in want)
            s.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
            os.unlink(path)
        s.request("shutdown")
        s.notify("exit", {})
        rc = s.close()
        if rc != 0:
            failures.append("the server exited with status %r after shutdown and exit" % (rc,))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for f in failures[:8]:
        print("FAIL " + f)
    if not failures and (ndiag == 0 or nerrdocs == 0 or nerrdocs == rounds):
        failures.append("the texts were not varied enough: %d diagnostics, %d of %d documents "
                        "with errors" % (ndiag, nerrdocs, rounds))
        print("FAIL " + failures[-1])
    if not failures:
        print("ok   %d documents, each opened and edited in place: the language server's "
              "diagnostics equal check's (%d in all; %d documents with errors)"
              % (rounds, ndiag, nerrdocs))
    else:
        print("FAIL seed %d: replay with LSP_PROPERTY_SEED=%d" % (seed, seed))
    print("%d passed, %d failed" % (0 if failures else 1, 1 if failures else 0))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
