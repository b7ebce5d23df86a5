#!/usr/bin/env bash
# Black-box tests of the command line: `dagproc check` (SPEC §1 and §5),
# `--help`, `--version` and usage errors. Builds its fixtures in a temporary
# folder; ends with the line "N passed, N failed".
#
#   tests/cli_test.sh BIN
set -uo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 path/to/dagproc" >&2
	exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dagproc-cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# shellcheck disable=SC2046
unset $(compgen -e | grep '^DAGPROC_') 2>/dev/null || true
unset NO_COLOR CLICOLOR_FORCE FORCE_COLOR
export TERM=xterm-256color # colour must depend on the TTY alone

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok   $1"; }
fail() {
	failed=$((failed + 1))
	echo "FAIL $1"
	shift
	local f
	for f in "$@"; do
		if [ -f "$f" ]; then
			echo "  --- $(basename "$f") ---"
			tail -n 25 "$f" | sed 's/^/  /'
		else
			echo "  $f"
		fi
	done
}

# dp NAME ARGS...: runs BIN from $tmp with ARGS; output in $tmp/NAME.out and .err, status in $rc.
dp() {
	local name=$1
	shift
	out=$tmp/$name.out
	err=$tmp/$name.err
	(cd "$tmp" && timeout 60 "$BIN" "$@" </dev/null >"$out" 2>"$err")
	rc=$?
}

# expect_rc NAME WANT: checks the status of the last dp.
expect_rc() {
	if [ "$rc" -eq "$2" ]; then pass "$1"; else fail "$1" "exit status $rc, expected $2" "$out" "$err"; fi
}

# json_ok NAME FILE EXPR: evaluates the Python expression EXPR over the JSON in FILE,
# with j (the document), files, dags ({dag_id: dag}), errors and warnings (flattened,
# each with its file's "path" added) and tasks(dag_id) ({task_id: sorted upstream}).
json_ok() {
	local name=$1 file=$2 expr=$3 why
	if why=$(python3 - "$file" "$expr" 2>&1 <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
files = j["files"]
dags, errors, warnings = {}, [], []
for f in files:
    for d in f.get("dags", []):
        dags[d["dag_id"]] = dict(d, path=f["path"])
    errors += [dict(e, path=f["path"]) for e in f.get("errors", [])]
    warnings += [dict(w, path=f["path"]) for w in f.get("warnings", [])]
def tasks(dag_id):
    return {t["task_id"]: sorted(t.get("upstream", [])) for t in dags[dag_id]["tasks"]}
if not eval("(" + sys.argv[2] + "\n)"):
    print("assertion failed: " + sys.argv[2])
    print("paths: %s" % [f["path"] for f in files])
    print("dags: %s" % sorted(dags))
    print("errors: %s" % [(e["path"], e["code"], e.get("line"), e.get("dag_id"), e.get("message")) for e in errors])
    print("warnings: %s" % [(w["path"], w["code"], w.get("dag_id")) for w in warnings])
    sys.exit(1)
PY
	); then
		pass "$name"
	else
		fail "$name" "$why"
	fi
}

# ---------------------------------------------------------------- fixtures
mkdir -p "$tmp/dags" "$tmp/tree/sub" "$tmp/tree/skipdir" "$tmp/dup"
cat >"$tmp/dags/good.yml" <<'YML'
good_dag:
  default_args:
    owner: tests
    start_date: 2025-01-01
  schedule: "0 3 * * *"
  tasks:
    - task_id: extract
      operator: airflow.providers.standard.operators.bash.BashOperator
      bash_command: "echo extract"
    - task_id: load
      operator: airflow.providers.standard.operators.bash.BashOperator
      bash_command: "echo load"
      dependencies: [extract]
YML
cat >"$tmp/dags/bad.yml" <<'YML'
bad_dag:
  default_args:
    start_date: 2025-01-01
  tasks:
    - task_id: extract
      operator: airflow.providers.standard.operators.bash.BashOperator
      bash_command: "echo extract"
    - task_id: load
      operator: airflow.providers.standard.operators.bash.BashOperator
      bash_command: "echo load"
      dependencies: [extarct]
