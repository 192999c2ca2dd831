# notescore -- one non-recursive Makefile.
#
#   make              build build/notescore
#   make test         unit + end-to-end tests (installs missing Debian packages when root)
#   make check        the tests under ASan+UBSan with -Werror
#   make check SAN=thread   the threaded tests under TSan with -Werror
#                     (TSAN_TESTS below; tests/tsan.supp for library-internal races)
#   make fuzz         libFuzzer targets (clang), a short run each
#   make bench        benchmarks; writes docs/benchmarks.md
#   make bench-scale  50 M and 10 M ratings as 4 gzip'd shards (~15 GB scratch disk,
#                     checked first): wall, peak RSS, bytes/rating; its section of
#                     docs/benchmarks.md (BENCH_SCALE_SIZES to change the sizes)
#   make demo         generate sample data, import it, score it, print a summary
#   make attack       the adversarial sweep; writes docs/adversarial.md
#   make soak         serve under mixed + hostile load for SOAK_SECONDS (600)
#   make install PREFIX=/usr/local DESTDIR=   binary, man page, docs, systemd unit
#   make check-symbols   fail on any exported symbol not prefixed ns_
#   make check-layers    fail on an include of a higher module (tools/check-layers.sh)
#
# Build modes: SAN=address,undefined adds sanitizers; each SAN value builds
# into its own directory, build/san-<value with - for ,> (build/san-thread,
# build/san-address-undefined), so switching modes never mixes objects.
# XCFLAGS is the user hook for extra compiler flags.

CC      ?= cc
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
DOCDIR  ?= $(PREFIX)/share/doc/notescore
# systemd reads units from /usr/local/lib/systemd/system and /usr/lib/systemd/system
UNITDIR ?= $(PREFIX)/lib/systemd/system
SAN     ?=
XCFLAGS ?=

PKGS     := sqlite3 libuv jansson openblas lapacke zlib libarchive
DEB_PKGS := build-essential pkg-config libsqlite3-dev libuv1-dev libjansson-dev \
            libhttp-parser-dev libopenblas-dev libopenblas-openmp-dev liblapacke-dev \
            zlib1g-dev libarchive-dev \
            sqlite3 time curl jq python3 python3-pandas

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lsqlite3 -luv -ljansson -lopenblas -llapacke -lz -larchive)

# OpenBLAS: the OpenMP build (libopenblas-openmp-dev), not the alternatives
# default.  The pthread build takes a global mutex on every small dposv, so
# the pool's threads queue on it; the serial build's allocator is not safe
# for concurrent callers (wrong solves, docs/factorization.md).  The OpenMP
# build locks one buffer slot at a time.  Its -L comes first so -lopenblas
# finds it; the rpath is an old-style DT_RPATH (--disable-new-dtags) because
# that one also applies to liblapacke's own liblapack.so.3 / libblas.so.3,
# so every BLAS/LAPACK symbol comes from that one library.  Without the
# package the build falls back to whatever -lopenblas is (correct, slower).
comma       := ,
MULTIARCH   := $(shell $(CC) -print-multiarch 2>/dev/null)
BLAS_OMP    := $(firstword $(wildcard /usr/lib/$(MULTIARCH)/openblas-openmp/libopenblas.so))
BLAS_DIR    := $(patsubst %/,%,$(dir $(BLAS_OMP)))
BLAS_LIBS   := $(if $(BLAS_OMP),-L$(BLAS_DIR) -Wl$(comma)--disable-new-dtags -Wl$(comma)-rpath$(comma)$(BLAS_DIR))

WARN    := -Wall -Wextra -Wstrict-prototypes -Wshadow -Wno-unused-parameter \
           -Wno-missing-field-initializers
# -ffp-contract=off: no fused multiply-add surprises, so scores are the same
# on every x86-64 machine; no -ffast-math, no -march=native.
CFLAGS  ?= -O2 -g
ALL_CFLAGS = -std=c17 -D_GNU_SOURCE -ffp-contract=off -pthread $(CFLAGS) $(WARN) \
             $(PKG_CFLAGS) -MMD -MP $(XCFLAGS)
