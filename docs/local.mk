# SPDX-License-Identifier: MIT
# docs
dist_doc_DATA = docs/FORMAT.md docs/FUZZING.md
# process monitoring and plots (issue 4)
dist_man_MANS += docs/pmt-gnuplot.1 docs/pmt_tracer.process.1
dist_man_MANS += docs/pmt_tracer.1
dist_man_MANS += docs/pmt-filter.1 docs/pmt-prev.1 docs/pmt-summarise.1 docs/pmt-diff.1
dist_man_MANS += docs/pmt-flamegraph.1 docs/pmt-report.1
EXTRA_DIST += docs/images/LASToHTML.log_31392.svg docs/images/flamegraph.png docs/images/report.png
