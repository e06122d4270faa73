# analyze: the analysers, thin main()s over libpmt
bin_PROGRAMS += analyze/pmt-filter
analyze_pmt_filter_SOURCES = analyze/pmt-filter.c
analyze_pmt_filter_LDADD = libpmt/libpmt.la
bin_PROGRAMS += analyze/pmt-summarise
analyze_pmt_summarise_SOURCES = analyze/pmt-summarise.c
analyze_pmt_summarise_LDADD = libpmt/libpmt.la
