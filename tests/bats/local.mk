# SPDX-License-Identifier: MIT
# Bats tests, one file per tool (bats is required: configure finds it and
# .ci/setup installs it; a missing bats fails `make check` loudly).
# A deterministic pmt log generator linked with libpmt's writer
check_PROGRAMS += tests/bats/helpers/mklog
tests_bats_helpers_mklog_SOURCES = tests/bats/helpers/mklog.c
tests_bats_helpers_mklog_LDADD = $(LIBPMT_CORE)
# ... and one of a small heap log with known figures
check_PROGRAMS += tests/bats/helpers/mkheap
tests_bats_helpers_mkheap_SOURCES = tests/bats/helpers/mkheap.c
tests_bats_helpers_mkheap_LDADD = $(LIBPMT_CORE)

BATS_TESTS = \
	tests/bats/cli.bats \
	tests/bats/tree.bats \
	tests/bats/bad-input.bats \
	tests/bats/pmt-filter.bats \
	tests/bats/pmt-summarise.bats \
	tests/bats/pmt-prev.bats \
	tests/bats/pmt-diff.bats \
	tests/bats/pmt-gnuplot.bats \
	tests/bats/pmt-flamegraph.bats \
	tests/bats/pmt-report.bats \
	tests/bats/browser.bats \
	tests/bats/process-monitor.bats \
	tests/bats/heap-logs.bats \
	tests/bats/runs.bats \
	tests/bats/threads.bats \
	tests/bats/live-log.bats \
	tests/bats/object-logs.bats
TESTS += $(BATS_TESTS)
EXTRA_DIST += $(BATS_TESTS) \
	tests/bats/helpers/grow.pymt \
	tests/bats/helpers/common.bash \
	tests/bats/helpers/mkpymt.py \
	tests/golden/pmt-diff/mklog-5-6.txt \
	tests/golden/pmt-filter/drss12k-prev.txt \
	tests/golden/pmt-filter/pymemtrace-trace.csv \
	tests/golden/pmt-prev/mklog-8k-context2.txt \
	tests/golden/pmt-summarise/mklog-20000.txt \
	tests/golden/pmt-summarise/pymemtrace.rst \
	tests/golden/pmt-summarise/mkheap.txt \
	tests/golden/pmt-summarise/v1-mklog-300.txt \
	tests/fixtures/v1-mklog-300.log.zst \
	tests/fixtures/log-reader-rss-overflow.bin
