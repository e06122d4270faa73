# analyze: the analysers, thin main()s over libpmt
bin_PROGRAMS += analyze/pmt-filter
analyze_pmt_filter_SOURCES = analyze/pmt-filter.c
analyze_pmt_filter_LDADD = libpmt/libpmt.la
bin_PROGRAMS += analyze/pmt-summarise
analyze_pmt_summarise_SOURCES = analyze/pmt-summarise.c
analyze_pmt_summarise_LDADD = libpmt/libpmt.la
bin_PROGRAMS += analyze/pmt-prev analyze/pmt-diff
analyze_pmt_prev_SOURCES = analyze/pmt-prev.c
analyze_pmt_prev_LDADD = libpmt/libpmt.la
analyze_pmt_diff_SOURCES = analyze/pmt-diff.c
analyze_pmt_diff_LDADD = libpmt/libpmt.la
