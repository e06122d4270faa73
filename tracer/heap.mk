# SPDX-License-Identifier: MIT
# libpmt_heap.so: the allocator interposer that `python -m pmt_tracer --heap`
# preloads (tracer/heap-abi.h). Installed beside the extension, which finds
# it there. Never instrumented by a sanitizer: it runs before any sanitizer
# runtime is initialised and forwards to the sanitizer's allocator.
pmt_tracer_LTLIBRARIES += tracer/libpmt_heap.la
tracer_libpmt_heap_la_SOURCES = tracer/heap-preload.c tracer/heap-abi.h
tracer_libpmt_heap_la_CFLAGS = $(WARN_CFLAGS) $(PTHREAD_CFLAGS) -fvisibility=hidden
tracer_libpmt_heap_la_LDFLAGS = -module -avoid-version -shared -rpath $(pmt_tracerdir)
tracer_libpmt_heap_la_LIBADD = $(PTHREAD_LIBS)

all-local: pylib-stage-heap
pylib-stage-heap: tracer/libpmt_heap.la
	@$(MKDIR_P) $(pylib_stage)
	@cp -f tracer/.libs/libpmt_heap.so $(pylib_stage)/libpmt_heap.so
.PHONY: pylib-stage-heap

install-data-hook: install-data-hook-heap
install-data-hook-heap:
	rm -f $(DESTDIR)$(pmt_tracerdir)/libpmt_heap.la
.PHONY: install-data-hook-heap
