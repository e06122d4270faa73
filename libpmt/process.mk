# libpmt modules for process logs (JSON reader)
