# libpmt modules for the analysers: pymemtrace text reader, tables, cli
# helpers, regex, the pymemtrace line layout.
libpmt_libpmt_la_SOURCES += \
	libpmt/cli.h libpmt/cli.c \
	libpmt/table.h libpmt/table.c \
	libpmt/regex.h libpmt/regex.c \
	libpmt/event-format.h libpmt/event-format.c \
	libpmt/profile.h libpmt/profile.c \
	libpmt/pymt-reader.c
