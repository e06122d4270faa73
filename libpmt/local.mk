# SPDX-License-Identifier: MIT
# libpmt: the internal libraries, one per layer. Each layer uses only the
# ones below it: core (log format, writer, RSS; libzstd only) <- read (inputs,
# event sources and their backends, process logs, regex) <- report (profiles,
# tables, event formatting, the tools' command-line helpers).
include libpmt/core/local.mk
include libpmt/read/local.mk
include libpmt/report/local.mk
