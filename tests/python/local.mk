# SPDX-License-Identifier: MIT
# Python unittest files for the tracer, run through tap_unittest.py so each
# test case counts. .ci/setup runs PYTHON_TESTS alone under every CPython.
PYTHON_TESTS = \
	tests/python/test_cli.py \
	tests/python/test_events.py \
	tests/python/test_api.py \
	tests/python/test_process.py \
	tests/python/test_hooks.py \
	tests/python/test_heap.py \
	tests/python/test_reliability.py \
	tests/python/test_follow.py \
	tests/python/test_pytest_plugin.py \
	tests/python/test_guard.py \
	tests/python/test_fds.py \
	tests/python/test_clock.py \
	tests/python/test_objects.py
TESTS += $(PYTHON_TESTS)

# A test-only library of known allocation patterns, loaded by test_heap.py
# with ctypes (never installed).
check_LTLIBRARIES = tests/python/libpmt_heaptest.la
tests_python_libpmt_heaptest_la_SOURCES = tests/python/heaptest.c
# the calls are the point: no pairing away of malloc and free, no dropped free(NULL)
tests_python_libpmt_heaptest_la_CFLAGS = $(AM_CFLAGS) -fno-builtin
tests_python_libpmt_heaptest_la_LDFLAGS = -module -avoid-version -shared -rpath /nowhere \
	$(AM_LDFLAGS)
tests_python_libpmt_heaptest_la_LIBADD = $(PTHREAD_LIBS)
EXTRA_DIST += $(PYTHON_TESTS) \
	tests/python/tap_unittest.py \
	tests/python/pmtlog.py \
	tests/python/pmt_testlib.py
