# libpmt modules for the analysers: pymemtrace text reader, tables, cli
# helpers, regex, and what the analysers share.
libpmt_libpmt_la_SOURCES += \
	libpmt/cli.h libpmt/cli.c \
	libpmt/table.h libpmt/table.c \
	libpmt/pymt-reader.c
