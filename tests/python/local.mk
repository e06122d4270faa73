# SPDX-License-Identifier: MIT
# Python unittest files for the tracer, run through tap_unittest.py so each
# test case counts. .ci/setup runs PYTHON_TESTS alone under every CPython.
PYTHON_TESTS = \
	tests/python/test_cli.py \
	tests/python/test_events.py \
	tests/python/test_api.py \
	tests/python/test_process.py \
	tests/python/test_hooks.py \
	tests/python/test_reliability.py \
	tests/python/test_follow.py \
	tests/python/test_pytest_plugin.py
TESTS += $(PYTHON_TESTS)
EXTRA_DIST += $(PYTHON_TESTS) \
	tests/python/tap_unittest.py \
	tests/python/pmtlog.py \
	tests/python/pmt_testlib.py
