/* SPDX-License-Identifier: MIT */
#pragma once
/* Included after the tool's source (see tool.h). */
#undef main
#undef setvbuf
int tool_main(int argc, char **argv); /* the tool's main() */
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The input in memfd slot i (0 or 1), as a path the tool can open. */
static const char *fuzz_memfd(unsigned i, const uint8_t *data, size_t size)
{
	static int fd[2] = {-1, -1};
	static char path[2][64];
	if (fd[i] < 0) {
		fd[i] = memfd_create("fuzz-input", MFD_CLOEXEC);
		FUZZ_CHECK(fd[i] >= 0);
		snprintf(path[i], sizeof(path[i]), "/proc/self/fd/%d", fd[i]);
	}
	FUZZ_CHECK(ftruncate(fd[i], 0) == 0);
	size_t done = 0;
	while (done < size) {
		ssize_t k = pwrite(fd[i], data + done, size - done, (off_t)done);
		FUZZ_CHECK(k > 0);
		done += (size_t)k;
	}
	return path[i];
}

/* Runs the tool with args (NULL-terminated; "@0" and "@1" stand for the
 * inputs) and checks it ended as documented: 0, 1 or 2, never a crash. */
static void fuzz_tool(const char *const *args, const char *in0, const char *in1)
{
	char *argv[16];
	int argc = 0;
	for (; args[argc] && argc < 15; argc++) {
		const char *a = args[argc];
		argv[argc] = (char *)(!strcmp(a, "@0") ? in0 : !strcmp(a, "@1") ? in1 : a);
	}
	argv[argc] = NULL;
	optind = 0; /* getopt starts afresh */
	int status = tool_main(argc, argv);
	FUZZ_CHECK(status >= 0 && status <= 2);
	fflush(stdout);
	clearerr(stdout);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* what the tool prints goes nowhere; its messages go to stderr, which
	 * `make fuzz` closes (-close_fd_mask=3) */
	FUZZ_CHECK(freopen("/dev/null", "w", stdout) != NULL);
	return 0;
}
