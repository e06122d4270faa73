# SPDX-License-Identifier: MIT
# The process monitor: a second extension, pmt_tracer._pmt_process (a native
# thread reading /proc, no libpmt, never libpython), and its Python side.
pmt_tracer_LTLIBRARIES += tracer/_pmt_process.la
tracer__pmt_process_la_SOURCES = tracer/_pmt_process.c tracer/process-line.h tracer/process-line.c
tracer__pmt_process_la_CPPFLAGS = $(AM_CPPFLAGS) $(PYTHON_CPPFLAGS)
tracer__pmt_process_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
tracer__pmt_process_la_LDFLAGS = -module -avoid-version -shared -rpath $(pmt_tracerdir) $(AM_LDFLAGS)
tracer__pmt_process_la_LIBADD = $(PTHREAD_LIBS) -lm

pmt_tracer_PYTHON += tracer/pmt_tracer/process.py

# Staged beside the tracer's own files (see tracer/local.mk), by a target of
# its own so the two stagings do not depend on each other.
all-local: pylib-stage-process
pylib-stage-process: tracer/_pmt_process.la tracer/pmt_tracer/process.py
	@$(MKDIR_P) $(pylib_stage)
	@cp -f $(srcdir)/tracer/pmt_tracer/process.py $(pylib_stage)/
	@cp -f tracer/.libs/_pmt_process.so $(pylib_stage)/_pmt_process.so
.PHONY: pylib-stage-process

install-data-hook: install-data-hook-process
install-data-hook-process:
	rm -f $(DESTDIR)$(pmt_tracerdir)/_pmt_process.la
uninstall-hook: uninstall-hook-process
uninstall-hook-process:
	rm -f $(DESTDIR)$(pmt_tracerdir)/_pmt_process.so
.PHONY: install-data-hook-process uninstall-hook-process
