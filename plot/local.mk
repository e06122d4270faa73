# SPDX-License-Identifier: MIT
# plot: pmt-gnuplot writes .dat/.plt (its gnuplot templates are in the
# source) and runs gnuplot (PMT_GNUPLOT, or $GNUPLOT) by fork/exec.
bin_PROGRAMS += plot/pmt-gnuplot
plot_pmt_gnuplot_SOURCES = plot/pmt-gnuplot.c plot/gnuplot.h plot/gnuplot-common.c plot/gnuplot-events.c
plot_pmt_gnuplot_LDADD = $(LIBPMT_REPORT)
