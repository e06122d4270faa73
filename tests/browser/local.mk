# SPDX-License-Identifier: MIT
# Browser tests: Debian's chromium driven by playwright-core (no browser of
# its own), installed from npm into the build tree with the committed lock
# file. When npm cannot install it, the reason is kept in npm.log and the
# browser tests skip saying so.
BROWSER_FILES = tests/browser/package.json tests/browser/package-lock.json tests/browser/check.mjs
EXTRA_DIST += $(BROWSER_FILES)
check_DATA = tests/browser/.installed
CLEANFILES += tests/browser/.installed tests/browser/npm.log
tests/browser/.installed: $(BROWSER_FILES:%=$(srcdir)/%)
	@$(MKDIR_P) tests/browser
	@for f in $(BROWSER_FILES); do \
	  cmp -s $(srcdir)/$$f $$f || cp -f $(srcdir)/$$f $$f; done
	$(AM_V_GEN)if ! command -v npm >/dev/null 2>&1; then \
	  echo "npm is not installed" >tests/browser/npm.log; \
	elif (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error) \
	    >tests/browser/npm.log 2>&1; then :; \
	else echo "npm ci failed" >>tests/browser/npm.log; fi; touch $@
clean-local: clean-browser
clean-browser:
	-rm -rf tests/browser/node_modules tests/browser/shots
	-test "$(abs_srcdir)" = "$(abs_builddir)" || rm -f $(BROWSER_FILES)
.PHONY: clean-browser
