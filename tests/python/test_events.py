# SPDX-License-Identifier: MIT
"""What the tracer records: event counts against CPython's own profile and
trace hooks, RSS against /proc/self/statm, threads, fork, --drss/--prev,
the benchmarking configurations."""
import json
import os
import unittest

import pmtlog
from pmt_testlib import TmpDirCase, kind_counts, run, trace, write

# Calls, C calls, a C exception, a Python exception, a generator, a class.
WORKLOAD = '''
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)

def gen(n):
    for i in range(n):
        yield i * 2

class Box:
    def __init__(self, v):
        self.v = v
    def get(self):
        return self.v

def bad(x):
    try:
        return int(x)
    except ValueError:
        return -1

def cbad():
    try:
        return [].pop()
    except IndexError:
        return 0

def raiser():
    raise KeyError('k')

def main():
    total = fib(12)
    total += sum(gen(50))
    items = []
    for i in range(200):
        items.append(Box(i).get())
        total += len(items)
    for s in ('1', 'x', '22', 'y'):
        total += bad(s) + cbad()
    try:
        raiser()
    except KeyError:
        pass
    d = {}
    for i in range(100):
        d.setdefault(i % 7, []).append(i)
    return total + sorted(d)[0]
'''

COUNTER = '''
import json, sys
sys.path.insert(0, %(dir)r)
counts = {}
wl_file = %(wl)r
names = {"call": "CALL", "return": "RETURN", "c_call": "C_CALL", "c_return": "C_RETURN",
         "c_exception": "C_EXCEPTION", "line": "LINE", "exception": "EXCEPTION"}
def hook(frame, event, arg):
    if frame.f_code.co_filename == wl_file:
        k = names[event]
        counts[k] = counts.get(k, 0) + 1
    return hook
sys.%(setter)s(hook)
import wl
wl.main()
sys.%(setter)s(None)
print(json.dumps(counts))
'''

DRIVER = '''
import sys
sys.path.insert(0, %(dir)r)
import wl
wl.main()
'''


