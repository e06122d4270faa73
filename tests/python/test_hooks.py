# SPDX-License-Identifier: MIT
"""The two ways events reach the tracer on 3.12+: sys.monitoring (PEP 669)
and the legacy PyEval_SetProfile/SetTrace hook. Both must see exactly the
same events, per kind, per thread and in order, and the same as CPython's
own pure-Python sys.setprofile/sys.settrace hooks."""
import json
import os
import sys
import unittest

import pmtlog
from pmt_testlib import TmpDirCase, run, trace, write

HAVE_MONITORING = sys.version_info >= (3, 12)

# Generators (driven by for, sum, send, throw, close), exceptions caught
# and uncaught (out of a thread, out of the program), C calls that raise,
# method descriptors called bound, unbound and with the wrong object, class
# bodies, comprehensions, lambdas, closures, recursion, threads.
WORKLOAD = '''
import threading

def gen(n):
    for i in range(n):
        yield i * 2

def echo():
    got = None
    try:
        while True:
            got = yield got
    except GeneratorExit:
        pass
    except KeyError:
        yield 'thrown'

def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)

class Base:
    kind = 'base'
    def __init__(self, v):
        self.v = v
    def get(self):
        return self.v

class Derived(Base):
    scale = [k for k in range(3)]
    def get(self):
        return super().get() * 2

class MyList(list):
    pass

def cfails(i):
    try:
        if i % 3 == 0:
            return [].pop()
        if i % 3 == 1:
            return int('x%d' % i)
        return {}.popitem()
    except (IndexError, ValueError, KeyError):
        return -1

def pyfails(i):
    if i % 2:
        raise ValueError(i)
    return i

def deep(n):
    if n == 0:
        raise LookupError('bottom')
    return deep(n - 1)

def worker(k, out):
    total = 0
    for i in range(50 + k):
        total += fib(5) + cfails(i)
        try:
            total += pyfails(i)
        except ValueError:
            total -= 1
    out.append(total)
    if k == 1:
        raise RuntimeError('uncaught in a thread')

def main():
    total = sum(gen(30)) + fib(10)
    for x in gen(5):
        total += x
    e = echo()
    next(e)
    total += len([e.send(i) for i in range(4)])
    total += len(e.throw(KeyError('k')))
    e.close()
    g = gen(10)
    next(g)
    g.close()
    items = MyList()
    app = items.append
    for i in range(40):
        items.append(Derived(i).get())
        app(Base(i).get())
        list.append(items, i)
    try:
        list.append(3, 4)
    except TypeError:
        total += 1
    squares = {i: i * i for i in range(10)}
    evens = sorted((v for v in squares.values() if v % 2 == 0), key=lambda v: -v)
    total += sum(map(lambda v: v + 1, evens))
    adder = (lambda a: lambda b: a + b)(3)
    total += adder(4)
    try:
        deep(8)
    except LookupError:
        total += 1
    out = []
    threads = [threading.Thread(target=worker, args=(k, out), name='w%d' % k)
               for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total += sum(out) + len(items)
    deep(3)   # uncaught: the program ends with a LookupError
'''

# Counts what CPython's own pure-Python hooks see in the workload's file.
COUNTER = '''
import json, sys, threading
sys.path.insert(0, %(dir)r)
wl_file = %(wl)r
names = {"call": "CALL", "return": "RETURN", "c_call": "C_CALL", "c_return": "C_RETURN",
         "c_exception": "C_EXCEPTION", "line": "LINE", "exception": "EXCEPTION"}
counts = {}
lock = threading.Lock()
def hook(frame, event, arg):
    if frame.f_code.co_filename == wl_file:
        with lock:
            k = names[event]
            counts[k] = counts.get(k, 0) + 1
    return hook
threading.excepthook = lambda args: None
threading.%(setter)s(hook)
sys.%(setter)s(hook)
import wl
try:
    wl.main()
except LookupError:
    pass
sys.%(setter)s(None)
print(json.dumps(counts))
'''

DRIVER = '''
import sys, threading
sys.path.insert(0, %(dir)r)
threading.excepthook = lambda args: None
import wl
wl.main()
'''


def per_thread(log, file):
    """{thread name: [(kind, function, line), ...]} of the events in `file`."""
    names = {idx: name for idx, (tid, name) in log.threads.items()}
    seqs = {}
    for e in log.events:
        if log.file_of(e) == file:
            seqs.setdefault(names.get(e.thread), []).append((e.what, log.name_of(e), e.line))
    return seqs


def counts_of(seqs):
    counts = {}
    for seq in seqs.values():
        for what, _, _ in seq:
            counts[what] = counts.get(what, 0) + 1
    return counts


def hook_messages(log):
    return [t for _, _, t in log.messages if t.startswith('pmt: hook=')]


