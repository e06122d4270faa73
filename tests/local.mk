# Tests: C unit tests per libpmt module, Bats per tool, Python unittest for
# the tracer. Each list is extended by the file that owns it.
include tests/unit/local.mk
include tests/bats/local.mk
include tests/python/local.mk