YML
bad_line=$(grep -n 'extarct' "$tmp/dags/bad.yml" | cut -d: -f1)

# A folder with ignore rules: a pattern, a nested .dagignore, a dir/ pattern,
# a negation, a defaults.yml and files that are not YAML.
broken='broken: [unclosed'
cat >"$tmp/tree/.dagignore" <<'IGN'
# comment
broken_*.yml
skipdir/
old_*.yml
!old_keep.yml
IGN
printf '%s\n' "$broken" >"$tmp/tree/broken_one.yml"
printf '%s\n' "$broken" >"$tmp/tree/skipdir/inside.yml"
printf '%s\n' "$broken" >"$tmp/tree/old_drop.yml"
printf '%s\n' "$broken" >"$tmp/tree/sub/scratch.yml"
printf 'scratch.yml\n' >"$tmp/tree/sub/.dagignore"
printf 'default_args:\n  owner: tree\n  start_date: 2025-01-01\n' >"$tmp/tree/defaults.yml"
printf '%s\n' "$broken" >"$tmp/tree/notes.txt"
for d in top:top.yml sub:sub/ok.yaml keep:old_keep.yml; do
	cat >"$tmp/tree/${d#*:}" <<YML
tree_${d%%:*}:
  tasks:
    - task_id: only
      operator: airflow.providers.standard.operators.empty.EmptyOperator
YML
done

# Two files defining the same DAG id.
for f in a b; do
	cat >"$tmp/dup/$f.yml" <<YML
shared_id:
  default_args:
    start_date: 2025-01-01
  tasks:
    - task_id: from_$f
      operator: airflow.providers.standard.operators.empty.EmptyOperator
only_$f:
  default_args:
    start_date: 2025-01-01
  tasks:
    - task_id: t
      operator: airflow.providers.standard.operators.empty.EmptyOperator
YML
done

# ---------------------------------------------------------------- --help, --version, usage
dp version --version
if [ "$rc" -eq 0 ] && grep -Eq '[0-9]+\.[0-9]+' "$out"; then pass "--version"; else fail "--version" "exit status $rc" "$out" "$err"; fi
dp help --help
if [ "$rc" -eq 0 ] && grep -q 'check' "$out"; then pass "--help mentions check"; else fail "--help mentions check" "exit status $rc" "$out" "$err"; fi
dp helpcheck help check
if [ "$rc" -eq 0 ] && grep -q -- '--format' "$out"; then pass "help check"; else fail "help check" "exit status $rc" "$out" "$err"; fi
dp helpconfig help config
if [ "$rc" -eq 0 ] && grep -q '^  stale_dag_threshold = 50$' "$out" &&
	grep -q 'env DAGPROC__DATABASE__SQL_CONN; restart to change' "$out" &&
	grep -q 'env DAGPROC__LOGGING__LEVEL; reloadable' "$out" &&
	[ "$(grep -c '^\[' "$out")" -eq 5 ]; then
	pass "help config lists every section and setting"
else
	fail "help config" "exit status $rc" "$out" "$err"
fi
# docs/codes.md (the page the language server links each diagnostic to) is
# what `dagproc help codes` prints: it cannot drift from the code table
dp helpcodes help codes
if [ "$rc" -eq 0 ] && cmp -s "$out" "$(cd "$(dirname "$0")/.." && pwd)/docs/codes.md" &&
	[ "$(grep -c '^## [EW][0-9][0-9][0-9]$' "$out")" -ge 25 ]; then
	pass "help codes prints docs/codes.md, every code"
else
	fail "help codes differs from docs/codes.md (run: dagproc help codes > docs/codes.md)" \
		"exit status $rc" "$out" "$err"
fi
printf '[database]\npool_size = -3\n' >"$tmp/bad.cfg"
dp cfgfirst --config bad.cfg check dags/good.yml
if [ "$rc" -eq 2 ] && grep -q "bad.cfg:2: \[database\] pool_size" "$err"; then
	pass "--config before the command is read (a bad file: exit 2 naming the key)"
else
	fail "--config before the command" "exit status $rc" "$out" "$err"
