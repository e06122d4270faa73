# SPDX-License-Identifier: MIT
"""The Python API, with pymemtrace's names: Profile/Trace context managers,
nesting, decorators, rss(), rss_peak(), messages, log paths, hook errors."""
import os
import re
import resource
import sys
import time
import unittest

import pmt_tracer
import pmtlog
from pmt_testlib import TmpDirCase


def target(n):
    return n + 1


def inner_only(n):
    return n * 3


def statm_bytes():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGESIZE')


class TestApi(TmpDirCase):
    def test_profile_context_manager(self):
        p = self.path('p.log.zst')
        with pmt_tracer.Profile(0, filepath=p) as prof:
            for i in range(10):
                target(i)
            self.assertEqual(prof.log_file_path(), p)
            self.assertEqual(pmt_tracer.profile_wrapper_depth(), 1)
        self.assertEqual(pmt_tracer.profile_wrapper_depth(), 0)
        log = pmtlog.read(p)
        self.assertFalse(log.truncated)
        self.assertEqual(log.header['mode'], 0)
        self.assertEqual(log.header['drss_trigger'], 0)
        self.assertTrue(log.trailer['flags'] & pmtlog.TRL_CLEAN)
        calls = [e for e in log.events if e.what == 'CALL' and log.name_of(e) == 'target']
        self.assertEqual(len(calls), 10)
        self.assertEqual(log.header['pid'], os.getpid())

    def test_trace_context_manager(self):
        p = self.path('t.log.zst')
        with pmt_tracer.Trace(0, filepath=p):
            target(1)
        log = pmtlog.read(p)
        self.assertEqual(log.header['mode'], 1)
        lines = [e for e in log.events if e.what == 'LINE' and log.name_of(e) == 'target']
        self.assertEqual([e.line for e in lines], [target.__code__.co_firstlineno + 1])

    def test_default_trigger_is_one_page_and_default_path(self):
        cwd = os.getcwd()
        os.chdir(self.dir)
        try:
            with pmt_tracer.Profile() as prof:
                target(1)
                path = prof.log_file_path()
        finally:
            os.chdir(cwd)
        self.assertEqual(os.path.dirname(path), self.dir)
        self.assertRegex(os.path.basename(path),
                         r'^\d{8}_\d{6}_\d+_%d_P_0_PY%d\.%d\.%d\.log\.zst$'
                         % ((os.getpid(),) + sys.version_info[:3]))
        log = pmtlog.read(path)
        self.assertEqual(log.header['drss_trigger'], os.sysconf('SC_PAGESIZE'))

    def test_nesting_suspends_the_outer(self):
        po, pi = self.path('outer.log.zst'), self.path('inner.log.zst')
        with pmt_tracer.Profile(0, filepath=po) as outer:
            target(1)
            with pmt_tracer.Profile(0, filepath=pi) as inner:
                inner_only(1)
                self.assertEqual(outer.log_file_path(), po)   # its own path
                self.assertEqual(inner.log_file_path(), pi)
                self.assertEqual(pmt_tracer.profile_log_path(), pi)
                self.assertEqual(pmt_tracer.profile_wrapper_depth(), 2)
                outer.write_message_to_log('to the outer while suspended')
            target(2)
        olog, ilog = pmtlog.read(po), pmtlog.read(pi)
        onames = [olog.name_of(e) for e in olog.events if e.what == 'CALL']
        inames = [ilog.name_of(e) for e in ilog.events if e.what == 'CALL']
        self.assertNotIn('inner_only', onames)
        self.assertIn('inner_only', inames)
        self.assertEqual(onames.count('target'), 2)
        texts = [t for _, _, t in olog.messages]
        self.assertTrue(any(t.startswith('# Detaching') and t.endswith(pi) for t in texts), texts)
        self.assertIn('to the outer while suspended', texts)
        self.assertTrue(any(t.startswith('# Re-attaching') for t in texts), texts)
        self.assertFalse(olog.truncated)
        self.assertFalse(ilog.truncated)

    def test_profile_and_trace_run_together(self):
        pp, pt = self.path('p.log.zst'), self.path('t.log.zst')
        with pmt_tracer.Profile(0, filepath=pp):
            with pmt_tracer.Trace(0, filepath=pt):
                target(5)
        for path, kind in ((pp, 'CALL'), (pt, 'LINE')):
            log = pmtlog.read(path)
            self.assertTrue(any(e.what == kind and log.name_of(e) == 'target'
                                for e in log.events), path)

    def test_decorators_make_one_log_per_call(self):
        paths = [self.path('d1.log.zst'), self.path('d2.log.zst')]

        for i, p in enumerate(paths):
            @pmt_tracer.profile(0, filepath=p)
            def decorated(n):
                return target(n)
            self.assertEqual(decorated(i), i + 1)
        for p in paths:
            log = pmtlog.read(p)
            self.assertIn('target', {log.name_of(e) for e in log.events})

        pt = self.path('dt.log.zst')

        @pmt_tracer.trace(0, filepath=pt)
        def traced():
            return target(2)
        self.assertEqual(traced(), 3)
        self.assertEqual(pmtlog.read(pt).header['mode'], 1)

    def test_write_message_to_log(self):
        with self.assertRaises(ValueError):
            pmt_tracer.write_message_to_log('nobody listens')
        p = self.path('m.log.zst')
        with pmt_tracer.Profile(0, filepath=p) as prof:
            target(1)
            pmt_tracer.write_message_to_log('module-level')
            prof.write_message_to_log('method é')
            with self.assertRaises(ValueError):
                prof.write_message_to_log(42)
        with self.assertRaises(IOError):
            prof.write_message_to_log('closed')
        log = pmtlog.read(p)
        self.assertEqual([t for _, _, t in log.messages if not t.startswith('pmt: hook=')],
                         ['module-level', 'method é'])

    def test_message_argument(self):
        p = self.path('m.log.zst')
        with pmt_tracer.Profile(0, 'hello', p):
            pass
        texts = [t for _, _, t in pmtlog.read(p).messages]
        self.assertTrue(texts[0].startswith('pmt: hook='), texts)   # which hook, first
        self.assertEqual(texts[1:], ['hello'])

    def test_bad_arguments(self):
        with self.assertRaises(TypeError):
            pmt_tracer.Profile('foo')
        with self.assertRaises(TypeError):
            pmt_tracer.Profile(0, 1, 2, 3)
        with self.assertRaises(TypeError):
            pmt_tracer.Trace(nope=1)

    def test_unwritable_path(self):
        with self.assertRaises(OSError):
            with pmt_tracer.Profile(0, filepath=self.path('no/such/dir.log.zst')):
                pass
        self.assertEqual(pmt_tracer.profile_wrapper_depth(), 0)

    def test_hook_failure_is_raised_at_exit(self):
        if not os.path.exists('/dev/full'):
            self.skipTest('no /dev/full')
        with self.assertRaises((RuntimeError, OSError)) as cm:
            with pmt_tracer.Profile(0, filepath='/dev/full'):
                end = time.time() + 0.4
                while time.time() < end:
                    target(1)
        self.assertRegex(str(cm.exception), r'(write failed|No space|no space)')
        # The program carried on: tracing stopped, nothing raised inside.
        self.assertEqual(pmt_tracer.profile_wrapper_depth(), 0)

    def test_rss_and_rss_peak(self):
        before = statm_bytes()
        r = pmt_tracer.rss()
        after = statm_bytes()
        page = os.sysconf('SC_PAGESIZE')
        self.assertLessEqual(min(before, after) - 64 * page, r)
        self.assertLessEqual(r, max(before, after) + 64 * page)
        big = bytearray(32 << 20)
        for i in range(0, len(big), page):
            big[i] = 1
        self.assertGreater(pmt_tracer.rss(), r + (30 << 20))
        peak = pmt_tracer.rss_peak()
        self.assertEqual(peak, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
        # The kernel's high-water mark saw the 32 MiB (it lags statm by a few pages).
        self.assertGreater(peak, r + (30 << 20))
        del big

    def test_thread_started_before_profile_is_traced(self):
        import threading
        go, done = threading.Event(), threading.Event()

        def worker():
            go.wait()
            for i in range(20):
                inner_only(i)
            done.set()
        t = threading.Thread(target=worker, name='early')
        t.start()
        p = self.path('thr.log.zst')
        with pmt_tracer.Profile(0, filepath=p):
            go.set()
            done.wait(30)
        t.join()
        log = pmtlog.read(p)
        names = {idx: n for idx, (tid, n) in log.threads.items()}
        calls = [e for e in log.events if e.what == 'CALL' and log.name_of(e) == 'inner_only']
        self.assertEqual(len(calls), 20)
        self.assertEqual({names[e.thread] for e in calls}, {'early'})


if __name__ == '__main__':
    unittest.main()
