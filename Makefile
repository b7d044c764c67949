# cxr — chest X-ray classifier as Unix filter tools.
# `make` builds lib/libcxr.a and bin/cxr-*; `make check` runs every test;
# `make demo` runs the whole pipeline on a synthetic data set; `make bench`
# times the tools against their references.
#
# New files need no edit here: lib/*/*.c go into libcxr.a, tools/cxr-*.c
# become bin/cxr-*, tests/check_*.c become Check suites and tests/t-*.sh
# shell tests.

VERSION  := 0.1.0
PREFIX   ?= /usr/local
CC       ?= cc
PKGS     := libpng libzstd check
PKG_CFLAGS := $(shell pkg-config --cflags libpng libzstd zlib 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs libpng libzstd zlib 2>/dev/null)
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null)
BLAS_CFLAGS  := $(shell pkg-config --cflags openblas 2>/dev/null || echo -I/usr/include/x86_64-linux-gnu/openblas-pthread)
BLAS_LIBS    := $(shell pkg-config --libs openblas 2>/dev/null || echo -lopenblas)

# Open MPI for data-parallel training (lib/run/dist.c); without it the
# build still works and cxr-train runs as one process.
MPI_CFLAGS := $(shell pkg-config --cflags ompi-c 2>/dev/null && echo -DCXR_MPI)
MPI_LIBS   := $(shell pkg-config --libs ompi-c 2>/dev/null)

OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
CFLAGS   += -std=gnu11 -Wall -Wextra -pthread -fopenmp -Ilib \
            -DCXR_VERSION='"$(VERSION)"' $(PKG_CFLAGS) $(BLAS_CFLAGS) $(MPI_CFLAGS)
# libgomp is linked statically so that lib/base/cli.c's early constructor can
# set OMP_WAIT_POLICY or GOMP_SPINCOUNT before the OpenMP runtime reads them (see there).
LDLIBS   += $(PKG_LIBS) -lcsv $(BLAS_LIBS) $(MPI_LIBS) -Wl,-Bstatic -lgomp -Wl,-Bdynamic -ldl -pthread -lm

