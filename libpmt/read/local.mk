# SPDX-License-Identifier: MIT
# Reading: inputs (file, stdin, zstd, sniffing), event sources and their
# backends (pmt logs, pymemtrace text logs), process JSON logs, regex.
noinst_LTLIBRARIES += libpmt/read/libpmt-read.la
libpmt_read_libpmt_read_la_SOURCES = \
	libpmt/read/input.h libpmt/read/input.c libpmt/read/frames.h libpmt/read/frames.c \
	libpmt/read/source.h libpmt/read/source.c \
	libpmt/read/symtab.h libpmt/read/symtab.c libpmt/read/symtab-names.c \
	libpmt/read/backend.h libpmt/read/backend-pmt.c libpmt/read/backend-pymt.c \
	libpmt/read/backend-reftrace.c \
	libpmt/read/process-reader.h libpmt/read/process-reader.c \
	libpmt/read/process-log.h libpmt/read/process-log.c \
	libpmt/read/regex.h libpmt/read/regex.c
libpmt_read_libpmt_read_la_CFLAGS = $(AM_CFLAGS) $(ZSTD_CFLAGS) $(PCRE2_CFLAGS) $(JANSSON_CFLAGS)
libpmt_read_libpmt_read_la_LIBADD = $(PCRE2_LIBS) $(JANSSON_LIBS) $(PTHREAD_LIBS)
LIBPMT_READ = libpmt/read/libpmt-read.la $(LIBPMT_CORE)
