# SPDX-License-Identifier: MIT
# CPython's own test suite as a tracer workload: modules of the configured
# interpreter's `test` package run untraced and traced, and must give the same
# results and logs that decode completely. Minutes, not seconds, so not part
# of `make check`: `make check-cpython` runs it alone (.ci/setup does, for
# 3.11 and 3.13). The runs happen in tests/cpython/work/, where a failing
# run's output, per-test record and log are kept.
CPYTHON_TESTS = tests/cpython/cpython-suite.test
EXTRA_DIST += $(CPYTHON_TESTS) \
	tests/cpython/cpython_suite.py \
	tests/cpython/cpython_unittest.py

# The harness shows one line per run; the table of times from the log too.
check-cpython: all $(check_SCRIPTS)
	@st=0; $(MAKE) $(AM_MAKEFLAGS) check TESTS='$(CPYTHON_TESTS)' || st=$$?; \
	sed -n 's/^# //; /^seconds /,$$p' tests/cpython/cpython-suite.log 2>/dev/null; \
	exit $$st
.PHONY: check-cpython

clean-local: clean-cpython-work
clean-cpython-work:
	-rm -rf tests/cpython/work
.PHONY: clean-cpython-work
