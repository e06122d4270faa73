# SPDX-License-Identifier: MIT
# bench: benchmark scripts (not timed tests). Run from the build directory:
#   make bench            tracer overhead + the technical-note table
#   make bench-tracer     bench/tracer.py (sample + call-dense workloads)
#   make bench-technote   bench/technote.py, writes docs/bench-technote.{md,rst};
#                         its second table (Profile, Trace, Reference Tracing)
#                         runs under CPython 3.13+: PYTHON when it is one, else
#                         PMT_BENCH_OBJECTS_PYTHON or the newest found, with pmt
#                         built for it in bench-pyX.Y/ (configured there once)
#   make bench-heap       bench/heap.py, the DTrace note and heap tracing's
#                         overhead beside tracemalloc: docs/bench-heap.{md,rst}
#   make bench-objects    bench/objects.py (a build for CPython 3.13+): object
#                         tracing beside cPyMemTrace: docs/bench-objects.md
# BENCH_REPS=N sets the repetitions (median of interleaved runs).
# PMT_BENCH_PEER_PATH=DIR (a directory where pymemtrace's cPyMemTrace imports)
# adds cPyMemTrace.Profile at d_rss_trigger 0 and -1 to bench-tracer's run.
#   make bench-analysers  bench/analysers.sh: the readers, and parallel decode
#                         against zstd -d on a real 37 M-event log
EXTRA_DIST += bench/analysers.sh bench/pictures.sh
EXTRA_DIST += bench/benchlib.py bench/calls.py bench/tracer.py bench/technote.py bench/heap.py \
	bench/objects.py
EXTRA_DIST += docs/bench-heap.md docs/bench-heap.rst docs/bench-objects.md
EXTRA_DIST += docs/BENCHMARKS.md docs/bench-technote.md docs/bench-technote.rst

BENCH_REPS = 3
BENCH_ENV = PMT_SRCDIR='$(abs_top_srcdir)' PMT_BUILDDIR='$(abs_top_builddir)' PYTHON='$(PYTHON)'
bench: bench-tracer bench-technote
bench-tracer: all
	$(BENCH_ENV) $(PYTHON) $(top_srcdir)/bench/tracer.py --reps $(BENCH_REPS)
bench-technote: all
	$(BENCH_ENV) $(PYTHON) $(top_srcdir)/bench/technote.py --reps $(BENCH_REPS)
bench-analysers: all
	$(BENCH_ENV) BENCH_REPS=$(BENCH_REPS) sh $(top_srcdir)/bench/analysers.sh '$(abs_top_builddir)'
bench-heap: all
	$(BENCH_ENV) $(PYTHON) $(top_srcdir)/bench/heap.py --reps $(BENCH_REPS)
bench-objects: all
	$(BENCH_ENV) $(PYTHON) $(top_srcdir)/bench/objects.py --reps $(BENCH_REPS)
.PHONY: bench bench-tracer bench-technote bench-heap bench-analysers bench-objects
clean-local: clean-bench
clean-bench:
	rm -rf bench-py*
.PHONY: clean-bench
