#!/usr/bin/env bash
# The test runner behind `make check`.
#
#   tests/run.sh [BUILD_DIR]        (default: build)
#
# 1. the cmocka unit tests of BUILD_DIR, counted by test case;
# 2. tests/corpus_test.py, tests/realworld_test.py, tests/cli_test.sh, tests/daemon_test.sh,
#    tests/converge_test.sh, tests/api_test.py and tests/secrets_test.sh against
#    BUILD_DIR/dagproc, tests/browser_test.sh when chromium is installed, and
#    (unless SKIP_DB=1) the store, sync, daemon, API outage, scale-out, refusal,
#    model, TLS and partition suites against real PostgreSQL and MariaDB
#    servers that tests/db/*.sh start themselves;
# 3. unless SKIP_ASAN=1: 1 and 2 again against the ASan+UBSan build
#    (ASAN_BUILD_DIR, default build-asan; `make check` configures and builds it);
# 4. unless SKIP_VALGRIND=1: valgrind over each unit test executable of
#    BUILD_DIR and over `dagproc check --format json` on a few corpus files.
#
# Every run gets `timeout 300` and no stdin. A failing run prints its name and
# the tail of its output. The last line is always `N passed, N failed`; the exit
# status is nonzero when anything failed.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root" || exit 2

build=${1:-build}
asan_build=${ASAN_BUILD_DIR:-build-asan}
timeout_s=${TEST_TIMEOUT:-300}
tail_lines=${TAIL_LINES:-40}

passed=0
failed=0
failures=()
log=$(mktemp -d "${TMPDIR:-/tmp}/dagproc-tests.XXXXXX")
trap 'rm -rf "$log"' EXIT

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
	red=$'\e[31m' green=$'\e[32m' off=$'\e[0m'
else
	red='' green='' off=''
fi

# record NAME NPASSED NFAILED [OUTPUT_FILE]
record() {
	local name=$1 np=$2 nf=$3 out=${4:-}
	passed=$((passed + np))
	failed=$((failed + nf))
	if [ "$nf" -gt 0 ]; then
		failures+=("$name")
		printf '%sFAIL%s %s (%d passed, %d failed)\n' "$red" "$off" "$name" "$np" "$nf"
		if [ -n "$out" ] && [ -s "$out" ]; then
			echo "---- last $tail_lines lines of $name ----"
			tail -n "$tail_lines" "$out"
			echo "----"
		fi
	else
		printf '%sok%s   %s (%d passed)\n' "$green" "$off" "$name" "$np"
	fi
}

# run OUT CMD...: runs CMD with a timeout and no stdin, output to OUT; returns its status.
run() {
	local out=$1
	shift
	# In a subshell that waits, so that bash's "Aborted"/"Segmentation fault"
	# notice lands in OUT rather than in the middle of the report.
	(
		timeout --kill-after=10 "$timeout_s" "$@" </dev/null >"$out" 2>&1
		status=$?
		exit "$status"
	) 2>>"$out"
}

unit_tests() { # BUILD_DIR: prints the unit test executables, one a line
	find "$1/tests" -maxdepth 1 -type f -name 'test_*' -perm -u+x 2>/dev/null | sort
}

# A cmocka executable: its cases from "[  PASSED  ] N test(s)." and
# "[  FAILED  ] N test(s), listed below:" (summed over its groups). No summary,
# a crash, a timeout or a nonzero exit with no failed case counts as one failure.
run_cmocka() { # LABEL EXE
	local label=$1 exe=$2 out rc np nf
	out="$log/$(echo "$label" | tr '/ ' '__').out"
	CMOCKA_MESSAGE_OUTPUT=stdout run "$out" "$exe"
	rc=$?
	np=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test(s)\..*/\1/p' "$out" | awk '{s+=$1} END {print s+0}')
	nf=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test(s), listed below.*/\1/p' "$out" | awk '{s+=$1} END {print s+0}')
	if ! grep -q '^\[  PASSED  \] [0-9]* test(s)\.' "$out"; then
		echo "$label: no cmocka summary (exit status $rc)" >>"$out"
		nf=$((nf + 1))
	elif [ "$rc" -ne 0 ] && [ "$nf" -eq 0 ]; then
		echo "$label: exit status $rc although every case passed" >>"$out"
		nf=1
	fi
	record "$label" "$np" "$nf" "$out"
}

