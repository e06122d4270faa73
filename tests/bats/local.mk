# Bats tests, one file per tool
# A deterministic pmt log generator linked with libpmt's writer
check_PROGRAMS += tests/bats/helpers/mklog
tests_bats_helpers_mklog_SOURCES = tests/bats/helpers/mklog.c
tests_bats_helpers_mklog_LDADD = libpmt/libpmt.la
