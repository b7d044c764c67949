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

OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
CFLAGS   += -std=gnu11 -Wall -Wextra -pthread -fopenmp -Ilib \
            -DCXR_VERSION='"$(VERSION)"' $(PKG_CFLAGS) $(BLAS_CFLAGS)
# libgomp is linked statically so that lib/base/cli.c's early constructor can
# set OMP_WAIT_POLICY before the OpenMP runtime reads it (see there).
LDLIBS   += $(PKG_LIBS) -lcsv $(BLAS_LIBS) -Wl,-Bstatic -lgomp -Wl,-Bdynamic -ldl -pthread -lm

LIB_SRC   := $(sort $(wildcard lib/*/*.c))
LIB_HDR   := $(sort $(wildcard lib/*/*.h))
LIB_OBJ   := $(LIB_SRC:.c=.o)
TOOL_SRC  := $(sort $(wildcard tools/cxr-*.c))
TOOLS     := $(patsubst tools/%.c,bin/%,$(TOOL_SRC))
CHECK_SRC := $(sort $(wildcard tests/check_*.c))
CHECKS    := $(patsubst tests/%.c,tests/bin/%,$(CHECK_SRC))
SHELL_TESTS := $(sort $(wildcard tests/t-*.sh))
BENCH_SRC := $(sort $(wildcard bench/*.c))
BENCHES   := $(patsubst bench/%.c,bench/bin/%,$(BENCH_SRC))
MANS      := $(sort $(wildcard man/*.[157]))

.PHONY: all bench-bin check-slow check run-checks deps-build deps-test unit shell-tests demo bench install clean lint-man deps help
.DELETE_ON_ERROR:

all: lib/libcxr.a $(TOOLS)  ## build the library and every tool into bin/

lib/%.o: lib/%.c $(LIB_HDR)
	$(CC) $(CFLAGS) -c -o $@.$$$$.o $< && mv -f $@.$$$$.o $@

# Built under a unique name and renamed, so a link running beside a rebuild
# never sees a half-written archive.
lib/libcxr.a: $(LIB_OBJ)
	$(AR) rcs $@.$$$$ $^ && mv -f $@.$$$$ $@

bin/%: tools/%.c lib/libcxr.a
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@.$$$$ $< lib/libcxr.a $(LDLIBS) && mv -f $@.$$$$ $@

bench/bin/%: bench/%.c lib/libcxr.a
	@mkdir -p bench/bin
	$(CC) $(CFLAGS) -o $@ $< lib/libcxr.a $(LDLIBS)

bench-bin: $(BENCHES)  ## build the benchmark programs into bench/bin/

tests/bin/%: tests/%.c tests/testutil.h lib/libcxr.a
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

bench: all bench-bin  ## throughput next to the references (Pillow, PyTorch, sgemm)
	sh bench/run.sh

deps:  ## install the Debian packages the build and tests need (root)
	sh .ci/deps.sh

# Install (as root) or name what is missing before building.
deps-build:
	@sh .ci/deps.sh build
deps-test:
	@sh .ci/deps.sh

install: all  ## install tools and man pages under PREFIX
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	    $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man7
	install -m 755 $(TOOLS) $(DESTDIR)$(PREFIX)/bin
	for m in $(MANS); do s=$${m##*.}; install -m 644 $$m $(DESTDIR)$(PREFIX)/share/man/man$$s; done
	install -d $(DESTDIR)$(PREFIX)/share/cxr
	install -m 755 pipelines/cron-score.sh $(DESTDIR)$(PREFIX)/share/cxr

clean:
	rm -rf bin tests/bin bench/bin lib/*/*.o lib/libcxr.a demo-out

help:
	@grep -E '^[a-z-]+:.*## ' Makefile | sed 's/:.*## /\t/'
