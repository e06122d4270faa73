# SPDX-License-Identifier: MIT
# plot: pmt-gnuplot writes .dat/.plt (its gnuplot templates are in the
# source) and runs gnuplot (PMT_GNUPLOT, or $GNUPLOT) by fork/exec.
bin_PROGRAMS += plot/pmt-gnuplot
plot_pmt_gnuplot_SOURCES = plot/pmt-gnuplot.c plot/gnuplot.h plot/gnuplot-common.c plot/gnuplot-events.c
plot_pmt_gnuplot_LDADD = $(LIBPMT_REPORT)

# pmt-flamegraph and pmt-report write self-contained SVG and HTML: the
# scripts and styles written here are compiled in (plot/embed.sh).
PLOT_ASSETS = plot/flamegraph.js plot/report.js plot/report.css
EXTRA_DIST += plot/embed.sh $(PLOT_ASSETS)
plot/assets.c: $(PLOT_ASSETS:%=$(srcdir)/%) $(srcdir)/plot/embed.sh
	@$(MKDIR_P) plot
	$(AM_V_GEN)$(SHELL) $(srcdir)/plot/embed.sh \
	  pmt_flamegraph_js=$(srcdir)/plot/flamegraph.js \
	  pmt_report_js=$(srcdir)/plot/report.js \
	  pmt_report_css=$(srcdir)/plot/report.css >$@.tmp && mv $@.tmp $@
BUILT_SOURCES += plot/assets.c
CLEANFILES += plot/assets.c

bin_PROGRAMS += plot/pmt-flamegraph
plot_pmt_flamegraph_SOURCES = plot/pmt-flamegraph.c plot/flame-svg.h plot/flame-svg.c
nodist_plot_pmt_flamegraph_SOURCES = plot/assets.c
plot_pmt_flamegraph_LDADD = $(LIBPMT_REPORT) -lm

bin_PROGRAMS += plot/pmt-report
plot_pmt_report_SOURCES = plot/pmt-report.c plot/report.h plot/report-chart.c \
	plot/flame-svg.h plot/flame-svg.c
nodist_plot_pmt_report_SOURCES = plot/assets.c
plot_pmt_report_LDADD = $(LIBPMT_REPORT) -lm
