# SPDX-License-Identifier: MIT
"""The events' clock: with the TSC (where the kernel's clocksource is tsc)
and with PMT_TRACER_CLOCK=monotonic, event times never go backwards, are
measured from the start, and show the program's sleeps as they were."""
import os
import time
import unittest

import pmt_testlib as tl

PROG = '''
import time
def napping(s):
    time.sleep(s)
def busy(n):
    return sum(i * i for i in range(n))
for i in range(4):
    busy(20000)
    napping(0.15)
busy(200000)
'''


class TestClock(tl.TmpDirCase):
    def check(self, extra_env):
        prog = tl.write(self.dir, 'prog.py', PROG)
        log = self.path('c.log.zst')
        old = dict(os.environ)
        os.environ.update(extra_env)
        try:
            t0 = time.monotonic()
            r = tl.trace(['-q', '-o', log, prog], self.dir)
            wall = time.monotonic() - t0
        finally:
            os.environ.clear()
            os.environ.update(old)
        self.assertRan(r)
        lg = self.read_log(log)
        times = [e.t_ns for e in lg.events]
        self.assertGreater(len(times), 10000)
        self.assertEqual(times, sorted(times), 'an event time went backwards')
        self.assertLess(times[-1], wall * 1e9)
        # each napping() call: from its CALL to its RETURN, the sleep
        naps = []
        start = None
        for e in lg.events:
            if lg.name_of(e) != 'napping':
                continue
            if e.what == 'CALL':
                start = e.t_ns
            elif e.what == 'RETURN' and start is not None:
                naps.append(e.t_ns - start)
        self.assertEqual(len(naps), 4, naps)
        for d in naps:
            self.assertGreaterEqual(d, 0.15e9)
            self.assertLess(d, 0.15e9 + 0.1e9)

    def test_default_clock(self):
        # the TSC where the kernel uses it, else CLOCK_MONOTONIC
        self.check({})

    def test_monotonic_clock(self):
        self.check({'PMT_TRACER_CLOCK': 'monotonic'})


if __name__ == '__main__':
    unittest.main()
