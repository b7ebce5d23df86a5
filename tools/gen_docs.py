#!/usr/bin/env python3
"""Writes the man pages dagproc(1) and dagproc.cfg(5) and the example
configuration from what the built binary prints (`--help`, `help COMMAND`,
`help config`): the same tables as the command line, so they cannot drift.

usage: tools/gen_docs.py DAGPROC_BIN OUTDIR
writes OUTDIR/dagproc.1, OUTDIR/dagproc.cfg.5, OUTDIR/dagproc.cfg.example
"""
import os
import re
import subprocess
import sys


def run(binary, *args):
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = "detect_leaks=0"
    env = {k: v for k, v in env.items() if not k.startswith("DAGPROC_")}
    out = subprocess.run([binary, *args], capture_output=True, text=True, env=env,
                         cwd="/", check=True)
    return out.stdout


def roff(text):
    """Text as roff: backslashes escaped, '-' as a minus (so that options can
    be copied and searched), no line read as a request."""
    lines = []
    for line in text.replace("\\", "\\e").replace("-", "\\-").split("\n"):
        if line.startswith((".", "'")):
            line = "\\&" + line
        lines.append(line)
    return "\n".join(lines)


def verbatim(text):
    return ".nf\n" + roff(text.rstrip("\n")) + "\n.fi\n"


def commands(help_text):
    """The command names of `dagproc --help`'s Commands: list."""
    names, inside = [], False
    for line in help_text.splitlines():
        if line.startswith("Commands:"):
            inside = True
            continue
        if inside and not line.strip():
            break
        m = re.match(r"^  ([a-z][a-z-]*)", line) if inside else None
        if m and m.group(1) not in names:
            names.append(m.group(1))
    return names


def parse_config(text):
    """`help config` -> (intro, [(section, [(key, default, help, kind)])])."""
    intro, sections, cur = [], [], None
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^\[([a-z_]+)\]$", line)
        if m:
            cur = (m.group(1), [])
            sections.append(cur)
        elif cur is None:
            intro.append(line)
        else:
            m = re.match(r"^  ([a-z_]+) =(?: (.*))?$", line)
            if m:
                helps = []
                j = i + 1
                while j < len(lines) and lines[j].startswith("      "):
                    helps.append(lines[j].strip())
                    j += 1
                cur[1].append((m.group(1), m.group(2) or "", " ".join(helps[:-1]),
                               helps[-1] if helps else ""))
                i = j
                continue
        i += 1
    return "\n".join(intro).strip(), sections


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    binary, outdir = os.path.abspath(argv[1]), argv[2]
    version = run(binary, "--version").split()[-1]
    top = run(binary, "--help")
    head = '.TH %s %s "" "dagproc %s" "%s"\n'

    page = [head % ("DAGPROC", "1", version, "User Commands"),
            ".SH NAME\ndagproc \\- process dag-factory YAML DAG files into an Airflow metadata database\n",
            ".SH SYNOPSIS\n\\fBdagproc\\fR \\fICOMMAND\\fR [\\fIOPTIONS\\fR] [\\fIARGS\\fR]\n",
            ".SH DESCRIPTION\n", verbatim(top.split("\n", 2)[2] if top.startswith("usage:") else top),
            ".SH COMMANDS\n"]
    for name in commands(top):
        if name in ("help",):
            continue
        # a command without help fails the build rather than lose its section
        text = run(binary, "help", name)
        page.append(".SS %s\n" % roff(name))
        page.append(verbatim(text))
    page.append(".SH FILES\n"
                ".TP\n\\fI./dagproc.cfg\\fR, \\fI$DAGPROC_CONFIG\\fR, \\fB\\-\\-config\\fR \\fIFILE\\fR\n"
                "the configuration; see \\fBdagproc.cfg\\fR(5)\n")
    page.append(".SH SEE ALSO\n\\fBdagproc.cfg\\fR(5), \\fBsystemd.service\\fR(5)\n")
    with open(os.path.join(outdir, "dagproc.1"), "w", encoding="utf-8") as f:
        f.write("".join(page))

    intro, sections = parse_config(run(binary, "help", "config"))
    cfg = [head % ("DAGPROC.CFG", "5", version, "File Formats"),
           ".SH NAME\ndagproc.cfg \\- configuration of dagproc\n",
           ".SH SYNOPSIS\n\\fI./dagproc.cfg\\fR, or the file named by \\fB$DAGPROC_CONFIG\\fR "
           "or \\fB\\-\\-config\\fR \\fIFILE\\fR\n",
           ".SH DESCRIPTION\nAn INI file of sections and \\fIkey\\fR = \\fIvalue\\fR lines; "
           "\\fB;\\fR and \\fB#\\fR start comments.\n.PP\n" + roff(intro) + "\n",
           ".SH SETTINGS\n"]
    for section, settings in sections:
        cfg.append(".SS [%s]\n" % roff(section))
        for key, default, text, kind in settings:
            cfg.append(".TP\n\\fB%s\\fR = %s\n%s\n.br\n%s\n" % (
                roff(key), roff(default) if default else "\\fI(empty)\\fR", roff(text), roff(kind)))
    cfg.append(".SH ENVIRONMENT\nEvery setting may be given as \\fBDAGPROC__\\fISECTION\\fB__\\fIKEY\\fR "
               "(upper case), which wins over the file.\n")
    cfg.append(".SH SEE ALSO\n\\fBdagproc\\fR(1)\n")
    with open(os.path.join(outdir, "dagproc.cfg.5"), "w", encoding="utf-8") as f:
        f.write("".join(cfg))

    ex = ["; dagproc.cfg: every setting of dagproc %s with its default, commented out.\n"
          "; Uncomment and change what you need. Each setting may also be given as the\n"
          "; environment variable named below, which wins over this file.\n"
          "; Generated from `dagproc help config`; see dagproc.cfg(5).\n" % version]
    for section, settings in sections:
        ex.append("\n[%s]\n" % section)
        for key, default, text, kind in settings:
            ex.append("\n; %s\n; %s\n;%s = %s\n" % (text, kind, key, default))
    with open(os.path.join(outdir, "dagproc.cfg.example"), "w", encoding="utf-8") as f:
        f.write("".join(ex).replace(" \n", "\n"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
