# SPDX-License-Identifier: MIT
# The CPython extension and the pmt_tracer package. Installed together into
# $(pyexecdir)/pmt_tracer; libpython is never linked in.
pmt_tracerdir = $(pyexecdir)/pmt_tracer
pmt_tracer_LTLIBRARIES = tracer/_pmt_tracer.la
tracer__pmt_tracer_la_SOURCES = tracer/compat.h tracer/tracer.h \
	tracer/record.h tracer/record.c tracer/clock.h tracer/clock.c tracer/monitoring.c tracer/guard.h tracer/guard.c \
	tracer/guard-mon.c tracer/guard-say.c tracer/install.c tracer/fork.c tracer/log.c tracer/module.c \
	tracer/heap-abi.h tracer/heap.c tracer/heap-frame.h tracer/heap-frame.c tracer/objects.c
tracer__pmt_tracer_la_CPPFLAGS = $(AM_CPPFLAGS) $(PYTHON_CPPFLAGS)
tracer__pmt_tracer_la_CFLAGS = $(AM_CFLAGS) $(ZSTD_CFLAGS) -fvisibility=hidden
tracer__pmt_tracer_la_LDFLAGS = -module -avoid-version -shared -rpath $(pmt_tracerdir) $(AM_LDFLAGS)
tracer__pmt_tracer_la_LIBADD = $(LIBPMT_CORE)

pmt_tracer_PYTHON = \
	tracer/pmt_tracer/__init__.py \
	tracer/pmt_tracer/__main__.py \
	tracer/pmt_tracer/follow.py \
	tracer/pmt_tracer/pytest_plugin.py

# The distribution's metadata, so that pytest finds the plugin (its pytest11
# entry point) in an installed pmt_tracer. Made from the package version.
pmt_distinfodir = $(pyexecdir)/pmt_tracer-$(VERSION).dist-info
nodist_pmt_distinfo_DATA = \
	tracer/dist-info/METADATA \
	tracer/dist-info/entry_points.txt \
	tracer/dist-info/top_level.txt \
	tracer/dist-info/INSTALLER
CLEANFILES += $(nodist_pmt_distinfo_DATA)
tracer/dist-info/METADATA: Makefile
	@$(MKDIR_P) tracer/dist-info
	$(AM_V_GEN)printf '%s\n' 'Metadata-Version: 2.1' 'Name: pmt_tracer' 'Version: $(VERSION)' \
	  'Summary: Record the RSS of a Python program at every call and return (pmt)' \
	  'License: MIT' >$@
tracer/dist-info/entry_points.txt: Makefile
	@$(MKDIR_P) tracer/dist-info
	$(AM_V_GEN)printf '%s\n' '[pytest11]' 'pmt = pmt_tracer.pytest_plugin' >$@
tracer/dist-info/top_level.txt: Makefile
	@$(MKDIR_P) tracer/dist-info
	$(AM_V_GEN)echo pmt_tracer >$@
tracer/dist-info/INSTALLER: Makefile
	@$(MKDIR_P) tracer/dist-info
	$(AM_V_GEN)echo make >$@

# --follow-children puts this directory on the children's PYTHONPATH. Not a
# package, and read by any Python a child may be: never byte-compiled.
pmt_tracer_bootstrapdir = $(pmt_tracerdir)/_bootstrap
dist_pmt_tracer_bootstrap_DATA = tracer/pmt_tracer/_bootstrap/sitecustomize.py

# Stage the package (sources + built extension) in $(builddir)/pylib so the
# tests import exactly what would be installed.
pylib_stage = $(top_builddir)/pylib/pmt_tracer
all-local: pylib-stage
pylib-stage: tracer/_pmt_tracer.la $(pmt_tracer_PYTHON) $(dist_pmt_tracer_bootstrap_DATA) \
		$(nodist_pmt_distinfo_DATA)
	@$(MKDIR_P) $(pylib_stage)/_bootstrap $(top_builddir)/pylib/pmt_tracer-$(VERSION).dist-info
	@for f in $(pmt_tracer_PYTHON); do cp -f $(srcdir)/$$f $(pylib_stage)/; done
	@cp -f $(srcdir)/tracer/pmt_tracer/_bootstrap/sitecustomize.py $(pylib_stage)/_bootstrap/
	@cp -f $(nodist_pmt_distinfo_DATA) $(top_builddir)/pylib/pmt_tracer-$(VERSION).dist-info/
	@cp -f tracer/.libs/_pmt_tracer.so $(pylib_stage)/_pmt_tracer.so
.PHONY: pylib-stage

clean-local: clean-pylib
clean-pylib:
	-rm -rf $(top_builddir)/pylib

install-data-hook:
	rm -f $(DESTDIR)$(pmt_tracerdir)/_pmt_tracer.la
uninstall-hook:
	rm -f $(DESTDIR)$(pmt_tracerdir)/_pmt_tracer.so
	-rmdir $(DESTDIR)$(pmt_distinfodir) $(DESTDIR)$(pmt_tracer_bootstrapdir)
include tracer/process.mk
include tracer/heap.mk
