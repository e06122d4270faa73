# SPDX-License-Identifier: MIT
# analyze: the analysers, thin main()s over libpmt
bin_PROGRAMS += analyze/pmt-filter analyze/pmt-summarise analyze/pmt-prev analyze/pmt-diff
analyze_pmt_filter_SOURCES = analyze/pmt-filter.c
analyze_pmt_filter_LDADD = $(LIBPMT_REPORT)
analyze_pmt_summarise_SOURCES = analyze/pmt-summarise.c analyze/summarise.h \
	analyze/summarise-heap.c
analyze_pmt_summarise_LDADD = $(LIBPMT_REPORT)
analyze_pmt_prev_SOURCES = analyze/pmt-prev.c
analyze_pmt_prev_LDADD = $(LIBPMT_REPORT)
analyze_pmt_diff_SOURCES = analyze/pmt-diff.c analyze/diff.h analyze/diff-objects.c
analyze_pmt_diff_LDADD = $(LIBPMT_REPORT)
