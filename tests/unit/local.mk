# SPDX-License-Identifier: MIT
# C unit tests, one per libpmt module

# analysers' libpmt modules (table, cli, pymemtrace reader)
check_PROGRAMS += tests/unit/test-table tests/unit/test-cli
tests_unit_test_table_LDADD = $(LIBPMT_REPORT)
tests_unit_test_cli_LDADD = $(LIBPMT_REPORT)
TESTS += tests/unit/test-table tests/unit/test-cli

# the log format (writer + reader) and the input layer
check_PROGRAMS += tests/unit/test-log tests/unit/test-input
tests_unit_test_log_LDADD = $(LIBPMT_READ)
tests_unit_test_input_LDADD = $(LIBPMT_READ)
TESTS += tests/unit/test-log tests/unit/test-input

# the writer's modes: thread, shared producers, fork, signals, cuts
check_PROGRAMS += tests/unit/test-log-writer
tests_unit_test_log_writer_LDADD = $(LIBPMT_READ) $(PTHREAD_LIBS)
TESTS += tests/unit/test-log-writer
EXTRA_DIST += tests/unit/tap.h

# process JSON logs: reader and reports
check_PROGRAMS += tests/unit/test-process-reader
tests_unit_test_process_reader_LDADD = $(LIBPMT_REPORT)
TESTS += tests/unit/test-process-reader

# RSS sources (libpmt/core/rss.c)
check_PROGRAMS += tests/unit/test-rss
tests_unit_test_rss_LDADD = $(LIBPMT_CORE)
TESTS += tests/unit/test-rss

# report names, flame stacks, units (libpmt/report/names.c, flame.c, table.c)
check_PROGRAMS += tests/unit/test-names
tests_unit_test_names_LDADD = $(LIBPMT_REPORT)
TESTS += tests/unit/test-names

# the timeline of pmt-gnuplot and pmt-report (libpmt/report/timeline.c)
check_PROGRAMS += tests/unit/test-timeline
tests_unit_test_timeline_LDADD = $(LIBPMT_REPORT) -lm
TESTS += tests/unit/test-timeline

# pmt's error codes apart from errno (libpmt/core/errors.c)
check_PROGRAMS += tests/unit/test-errors
tests_unit_test_errors_LDADD = $(LIBPMT_CORE)
TESTS += tests/unit/test-errors