LDLIBS  := $(BLAS_LIBS) $(PKG_LIBS) -lhttp_parser -lm -pthread

comma := ,
san_dir = build/san-$(subst $(comma),-,$(1))
ifneq ($(SAN),)
  BUILD := $(call san_dir,$(SAN))
  ALL_CFLAGS += -fsanitize=$(SAN) -fno-sanitize-recover=all -fno-omit-frame-pointer -Werror
  LDFLAGS += -fsanitize=$(SAN)
else
  BUILD := build
endif

# `make check` is ASan+UBSan unless SAN says otherwise.  Under TSan only the
# tests with threads run (the rest are single-threaded: TSan would only
# make them ~10x slower): the server (unit, e2e serve_*, ingest faults),
# the pipeline and its pool, note refresh, the tests across thread counts,
# the two-thread bulk import, the scorers (the small ones run side by
# side).  Not the allocation/I-O fault sweeps of
# import and score (minutes each under TSan; their threads are the ones
# above).  `make check SAN=thread TSAN_TESTS=` runs every test under TSan.
ASAN_UBSAN := address,undefined
CHECK_SAN   = $(if $(SAN),$(SAN),$(ASAN_UBSAN))
CHECK_BUILD = $(call san_dir,$(CHECK_SAN))
TSAN_TESTS := server serve_ pipeline refresh pool threads thread_ fault_ingest db_import import_roundtrip scorers
ifeq ($(CHECK_SAN),thread)
  CHECK_ENV   := TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp" \
                 NS_TEST_SLACK_MS=30000
  CHECK_ARGS  := $(addprefix -k ,$(TSAN_TESTS))
else
  CHECK_ENV   := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1
  CHECK_ARGS  :=
endif

