# SPDX-License-Identifier: MIT
# Fuzzing: libFuzzer targets, one small .c file each, built with clang
# whatever CC is (-fsanitize=fuzzer,address,undefined) over libpmt's own
# sources. `make fuzz FUZZ_SECONDS=N` builds them in tests/fuzz/ of the build
# tree and runs each for N seconds from its seed corpus (corpus/<target>/)
# and every regression input (regress/), failing on any finding
# (docs/FUZZING.md). A new target: tests/fuzz/<name>.c, corpus/<name>/ and
# one line here.
FUZZ_TARGETS = \
	read-pmt \
	read-pmt-zstd \
	read-pymemtrace \
	read-process \
	read-reftrace \
	pmt-summarise \
	pmt-prev \
	pmt-filter \
	pmt-diff

FUZZ_SECONDS = 60
FUZZ_CC = clang
FUZZ_FLAGS =
FUZZ_LIBPMT_C = $(filter %.c,$(libpmt_core_libpmt_core_la_SOURCES) \
	$(libpmt_read_libpmt_read_la_SOURCES) $(libpmt_report_libpmt_report_la_SOURCES)) \
	$(abs_top_builddir)/libpmt/report/profile.pb-c.c

EXTRA_DIST += tests/fuzz/run.sh tests/fuzz/make-corpus.sh tests/fuzz/fuzz.h tests/fuzz/tool.h tests/fuzz/tool-run.h \
	$(FUZZ_TARGETS:%=tests/fuzz/%.c) tests/fuzz/corpus tests/fuzz/regress

# fuzz-build: the targets only; fuzz: built and run.
fuzz-build fuzz: config.h $(PPROF_GENERATED)
	@FUZZ_CC='$(FUZZ_CC)' FUZZ_SECONDS='$(FUZZ_SECONDS)' FUZZ_FLAGS='$(FUZZ_FLAGS)' \
	  FUZZ_TARGETS='$(FUZZ_TARGETS)' FUZZ_LIBPMT_C='$(FUZZ_LIBPMT_C)' \
	  FUZZ_CPPFLAGS='-I$(abs_top_srcdir) -I$(abs_top_builddir) -include $(abs_top_builddir)/config.h $(ZSTD_CFLAGS) $(PCRE2_CFLAGS) $(JANSSON_CFLAGS) $(PROTOBUF_C_CFLAGS) $(ZLIB_CFLAGS)' \
	  FUZZ_LIBS='$(ZSTD_LIBS) $(PCRE2_LIBS) $(JANSSON_LIBS) $(PROTOBUF_C_LIBS) $(ZLIB_LIBS) -lm -pthread' \
	  $(SHELL) $(top_srcdir)/tests/fuzz/run.sh '$(abs_top_srcdir)' '$(abs_top_builddir)/tests/fuzz' $@
.PHONY: fuzz fuzz-build

clean-local: clean-fuzz
clean-fuzz:
	-rm -rf tests/fuzz/obj tests/fuzz/bin tests/fuzz/work tests/fuzz/artifacts
.PHONY: clean-fuzz
