# SPDX-License-Identifier: MIT
# sample-data: the sample workload of the demo and the benchmarks. The LAS
# files are generated (deterministically) into the build tree, never stored.
EXTRA_DIST += sample-data/gen_las.py sample-data/lastohtml.py

SAMPLE_LAS_DIR = $(abs_top_builddir)/sample-data/las
# `make sample-las`: the input files; `make sample-run`: one untraced run
# into sample-data/html (LASToHTML.log there).
sample-las: sample-data/las/.stamp
sample-data/las/.stamp: $(top_srcdir)/sample-data/gen_las.py
	@$(MKDIR_P) sample-data/las
	$(AM_V_GEN)$(PYTHON) $(top_srcdir)/sample-data/gen_las.py $(SAMPLE_LAS_DIR) >/dev/null
	@touch $@
sample-run: sample-las
	$(PYTHON) $(top_srcdir)/sample-data/lastohtml.py $(SAMPLE_LAS_DIR) sample-data/html
.PHONY: sample-las sample-run

clean-local: clean-sample-data
clean-sample-data:
	-rm -rf sample-data/las sample-data/html
.PHONY: clean-sample-data