# A script that ends with "N passed, N failed".
run_counted() { # LABEL CMD...
	local label=$1 out rc line np nf
	shift
	out="$log/$(echo "$label" | tr '/ ' '__').out"
	run "$out" "$@"
	rc=$?
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
	if [ -z "$line" ]; then
		echo "$label: no closing 'N passed, N failed' line (exit status $rc)" >>"$out"
		record "$label" 0 1 "$out"
		return
	fi
	np=${line%% passed*}
	nf=${line#*, }
	nf=${nf%% failed}
	if [ "$rc" -ne 0 ] && [ "$nf" -eq 0 ]; then
		echo "$label: exit status $rc although it reported no failure" >>"$out"
		nf=1
	fi
	record "$label" "$np" "$nf" "$out"
}

suite() { # BUILD_DIR PREFIX
	local dir=$1 prefix=$2 exe n=0
	if [ ! -x "$dir/dagproc" ]; then
		echo "$dir/dagproc: not built" >"$log/missing.out"
		record "${prefix}build $dir" 0 1 "$log/missing.out"
		return
	fi
	while IFS= read -r exe; do
		run_cmocka "${prefix}unit $(basename "$exe")" "$exe"
		n=$((n + 1))
	done < <(unit_tests "$dir")
	if [ "$n" -eq 0 ]; then
		echo "no unit test executables in $dir/tests (is cmocka installed?)" >"$log/nounit.out"
		record "${prefix}unit tests" 0 1 "$log/nounit.out"
	fi
	run_counted "${prefix}corpus" python3 tests/corpus_test.py "$dir/dagproc"
	run_counted "${prefix}realworld" python3 tests/realworld_test.py "$dir/dagproc"
	run_counted "${prefix}hash stability" python3 tests/hash_stability_test.py "$dir/dagproc"
	run_counted "${prefix}cli" bash tests/cli_test.sh "$dir/dagproc"
	# Debian's python3-jsonschema and python3-yaml, as the issue asks
	run_counted "${prefix}schema" /usr/bin/python3 tests/schema_test.py "$dir/dagproc"
	run_counted "${prefix}fix" /usr/bin/python3 tests/fix_test.py "$dir/dagproc"
	run_counted "${prefix}lsp" /usr/bin/python3 tests/lsp_test.py "$dir/dagproc"
	run_counted "${prefix}lsp = check" /usr/bin/python3 tests/lsp_check_property_test.py "$dir/dagproc"
	run_counted "${prefix}lsp nvim" bash tests/lsp_nvim_test.sh "$dir/dagproc"
	run_counted "${prefix}lsp vscode-jsonrpc" bash tests/lsp_vscode_test.sh "$dir/dagproc"
	run_counted "${prefix}daemon" bash tests/daemon_test.sh "$dir/dagproc"
	run_counted "${prefix}converge" bash tests/converge_test.sh "$dir/dagproc"
	# the model-based test of issue 9 (make soak runs it longer, on fresh seeds)
	run_counted "${prefix}model sqlite" bash tests/model/model_test.sh "$dir/dagproc" sqlite 1 2 3
	run_counted "${prefix}api" python3 tests/api_test.py "$dir/dagproc"
	run_counted "${prefix}secrets" bash tests/secrets_test.sh "$dir/dagproc"
	# the browser test needs Debian's chromium (scripts/deps.sh browser)
	if command -v chromium >/dev/null 2>&1; then
		run_counted "${prefix}browser" bash tests/browser_test.sh "$dir/dagproc"
	fi
	if [ "${SKIP_DB:-0}" != 1 ]; then
		run_counted "${prefix}db api outage" bash tests/api_outage_test.sh "$dir/dagproc"
		# real PostgreSQL 15 and MariaDB 10.11 servers, started by the scripts
		run_counted "${prefix}db store" bash tests/db/run.sh all "$dir/tests/store_db_test"
		run_counted "${prefix}db sync" bash tests/db/sync_test.sh "$dir/tests/test_sync" all
		run_counted "${prefix}db daemon" bash tests/db/daemon_test.sh "$dir/dagproc" all
		run_counted "${prefix}db scale-out" bash tests/db/scaleout_test.sh "$dir/dagproc" all
		run_counted "${prefix}db claim retry" bash tests/db/claim_retry_test.sh "$dir/dagproc"
		run_counted "${prefix}db deploy" bash tests/db/deploy_test.sh "$dir/dagproc"
		run_counted "${prefix}db beside airflow" bash tests/db/airflow_test.sh "$dir/dagproc"
		run_counted "${prefix}db refusals" bash tests/db/refusal_test.sh "$dir/dagproc" all
		run_counted "${prefix}db model pg" bash tests/model/model_test.sh "$dir/dagproc" pg 1 2
		MODEL_PROCESSORS=2 run_counted "${prefix}db model pg, 2 processors" \
			bash tests/model/model_test.sh "$dir/dagproc" pg 3
		run_counted "${prefix}db model mariadb" bash tests/model/model_test.sh "$dir/dagproc" mariadb 1 2
		run_counted "${prefix}db tls" bash tests/db/tls_test.sh "$dir/dagproc" all
		run_counted "${prefix}db partition" bash tests/db/partition_test.sh "$dir/dagproc" all
	fi
}

echo "== $build"
suite "$build" ""
# make install into a DESTDIR (once: it installs from build/)
run_counted "install" bash tests/install_test.sh "$build"
# the adversarial files under ulimit -v / -s (not under ASan, whose shadow
# memory does not fit a ulimit -v)
run_counted "adversarial" bash tests/adversarial_test.sh "$build/dagproc"

if [ "${SKIP_ASAN:-0}" != 1 ]; then
	echo "== $asan_build (ASan+UBSan)"
	if [ -d "$asan_build" ]; then
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
			suite "$asan_build" "asan "
	else
		echo "$asan_build does not exist: run 'make check' (or set SKIP_ASAN=1)" >"$log/noasan.out"
		record "asan build" 0 1 "$log/noasan.out"
	fi
fi

if [ "${SKIP_VALGRIND:-0}" != 1 ]; then
	echo "== valgrind ($build)"
	if ! command -v valgrind >/dev/null 2>&1; then
		echo "valgrind is not installed (scripts/deps.sh installs it)" >"$log/novg.out"
		record "valgrind" 0 1 "$log/novg.out"
	else
		vg=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite)
		while IFS= read -r exe; do
			label="valgrind unit $(basename "$exe")"
			out="$log/$(echo "$label" | tr ' ' '_').out"
			CMOCKA_MESSAGE_OUTPUT=stdout run "$out" "${vg[@]}" "$exe"
			rc=$?
			if [ "$rc" -eq 0 ]; then
				record "$label" 1 0
			else
				[ "$rc" -eq 99 ] && echo "valgrind found errors" >>"$out"
				echo "exit status $rc" >>"$out"
				record "$label" 0 1 "$out"
			fi
		done < <(unit_tests "$build")

		corpus=$(python3 tests/corpus_test.py --print-corpus-dir 2>/dev/null)
		files=()
		if [ -n "$corpus" ]; then
			for f in dev/dags/example_dag_factory.yml \
				dev/dags/invalid.yaml \
				dev/dags/datasets/example_dag_datasets.yml \
				dev/dags/example_callbacks.yml \
				tests/fixtures/dag_factory.yml \
				tests/fixtures_without_default_yaml/dag_factory.yml; do
				files+=("$corpus/$f")
			done
		fi
		files+=(examples/dags)
		for f in "${files[@]}"; do
			label="valgrind check ${f#"$corpus"/}"
			out="$log/$(echo "$label" | tr ' /' '__').out"
			# check exits 0 (clean) or 1 (import errors); 99 is valgrind's.
			CONFIG_ROOT_DIR=$corpus run "$out" "${vg[@]}" "$build/dagproc" check --format json "$f"
			rc=$?
			if [ "$rc" -le 1 ]; then
				record "$label" 1 0
			else
				echo "exit status $rc" >>"$out"
				record "$label" 0 1 "$out"
			fi
		done
	fi
fi

if [ "${#failures[@]}" -gt 0 ]; then
	echo
	echo "failed:"
	printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
