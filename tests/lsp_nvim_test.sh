#!/usr/bin/env bash
# `dagproc lsp` with a real client: Debian's Neovim (headless, its built-in
# LSP client) runs tests/lsp/nvim_session.lua: diagnostics, a code action
# applied, the diagnostics cleared. Skipped (counted as a failure) when nvim is
# missing: scripts/deps.sh installs it.
# usage: tests/lsp_nvim_test.sh path/to/dagproc
set -u
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/dagproc-nvim.XXXXXX)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
if ! command -v nvim >/dev/null 2>&1; then
	echo "FAIL nvim is not installed (scripts/deps.sh core installs neovim)"
	echo "0 passed, 1 failed"
	exit 1
fi
mkdir -p "$work/proj/.git" "$work/home"
cat >"$work/proj/etl.yml" <<'YAML'
# a comment that stays
etl:
  schedule: '@daily'
  tasks:
    - task_id: extract
      operator: airflow.operators.bash.BashOperator
      bash_command: echo extract
YAML
DAGPROC_BIN=$bin DAG_FILE=$work/proj/etl.yml NVIM_RESULT=$work/result HOME=$work/home \
	XDG_CONFIG_HOME=$work/home XDG_DATA_HOME=$work/home XDG_STATE_HOME=$work/home \
	timeout 60 nvim --headless --clean -u NONE -c "luafile $here/lsp/nvim_session.lua" \
	>"$work/nvim.out" 2>&1
rc=$?
while IFS= read -r line; do
	case $line in
	ok*) passed=$((passed + 1)); echo "ok   nvim: ${line#ok }" ;;
	*) failed=$((failed + 1)); echo "FAIL nvim: ${line#FAIL }" ;;
	esac
done <"$work/result"
[ "$passed" -ge 6 ] || { failed=$((failed + 1)); echo "FAIL nvim exited $rc after $passed steps"; tail -5 "$work/nvim.out"; }
# the buffer was not saved: the file on disk is unchanged
grep -q 'airflow.operators.bash.BashOperator' "$work/proj/etl.yml" && passed=$((passed + 1)) &&
	echo "ok   nvim: the file on disk is untouched (the server writes no file)" ||
	{ failed=$((failed + 1)); echo "FAIL the file on disk changed"; }
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
