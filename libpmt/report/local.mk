# SPDX-License-Identifier: MIT
# Reports: per-function profiles, tables in every format, event formatting,
# process-log reports, and the command-line helpers of the tools.
noinst_LTLIBRARIES += libpmt/report/libpmt-report.la
libpmt_report_libpmt_report_la_SOURCES = \
	libpmt/report/profile.h libpmt/report/profile.c \
	libpmt/report/heap.h libpmt/report/heap.c \
	libpmt/report/objects.h libpmt/report/objects.c \
	libpmt/report/names.h libpmt/report/names.c \
	libpmt/report/flame.h libpmt/report/flame.c \
	libpmt/report/summary.h libpmt/report/summary.c \
	libpmt/report/logs.h libpmt/report/logs.c \
	libpmt/report/run.h libpmt/report/run.c \
	libpmt/report/run-diff.h libpmt/report/run-diff.c \
	libpmt/report/pprof.h libpmt/report/pprof.c \
	libpmt/report/timeline.h libpmt/report/timeline.c \
	libpmt/report/table.h libpmt/report/table.c \
	libpmt/report/event-format.h libpmt/report/event-format.c \
	libpmt/report/process-report.h libpmt/report/process-report.c \
	libpmt/report/log-copy.h libpmt/report/log-copy.c \
	libpmt/report/cli.h libpmt/report/cli.c
nodist_libpmt_report_libpmt_report_la_SOURCES = $(PPROF_GENERATED)
libpmt_report_libpmt_report_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_builddir)
libpmt_report_libpmt_report_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(PROTOBUF_C_CFLAGS) \
	$(ZLIB_CFLAGS)
libpmt_report_libpmt_report_la_LIBADD = -lm $(PROTOBUF_C_LIBS) $(ZLIB_LIBS)

# pprof's profile.proto, compiled at build time by protoc-c: the encoder is
# protobuf-c's, never written by hand.
PPROF_GENERATED = libpmt/report/profile.pb-c.c libpmt/report/profile.pb-c.h
BUILT_SOURCES += $(PPROF_GENERATED)
CLEANFILES += $(PPROF_GENERATED)
EXTRA_DIST += libpmt/report/profile.proto
libpmt/report/profile.pb-c.h: libpmt/report/profile.pb-c.c
libpmt/report/profile.pb-c.c: $(srcdir)/libpmt/report/profile.proto
	@$(MKDIR_P) libpmt/report
	$(AM_V_GEN)$(PROTOC_C) --proto_path=$(srcdir)/libpmt/report \
	  --c_out=libpmt/report $(srcdir)/libpmt/report/profile.proto
LIBPMT_REPORT = libpmt/report/libpmt-report.la $(LIBPMT_READ)