MODULES  := base graph factorization text store guard engine dash server
LIB_SRCS := $(foreach m,$(MODULES),$(wildcard $(m)/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
TOOL_SRCS := $(wildcard tools/*.c tools/gen/*.c tools/eval/*.c)
TOOL_OBJS := $(TOOL_SRCS:%.c=$(BUILD)/obj/%.o)
TEST_SRCS := $(wildcard tests/*.c)
TEST_OBJS := $(TEST_SRCS:%.c=$(BUILD)/obj/%.o)
FUZZ_SRCS := $(wildcard tests/fuzz/*.c)

BIN     := $(BUILD)/notescore
LIB     := $(BUILD)/libnotescore.a
RUNNER  := $(BUILD)/test_runner

.PHONY: loadgen all test check fuzz bench bench-scale demo attack soak refparity install clean deps check-symbols check-layers

all: $(BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# dash/dashboard.html is built into the binary by .incbin in
# dash/dashboard_asset.c; -MMD cannot see that include, so it is named here.
$(BUILD)/obj/dash/dashboard_asset.o: dash/dashboard.html

$(LIB): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(TOOL_OBJS) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(TOOL_OBJS) $(LIB) $(LDLIBS)

# The test list is generated from the TEST(name) lines, so adding a test
# never means editing a shared list.
$(BUILD)/test-list.h: $(TEST_SRCS)
	@mkdir -p $(dir $@)
	@grep -ho '^TEST([A-Za-z0-9_]*)' $(TEST_SRCS) | sed 's/^TEST(\(.*\))/NS_TEST_ENTRY(\1)/' > $@.tmp
	@cmp -s $@.tmp $@ || mv $@.tmp $@; rm -f $@.tmp

$(BUILD)/obj/tests/runner.o: $(BUILD)/test-list.h
$(BUILD)/obj/tests/runner.o: ALL_CFLAGS += -I$(BUILD)

$(RUNNER): $(TEST_OBJS) $(filter-out $(BUILD)/obj/tools/main.o,$(TOOL_OBJS)) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The HTTP load generator for `serve` (its own program: the other tools
# sources are linked into the test runner, so it lives apart in tools/loadgen/).
LOADGEN := $(BUILD)/ns-loadgen
$(LOADGEN): $(BUILD)/obj/tools/loadgen/loadgen.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
loadgen: $(LOADGEN)

deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "missing Debian packages; run:"; echo "  sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

test: deps
	@$(MAKE) --no-print-directory $(BIN) $(RUNNER)
	NS_BIN=$(BIN) ./$(RUNNER)

check: deps
	@$(MAKE) --no-print-directory SAN=$(CHECK_SAN) $(CHECK_BUILD)/notescore $(CHECK_BUILD)/test_runner
	$(CHECK_ENV) NS_TEST_TIMEOUT=900 NS_BIN=$(CHECK_BUILD)/notescore ./$(CHECK_BUILD)/test_runner $(CHECK_ARGS)

check-symbols: $(LIB)
	@bad=$$(nm -g --defined-only $(LIB) | awk 'NF==3 {print $$3}' | grep -v '^ns_' || true); \
	if [ -n "$$bad" ]; then echo "non-ns_ exported symbols:"; echo "$$bad"; exit 1; fi; \
	echo "check-symbols: ok"

check-layers:
	@tools/check-layers.sh

FUZZ_CC := clang
FUZZ_FLAGS := -std=c17 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined $(PKG_CFLAGS)
fuzz: deps
	@mkdir -p build/fuzz
	@set -e; for f in $(FUZZ_SRCS); do \
	  n=$$(basename $$f .c); \
	  echo "== $$n"; \
	  $(FUZZ_CC) $(FUZZ_FLAGS) $$f $(LIB_SRCS) -o build/fuzz/$$n $(LDLIBS); \
	  mkdir -p build/fuzz/corpus-$$n; \
	  ./build/fuzz/$$n -max_total_time=$${FUZZ_SECONDS:-30} -print_final_stats=0 \
	    build/fuzz/corpus-$$n tests/fuzz/corpus/$$n 2>&1 | tail -3; \
	done

bench: deps $(BIN)
	tools/bench.sh

bench-scale: deps $(BIN)
	tools/bench_scale.sh

demo: deps
	@$(MAKE) --no-print-directory $(BIN)
	tools/demo.sh

attack: deps $(BIN)
	tools/attack.sh

# Agreement with the real reference scorer (issue #14; not in `make test`):
# REFPAR_DIR holds gen data sets sN and the reference's outputs ref_sN, made
# beforehand with the harness (docs/reference-comparison.md).
refparity: $(BIN)
	@[ -n "$(REFPAR_DIR)" ] || { echo "usage: make refparity REFPAR_DIR=DIR (DIR/s1, DIR/ref_s1, ...; docs/reference-comparison.md)"; exit 2; }
	tools/refparity.sh --dir $(REFPAR_DIR)

# Long-running stability check (not in CI): SOAK_SECONDS=600 by default.
soak: deps $(BIN) $(LOADGEN)
	tools/soak.sh

# The unit's ExecStart names the installed binary (BINDIR, without DESTDIR:
# DESTDIR is a staging root, the files end up under PREFIX).
DOC_FILES := README.md LICENSE $(wildcard docs/*.md docs/*.png) docs/alerts.yml
install: $(BIN)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(DOCDIR) $(DESTDIR)$(UNITDIR)
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/notescore
	install -m 0644 docs/notescore.1 $(DESTDIR)$(MANDIR)/man1/notescore.1
	install -m 0644 $(DOC_FILES) $(DESTDIR)$(DOCDIR)/
	sed 's|@BINDIR@|$(BINDIR)|g' dist/notescore.service > $(DESTDIR)$(UNITDIR)/notescore.service.tmp
	chmod 0644 $(DESTDIR)$(UNITDIR)/notescore.service.tmp
	mv $(DESTDIR)$(UNITDIR)/notescore.service.tmp $(DESTDIR)$(UNITDIR)/notescore.service

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
