#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A call-dense micro workload for the tracer benchmarks.

Almost nothing but Python calls and C calls, the worst case for a per-event
tracer: small recursive functions, methods, builtins, a generator, and a
list that grows and is dropped now and then so that RSS changes a little.
About 20-25 M profile events; `--scale` multiplies the work.

    calls.py [--scale F]
"""
import sys


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
    scale = 1.0
    if len(sys.argv) == 3 and sys.argv[1] == '--scale':
        scale = float(sys.argv[2])
    elif len(sys.argv) != 1:
        print('usage: calls.py [--scale F]', file=sys.stderr)
        return 2
    print(work(max(1, int(4000 * scale))))
    return 0


if __name__ == '__main__':
    sys.exit(main())
