# C unit tests, one per libpmt module

# analysers' libpmt modules (table, cli, pymemtrace reader)
check_PROGRAMS += tests/unit/test-table tests/unit/test-cli
tests_unit_test_table_LDADD = libpmt/libpmt.la
tests_unit_test_cli_LDADD = libpmt/libpmt.la
TESTS += tests/unit/test-table tests/unit/test-cli