class TestEvents(TmpDirCase):
    def _compare_with_python_hook(self, mode, setter):
        wl = write(self.dir, 'wl.py', WORKLOAD)
        write(self.dir, 'counter.py', COUNTER % {'dir': self.dir, 'setter': setter, 'wl': wl})
        write(self.dir, 'driver.py', DRIVER % {'dir': self.dir})
        r = run(['counter.py'], self.dir)
        self.assertRan(r)
        expected = json.loads(r.stdout)
        r = trace(['--mode', mode, '-o', 'x.log.zst', 'driver.py'], self.dir)
        self.assertRan(r)
        log = self.read_log('x.log.zst')
        self.assertFalse(log.truncated)
        self.assertEqual(log.header['mode'], 1 if mode == 'trace' else 0)
        got = kind_counts(log, wl)
        self.assertEqual(got, expected)
        self.assertEqual(log.total, log.trailer['total_events'])
        return log, got

    def test_profile_counts_equal_setprofile(self):
        log, got = self._compare_with_python_hook('profile', 'setprofile')
        for k in ('CALL', 'RETURN', 'C_CALL', 'C_RETURN', 'C_EXCEPTION'):
            self.assertIn(k, got)
        self.assertNotIn('LINE', got)
        # C functions are named, with the caller's file.
        names = {log.name_of(e) for e in log.events if e.what == 'C_CALL'}
        self.assertIn('list.append', names)
        self.assertIn('len', names)

    def test_trace_counts_equal_settrace(self):
        log, got = self._compare_with_python_hook('trace', 'settrace')
        for k in ('CALL', 'RETURN', 'LINE', 'EXCEPTION'):
            self.assertIn(k, got)
        self.assertNotIn('C_CALL', got)
        # LINE events carry the line being executed: Box.get's body is one line.
        get_lines = {e.line for e in log.events
                     if e.what == 'LINE' and log.name_of(e) in ('get', 'Box.get')}
        self.assertEqual(get_lines, {13})

    def test_rss_agrees_with_statm(self):
        write(self.dir, 'mem.py', '''
            import pmt_tracer
            def statm():
                with open("/proc/self/statm") as f:
                    return int(f.read().split()[1])
            keep = []
            for i in range(6):
                b = bytearray(8 << 20)
                for j in range(0, len(b), 4096):
                    b[j] = 1
                keep.append(b)
                pmt_tracer.write_message_to_log("statm %d" % statm())
            for i in range(3):
                keep.pop()
                pmt_tracer.write_message_to_log("statm %d" % statm())
        ''')
        r = trace(['-o', 'x.log.zst', 'mem.py'], self.dir)
        self.assertRan(r)
        log = self.read_log('x.log.zst')
        marks = [(n, int(t.split()[1])) for n, _, t in log.messages if t.startswith('statm ')]
        self.assertEqual(len(marks), 9)
        by_num = {e.num: e for e in log.events}
        values = []
        for n, pages in marks:
            # The event that saw the same moment: the return of the statm read
            # just before the marker (only the int parsing happens in between).
            k = n - 1
            while not (by_num[k].what == 'C_RETURN' and log.name_of(by_num[k]).endswith('.read')):
                k -= 1
                self.assertGreater(k, n - 40)
            self.assertLessEqual(abs(by_num[k].rss - pages), 4, (n, by_num[k], pages))
            values.append(pages)
        # The marks are 2048 pages apart: the comparison can tell them apart.
        self.assertGreater(values[5] - values[0], 5 * 2000)
        if 'asan' not in os.environ.get('LD_PRELOAD', ''):   # ASan keeps freed memory
            self.assertLess(values[8], values[5] - 2 * 2000)

    def test_threads_attributed(self):
        write(self.dir, 'thr.py', '''
            import threading
            def work(n):
                return n * 2
            def worker(k):
                for i in range(500 + k):
                    work(i)
            ts = [threading.Thread(target=worker, args=(k,), name="worker-%d" % k)
                  for k in range(3)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            for i in range(10):
                work(i)
        ''')
        r = trace(['-o', 'x.log.zst', 'thr.py'], self.dir)
        self.assertRan(r)
        log = self.read_log('x.log.zst')
        names = {idx: name for idx, (tid, name) in log.threads.items()}
        by_name = {name: idx for idx, name in names.items()}
        for k in range(3):
            self.assertIn('worker-%d' % k, by_name)
        self.assertIn('MainThread', by_name)
        tids = [tid for tid, _ in log.threads.values()]
        self.assertEqual(len(set(tids)), len(tids))
        self.assertIn(log.header['pid'], tids)   # the main thread's tid is the pid
        calls = {}
        for e in log.events:
            if e.what == 'CALL' and log.name_of(e) == 'work':
                calls[names[e.thread]] = calls.get(names[e.thread], 0) + 1
        self.assertEqual(calls, {'worker-0': 500, 'worker-1': 501, 'worker-2': 502,
                                 'MainThread': 10})

    def test_fork_child_writes_its_own_log(self):
        write(self.dir, 'fk.py', '''
            import os, sys
            def child_only():
                return 42
            def parent_only():
                return 7
            pid = os.fork()
            if pid == 0:
                for i in range(100):
                    child_only()
                os._exit(0)
            os.waitpid(pid, 0)
            parent_only()
            print(pid)
        ''')
        for tmpl in ('run_%p.log.zst', 'plain.log.zst'):
            r = trace(['-o', tmpl, 'fk.py'], self.dir)
            self.assertRan(r)
            child = int(r.stdout.split()[-1])
            parent_path = tmpl.replace('%p', str(child))   # placeholder, fixed below
            logs = [n for n in os.listdir(self.dir) if n.endswith('.log.zst')]
            if '%p' in tmpl:
                child_path = 'run_%d.log.zst' % child
                parents = [n for n in logs if n.startswith('run_') and n != child_path]
                self.assertEqual(len(parents), 1, logs)
                parent_path = parents[0]
            else:
                child_path = 'plain.%d.log.zst' % child
                parent_path = 'plain.log.zst'
            self.assertIn(child_path, logs)
            clog = self.read_log(child_path)
            plog = self.read_log(parent_path)
            self.assertFalse(clog.truncated)
            self.assertFalse(plog.truncated)
            self.assertEqual(clog.header['pid'], child)
            self.assertEqual(clog.header['ppid'], plog.header['pid'])
            cnames = [clog.name_of(e) for e in clog.events if e.what == 'CALL']
            pnames = [plog.name_of(e) for e in plog.events if e.what == 'CALL']
            self.assertEqual(cnames.count('child_only'), 100)
            self.assertNotIn('parent_only', cnames)
            self.assertNotIn('child_only', pnames)
            self.assertIn('parent_only', pnames)

    def _alloc_program(self):
        write(self.dir, 'steps.py', '''
            def grow(keep, n):
                keep.append(bytearray(n))
            def small(i):
                return i + 1
            keep = []
            for i in range(40):
                for j in range(50):
                    small(j)
                grow(keep, 64 << 10)
        ''')

    def test_drss_writes_only_jumps_and_counts_all(self):
        self._alloc_program()
        r = trace(['--drss', '4096', '-o', 'x.log.zst', 'steps.py'], self.dir)
        self.assertRan(r)
        log = self.read_log('x.log.zst')
        self.assertFalse(log.truncated)
        self.assertEqual(log.header['drss_trigger'], 4096)
        self.assertEqual(log.total, log.trailer['total_events'])
        self.assertGreater(log.skipped, 10 * len(log.events))
        last = log.header['rss_start']
        for e in log.events:
            self.assertGreaterEqual(abs(e.rss - last), 1, e)
            last = e.rss
        nums = [e.num for e in log.events]
        self.assertEqual(nums, sorted(set(nums)))

    def test_prev_writes_the_true_previous_event(self):
        self._alloc_program()
        r = trace(['--drss', '-1', '--prev', '-o', 'x.log.zst', 'steps.py'], self.dir)
        self.assertRan(r)
        log = self.read_log('x.log.zst')
        self.assertTrue(log.header['flags'] & pmtlog.HDR_PREV)
        self.assertEqual(log.total, log.trailer['total_events'])
        # Every triggered event comes with event number - 1 written before it.
        nums = {e.num for e in log.events}
        last = log.header['rss_start']
        triggered = 0
        for e in log.events:
            if abs(e.rss - last) >= 1:
                if e.num > 0 and e.num - 1 not in nums:
                    # only possible when the previous event had triggered too
                    self.fail('no previous event for %r' % e)
                last = e.rss
                triggered += 1
        self.assertGreater(triggered, 5)
        # The previous events are mostly small()/grow() calls, not only triggers.
        self.assertGreater(len(log.events), triggered)

    def test_log_none_and_calculate_none(self):
        self._alloc_program()
        r = trace(['--log', 'none', '-o', 'a.log.zst', 'steps.py'], self.dir)
        self.assertRan(r)
        log = self.read_log('a.log.zst')
        self.assertFalse(log.truncated)
        self.assertEqual(len(log.events), 0)
        self.assertGreater(log.trailer['total_events'], 2000)
        self.assertEqual(log.skipped, log.trailer['total_events'])
        r = trace(['--calculate', 'none', '--log', 'none', '-o', 'b.log.zst', 'steps.py'],
                  self.dir)
        self.assertRan(r)
        log = self.read_log('b.log.zst')
        self.assertTrue(log.header['flags'] & pmtlog.HDR_CALC_NONE)
        self.assertGreater(log.trailer['total_events'], 2000)
        r = trace(['--calculate', 'rss', '--log', 'none', '-o', 'c.log.zst', 'steps.py'],
                  self.dir)
        self.assertRan(r)
        r = trace(['--log', 'drss-prev', '-o', 'd.log.zst', 'steps.py'], self.dir)
        self.assertRan(r)
        log = self.read_log('d.log.zst')
        self.assertTrue(log.header['flags'] & pmtlog.HDR_PREV)
        self.assertEqual(log.header['drss_trigger'], log.header['page_size'])


if __name__ == '__main__':
    unittest.main()