fi
printf '[core]\npools = default_pool\n' >"$tmp/good.cfg"
dp cfgfirstok --config=good.cfg check dags/good.yml
expect_rc "--config=FILE before the command, then check: exit 0" 0
dp cfgnofile --config
if [ "$rc" -eq 2 ] && grep -q -- "--config needs a FILE" "$err"; then pass "--config without a file"; else fail "--config without a file" "exit status $rc" "$out" "$err"; fi
dp badflag check --no-such-flag dags/good.yml
expect_rc "unknown flag: exit 2" 2
if [ -s "$err" ]; then pass "unknown flag: message on stderr"; else fail "unknown flag: message on stderr" "$out" "$err"; fi
dp badformat check --format xml dags/good.yml
expect_rc "--format xml: exit 2" 2
dp badcmd no-such-command
expect_rc "unknown command: exit 2" 2
dp noargs check
expect_rc "check without a path: exit 2" 2

# ---------------------------------------------------------------- exit status, missing paths
dp missing check dags/does_not_exist.yml
expect_rc "missing path: exit 2" 2
if [ "$(wc -l <"$err")" -eq 1 ] && grep -q 'does_not_exist.yml' "$err"; then
	pass "missing path: one line on stderr naming it"
else
	fail "missing path: one line on stderr naming it" "$err"
fi
dp missing2 check dags/good.yml dags/nope/
expect_rc "missing path beside a good one: exit 2" 2

dp good check dags/good.yml
expect_rc "clean file: exit 0" 0
dp bad check dags/bad.yml
expect_rc "file with an import error: exit 1" 1
dp both check dags/good.yml dags/bad.yml
expect_rc "clean and bad file: exit 1" 1

# ---------------------------------------------------------------- text output
dp badtext check --format text dags/bad.yml
if cat "$out" "$err" | grep -Eq "^dags/bad\.yml:$bad_line:[0-9]+: error\[E020\]: .+"; then
	pass "text: path:line:col: error[E020]: message"
else
	fail "text: path:line:col: error[E020]: message" "$out" "$err"
fi
if cat "$out" "$err" | grep -Fq 'dependencies: [extarct]'; then
	pass "text: shows the source line"
else
	fail "text: shows the source line" "$out" "$err"
fi
if cat "$out" "$err" | grep -Eq '^[[:space:]|0-9]*\^'; then
	pass "text: caret line"
else
	fail "text: caret line" "$out" "$err"
fi
if cat "$out" "$err" | grep -q "did you mean 'extract'"; then
	pass "text: did you mean"
else
	fail "text: did you mean" "$out" "$err"
fi

# positions after $VAR expansion are the file's, and the source line is the file's
# as written (a 3-line value above the error moved it 2 lines down in the text parsed)
mkdir -p "$tmp/envpos"
cat >"$tmp/envpos/env.yml" <<'YML'
env_dag:
  description: "$T_DESC_LINES"
  default_args:
    start_date: 2025-01-01
  tasks:
    - task_id: extract
      operator: airflow.providers.standard.operators.bash.BashOperator
      bash_command: "echo extract"
      dependencies: [$T_DEP]
YML
T_DESC_LINES=$'one\ntwo\nthree' T_DEP=extarct dp envpos check --format text envpos/env.yml
if grep -Eq '^envpos/env\.yml:9:22: error\[E020\]: .*extarct' "$out" &&
	grep -Fq '9 |       dependencies: [$T_DEP]' "$out" &&
	grep -Eq '^ +\| {22}\^$' "$out"; then
	pass "text: positions and source line of the file as written, not as expanded"
else
	fail "text: positions and source line of the file as written, not as expanded" "$out" "$err"
fi
if cat "$out" "$err" | grep -q $'\e\['; then
	fail "text: no ANSI colour when not a TTY" "$out" "$err"
else
	pass "text: no ANSI colour when not a TTY"
fi
dp goodtext check dags/good.yml
if cat "$out" "$err" | grep -q $'\e\['; then
	fail "text (default format): no ANSI colour" "$out"
else
	pass "text (default format): no ANSI colour"
fi

