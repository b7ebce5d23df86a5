#!/usr/bin/env python3
"""Valid-shaped DAG files that make a careless front end slow or large (issue
13): each one is a few hundred KB to a few MB, the size of a file a generator
or a careless copy-paste produces. `make bench` times `dagproc check` on each
(bench/adversarial.sh); tests/adversarial_test.sh runs each under a memory
limit and a generous timeout.

    gen_adversarial.py OUT_DIR [--scale S]     (S=1: the sizes of issue 13)

Writes OUT_DIR/<name>.yml, one file per case:
  chain            a 20,000-task chain, each task depending on the previous
  group_fanin      a 3,000-task group and 3,000 tasks depending on the group
  deprecations     40,000 deprecation warnings (Airflow 2 operator paths)
  anchored_fix     one anchored Airflow 2 path used by 40,000 tasks: 40,000
                   diagnostics at one position, each with the same fix
  unknown_deps     20,000 dependencies on unknown tasks (each near a real name)
  unknown_keys     100,000 unknown DAG-level keys
  nested_groups    20,000 task groups, each inside the previous one
  alias_bomb       a 1 MB string aliased a thousand times (a billion laughs of bytes)
  wide_dag         one DAG with 50,000 independent tasks
  many_dags        20,000 small DAGs in one file
"""
import argparse
import os

BASH = "airflow.providers.standard.operators.bash.BashOperator"
OLD_BASH = "airflow.operators.bash.BashOperator"


def chain(n):
    out = ["chain:", "  tasks:"]
    for i in range(n):
        out.append("    - task_id: t%d" % i)
        out.append("      operator: %s" % BASH)
        out.append("      bash_command: echo %d" % i)
        if i:
            out.append("      dependencies: [t%d]" % (i - 1))
    return "\n".join(out) + "\n"


def group_fanin(n):
    out = ["fanin:", "  task_groups:", "    big:", "      tooltip: a large group", "  tasks:"]
    for i in range(n):
        out.append("    - {task_id: in%d, operator: %s, bash_command: echo, task_group_name: big}" % (i, BASH))
    for i in range(n):
        out.append("    - {task_id: after%d, operator: %s, bash_command: echo, dependencies: [big]}" % (i, BASH))
    return "\n".join(out) + "\n"


def deprecations(n):
    out = ["deprecated:", "  tasks:"]
    for i in range(n):
        out.append("    - {task_id: t%d, operator: %s, bash_command: echo}" % (i, OLD_BASH))
    return "\n".join(out) + "\n"


def anchored_fix(n):
    out = ["anchored:", "  tasks:", "    - task_id: t0", "      operator: &op " + OLD_BASH,
           "      bash_command: echo"]
    for i in range(1, n):
        out.append("    - {task_id: t%d, operator: *op, bash_command: echo}" % i)
    return "\n".join(out) + "\n"


def unknown_deps(n):
    out = ["unknown:", "  tasks:"]
    for i in range(n):
        out.append("    - {task_id: task_%05d, operator: %s, bash_command: echo, dependencies: [tsak_%05d]}"
                   % (i, BASH, (i + 1) % n))
    return "\n".join(out) + "\n"


def unknown_keys(n):
    out = ["keys:"]
    for i in range(n):
        out.append("  unknown_key_%06d: %d" % (i, i))
    out.append("  tasks:")
    out.append("    - {task_id: t, operator: %s, bash_command: echo}" % BASH)
    return "\n".join(out) + "\n"


def nested_groups(n):
    out = ["nested:", "  task_groups:"]
    for i in range(n):
        out.append("    g%d:" % i)
        if i:
            out.append("      parent_group_name: g%d" % (i - 1))
    out.append("  tasks:")
    out.append("    - {task_id: leaf, operator: %s, bash_command: echo, task_group_name: g%d}" % (BASH, n - 1))
    return "\n".join(out) + "\n"


def alias_bomb(size, uses):
    big = "x" * size
    out = ["bomb:", "  description: &big %s" % big, "  params:"]
    for i in range(uses):
        out.append("    p%d: *big" % i)
    out.append("  tasks:")
    out.append("    - {task_id: t, operator: %s, bash_command: echo}" % BASH)
    return "\n".join(out) + "\n"


def wide_dag(n):
    out = ["wide:", "  tasks:"]
    for i in range(n):
        out.append("    - {task_id: t%d, operator: %s, bash_command: echo}" % (i, BASH))
    return "\n".join(out) + "\n"


def many_dags(n):
    out = []
    for i in range(n):
        out.append("dag_%05d:" % i)
        out.append("  tasks:")
        out.append("    - {task_id: t, operator: %s, bash_command: echo}" % BASH)
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--scale", type=float, default=1.0)
    a = ap.parse_args()
    s = lambda n: max(2, int(n * a.scale))
    cases = {
        "chain": chain(s(20000)),
        "group_fanin": group_fanin(s(3000)),
        "deprecations": deprecations(s(40000)),
        "anchored_fix": anchored_fix(s(40000)),
        "unknown_deps": unknown_deps(s(20000)),
        "unknown_keys": unknown_keys(s(100000)),
        "nested_groups": nested_groups(s(20000)),
        "alias_bomb": alias_bomb(s(1 << 20), s(1000)),
        "wide_dag": wide_dag(s(50000)),
        "many_dags": many_dags(s(20000)),
    }
    os.makedirs(a.out, exist_ok=True)
    for name, text in cases.items():
        with open(os.path.join(a.out, name + ".yml"), "w") as f:
            f.write(text)
        print("%-14s %8.2f MB" % (name, len(text) / 1e6))


if __name__ == "__main__":
    main()
