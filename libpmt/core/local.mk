# SPDX-License-Identifier: MIT
# The log core: the one part of libpmt the tracer extension links. Hidden
# visibility, so the extension exports nothing of it.
noinst_LTLIBRARIES += libpmt/core/libpmt-core.la
libpmt_core_libpmt_core_la_SOURCES = \
	libpmt/core/varint.h libpmt/core/hash.h libpmt/core/hash.c \
	libpmt/core/pages.h libpmt/core/pages.c \
	libpmt/core/errors.h libpmt/core/errors.c \
	libpmt/core/log-format.h libpmt/core/log-format.c \
	libpmt/core/log-sink.h libpmt/core/log-sink.c \
	libpmt/core/log-writer.h libpmt/core/log-writer-impl.h libpmt/core/log-writer.c \
	libpmt/core/log-writer-thread.c \
	libpmt/core/rss.h libpmt/core/rss.c
libpmt_core_libpmt_core_la_CFLAGS = $(AM_CFLAGS) $(ZSTD_CFLAGS) -fvisibility=hidden
libpmt_core_libpmt_core_la_LIBADD = $(ZSTD_LIBS) $(PTHREAD_LIBS)
LIBPMT_CORE = libpmt/core/libpmt-core.la