# ---------------------------------------------------------------- JSON output
dp badjson check --format json dags/good.yml dags/bad.yml
if python3 -m json.tool "$out" >/dev/null 2>&1; then
	pass "json: valid JSON"
else
	fail "json: valid JSON" "$out" "$err"
fi
json_ok "json: SPEC §1 keys" "$out" '
set(j) >= {"files", "summary"} and
all(set(f) >= {"path", "dags", "errors", "warnings"} for f in files) and
all(isinstance(j["summary"].get(k), int) for k in ("files", "dags", "tasks", "errors", "warnings")) and
all(set(e) >= {"code", "line", "column", "message"} for e in errors) and
all(set(d) >= {"dag_id", "tasks"} for d in dags.values()) and
all(set(t) >= {"task_id", "operator", "upstream"} for d in dags.values() for t in d["tasks"])'
json_ok "json: summary adds up" "$out" '
j["summary"] == {"files": len(files), "dags": len(dags),
                 "tasks": sum(len(d["tasks"]) for d in dags.values()),
                 "errors": len(errors), "warnings": len(warnings)}'
json_ok "json: paths as given" "$out" '[f["path"] for f in files] == ["dags/good.yml", "dags/bad.yml"]'
json_ok "json: the good DAG" "$out" '
tasks("good_dag") == {"extract": [], "load": ["extract"]} and dags["good_dag"].get("schedule") == "0 3 * * *"'
json_ok "json: E020 at the node, with its DAG, not listed as a DAG" "$out" "
[(e['path'], e['code'], e['line'], e.get('dag_id')) for e in errors] == [('dags/bad.yml', 'E020', $bad_line, 'bad_dag')]
and 'bad_dag' not in dags and \"did you mean 'extract'\" in errors[0]['message']"

mkdir -p "$tmp/u8"
printf 'u8_dag:\n  tasks:\n    - task_id: t\n      operator: airflow.operators.nope.Op\n' >"$tmp/u8/$(printf 'b\377d.yml')"
dp u8name check --format json u8
json_ok "json: a file name that is not UTF-8 keeps its path (U+FFFD) and stays valid JSON" "$out" '
[f["path"] for f in files] == ["u8/b\ufffdd.yml"] and [e["code"] for e in errors] == ["E011"]'

# ---------------------------------------------------------------- folders, .dagignore, defaults.yml
dp tree check --format json tree
expect_rc "folder with .dagignore: exit 0" 0
json_ok ".dagignore: pattern" "$out" '"tree/broken_one.yml" not in [f["path"] for f in files]'
json_ok ".dagignore: nested file" "$out" '"tree/sub/scratch.yml" not in [f["path"] for f in files] and "tree_sub" in dags'
json_ok ".dagignore: dir/ pattern" "$out" 'not any("skipdir" in f["path"] for f in files)'
json_ok ".dagignore: ! negation" "$out" '"tree_keep" in dags and "tree/old_drop.yml" not in [f["path"] for f in files]'
json_ok "folder: defaults.yml and non-YAML files are not DAG files" "$out" '
sorted(f["path"] for f in files) == ["tree/old_keep.yml", "tree/sub/ok.yaml", "tree/top.yml"] and not errors'
json_ok "folder: every DAG of the folder found" "$out" 'sorted(dags) == ["tree_keep", "tree_sub", "tree_top"]'

dp defaultsarg check --format json tree/defaults.yml
expect_rc "defaults.yml argument: exit 0" 0
json_ok "defaults.yml argument: skipped" "$out" 'not dags and not errors and not warnings'
dp ignoredarg check --format json tree/broken_one.yml
expect_rc "ignored file argument: exit 0" 0
json_ok "ignored file argument: skipped" "$out" 'not dags and not errors'

# ---------------------------------------------------------------- E034
dp dupdir check --format json dup
expect_rc "E034 in a folder: exit 1" 1
json_ok "E034 in a folder: the later path loses the id" "$out" '
[(e["path"], e["code"], e.get("dag_id")) for e in errors] == [("dup/b.yml", "E034", "shared_id")]
and dags["shared_id"]["path"] == "dup/a.yml" and tasks("shared_id") == {"from_a": []}
and "only_a" in dags and "only_b" in dags'
dp dupfiles check --format json dup/b.yml dup/a.yml
expect_rc "no E034 across file arguments: exit 0" 0
json_ok "no E034 across file arguments" "$out" '
not errors and [f["path"] for f in files] == ["dup/b.yml", "dup/a.yml"]
and all(any(d["dag_id"] == "shared_id" for d in f["dags"]) for f in files)'

