# libpmt modules for process logs: the JSON record reader (jansson) and the
# reports of pmt-summarise / pmt-diff / pmt-gnuplot on them.
libpmt_libpmt_la_SOURCES += \
	libpmt/process-reader.h libpmt/process-reader.c \
	libpmt/process-report.h libpmt/process-report.c
