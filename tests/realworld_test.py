#!/usr/bin/env python3
"""The real-world corpus as a test: 49 dag-factory files from public repositories
(../shared/corpus/realworld, see its SOURCES.md), each checked on its own against
tests/realworld_expected.json.

    tests/realworld_test.py BIN [-v] [PATH_SUBSTRING...]

The expectations were written from what dag-factory 1.1.0 does with each file on
Airflow 3.1 (its `dagfactory` field), mapped to SPEC §5's codes; `differences`
lists where dagproc departs from dag-factory on purpose, with the reason. The
shape and the comparison are those of the dag-factory corpus (corpus_test.py):
every listed DAG with exactly its tasks and upstream ids, every listed error at
its line and no other error, every listed warning and no other warning of a
correct DAG. Each file runs with the default configuration (strict_catalog off:
the files use packages the catalog does not cover), from an empty working
directory, without DAGPROC_* or AIRFLOW* variables (the files read
$AIRFLOW_INCLUDE_DIR). The corpus is found through $DAGPROC_REALWORLD_CORPUS,
else ../shared/corpus/realworld beside the repository, else beside the repository
this one was cloned from. Ends with the line "N passed, N failed".
"""
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus_test  # noqa: E402

CORPUS_REL = os.path.join("shared", "corpus", "realworld")
EXPECTED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "realworld_expected.json")


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("-")]
    verbose = "-v" in argv[1:]
    if not args:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    binary = os.path.abspath(args[0])
    only = args[1:]
    corpus = corpus_test.find_corpus(CORPUS_REL, "SOURCES.md", "DAGPROC_REALWORLD_CORPUS")
    if corpus is None:
        print("corpus not found: set DAGPROC_REALWORLD_CORPUS or put shared/corpus/realworld beside the repository")
        print("0 passed, 1 failed")
        return 1
    if not os.access(binary, os.X_OK):
        print("%s: not an executable" % binary)
        print("0 passed, 1 failed")
        return 1
    with open(EXPECTED, encoding="utf-8") as f:
        expected = json.load(f)["files"]

    passed = failed = 0
    on_disk = sorted(n for n in os.listdir(corpus) if n.endswith((".yml", ".yaml")))
    missing = sorted(set(on_disk) - set(expected))
    if missing and not only:
        failed += 1
        print("FAIL corpus files without an expectation: %s" % ", ".join(missing))
    for rel in sorted(expected):
        if only and not any(s in rel for s in only):
            continue
        workdir = tempfile.mkdtemp(prefix="dagproc-realworld-")
        try:
            problems = corpus_test.check_file(binary, corpus, rel, expected[rel], workdir,
                                              strict=False, unset=("AIRFLOW",), exact=True)
            if os.listdir(workdir):
                problems.append("check wrote into its working directory: %s" % sorted(os.listdir(workdir)))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        if problems:
            failed += 1
            print("FAIL %s" % rel)
            print("    dag-factory: %s" % expected[rel]["dagfactory"])
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