# ---------------------------------------------------------------- CI formats (issue 14)
# SARIF 2.1.0, validated against the OASIS schema in ../shared/reference
sarif_schema=
for d in "${DAGPROC_SHARED:-}" "$root/../shared" \
	"$(dirname "$(cd "$(git -C "$root" config --get remote.origin.url 2>/dev/null | sed 's|^file://||')" 2>/dev/null && pwd)")/shared"; do
	[ -n "$d" ] && [ -f "$d/reference/sarif-schema-2.1.0.json" ] &&
		{ sarif_schema=$d/reference/sarif-schema-2.1.0.json; break; }
done
mkdir -p "$tmp/odd"
printf 'odd_dag:\n  concurrency: 2\n  tasks:\n    - task_id: t\n      operator: airflow.providers.standard.operators.bash.BashOperator\n      bash_command: echo\n      pool: nowhere\n' \
	>"$tmp/odd/a,b: 100%.yml"
dp sarif check --format sarif dags/good.yml ./dags/bad.yml "odd/a,b: 100%.yml"
expect_rc "sarif: exit 1 with an import error" 1
# sarif_ok NAME EXPR: EXPR over the SARIF in $out, with s (the document), run,
# rules ({id: rule}) and results
sarif_ok() {
	local why
	if why=$(python3 - "$out" "$sarif_schema" "$2" 2>&1 <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
if sys.argv[2]:
    import jsonschema
    schema = json.load(open(sys.argv[2]))
    jsonschema.validators.validator_for(schema)(schema).validate(s)
run = s["runs"][0]
rule_list = run["tool"]["driver"]["rules"]
rules = {r["id"]: r for r in rule_list}
results = run["results"]
assert eval("(" + sys.argv[3] + ")"), "expression is false"
PY
	); then pass "$1"; else fail "$1" "$why" "$out"; fi
}
if [ -n "$sarif_schema" ]; then
	sarif_ok "sarif: valid against sarif-schema-2.1.0.json" 'True'
else
	fail "sarif: sarif-schema-2.1.0.json not found (set DAGPROC_SHARED to the shared folder)"
fi
sarif_ok "sarif: one rule per code with help text, ruleIndex pointing at it" '
len(rules) == len(rule_list) >= 28 and all(r["help"]["text"] and r["shortDescription"]["text"] for r in rule_list)
and all(rule_list[r["ruleIndex"]]["id"] == r["ruleId"] for r in results)
and rules["W001"]["defaultConfiguration"]["level"] == "warning" and rules["E020"]["defaultConfiguration"]["level"] == "error"'
sarif_ok "sarif: the E020 of bad.yml as an error at its line and column" "
[(r['ruleId'], r['level'], r['locations'][0]['physicalLocation']['artifactLocation']['uri'],
  r['locations'][0]['physicalLocation']['region']['startLine'])
 for r in results if r['ruleId'].startswith('E')] == [('E020', 'error', 'dags/bad.yml', $bad_line)]
and run['columnKind'] == 'unicodeCodePoints'
and [r['locations'][0]['physicalLocation']['region']['startColumn'] for r in results if r['ruleId'] == 'E020'] == [$(awk -v n="$bad_line" 'NR == n { print index($0, "extarct") }' "$tmp/dags/bad.yml")]"
sarif_ok "sarif: warnings as warnings, a path with ',', ':', '%' and ' ' percent-encoded" '
sorted((r["ruleId"], r["level"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])
       for r in results if r["ruleId"].startswith("W")) ==
