# Bats tests, one file per tool
# A deterministic pmt log generator linked with libpmt's writer
check_PROGRAMS += tests/bats/helpers/mklog
tests_bats_helpers_mklog_SOURCES = tests/bats/helpers/mklog.c
tests_bats_helpers_mklog_LDADD = libpmt/libpmt.la

# process monitoring and plots (issue 4)
TESTS += tests/bats/pmt-gnuplot.bats
EXTRA_DIST += tests/bats/pmt-gnuplot.bats

if HAVE_BATS
TESTS += tests/bats/pmt-filter.bats tests/bats/pmt-summarise.bats tests/bats/pmt-prev.bats \
	tests/bats/pmt-diff.bats tests/bats/cli.bats tests/bats/bad-input.bats
endif
EXTRA_DIST += tests/bats/pmt-filter.bats tests/bats/pmt-summarise.bats tests/bats/pmt-prev.bats \
	tests/bats/pmt-diff.bats tests/bats/cli.bats tests/bats/bad-input.bats tests/bats/helpers/grow.pymt tests/bats/helpers/common.bash tests/bats/helpers/mkpymt.py
TESTS += tests/bats/process-monitor.bats
EXTRA_DIST += tests/bats/process-monitor.bats
