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
LDLIBS  := $(PKG_LIBS) -lm

LIB_SRC  := $(wildcard kernels/*.c) $(wildcard strategies/*.c) \
            $(filter-out harness/main.c,$(wildcard harness/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/version.o
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TOOL_SRC := $(wildcard scripts/*.c)
TOOL_BIN := $(TOOL_SRC:scripts/%.c=$(BUILD)/tools/%)

.PHONY: all test asan deps clean data tools demo
all: dropbench tools

$(BUILD)/%.o: %.c $(wildcard kernels/*.h strategies/*.h harness/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# The commit that built the binary goes into every result file.  Rewritten only
# when it changes, so an unchanged tree does not relink.
$(BUILD)/gen/version.c: FORCE
	@mkdir -p $(dir $@)
	@c=$$(git rev-parse --verify -q HEAD 2>/dev/null || echo unknown); \
	d=$$(git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo 1 || echo 0); \
	printf '#include "version.h"\nconst char db_git_commit[] = "%s";\nconst int db_git_dirty = %s;\nconst char db_compiler[] = __VERSION__;\n' "$$c" "$$d" > $@.new; \
	if cmp -s $@.new $@; then rm -f $@.new; else mv $@.new $@; fi

$(BUILD)/gen/version.o: $(BUILD)/gen/version.c harness/version.h
	$(CC) $(CFLAGS) -c $< -o $@

FORCE:

$(BUILD)/libdropbench.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/dropbench: $(BUILD)/harness/main.o $(BUILD)/libdropbench.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

dropbench: $(BUILD)/dropbench
	cp $< $@

tools: $(TOOL_BIN)

$(BUILD)/tools/%: scripts/%.c $(BUILD)/libdropbench.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libdropbench.a $(LDLIBS)

$(BUILD)/tests/%: tests/%.c tests/check_main.h $(BUILD)/libdropbench.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests $(LDFLAGS) -o $@ $< $(BUILD)/libdropbench.a $(LDLIBS)

# Every suite runs even when an earlier one fails; the target fails if any did.
test: $(TEST_BIN) $(BUILD)/dropbench $(TOOL_BIN)
	@fail=0; for t in $(TEST_BIN); do \
	  echo "== $$t"; \
	  DROPBENCH_BIN=$(CURDIR)/$(BUILD)/dropbench DROPBENCH_TOOLS=$(CURDIR)/$(BUILD)/tools \
	    DROPBENCH_SRC=$(CURDIR) $$t || fail=1; \
	done; \
	if [ $$fail -ne 0 ]; then echo "make test: some suites FAILED"; exit 1; fi; \
	echo "make test: all suites passed"

asan:
	$(MAKE) BUILD=build-asan OPT=-O1 \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	  test

deps:
	@scripts/deps

data: tools
	scripts/fetch-data all

# The main job on a fresh machine: install what is missing, build, fetch
# MNIST, run the demo sweep (resumable), print the comparison table.
demo:
	scripts/deps build data report
	$(MAKE) all
	scripts/fetch-data mnist
	./dropbench sweep configs/sweeps/demo.json
	./dropbench report results/demo --plots results/demo/plots

clean:
	rm -rf build build-asan dropbench

# dropbench against PyTorch and the sgemm peak, in one invocation (about 15
# minutes): figures to results/bench/ and a table to docs-bench.md.
.PHONY: bench
bench:
	scripts/deps build bench
	$(MAKE) dropbench
	scripts/bench
