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
	libpmt/report/timeline.h libpmt/report/timeline.c \
	libpmt/report/table.h libpmt/report/table.c \
	libpmt/report/event-format.h libpmt/report/event-format.c \
	libpmt/report/process-report.h libpmt/report/process-report.c \
	libpmt/report/log-copy.h libpmt/report/log-copy.c \
	libpmt/report/cli.h libpmt/report/cli.c
libpmt_report_libpmt_report_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
libpmt_report_libpmt_report_la_LIBADD = -lm
LIBPMT_REPORT = libpmt/report/libpmt-report.la $(LIBPMT_READ)