LIB_SRC   := $(sort $(wildcard lib/*/*.c))
LIB_HDR   := $(sort $(wildcard lib/*/*.h))
LIB_OBJ   := $(LIB_SRC:.c=.o)
TOOL_SRC  := $(sort $(wildcard tools/cxr-*.c))
TOOLS     := $(patsubst tools/%.c,bin/%,$(TOOL_SRC))
CHECK_SRC := $(sort $(wildcard tests/check_*.c))
CHECKS    := $(patsubst tests/%.c,tests/bin/%,$(CHECK_SRC))
TEST_HDR  := $(wildcard tests/*.h)
SHELL_TESTS := $(sort $(wildcard tests/t-*.sh))
BENCH_SRC := $(sort $(wildcard bench/*.c))
BENCHES   := $(patsubst bench/%.c,bench/bin/%,$(BENCH_SRC))
MANS      := $(sort $(wildcard man/*.[157]))

.PHONY: all bench-bin check-slow check run-checks deps-build deps-test deps-bench unit shell-tests demo bench install clean lint-man deps help
.DELETE_ON_ERROR:

all: lib/libcxr.a $(TOOLS)  ## build the library and every tool into bin/

lib/%.o: lib/%.c $(LIB_HDR)
	$(CC) $(CFLAGS) -c -o $@.$$$$.o $< && mv -f $@.$$$$.o $@

# Adam's update takes sqrtf of a value never negative: without errno to
# keep, the loop vectorises (twice as fast); and no FMA contracts its
# operations where torch rounds each (its fused ones are written out), so
# its instances on every instruction set give the same bits.
lib/nn/optim.o: CFLAGS += -fno-math-errno -ffp-contract=off

# Built under a unique name and renamed, so a link running beside a rebuild
# never sees a half-written archive.
lib/libcxr.a: $(LIB_OBJ)
	$(AR) rcs $@.$$$$ $^ && mv -f $@.$$$$ $@

bin/%: tools/%.c lib/libcxr.a
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@.$$$$ $< lib/libcxr.a $(LDLIBS) && mv -f $@.$$$$ $@

bench/bin/%: bench/%.c $(TEST_HDR) lib/libcxr.a
	@mkdir -p bench/bin
	$(CC) $(CFLAGS) -o $@ $< lib/libcxr.a $(LDLIBS)

bench-bin: $(BENCHES)  ## build the benchmark programs into bench/bin/

tests/bin/%: tests/%.c $(TEST_HDR) lib/libcxr.a
	@mkdir -p tests/bin
	$(CC) $(CFLAGS) $(CHECK_CFLAGS) -o $@.$$$$ $< lib/libcxr.a $(CHECK_LIBS) $(LDLIBS) && mv -f $@.$$$$ $@

# `make check` — Check suites then shell tests; a summary line at the end.
# T=name narrows it; CK_EXCLUDE_TAGS=slow is the default (make check-slow runs all).
check: deps-test  ## run the unit and shell tests (the README's test command)
	@$(MAKE) --no-print-directory all $(CHECKS)
	@$(MAKE) --no-print-directory run-checks

run-checks: $(CHECKS)
	@CK_EXCLUDE_TAGS=$${CK_EXCLUDE_TAGS-slow} sh tests/run.sh $(CHECKS) -- $(SHELL_TESTS)

check-slow: all $(CHECKS)  ## also run the tests tagged slow
	@CK_EXCLUDE_TAGS= CXR_SLOW=1 sh tests/run.sh $(CHECKS) -- $(SHELL_TESTS)

lint-man:  ## mandoc -Tlint on every page
	mandoc -Tlint -W warning $(MANS)

demo: deps-build  ## the whole pipeline on a synthetic NIH-format data set, then a report
	@$(MAKE) --no-print-directory all
	$(MAKE) -f pipelines/demo.mk

bench: deps-bench  ## throughput next to the references (Pillow, PyTorch, sgemm)
	@$(MAKE) --no-print-directory all bench-bin
	sh bench/run.sh
	@case precision in *"$(BENCH)"*) $(MAKE) --no-print-directory bench-precision ;; esac

# BENCH=name (as bench/run.sh) picks it or leaves it out.
.PHONY: bench-precision
bench-precision: all bench-bin  ## fp32 and bf16, cxr's tools next to PyTorch's best modes (10-20 min a round; ROUNDS=3 interleaves three)
	sh bench/precision.sh

deps:  ## install the Debian packages the build and tests need (root)
	sh .ci/deps.sh

# Install (as root) or name what is missing before building.
deps-build:
	@sh .ci/deps.sh build
deps-test:
	@sh .ci/deps.sh
deps-bench:
	@sh .ci/deps.sh bench

install: all  ## install tools and man pages under PREFIX
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	    $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man7
	install -m 755 $(TOOLS) $(DESTDIR)$(PREFIX)/bin
	for m in $(MANS); do s=$${m##*.}; install -m 644 $$m $(DESTDIR)$(PREFIX)/share/man/man$$s; done
	install -d $(DESTDIR)$(PREFIX)/share/cxr
	install -m 755 pipelines/cron-score.sh pipelines/dicom-resize.sh $(DESTDIR)$(PREFIX)/share/cxr
	# keras2cxm.py finds the model-file writer cxm.py in ../share/cxr
	install -m 755 tools/keras2cxm.py $(DESTDIR)$(PREFIX)/bin
	install -m 644 bench/cxm.py $(DESTDIR)$(PREFIX)/share/cxr

clean:
	rm -rf bin tests/bin bench/bin lib/*/*.o lib/libcxr.a demo-out

help:
	@grep -E '^[a-z-]+:.*## ' Makefile | sed 's/:.*## /\t/'

# ---- sanitizers -----------------------------------------------------------
# `make check SANITIZE=1` builds with ASan and UBSan into the usual paths.
# .build-flags records the compiler and flags of the last build; every
# object and program depends on it and it is rewritten only when they
# change, so switching SANITIZE (or CC, OPT) rebuilds everything, and
# switching back rebuilds again.
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer
ifeq ($(SANITIZE),1)
CFLAGS += $(SAN_FLAGS)
# Reports go to files as well as making the program fail (exit 86), so
# one is seen even where a test expects a failure or drops stderr; the
# last shell test lists them (tests/fuzz/t-sanitizer-logs.sh).
SAN_LOGS := $(CURDIR)/tests/bin/sanitizer
# A small quarantine (freed memory ASan holds back to catch a use after
# free; 256 MB by default): tests bound the peak RSS of the tools
# (t-score's streaming bound, t-faults' 256 MB), which a large one breaks.
# The fuzzers keep the default. CXR_SANITIZE tells a test it runs so.
export ASAN_OPTIONS ?= detect_leaks=1:halt_on_error=1:exitcode=86:log_path=$(SAN_LOGS)/asan:quarantine_size_mb=2:thread_local_quarantine_size_kb=64
export CXR_SANITIZE := 1
export UBSAN_OPTIONS ?= halt_on_error=1:print_stacktrace=1:exitcode=86:log_path=$(SAN_LOGS)/ubsan
# gcc's libubsan ignores log_path beside libasan: this hook sets it.
export CXR_SAN_LOGS := $(SAN_LOGS)
LDLIBS += tests/bin/sanitize_hook.o
export LSAN_OPTIONS ?= suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0
# Instrumented code runs a few times slower: stretch Check's timeouts.
export CK_TIMEOUT_MULTIPLIER ?= 4
# Left out, each over half an hour under the sanitizers on 2 cores: the
# learning proof (20 epochs of training; its code runs in t-train, t-score
# and check_resnet too) and the fault matrix (thousands of tool runs on
# flipped and cut files; the parsers meet such bytes in t-fuzz-replay).
# SAN_SKIP= runs them too.
SAN_SKIP ?= tests/t-learn.sh tests/t-faults.sh
SHELL_TESTS := $(filter-out $(SAN_SKIP),$(SHELL_TESTS)) tests/fuzz/t-sanitizer-logs.sh
run-checks: sanitizer-logs-clear
endif
.PHONY: sanitizer-logs-clear
sanitizer-logs-clear:
	@rm -rf tests/bin/sanitizer && mkdir -p tests/bin/sanitizer

tests/bin/sanitize_hook.o: tests/fuzz/sanitize_hook.c .build-flags
	@mkdir -p tests/bin
	$(CC) $(CFLAGS) -c -o $@ $<

# Written while the Makefile is read, except under -n or -q, which build
# nothing: a dry run must not make the next real one rebuild everything.
BUILD_FLAGS := $(strip $(CC) $(CFLAGS) $(LDLIBS))
ifneq ($(strip $(file <.build-flags)),$(BUILD_FLAGS))
ifeq (,$(findstring n,$(filter-out ---%,$(firstword -$(MAKEFLAGS))))$(findstring q,$(filter-out ---%,$(firstword -$(MAKEFLAGS)))))
$(file >.build-flags,$(BUILD_FLAGS))
endif
endif
$(LIB_OBJ) $(TOOLS) $(CHECKS) $(BENCHES): .build-flags

# ---- fuzzing --------------------------------------------------------------
# tests/fuzz/fuzz_NAME.c is one libFuzzer target per parser of outside
# bytes (tests/fuzz/README). `make fuzz` builds them with clang into
# tests/fuzz/build/ (its own objects of the library, so the gcc build is
# untouched) and runs each FUZZ_SECONDS; `make fuzz-replay` runs every
# file of tests/fuzz/corpus/NAME/ and tests/fuzz/regress/NAME/ through
# target NAME once, built with $(CC) and a plain main() (no clang needed);
# make check does the same (tests/t-fuzz-replay.sh).
FUZZ_NAMES   := $(patsubst tests/fuzz/fuzz_%.c,%,$(sort $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_JOBS    ?= 1
FUZZ_FLAGS   ?= -rss_limit_mb=256 -malloc_limit_mb=256 -timeout=10
FUZZ_BUILD   := tests/fuzz/build
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
# No -fopenmp (clang's runtime is not libgomp): the pragmas are ignored;
# omp.h comes from gcc's directory, after clang's own headers.
FUZZ_CFLAGS  := -O1 -g -std=gnu11 -pthread -Ilib -DCXR_VERSION='"$(VERSION)"' \
                -idirafter $(shell gcc -print-file-name=include 2>/dev/null) \
                $(PKG_CFLAGS) $(BLAS_CFLAGS) $(FUZZ_SAN)
FUZZ_LIB_OBJ := $(patsubst lib/%.c,$(FUZZ_BUILD)/lib/%.o,$(LIB_SRC))
FUZZ_BINS    := $(patsubst %,$(FUZZ_BUILD)/fuzz_%,$(FUZZ_NAMES))
FUZZ_REPLAY  := $(patsubst %,tests/bin/fuzz_%,$(FUZZ_NAMES))
FUZZ_HDR     := tests/fuzz/fuzz.h
FUZZ_LDLIBS   = $(filter-out tests/bin/sanitize_hook.o,$(LDLIBS))

.PHONY: fuzz fuzz-bin fuzz-replay fuzz-replay-bin deps-fuzz

deps-fuzz:
	@sh .ci/deps.sh fuzz

$(FUZZ_BUILD)/lib/%.o: lib/%.c $(LIB_HDR)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BUILD)/libcxr.a: $(FUZZ_LIB_OBJ)
	$(AR) rcs $@.$$$$ $^ && mv -f $@.$$$$ $@

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_HDR) $(FUZZ_BUILD)/libcxr.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Wall -Wextra -Werror=implicit-function-declaration \
	    -fsanitize=fuzzer -o $@ $< $(FUZZ_BUILD)/libcxr.a $(FUZZ_LDLIBS)

fuzz-bin: deps-fuzz  ## build the libFuzzer targets with clang into tests/fuzz/build/
	@$(MAKE) --no-print-directory $(FUZZ_BINS)

# Each target FUZZ_SECONDS (default 60) from its corpus and regressions; new
# inputs go to tests/fuzz/build/corpus/NAME, crashes to tests/fuzz/build/
# crashes/NAME (see tests/fuzz/run.sh). FUZZ=name narrows.
fuzz: fuzz-bin  ## run every fuzz target FUZZ_SECONDS seconds (clang, libFuzzer)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JOBS=$(FUZZ_JOBS) FUZZ_FLAGS='$(FUZZ_FLAGS)' \
	    sh tests/fuzz/run.sh $(filter %$(FUZZ),$(FUZZ_BINS))

tests/bin/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(FUZZ_HDR) lib/libcxr.a
	@mkdir -p tests/bin
	$(CC) $(CFLAGS) -o $@.$$$$ $< tests/fuzz/replay.c lib/libcxr.a $(LDLIBS) && mv -f $@.$$$$ $@
$(FUZZ_REPLAY): .build-flags

fuzz-replay-bin: $(FUZZ_REPLAY)

# The replay needs no clang: gcc-built targets with a main() that feeds them
# each file once (under SANITIZE=1, with the sanitizers).
fuzz-replay: all fuzz-replay-bin  ## replay the fuzz corpora and regressions once (no clang needed)
	@sh tests/fuzz/replay.sh $(FUZZ_NAMES)

run-checks: $(FUZZ_REPLAY)
ifeq ($(SANITIZE),1)
$(TOOLS) $(CHECKS) $(BENCHES) $(FUZZ_REPLAY): tests/bin/sanitize_hook.o
endif