[("W001", "warning", "odd/a%2Cb%3A%20100%25.yml"), ("W002", "warning", "odd/a%2Cb%3A%20100%25.yml")]
and all("[dag odd_dag]" in r["message"]["text"] for r in results if r["ruleId"].startswith("W"))'
# the W002 (concurrency) carries its fix, the edit check --format json gives
sarif_ok "sarif: a fix as an artifact change: concurrency -> max_active_tasks at 2:3-2:14" '
[(c["artifactLocation"]["uri"], c["replacements"])
 for r in results if r["ruleId"] == "W002" for f in r["fixes"] for c in f["artifactChanges"]] ==
[("odd/a%2Cb%3A%20100%25.yml", [{"deletedRegion": {"startLine": 2, "startColumn": 3, "endLine": 2,
   "endColumn": 14}, "insertedContent": {"text": "max_active_tasks"}}])]'
# a diagnostic without a position (a file over max_file_size) still has the
# region GitHub wants: the first line
mkdir -p "$tmp/huge"
python3 -c 'import sys; open(sys.argv[1], "w").write("# " + "x" * 1200000 + "\n")' "$tmp/huge/huge.yml"
out=$tmp/sarifhuge.out
(cd "$tmp" && DAGPROC__DAG_PROCESSOR__MAX_FILE_SIZE=1 timeout 60 "$BIN" check --format sarif huge/huge.yml </dev/null >"$out" 2>/dev/null)
sarif_ok "sarif: a diagnostic without a position points at line 1, and ./dags/bad.yml is dags/bad.yml" '
[(r["ruleId"], r["locations"][0]["physicalLocation"]["region"]) for r in results] == [("E003", {"startLine": 1})]'
dp sarifok check --format sarif dags/good.yml
expect_rc "sarif: exit 0 without import errors" 0
sarif_ok "sarif: no results for a good file" 'results == []'

# GitHub Actions workflow commands
dp github check --format github dags/good.yml dags/bad.yml "odd/a,b: 100%.yml"
expect_rc "github: exit 1 with an import error" 1
if grep -q "^::error file=dags/bad.yml,line=$bad_line,col=[0-9]*,title=E020::task .*did you mean 'extract'.* \[dag bad_dag\]$" "$out"; then
	pass "github: ::error with file, line, col and title for the E020"
else
	fail "github: ::error with file, line, col and title for the E020" "$out"
fi
if [ "$(grep -c '^::warning file=odd/a%2Cb%3A 100%25.yml,line=[0-9]*,col=[0-9]*,title=W00[12]::' "$out")" = 2 ] &&
	[ "$(grep -c '^::' "$out")" = 3 ] && tail -n 1 "$out" | grep -q '^3 files, .*1 error, 2 warnings$'; then
	pass "github: warnings as ::warning, the property escaped (%2C %3A %25), the summary last"
else
	fail "github: warnings as ::warning, the property escaped (%2C %3A %25), the summary last" "$out"
fi
dp badformat check --format xml dags/good.yml
if [ "$rc" = 2 ] && grep -q "'text', 'json', 'sarif' or 'github', not 'xml'" "$err"; then
	pass "--format xml: status 2 naming the formats"
else
	fail "--format xml: status 2 naming the formats" "$err"
fi

