#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A call-dense micro workload for the tracer benchmarks.

Almost nothing but Python calls and C calls, the worst case for a per-event
tracer: small recursive functions, methods, builtins, a generator, and a
list that grows and is dropped now and then so that RSS changes a little.
About 20-25 M profile events; `--scale` multiplies the work. With
--thread-cpu FILE, the CPU time of the main thread (where a tracer's hook
runs) is written to FILE at the end, in seconds.

    calls.py [--scale F] [--thread-cpu FILE]
"""
import sys
import time


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


class Point:
    __slots__ = ('x', 'y')

    def __init__(self, x, y):
        self.x = x
        self.y = y

    def norm1(self):
        return abs(self.x) + abs(self.y)


def gen(n):
    for i in range(n):
        yield i


def work(rounds):
    total = 0
    keep = []
    for r in range(rounds):
        total += fib(15)
        for i in gen(200):
            p = Point(i, -r)
            total += p.norm1()
            keep.append(len(str(i)))
        if r % 50 == 49:
            keep = []  # RSS goes up and down a little
    return total + len(keep)


def main():
    scale, cpu_file = 1.0, None
    args = sys.argv[1:]
    while len(args) >= 2 and args[0] in ('--scale', '--thread-cpu'):
        if args[0] == '--scale':
            scale = float(args[1])
        else:
            cpu_file = args[1]
        args = args[2:]
    if args:
        print('usage: calls.py [--scale F] [--thread-cpu FILE]', file=sys.stderr)
        return 2
    print(work(max(1, int(4000 * scale))))
    if cpu_file:
        with open(cpu_file, 'w') as f:
            f.write('%.6f\n' % time.thread_time())
    return 0


if __name__ == '__main__':
    sys.exit(main())
