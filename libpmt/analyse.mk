# libpmt modules for the analysers (pymemtrace reader, tables, cli)
libpmt_libpmt_la_SOURCES += libpmt/pymt-reader.c