# the repository's .pre-commit-hooks.yaml, through pre-commit try-repo on a
# project with a failing and a passing file (dagproc on PATH, as installed)
if command -v pre-commit >/dev/null 2>&1 && command -v git >/dev/null 2>&1; then
	pc=$tmp/pc-project
	mkdir -p "$pc/dags"
	cp "$tmp/dags/good.yml" "$tmp/dags/bad.yml" "$pc/dags/"
	printf 'name: not a DAG\n' >"$pc/dags/defaults.yml"
	hookrepo=$tmp/pc-hookrepo # the hooks file as committed here, in a repository of its own
	mkdir -p "$hookrepo"
	cp "$root/.pre-commit-hooks.yaml" "$hookrepo/"
	(
		export PRE_COMMIT_HOME=$tmp/pc-home PATH="$(dirname "$BIN"):$PATH"
		export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t
		git -C "$hookrepo" init -q && git -C "$hookrepo" add . && git -C "$hookrepo" commit -qm hooks
		git -C "$pc" init -q && git -C "$pc" add .
		cd "$pc" || exit 2
		pre-commit try-repo "$hookrepo" dagproc-check --files dags/good.yml dags/defaults.yml \
			>"$tmp/pc-pass.out" 2>&1
		echo "pass=$?"
		pre-commit try-repo "$hookrepo" dagproc-check --files dags/good.yml dags/bad.yml \
			>"$tmp/pc-fail.out" 2>&1
		echo "fail=$?"
	) >"$tmp/pc.rc" 2>&1
	if grep -q '^pass=0$' "$tmp/pc.rc" && grep -q 'dagproc check.*Passed' "$tmp/pc-pass.out"; then
		pass "pre-commit try-repo: a passing file passes (defaults.yml not checked)"
	else
		fail "pre-commit try-repo: a passing file passes (defaults.yml not checked)" "$tmp/pc.rc" "$tmp/pc-pass.out"
	fi
	if grep -q '^fail=1$' "$tmp/pc.rc" && grep -q 'dagproc check.*Failed' "$tmp/pc-fail.out" &&
		grep -q "dags/bad.yml:$bad_line:[0-9]*: error\[E020\]" "$tmp/pc-fail.out"; then
		pass "pre-commit try-repo: a failing file fails the hook with its E020"
	else
		fail "pre-commit try-repo: a failing file fails the hook with its E020" "$tmp/pc.rc" "$tmp/pc-fail.out"
	fi
else
	fail "pre-commit try-repo: pre-commit or git is not installed (make deps)"
fi

# ---------------------------------------------------------------- examples/dags
out=$tmp/examples.out
err=$tmp/examples.err
(cd "$root" && timeout 60 "$BIN" check --format json examples/dags </dev/null >"$out" 2>"$err")
rc=$?
expect_rc "examples/dags: exit 1" 1
inv_dep=$(grep -n 'extract_stok' "$root/examples/dags/inventory_sync.yml" | cut -d: -f1)
inv_op=$(grep -n 'operators.bsh' "$root/examples/dags/inventory_sync.yml" | cut -d: -f1)
json_ok "examples/dags: the import errors of inventory_sync.yml" "$out" "
sorted((e['path'], e['code'], e['line']) for e in errors) == sorted([
    ('examples/dags/inventory_sync.yml', 'E020', $inv_dep),
    ('examples/dags/inventory_sync.yml', 'E011', $inv_op)])
and any(\"did you mean 'extract_stock'\" in e['message'] for e in errors)"
json_ok "examples/dags: correct DAGs listed, broken one not" "$out" '
sorted(dags) == sorted(["orders_etl", "web_reporting", "churn_model_training", "churn_scoring",
                        "inventory_audit", "finance_month_end", "hello_sandbox"])'
json_ok "examples/dags: sandbox scratch file ignored" "$out" 'not any("scratch" in f["path"] for f in files)'
json_ok "examples/dags: warnings W001 and W002" "$out" '
{(w["code"], w.get("dag_id")) for w in warnings} >= {("W001", "finance_month_end"), ("W002", "finance_month_end")}'
json_ok "examples/dags: group wiring (list form)" "$out" '
tasks("orders_etl") == {
    "start": [],
    "extract.extract_orders": ["start"], "extract.extract_customers": ["start"],
    "transform.clean_orders": ["extract.extract_customers", "extract.extract_orders"],
    "transform.join_customers": ["transform.clean_orders"],
    "load_warehouse": ["transform.join_customers"],
    "notify": ["load_warehouse"]}'
json_ok "examples/dags: group wiring (mapping form, nested)" "$out" '
tasks("web_reporting") == {
    "fetch_events": [],
    "aggregate.sessionize": ["fetch_events"],
    "aggregate.per_site.rollup_shop": ["aggregate.sessionize"],
    "aggregate.per_site.rollup_blog": ["aggregate.sessionize"],
    "publish.render_report": ["aggregate.per_site.rollup_blog", "aggregate.per_site.rollup_shop"],
    "publish.post_report": ["publish.render_report"]}'
json_ok "examples/dags: groups from the default block" "$out" '
tasks("churn_scoring") == {"features.load_active_customers": [],
    "score": ["features.load_active_customers"], "done": ["score"]}
and tasks("churn_model_training")["train"] == ["features.validate_features"]'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
