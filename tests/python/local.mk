# Python unittest files for the tracer (TAP through tap_unittest.py)
EXTRA_DIST += tests/python/tap_unittest.py tests/python/pmtlog.py tests/python/pmt_testlib.py
TESTS += tests/python/test_cli.py tests/python/test_events.py tests/python/test_api.py
EXTRA_DIST += tests/python/test_cli.py tests/python/test_events.py tests/python/test_api.py
# the process monitor (issue 4)
TESTS += tests/python/test_process.py
EXTRA_DIST += tests/python/test_process.py
# the two hooks (sys.monitoring and legacy) see the same events (issue 5)
TESTS += tests/python/test_hooks.py
EXTRA_DIST += tests/python/test_hooks.py