class TestHooks(TmpDirCase):
    def setUp(self):
        super().setUp()
        self.wl = write(self.dir, 'wl.py', WORKLOAD)
        write(self.dir, 'driver.py', DRIVER % {'dir': self.dir})

    def _traced(self, mode, hook):
        name = '%s-%s.log.zst' % (mode, hook)
        r = trace(['--mode', mode, '--hook', hook, '-o', name, 'driver.py'], self.dir)
        # The program's own uncaught LookupError: its status and traceback.
        self.assertRan(r, 1)
        self.assertIn('LookupError: bottom', r.stderr)
        log = self.read_log(name)
        self.assertFalse(log.truncated)
        self.assertEqual(log.total, log.trailer['total_events'])
        self.assertEqual(hook_messages(log), ['pmt: hook=' + hook])
        return log

    def _expected(self, setter):
        write(self.dir, 'counter.py', COUNTER % {'dir': self.dir, 'wl': self.wl,
                                                  'setter': setter})
        r = run(['counter.py'], self.dir)
        self.assertRan(r)
        return json.loads(r.stdout)

    def _compare(self, mode, setter, kinds):
        expected = self._expected(setter)
        for k in kinds:
            self.assertGreater(expected.get(k, 0), 0, (k, expected))
        hooks = ['legacy', 'monitoring'] if HAVE_MONITORING else ['legacy']
        seqs = {}
        for hook in hooks:
            log = self._traced(mode, hook)
            seqs[hook] = per_thread(log, self.wl)
            self.assertEqual(counts_of(seqs[hook]), expected, hook)
            self.assertEqual(set(seqs[hook]), {'MainThread', 'w0', 'w1', 'w2'}, hook)
        if HAVE_MONITORING:
            # Not only as many: the same events, in the same order, with the
            # same functions and lines, in every thread.
            for name in seqs['legacy']:
                self.assertEqual(seqs['monitoring'][name], seqs['legacy'][name], name)
        return seqs

    def test_profile_events_identical(self):
        seqs = self._compare('profile', 'setprofile',
                             ('CALL', 'RETURN', 'C_CALL', 'C_RETURN', 'C_EXCEPTION'))
        main = seqs['legacy']['MainThread']
        cnames = {f for what, f, _ in main if what == 'C_CALL'}
        # A method descriptor called with its object is the bound method,
        # named by the object's type; with the wrong object it is no event.
        self.assertIn('MyList.append', cnames)
        self.assertNotIn('int.append', cnames)
        raised = {f for what, f, _ in seqs['legacy']['w0'] if what == 'C_EXCEPTION'}
        self.assertEqual(raised, {'list.pop', 'dict.popitem'})   # int() is a type: no C event
        self.assertNotIn('LINE', counts_of(seqs['legacy']))

    def test_trace_events_identical(self):
        seqs = self._compare('trace', 'settrace', ('CALL', 'RETURN', 'LINE', 'EXCEPTION'))
        self.assertNotIn('C_CALL', counts_of(seqs['legacy']))

    def test_default_hook(self):
        write(self.dir, 'small.py', 'def f():\n    return 1\nf()\n')
        r = trace(['-o', 'd.log.zst', 'small.py'], self.dir)
        self.assertRan(r)
        want = 'monitoring' if HAVE_MONITORING else 'legacy'
        self.assertEqual(hook_messages(self.read_log('d.log.zst')), ['pmt: hook=' + want])

    def test_monitoring_refused_before_312(self):
        if HAVE_MONITORING:
            self.skipTest('sys.monitoring exists here')
        write(self.dir, 'small.py', 'pass\n')
        r = trace(['--hook', 'monitoring', '-o', 'm.log.zst', 'small.py'], self.dir)
        self.assertRan(r, 2)
        self.assertIn('monitoring', r.stderr)
        self.assertFalse(os.path.exists(self.path('m.log.zst')))
        r = run(['-c', 'import pmt_tracer\n'
                 'try:\n'
                 '    pmt_tracer.Profile(0, filepath="x.log.zst", hook="monitoring").start()\n'
                 'except ValueError as e:\n'
                 '    print(e)\n'], self.dir)
        self.assertRan(r)
        self.assertIn('3.12', r.stdout)

    def test_tool_ids_taken(self):
        """Other tools keep their ids: cProfile runs inside a traced program;
        with every id taken, auto falls back to the legacy hook and an
        explicit monitoring hook is an error."""
        if not HAVE_MONITORING:
            self.skipTest('no sys.monitoring before 3.12')
        write(self.dir, 'prof.py', '''
            import cProfile, pstats, io
            def f(n):
                return sum(range(n))
            pr = cProfile.Profile()
            pr.enable()
            f(10)
            pr.disable()
            s = io.StringIO()
            pstats.Stats(pr, stream=s).print_stats()
            print('cprofile ok' if 'f' in s.getvalue() else 'cprofile empty')
        ''')
        r = trace(['-o', 'c.log.zst', 'prof.py'], self.dir)
        self.assertRan(r)
        self.assertIn('cprofile ok', r.stdout)
        log = self.read_log('c.log.zst')
        self.assertEqual(hook_messages(log), ['pmt: hook=monitoring'])
        self.assertIn('f', {log.name_of(e) for e in log.events if e.what == 'CALL'})

        r = run(['-c', '''if 1:
            import sys, pmt_tracer
            for i in (2, 3, 4):
                sys.monitoring.use_tool_id(i, 'other')
            def f():
                return 1
            with pmt_tracer.Profile(0, filepath='a.log.zst') as p:
                f()
            print(p.tracer.hook)
            try:
                pmt_tracer.Profile(0, filepath='b.log.zst', hook='monitoring').start()
            except RuntimeError as e:
                print('refused:', e)
            '''], self.dir)
        self.assertRan(r)
        self.assertEqual(r.stdout.splitlines()[0], 'legacy')
        self.assertIn('refused: sys.monitoring: tool ids', r.stdout)
        log = self.read_log('a.log.zst')
        self.assertEqual(hook_messages(log), ['pmt: hook=legacy'])
        self.assertIn('f', {log.name_of(e) for e in log.events if e.what == 'CALL'})

    def test_program_saves_and_restores_the_hook(self):
        """test.support.no_tracing, debuggers and coverage tools save
        sys.gettrace()/getprofile(), set their own or None and restore the
        saved one. The guard answers None where the slot is ours, as untraced,
        and re-arms a slot set to None before its next event: restoring the
        saved hook must neither break the program nor lose any event."""
        hooks = ['legacy', 'monitoring'] if HAVE_MONITORING else ['legacy']
        for hook in hooks:
            for mode, get, set_ in (('profile', 'getprofile', 'setprofile'),
                                    ('trace', 'gettrace', 'settrace')):
                write(self.dir, 'restore.py', '''
                    import sys, threading
                    def off():
                        return 1
                    def after():
                        return 2
                    def in_thread():
                        saved = sys.%(get)s()
                        sys.%(set)s(None)
                        sys.%(set)s(saved)
                        after()
                    saved = sys.%(get)s()
                    sys.%(set)s(None)
                    off()
                    sys.%(set)s(saved)
                    after()
                    after()
                    assert sys.%(get)s() is saved, sys.%(get)s()
                    t = threading.Thread(target=in_thread, name='t1')
                    t.start()
                    t.join()
                    print('restored')
                ''' % {'get': get, 'set': set_})
                name = '%s-%s-restore.log.zst' % (mode, hook)
                r = trace(['--mode', mode, '--hook', hook, '-o', name, 'restore.py'], self.dir)
                self.assertRan(r)
                self.assertEqual(r.stdout, 'restored\n')
                log = self.read_log(name)
                self.assertFalse(log.truncated)
                self.assertEqual(log.total, log.trailer['total_events'])
                calls = {}
                for e in log.events:
                    if e.what == 'CALL' and log.name_of(e) in ('off', 'after'):
                        thread = log.threads.get(e.thread, (0, None))[1] or 'MainThread'
                        key = (log.name_of(e), thread)
                        calls[key] = calls.get(key, 0) + 1
                # Setting None lets go of a slot that the guard re-arms at
                # once (legacy); sys.monitoring is not affected by settrace.
                want = {('off', 'MainThread'): 1, ('after', 'MainThread'): 2,
                        ('after', 't1'): 1}
                self.assertEqual(calls, want, (mode, hook))

    def test_each_hook_with_nesting_profile_and_trace(self):
        """Suspend/resume, a Profile and a Trace at once (two tool ids), and
        the tool ids given back at the end."""
        hooks = ['legacy', 'monitoring'] if HAVE_MONITORING else ['legacy']
        for hook in hooks:
            r = run(['-c', '''if 1:
                import sys, pmt_tracer
                def f():
                    return 1
                with pmt_tracer.Profile(0, filepath='o-%(h)s.log.zst', hook=%(h)r):
                    f()
                    with pmt_tracer.Trace(0, filepath='t-%(h)s.log.zst', hook=%(h)r):
                        with pmt_tracer.Profile(0, filepath='i-%(h)s.log.zst', hook=%(h)r):
                            f()
                    f()
                if sys.version_info >= (3, 12):
                    print([sys.monitoring.get_tool(i) for i in range(6)])
                ''' % {'h': hook}], self.dir)
            self.assertRan(r)
            if HAVE_MONITORING:
                self.assertEqual(r.stdout.strip(), str([None] * 6))
            calls = {}
            for name in ('o', 't', 'i'):
                log = self.read_log('%s-%s.log.zst' % (name, hook))
                self.assertEqual(hook_messages(log), ['pmt: hook=' + hook])
                calls[name] = sum(1 for e in log.events
                                  if e.what == 'CALL' and log.name_of(e) == 'f')
            self.assertEqual(calls, {'o': 2, 't': 1, 'i': 1}, hook)


if __name__ == '__main__':
    unittest.main()
