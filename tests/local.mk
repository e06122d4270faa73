# SPDX-License-Identifier: MIT
# Tests: C unit tests per libpmt module, Bats per tool, Python unittest for
# the tracer, and (make check-cpython only) CPython's own test suite traced.
# Each list is extended by the file that owns it.
include tests/unit/local.mk
include tests/bats/local.mk
include tests/python/local.mk
include tests/cpython/local.mk
include tests/fuzz/local.mk
include tests/browser/local.mk

# Tests run Python through this wrapper: in a sanitizer build it preloads the
# sanitizer runtimes that the extension was linked against (the interpreter
# itself is not instrumented) and leaves the interpreter's own exit-time
# allocations out of leak reports.
check_SCRIPTS = tests/pmt-python
CLEANFILES += tests/pmt-python
tests/pmt-python: Makefile
	@$(MKDIR_P) tests
	$(AM_V_GEN){ \
	  echo '#!/bin/sh'; \
	  preload=; \
	  for lib in $(SAN_RUNTIMES); do \
	    p=`$(CC) -print-file-name=$$lib`; \
	    case "$$p" in /*) preload="$$preload$${preload:+:}$$p";; esac; \
	  done; \
	  if test -n "$$preload"; then \
	    echo "LD_PRELOAD=\"$$preload\$${LD_PRELOAD:+:\$$LD_PRELOAD}\"; export LD_PRELOAD"; \
	    echo 'ASAN_OPTIONS="detect_leaks=0$${ASAN_OPTIONS:+:$$ASAN_OPTIONS}"; export ASAN_OPTIONS'; \
	  fi; \
	  echo 'exec $(PYTHON) "$$@"'; \
	} > $@.tmp && chmod +x $@.tmp && mv $@.tmp $@

# The tracer's tests alone (.ci/setup runs them under every CPython).
check-python: all $(check_SCRIPTS)
	$(MAKE) $(AM_MAKEFLAGS) check TESTS='$(PYTHON_TESTS)'
.PHONY: check-python

# After make install: pytest finds the plugin from the installed metadata.
EXTRA_DIST += tests/installcheck-pytest.sh
installcheck-local:
	$(SHELL) $(srcdir)/tests/installcheck-pytest.sh '$(PYTHON)' '$(DESTDIR)$(pyexecdir)' '$(DESTDIR)$(bindir)'
