# Python unittest files for the tracer (TAP through tap_unittest.py)
EXTRA_DIST += tests/python/tap_unittest.py
