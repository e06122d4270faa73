/* SPDX-License-Identifier: MIT */
#pragma once
/* heap-frame.c: where the calling thread's Python code is, without a hook. */
#include "compat.h"

#include <stdbool.h>

/* The innermost complete Python frame of the calling thread (GIL held):
 * its code object (borrowed: the frame holds it while the thread runs in
 * it) and the byte offset of its current instruction, which
 * PyCode_Addr2Line turns into the line. False when the thread runs no
 * Python code. */
bool heap_frame_now(PyCodeObject **co, int *offset);
