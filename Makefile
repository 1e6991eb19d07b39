# dropbench - see README.md.  `make` builds, `make test` runs every Check
# suite, `make asan` runs them again under AddressSanitizer+UBSan.

CC      ?= cc
PKGS    := openblas libcjson check zlib libpng
BUILD   ?= build
SAN     ?=
OPT     ?= -O2

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS  := -std=c11 -Wall -Wextra -Werror -Wno-format-truncation $(OPT) -g \
           -D_DEFAULT_SOURCE \
           -D_POSIX_C_SOURCE=200809L -Ikernels -Istrategies -Iharness \
           $(PKG_CFLAGS) $(SAN) $(EXTRA_CFLAGS)
LDFLAGS := $(SAN) $(EXTRA_LDFLAGS)
LDLIBS  := $(PKG_LIBS) -lm -pthread

# harness/ is one folder per part (harness/<part>/*.c, see docs/DESIGN.md);
# every source file found there goes into the library but the binary's main.
HARNESS_SRC := $(wildcard harness/*/*.c)
HARNESS_HDR := $(wildcard harness/*/*.h)
MAIN_SRC := harness/cli/main.c
LIB_SRC  := $(wildcard kernels/*.c) $(wildcard strategies/*.c) \
            $(filter-out $(MAIN_SRC),$(HARNESS_SRC))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/version.o
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TOOL_SRC := $(wildcard scripts/*.c)
TOOL_BIN := $(TOOL_SRC:scripts/%.c=$(BUILD)/tools/%)

.PHONY: all test asan deps clean data tools demo overhead
all: dropbench tools

$(BUILD)/%.o: %.c $(wildcard kernels/*.h strategies/*.h) $(HARNESS_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# The commit that built the binary goes into every result file.  Rewritten only
# when it changes, so an unchanged tree does not relink.
$(BUILD)/gen/version.c: FORCE
	@mkdir -p $(dir $@)
	@c=$$(git rev-parse --verify -q HEAD 2>/dev/null || echo unknown); \
	d=$$(git status --porcelain --untracked-files=no -- . ':!results' 2>/dev/null | grep -q . && echo 1 || echo 0); \
	printf '#include "util/version.h"\nconst char db_git_commit[] = "%s";\nconst int db_git_dirty = %s;\nconst char db_compiler[] = __VERSION__;\n' "$$c" "$$d" > $@.new; \
	if cmp -s $@.new $@; then rm -f $@.new; else mv $@.new $@; fi

$(BUILD)/gen/version.o: $(BUILD)/gen/version.c harness/util/version.h
	$(CC) $(CFLAGS) -c $< -o $@

FORCE:

$(BUILD)/libdropbench.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

# --wrap: `dropbench bench` times every sgemm and direct conv pass the
# kernels call (gemmtime.h).
$(BUILD)/dropbench: $(MAIN_SRC:%.c=$(BUILD)/%.o) $(BUILD)/libdropbench.a
	$(CC) $(LDFLAGS) -Wl,--wrap=cblas_sgemm,--wrap=conv_direct_forward,--wrap=conv_direct_weights,--wrap=conv_direct_input,--wrap=conv2d_pooled_weights,--wrap=conv_wino_forward,--wrap=conv_wino_input -o $@ $^ $(LDLIBS)

dropbench: $(BUILD)/dropbench
	cp $< $@

tools: $(TOOL_BIN)

$(BUILD)/tools/%: scripts/%.c $(BUILD)/libdropbench.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libdropbench.a $(LDLIBS)

$(BUILD)/tests/%: tests/%.c tests/check_main.h tests/test_util.h tests/test_numeric.h \
                  tests/test_train.h tests/gen_data.h tests/json_schema.h $(BUILD)/libdropbench.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests $(LDFLAGS) -o $@ $< $(BUILD)/libdropbench.a $(LDLIBS)

# Every suite runs even when an earlier one fails; the target fails if any did.
# The tests train on generated data, which is not verified: the suites run
# with DROPBENCH_ALLOW_UNVERIFIED=1 (a test of the refusal unsets it), and
# with DROPBENCH_BLAS_KEEP=1 (OpenBLAS's own kernel set: no timing decides
# what the tests run; tests/test_blas.c unsets it).
# Every suite runs on the kernels' widest path; the kernel suites
# (SIMD_SUITES) run again once per narrower path (DROPBENCH_SIMD=avx2, then
# scalar; a path the CPU lacks skips the suite, saying so).
# Each suite's output is kept in $(BUILD)/tests/<suite>.log (<suite>.<path>.log)
# and shown as it ends; each failed suite is named again at the end with its
# first failures (or its last lines), so that the tail of a CI log says what
# failed.
# OPENBLAS_CORETYPE=X make test runs the suites on kernel set X (e.g. Zen,
# to test as a Zen 3 would), except test_blas, which tests the choice of the
# set itself and so runs without it.
# test_recipe pins the suite's results to the bit under OpenBLAS's Haswell
# and Cooperlake kernel sets: it runs with Haswell wherever the CPU has AVX2
# (and OPENBLAS_CORETYPE is not set already), so the pin is checked on
# every machine dropbench has met.
SIMD_SUITES := test_kernels test_kernels_convpool test_kernels_fused test_kernels_gru \
               test_kernels_gru_seq test_dropout test_dropvariants test_model test_simd \
               test_batchnorm \
               test_recipe
SIMD_RUNS := $(foreach p,avx2 scalar,$(SIMD_SUITES:%=$(BUILD)/tests/%:$(p)))
test: $(TEST_BIN) $(BUILD)/dropbench $(TOOL_BIN)
	@failed=""; for run in $(TEST_BIN) $(SIMD_RUNS); do \
	  t=$${run%%:*}; p=; log=$$t.log; \
	  case $$run in *:*) p=$${run#*:}; log=$$t.$$p.log;; esac; \
	  echo "== $$t$${p:+ (DROPBENCH_SIMD=$$p)}"; \
	  core=$${OPENBLAS_CORETYPE:-}; \
	  case $$t in *test_recipe) [ -n "$$core" ] || ! grep -qw avx2 /proc/cpuinfo || core=Haswell;; \
	              *test_blas) core=;; esac; \
	  env -u OPENBLAS_CORETYPE $${core:+OPENBLAS_CORETYPE=$$core} DROPBENCH_BIN=$(CURDIR)/$(BUILD)/dropbench DROPBENCH_TOOLS=$(CURDIR)/$(BUILD)/tools \
	    DROPBENCH_SRC=$(CURDIR) DROPBENCH_ALLOW_UNVERIFIED=1 DROPBENCH_BLAS_KEEP=1 \
	    DROPBENCH_SIMD=$$p $$t > $$log 2>&1; rc=$$?; \
	  cat $$log; \
	  if [ $$rc -ne 0 ]; then echo "== $$t$${p:+ ($$p)}: exit status $$rc"; failed="$$failed $$log"; fi; \
	done; \
	if [ -n "$$failed" ]; then \
	  for l in $$failed; do \
	    echo "== FAILED: $${l%.log} (whole output in $$l):"; \
	    grep -E ':[EF]:|runtime error|ERROR: |SUMMARY: ' $$l | head -n 3 > $$l.why; \
	    if [ -s $$l.why ]; then cat $$l.why; else tail -n 4 $$l; fi; \
	  done; \
	  echo "make test: some suites FAILED:$$failed"; exit 1; fi; \
	echo "make test: all suites passed"

# Sanitized code runs several times slower: Check's per-test timeouts are
# stretched to match (CK_TIMEOUT_MULTIPLIER).
asan:
	CK_TIMEOUT_MULTIPLIER=4 $(MAKE) BUILD=build-asan OPT=-O1 \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	  test

deps:
	@scripts/deps

data: tools
	scripts/fetch-data all

# The main job on a fresh machine: install what is missing, build, fetch
# MNIST, train the demo sweep into results/demo-local/ (ignored by git;
# resumable), print its report beside the committed reference report of
# results/demo/ (scripts/demo).  The committed results are never reused:
# a fresh clone trains.
demo:
	scripts/deps build data report
	$(MAKE) all
	scripts/fetch-data mnist
	scripts/demo results/demo-local

clean:
	rm -rf build build-asan build-fuzz dropbench

# ---- reliability (issue 7): fuzzing, valgrind, lint ------------------------
#
# `make fuzz` builds one libFuzzer binary per parser (tests/fuzz/fuzz_*.c)
# into build-fuzz/fuzz/ with clang and ASan+UBSan; `make fuzz-smoke` runs
# each for FUZZ_SECONDS from its committed seed corpus and regression inputs
# (new inputs go to build-fuzz/corpus/, crashes to build-fuzz/artifacts/,
# logs to build-fuzz/logs/).
# `make test` replays the same inputs without the fuzzer
# (tests/test_fuzz_regress.c).
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES   := $(FUZZ_SRC:tests/fuzz/%.c=%)
FUZZ_SECONDS ?= 20
FUZZ_SAN     := -fsanitize=fuzzer-no-link,address,undefined \
                -fno-sanitize-recover=all -fno-omit-frame-pointer

.PHONY: fuzz fuzz-bins fuzz-smoke valgrind lint

$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz_common.h $(BUILD)/libdropbench.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/fuzz -fsanitize=fuzzer $(LDFLAGS) -o $@ $< \
	  $(BUILD)/libdropbench.a $(LDLIBS)

fuzz-bins: $(FUZZ_NAMES:%=$(BUILD)/fuzz/%)

fuzz:
	$(MAKE) BUILD=build-fuzz CC=clang OPT=-O1 SAN="$(FUZZ_SAN)" \
	  EXTRA_CFLAGS=-Wno-unknown-warning-option fuzz-bins

# One target per core at a time; each log is printed when the target ends.
fuzz-smoke: fuzz
	@mkdir -p build-fuzz/corpus build-fuzz/artifacts build-fuzz/logs
	@printf '%s\n' $(FUZZ_NAMES) | xargs -P$$(nproc) -I{} sh -c ' \
	  t={}; w=build-fuzz/corpus/$$t; a=build-fuzz/artifacts/$$t; l=build-fuzz/logs/$$t.log; \
	  mkdir -p $$w $$a; r=tests/fuzz/regress/$$t; [ -d $$r ] || r=; \
	  DROPBENCH_SRC=$(CURDIR) build-fuzz/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) \
	    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix=$$a/ $$w tests/fuzz/corpus/$$t $$r > $$l 2>&1; rc=$$?; \
	  echo "== fuzz-smoke $$t ($(FUZZ_SECONDS) s): $$(grep -E "^#[0-9]+[[:space:]]+DONE" $$l | tail -1)"; \
	  if [ $$rc -ne 0 ]; then tail -n 40 $$l; echo "FAILED: $$t (input in $$a/)"; exit 1; fi'; \
	rc=$$?; if [ $$rc -ne 0 ]; then echo "make fuzz-smoke: FAILED"; exit 1; fi; \
	echo "make fuzz-smoke: all targets clean"

$(BUILD)/tests/test_fuzz_regress: $(FUZZ_SRC) tests/fuzz/fuzz_common.h

# tests/test_alloc.c fails the Nth allocation through these wrappers.
$(BUILD)/tests/test_alloc: LDFLAGS += -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc

# `make valgrind`: memcheck (no leaks, no invalid accesses) over a short
# training run, a sweep of two runs (its forked workers included) and a
# report, on generated data with the tiny presets of tests/configs/, then the
# fuzz corpora replayed through every parser.  OPENBLAS_NUM_THREADS=1: with
# more, OpenBLAS starts a thread pool at load time that is never joined.
VALGRIND := valgrind -q --error-exitcode=99 --leak-check=full \
            --show-leak-kinds=definite,indirect,possible \
            --errors-for-leak-kinds=definite,indirect,possible

$(BUILD)/tests/gen-data: tests/gen_data_main.c tests/gen_data.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests $(LDFLAGS) -o $@ $< $(LDLIBS)

valgrind: $(BUILD)/dropbench $(BUILD)/tests/gen-data $(BUILD)/tests/test_fuzz_regress
	@set -e; d=$$(mktemp -d /tmp/db-valgrind.XXXXXX); trap 'rm -rf "$$d"' EXIT; \
	export DROPBENCH_CONFIGS=$(CURDIR)/tests/configs OPENBLAS_NUM_THREADS=1 DROPBENCH_BLAS_KEEP=1 \
	  DROPBENCH_ALLOW_UNVERIFIED=1; \
	$(BUILD)/tests/gen-data $$d/data 200 50; \
	echo "== valgrind: dropbench run (tiny GRU, token dropout, validation split)"; \
	$(VALGRIND) $(BUILD)/dropbench run --task tiny-gru --strategy token --epochs 2 \
	  --val 20 --data $$d/data --results $$d/run --quiet; \
	echo "== valgrind: dropbench run (tiny GRU stack: locked, recurrent, interlayer dropout)"; \
	$(VALGRIND) $(BUILD)/dropbench run --task tiny-gru2 \
	  --strategy variational+recurrent+interlayer --epochs 1 --data $$d/data \
	  --results $$d/run4 --quiet; \
	echo "== valgrind: dropbench run (tiny CNN, 2 threads: the training team)"; \
	$(VALGRIND) $(BUILD)/dropbench run --task tiny-cnn --strategy srivastava --epochs 1 \
	  --threads 2 --data $$d/data --results $$d/run2 --quiet; \
	echo "== valgrind: dropbench run (convolutions on the direct kernels, 2 threads)"; \
	$(VALGRIND) $(BUILD)/dropbench run --task tiny-direct --strategy srivastava --epochs 1 \
	  --threads 2 --data $$d/data --results $$d/run3 --quiet; \
	printf '{"name": "vg", "tasks": ["tiny-cnn"], "strategies": ["none", "srivastava"], "seeds": [0], "epochs": 2}\n' > $$d/sweep.json; \
	echo "== valgrind: dropbench sweep (two runs of a tiny CNN)"; \
	$(VALGRIND) $(BUILD)/dropbench sweep $$d/sweep.json --jobs 1 --data $$d/data \
	  --results $$d/sweep --quiet; \
	test "$$(ls $$d/sweep/*.json | wc -l)" -eq 2; \
	echo "== valgrind: dropbench report"; \
	$(VALGRIND) $(BUILD)/dropbench report $$d/sweep > $$d/report.md; \
	grep -q srivastava $$d/report.md; \
	echo "== valgrind: fuzz corpora through every parser"; \
	CK_FORK=no DROPBENCH_SRC=$(CURDIR) $(VALGRIND) $(BUILD)/tests/test_fuzz_regress; \
	echo "make valgrind: clean"

# dropbench against PyTorch and the sgemm peak, in one invocation (about 15
# minutes): figures to results/bench/ and a table to results/bench/table.md.
.PHONY: bench estimate-check
bench:
	scripts/deps build bench
	$(MAKE) dropbench
	scripts/bench
	$(MAKE) estimate-check

# Is `sweep --dry-run`'s estimate within 25% of a small sweep's real wall
# time (issue 20)?  A timing test, so not in `make test`: run it on an idle
# machine.  Needs MNIST ($DROPBENCH_DATA or ./data); about a minute.
estimate-check: $(BUILD)/dropbench
	scripts/estimate-check $(BUILD)

# Dropout's training-time overhead per suite strategy on a quiet machine
# (refuses to run beside a sweep): results/overhead/table.md; the modern
# sweep's tasks (docs/MODERN.md): results/overhead-modern/table.md.
overhead:
	$(MAKE) dropbench
	scripts/overhead
	scripts/overhead --sweeps suite-v1,placements-16,modern --tasks mnist-mlp,mnist-lenet,cifar-bn \
	  --out results/overhead-modern

# The HTML report of the fixture rendered by headless Chromium (skipped with a
# message where chromium is absent; scripts/deps browser installs it).
$(BUILD)/tools/pngstat: tests/browser/pngstat.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LDLIBS)
.PHONY: test-browser
test-browser: $(BUILD)/dropbench $(BUILD)/tools/pngstat
	DROPBENCH_BIN=$(CURDIR)/$(BUILD)/dropbench PNGSTAT=$(CURDIR)/$(BUILD)/tools/pngstat \
	  tests/browser/run-browser-test $(BROWSER_OUT)

# results/RESULTS.md from the committed result files (results/suite-v1,
# results/crosscheck) and results/DISCUSSION.md; results-check regenerates
# it in a temporary folder and fails unless it is the committed file, byte
# for byte (scripts/results).
.PHONY: results results-check
results: $(BUILD)/dropbench
	DROPBENCH_BIN=$(CURDIR)/$(BUILD)/dropbench scripts/results
results-check: $(BUILD)/dropbench
	DROPBENCH_BIN=$(CURDIR)/$(BUILD)/dropbench scripts/results --check

# `make lint`: cppcheck (suppressions in .cppcheck-suppressions, each a
# checked false positive) and clang-tidy (checks in .clang-tidy) over the
# library, tools and fuzz targets; any finding fails.  One file per
# clang-tidy process: clang-tidy 14 reports false va_list errors when one
# process analyses several files.
LINT_SRC := $(wildcard kernels/*.c strategies/*.c scripts/*.c tests/fuzz/*.c) $(HARNESS_SRC)
LINT_FLAGS := -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -Ikernels \
              -Istrategies -Iharness -Itests $(PKG_CFLAGS)

lint:
	cppcheck -q --std=c11 --enable=warning,portability --error-exitcode=1 \
	  --inline-suppr --suppressions-list=.cppcheck-suppressions \
	  -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -Ikernels -Istrategies -Iharness \
	  kernels strategies harness scripts tests/fuzz
	@echo "== clang-tidy ($(words $(LINT_SRC)) files)"
	@printf '%s\n' $(LINT_SRC) | xargs -P$$(nproc) -n1 sh -c \
	  'clang-tidy -quiet "$$@" -- $(LINT_FLAGS) 2>/dev/null' sh > build-lint.log; \
	rc=$$?; grep -E 'warning:|error:' build-lint.log || true; rm -f build-lint.log; \
	if [ $$rc -ne 0 ]; then echo "make lint: clang-tidy FAILED"; exit 1; fi
	@echo "make lint: clean"

# ---- checkpoints (issue 19): `make soak` ------------------------------------
#
# A sweep of short runs whose workers and sweep process are SIGKILLed at
# random moments for SOAK_SECONDS, resumed each time; every result must end
# up once, complete and identical to an uninterrupted sweep's, with no stray
# temporary, lock or checkpoint file (scripts/soak, docs/CHECKPOINTS.md).
SOAK_SECONDS ?= 60
.PHONY: soak
soak: $(BUILD)/dropbench $(BUILD)/tests/gen-data $(BUILD)/tools/result_equal
	SOAK_SECONDS=$(SOAK_SECONDS) scripts/soak $(BUILD)
