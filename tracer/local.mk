# SPDX-License-Identifier: MIT
# The CPython extension and the pmt_tracer package. Installed together into
# $(pyexecdir)/pmt_tracer; libpython is never linked in.
pmt_tracerdir = $(pyexecdir)/pmt_tracer
pmt_tracer_LTLIBRARIES = tracer/_pmt_tracer.la
tracer__pmt_tracer_la_SOURCES = tracer/compat.h tracer/tracer.h \
	tracer/record.h tracer/record.c tracer/monitoring.c tracer/log.c tracer/module.c \
	tracer/heap-abi.h tracer/heap.c
tracer__pmt_tracer_la_CPPFLAGS = $(AM_CPPFLAGS) $(PYTHON_CPPFLAGS)
tracer__pmt_tracer_la_CFLAGS = $(AM_CFLAGS) $(ZSTD_CFLAGS) -fvisibility=hidden
tracer__pmt_tracer_la_LDFLAGS = -module -avoid-version -shared -rpath $(pmt_tracerdir) $(AM_LDFLAGS)
tracer__pmt_tracer_la_LIBADD = $(LIBPMT_CORE)

pmt_tracer_PYTHON = \
	tracer/pmt_tracer/__init__.py \
	tracer/pmt_tracer/__main__.py

# Stage the package (sources + built extension) in $(builddir)/pylib so the
# tests import exactly what would be installed.
pylib_stage = $(top_builddir)/pylib/pmt_tracer
all-local: pylib-stage
pylib-stage: tracer/_pmt_tracer.la $(pmt_tracer_PYTHON)
	@$(MKDIR_P) $(pylib_stage)
	@for f in $(pmt_tracer_PYTHON); do cp -f $(srcdir)/$$f $(pylib_stage)/; done
	@cp -f tracer/.libs/_pmt_tracer.so $(pylib_stage)/_pmt_tracer.so
.PHONY: pylib-stage

clean-local: clean-pylib
clean-pylib:
	-rm -rf $(top_builddir)/pylib

install-data-hook:
	rm -f $(DESTDIR)$(pmt_tracerdir)/_pmt_tracer.la
uninstall-hook:
	rm -f $(DESTDIR)$(pmt_tracerdir)/_pmt_tracer.so
include tracer/process.mk
include tracer/heap.mk
