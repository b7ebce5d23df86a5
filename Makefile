# dagproc: top-level entry points. Meson/ninja do the building; this file only
# strings the steps together. Every target first installs missing Debian
# packages (scripts/deps.sh) and configures its build folder if needed.
#
#   build/        the optimised user build (debugoptimized): what users, the demo
#                 and the benchmarks run. Never built with sanitizers.
#   build-asan/   ASan+UBSan debug build, used by `make check`
#   build-fuzz/   clang + libFuzzer + ASan+UBSan, used by `make fuzz`

SHELL := /bin/bash
.DEFAULT_GOAL := build

NINJA ?= ninja
FUZZ_SECONDS ?= 60
# The other parsers' fuzz targets (fuzz/fuzz_<name>.c, seeds in fuzz/corpus-<name>/)
# run after fuzz_dagfile, FUZZ_SECONDS_OTHER each.
FUZZ_OTHER ?= config api proto lsp
FUZZ_SECONDS_OTHER ?= 20

# `make demo`: the example bundle's diagnostics, then the processor on it with
# SQLite, the API and the web page, in the foreground until Ctrl-C.
DEMO_DB = build/demo/dagproc.db

# Build tools (tools/embed.c) run under ASan in the sanitizer folders; their
# leaks at exit are not what those builds are for.
BUILD_ENV = ASAN_OPTIONS=detect_leaks=0

.PHONY: all build deps asan demo check bench soak fuzz format format-check clean install

all: build

deps:
	@scripts/deps.sh core

build: deps
	@[ -f build/meson-private/coredata.dat ] || meson setup build --buildtype=debugoptimized
	@$(NINJA) -C build

# `make install [DESTDIR=/stage] [prefix=/usr]`: meson install from build/:
# the binary, dagproc(1) and dagproc.cfg(5), the example configuration, the
# systemd unit and the bash completion. prefix (default /usr/local) is set
# on build/ when it differs.
prefix ?= /usr/local
install: build
	@cur=$$(meson introspect build --buildoptions | python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"][0])'); \
		[ "$$cur" = "$(prefix)" ] || meson configure build -Dprefix="$(prefix)" >/dev/null
	@meson install -C build --quiet $(if $(DESTDIR),--destdir "$(DESTDIR)")

asan: deps
	@[ -f build-asan/meson-private/coredata.dat ] || \
		meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false --buildtype=debug
	@$(BUILD_ENV) $(NINJA) -C build-asan

demo: build
	@echo "\$$ dagproc check examples/dags"
	@./build/dagproc check examples/dags || [ $$? -eq 1 ]
	@mkdir -p build/demo
	@echo
	@echo "The bundle has one file with import errors and one with warnings, on purpose."
	@echo "Starting the processor on examples/dags, database sqlite:///$(DEMO_DB)"
	@echo "  web page and API:  http://127.0.0.1:8780/"
	@echo "  import errors:     ./build/dagproc import-errors --db sqlite:///$(DEMO_DB)"
	@echo "  Ctrl-C stops it."
	@exec ./build/dagproc run --dags examples/dags --db sqlite:///$(CURDIR)/$(DEMO_DB)

check: build asan
	@scripts/deps.sh browser
	@tests/run.sh build

# `make soak`: the model-based test of issue 9 for ~20 minutes over the three
# backends and two processors on PostgreSQL, on seeds drawn from the clock
# (SOAK_MINUTES per run).
SOAK_MINUTES ?= 5
soak: build
	@tests/model/soak.sh build/dagproc $(SOAK_MINUTES)

bench: build
	@scripts/deps.sh core bench
	@bench/run.sh
	@bench/adversarial.sh
	@bench/sync_bench.sh
	@bench/scaleout_bench.sh
	@bench/api_bench.sh build/dagproc
	@python3 bench/editor_bench.py build/dagproc build/bench/dags
	@bench/fault_rss.sh

# The whole folder gets coverage instrumentation (fuzzer-no-link) so that
# libFuzzer sees inside the core library; only the fuzz targets link libFuzzer.
FUZZ_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
FUZZ_FLAGS = -detect_leaks=1 -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1

fuzz: deps
	@[ -f build-fuzz/meson-private/coredata.dat ] || \
		CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined \
			-Db_lundef=false --buildtype=debugoptimized \
			-Dc_args=-fsanitize=fuzzer-no-link -Dc_link_args=-fsanitize=fuzzer-no-link
	@$(BUILD_ENV) $(NINJA) -C build-fuzz fuzz_dagfile $(FUZZ_OTHER:%=fuzz_%)
	@mkdir -p build-fuzz/corpus build-fuzz/artifacts
	@find fuzz/corpus -maxdepth 1 -type f \( -name '*.yml' -o -name '*.yaml' \) \
		-exec cp -f {} build-fuzz/corpus/ \;
	@# the adversarial files of `make bench` (issue 13), at 1 % of their size so
	@# that each fits -max_len: the shapes that made the front end slow or large
	@python3 bench/gen_adversarial.py build-fuzz/corpus-adversarial --scale 0.01 >/dev/null
	@for f in build-fuzz/corpus-adversarial/*.yml; do \
		cp -f "$$f" "build-fuzz/corpus/adversarial_$$(basename "$$f")"; done
	@echo "fuzzing for $(FUZZ_SECONDS) s (corpus build-fuzz/corpus, crashes in build-fuzz/artifacts)"
	@$(FUZZ_ENV) build-fuzz/fuzz_dagfile -max_total_time=$(FUZZ_SECONDS) $(FUZZ_FLAGS) \
		-artifact_prefix=build-fuzz/artifacts/ build-fuzz/corpus </dev/null
	@for t in $(FUZZ_OTHER); do \
		mkdir -p build-fuzz/corpus-$$t && cp -f fuzz/corpus-$$t/* build-fuzz/corpus-$$t/ && \
		echo "fuzz_$$t for $(FUZZ_SECONDS_OTHER) s (corpus build-fuzz/corpus-$$t)" && \
		$(FUZZ_ENV) build-fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS_OTHER) $(FUZZ_FLAGS) \
			-artifact_prefix=build-fuzz/artifacts/fuzz_$$t- build-fuzz/corpus-$$t </dev/null \
			|| exit 1; \
	done

C_SOURCES = $(shell find src tests fuzz bench tools -name '*.[ch]' -not -path '*/corpus/*' 2>/dev/null)

format: deps
	@clang-format -i $(C_SOURCES)

format-check: deps
	@bad=0; for f in $(C_SOURCES); do \
		clang-format --dry-run -Werror "$$f" >/dev/null 2>&1 || { echo "needs clang-format: $$f"; bad=1; }; \
	done; [ $$bad -eq 0 ] || { echo "run 'make format'"; exit 1; }

clean:
	rm -rf build build-asan build-fuzz
