# libpmt: the internal library every binary (and the extension) links.
noinst_LTLIBRARIES += libpmt/libpmt.la
libpmt_libpmt_la_SOURCES = \
	libpmt/varint.h libpmt/log-format.h libpmt/log-format.c \
	libpmt/errors.h libpmt/errors.c \
	libpmt/log-writer.h libpmt/log-writer.c \
	libpmt/input.h libpmt/input.c \
	libpmt/source.h libpmt/source-impl.h libpmt/source.c \
	libpmt/log-reader.c \
	libpmt/rss.h libpmt/rss.c
libpmt_libpmt_la_CFLAGS = $(AM_CFLAGS) $(ZSTD_CFLAGS) $(PCRE2_CFLAGS) $(JANSSON_CFLAGS)
libpmt_libpmt_la_LIBADD = $(ZSTD_LIBS) $(PCRE2_LIBS) $(JANSSON_LIBS) -lm

# Modules added by the analyser and process work include their own lists.
include libpmt/analyse.mk
include libpmt/process.mk
