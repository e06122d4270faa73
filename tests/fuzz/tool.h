/* SPDX-License-Identifier: MIT */
#pragma once
/* A tool's whole main() as a fuzz target: a target file includes this, then
 * the tool's source (its main() becomes tool_main()), then tool-run.h, and
 * runs tool_main() on the input with the argument sets it lists. The input
 * is given by path to a memfd, so no file is written per run. Ownership:
 * the memfds live for the whole process. */
#include <getopt.h>
#include <stdio.h>

#define main tool_main
/* stdout is /dev/null for the whole run: main()'s buffer would be set again
 * on every call, after output. */
#define setvbuf(stream, buf, mode, size) ((void)(buf), 0)
