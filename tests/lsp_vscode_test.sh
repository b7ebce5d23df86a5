#!/usr/bin/env bash
# `dagproc lsp` with the npm client VS Code's extensions use
# (vscode-languageserver-protocol over vscode-jsonrpc), installed once from the
# npm registry into build/npm-lsp (pinned version). tests/lsp/vscode_client.js
# runs the session.
# usage: tests/lsp_vscode_test.sh path/to/dagproc
set -u
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
cache=${DAGPROC_NPM_CACHE:-$here/../build/npm-lsp}
work=$(mktemp -d /tmp/dagproc-vscode.XXXXXX)
trap 'rm -rf "$work"' EXIT
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "FAIL node and npm are not installed (scripts/deps.sh core installs them)"
	echo "0 passed, 1 failed"
	exit 1
fi
if [ ! -d "$cache/node_modules/vscode-languageserver-protocol" ]; then
	mkdir -p "$cache"
	if ! npm install --silent --no-audit --no-fund --prefix "$cache" \
		vscode-languageserver-protocol@3.17.5 >"$work/npm.log" 2>&1; then
		echo "FAIL npm install vscode-languageserver-protocol@3.17.5:"
		tail -5 "$work/npm.log"
		echo "0 passed, 1 failed"
		exit 1
	fi
fi
mkdir -p "$work/proj/.git"
NODE_PATH=$cache/node_modules timeout 120 node "$here/lsp/vscode_client.js" "$bin" "$work/proj"
