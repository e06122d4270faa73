# SPDX-License-Identifier: MIT
"""Object tracing (CPython 3.13+): --objects and ReferenceTracing, on real
programs with known creation patterns; the log's OBJECT records against the
tracer's own live_object_counts(). Before 3.13: the clear error.

CPython 3.13.0-3.13.2 do not report the destruction of objects whose last
reference the eval loop drops (gh-130382), so the programs here drop their
objects through C code (list.clear, del of list items, dict.pop), which
every 3.13 reports."""
import json
import os
import sys
import unittest

import pmt_testlib as tl

HAVE = sys.version_info >= (3, 13)
WHY = 'object tracing needs CPython 3.13+ (PyRefTracer_SetTracer); this is %d.%d' % (
    sys.version_info[:2])


def by_type(log, op=None):
    n = {}
    for o in log.objects:
        if op is None or o.op == op:
            n[o.type] = n.get(o.type, 0) + 1
    return n


def live(log):
    n = {}
    for o in log.objects:
        n[o.type] = n.get(o.type, 0) + (1 if o.op == 'NEW' else -1)
    return n


PATTERNS = '''
import json, sys, threading
import pmt_tracer

class Kept: pass
class Dropped: pass

kept = []
def make(n):
    tmp = [Dropped() for i in range(n)]
    kept.extend(Kept() for i in range(n // 2))
    tmp.clear()

with pmt_tracer.ReferenceTracing(filepath='rt.log.zst', gc_collect_on_exit=GC, **OPTS) as rt:
    make(10)
    ts = [threading.Thread(target=make, args=(6,)) for _ in range(2)]
    for t in ts: t.start()
    for t in ts: t.join()
    counts = pmt_tracer.live_object_counts()
    made, gone = pmt_tracer.count_new(), pmt_tracer.count_del()
with open('counts.json', 'w') as f:
    json.dump(dict(counts=counts, new=made, dele=gone), f)
'''


@unittest.skipUnless(HAVE, WHY)
class ObjectPatterns(tl.TmpDirCase):
    def run_patterns(self, gc=2, **opts):
        src = PATTERNS.replace('GC', str(gc)).replace('**OPTS', '**%r' % (opts,))
        tl.write(self.dir, 'p.py', src)
        r = tl.run(['p.py'], self.dir)
        self.assertRan(r)
        with open(self.path('counts.json')) as f:
            c = json.load(f)
        return self.read_log('rt.log.zst'), c

    def test_kept_and_dropped_in_threads(self):
        log, c = self.run_patterns()
        self.assertFalse(log.truncated)
        made = by_type(log, 'NEW')
        gone = by_type(log, 'DEL')
        self.assertEqual(made['Kept'], 5 + 3 + 3)
        self.assertEqual(made['Dropped'], 10 + 6 + 6)
        self.assertEqual(gone.get('Dropped'), 22)
        self.assertNotIn('Kept', gone)
        # three threads made them: the main one and two others
        threads = {o.thread for o in log.objects if o.type == 'Kept'}
        self.assertEqual(len(threads), 3)
        # creation site: make(), at the line of each comprehension
        for o in log.objects:
            if o.type in ('Kept', 'Dropped') and o.op == 'NEW':
                # the list comprehension is inlined; the generator is its own code
                self.assertIn(log.codes[o.code].name, ('make', 'make.<locals>.<genexpr>'))
                self.assertEqual(o.line, 10 if o.type == 'Dropped' else 11)
        # the log's live counts are the tracer's, exactly (at the moment asked)
        counts = {k: v for k, v in c['counts'].items()}
        self.assertEqual(counts['Kept'], 11)
        self.assertEqual(counts['Dropped'], 0)
        self.assertEqual(c['new'] - c['dele'], sum(counts.values()))

    def test_exact_counts_against_the_log(self):
        log, c = self.run_patterns(gc=-1)
        # nothing is recorded after live_object_counts() but the context's exit
        lv = live(log)
        for k, v in c['counts'].items():
            if k not in ('ReferenceTracing', 'tuple_iterator', 'list_iterator'):
                self.assertEqual(lv.get(k, 0), v, k)

    def test_builtins_excluded_by_default(self):
        log, _ = self.run_patterns()
        names = set(by_type(log))
        for b in ('int', 'str', 'list', 'tuple', 'dict', 'function', 'frame', 'code'):
            self.assertNotIn(b, names)

    def test_include_builtins(self):
        log, _ = self.run_patterns(include_builtins=True)
        names = set(by_type(log))
        self.assertIn('list', names)
        self.assertIn('Kept', names)
        self.assertNotIn('frame', names)
        self.assertNotIn('code', names)

    def test_exclude_tp_names(self):
        log, _ = self.run_patterns(exclude_tp_names=['Dropped'])
        names = set(by_type(log))
        self.assertNotIn('Dropped', names)
        self.assertIn('Kept', names)

    def test_include_tp_names(self):
        log, c = self.run_patterns(include_tp_names=['Kept'])
        self.assertEqual(set(by_type(log)), {'Kept'})
        self.assertEqual(c['counts'], {'Kept': 11})

    def test_exclude_wins_over_include(self):
        log, _ = self.run_patterns(include_tp_names=['Kept', 'Dropped'],
                                   exclude_tp_names=['Kept'])
        self.assertEqual(set(by_type(log)), {'Dropped'})


# An object freed as __init__'s frame is cleared: the innermost frame then
# is the interpreter's static shim that checks __init__ returned None, a
# code object in read-only memory (interning it crashed).
INIT_SHIM = '''
import pmt_tracer
class C:
    def __init__(self):
        tmp = [1.5 * i for i in range(3)]
with pmt_tracer.ReferenceTracing(filepath='rt.log.zst', include_builtins=True):
    cs = [C() for i in range(5)]
'''


@unittest.skipUnless(HAVE, WHY)
class InitShim(tl.TmpDirCase):
    def test_objects_freed_in_init_frames(self):
        tl.write(self.dir, 's.py', INIT_SHIM)
        self.assertRan(tl.run(['s.py'], self.dir))
        log = self.read_log('rt.log.zst')
        self.assertEqual(by_type(log, 'NEW')['C'], 5)
        # the lists of __init__ die there: charged to __init__ or its caller
        dels = [o for o in log.objects if o.type == 'list' and o.op == 'DEL']
        self.assertGreaterEqual(len(dels), 5)
        for o in dels:
            if o.code:
                self.assertIn(log.codes[o.code].name, ('C.__init__', '__init__', '<module>'))


CYCLES = '''
import pmt_tracer
class Cyc:
    pass
with pmt_tracer.ReferenceTracing(filepath='rt.log.zst', include_tp_names=['Cyc'],
                                 gc_collect_on_exit=GC):
    import gc
    gc.disable()
    for i in range(4):
        a, b = Cyc(), Cyc()
        a.other, b.other = b, a
    del a, b
'''


@unittest.skipUnless(HAVE, WHY)
class GcOnExit(tl.TmpDirCase):
    def dels(self, gc):
        tl.write(self.dir, 'c.py', CYCLES.replace('GC', str(gc)))
        self.assertRan(tl.run(['c.py'], self.dir))
        log = self.read_log('rt.log.zst')
        self.assertEqual(by_type(log, 'NEW'), {'Cyc': 8})
        return by_type(log, 'DEL').get('Cyc', 0)

    def test_minus_one_collects_nothing(self):
        self.assertEqual(self.dels(-1), 0)

    def test_zero_and_two_collect_the_cycles(self):
        self.assertEqual(self.dels(0), 8)
        self.assertEqual(self.dels(2), 8)

    def test_bad_value(self):
        tl.write(self.dir, 'b.py', 'import pmt_tracer\npmt_tracer.ReferenceTracing(gc_collect_on_exit=3)\n')
        r = tl.run(['b.py'], self.dir)
        self.assertEqual(r.returncode, 1)
        self.assertIn('ValueError', r.stderr)


@unittest.skipUnless(HAVE, WHY)
class Nesting(tl.TmpDirCase):
    def test_profile_and_objects_nested(self):
        tl.write(self.dir, 'n.py', '''
            import pmt_tracer
            class A: pass
            def work():
                return [A() for i in range(7)]
            with pmt_tracer.Profile(0, None, 'p.log.zst'):
                with pmt_tracer.ReferenceTracing(filepath='o.log.zst', include_tp_names=['A']):
                    keep = work()
                    pmt_tracer.suspend()
                    more = work()
                    pmt_tracer.resume()
                    with pmt_tracer.ReferenceTracing(filepath='i.log.zst', include_tp_names=['A']):
                        inner = work()
            ''')
        self.assertRan(tl.run(['n.py'], self.dir))
        p, o, i = (self.read_log(n) for n in ('p.log.zst', 'o.log.zst', 'i.log.zst'))
        self.assertTrue(any(p.name_of(e) == 'work' for e in p.events))
        self.assertEqual(by_type(o, 'NEW'), {'A': 7})   # not while suspended, not the inner's
        self.assertEqual(by_type(i, 'NEW'), {'A': 7})
        texts = [m[2] for m in o.messages]
        self.assertIn('Suspending reference tracing.', texts)
        self.assertEqual(texts.count('Resuming reference tracing.'), 1)
        self.assertTrue(any(t.startswith('Detaching this Reference Tracing file wrapper. New file: ')
                            for t in texts))
        self.assertIn('Re-attaching this Reference Tracing file wrapper.', texts)

    def test_launcher_objects_with_events(self):
        tl.write(self.dir, 'app.py', '''
            class Node: pass
            keep = []
            def grow():
                keep.extend(Node() for i in range(9))
            grow()
            print('ok')
            ''')
        r = tl.trace(['--objects', '--include-type', 'Node', '-o', 'a.log.zst', 'app.py'], self.dir)
        self.assertRan(r)
        self.assertEqual(r.stdout, 'ok\n')
        log = self.read_log('a.log.zst')
        self.assertTrue(log.events)
        self.assertEqual(by_type(log, 'NEW'), {'Node': 9})
        # each object lies between the events around it: inside grow's call
        for ob in log.objects:
            before = [e for e in log.events if e.num < ob.num]
            self.assertTrue(before)
        self.assertIn('9 objects created', r.stderr)


@unittest.skipUnless(HAVE, WHY)
class Arguments(tl.TmpDirCase):
    def test_pymemtrace_errors(self):
        tl.write(self.dir, 'a.py', '''
            import pmt_tracer
            for kw in (dict(message=21), dict(d_rss_trigger=0), dict(exclude_tp_names=3),
                       dict(include_tp_names='A')):
                try:
                    pmt_tracer.ReferenceTracing(**kw)
                except TypeError as e:
                    print('TypeError', e)
            ''')
        r = tl.run(['a.py'], self.dir)
        self.assertRan(r)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 4, r.stdout)
        self.assertIn('argument 1 must be str, not int', lines[0])
        self.assertIn("unexpected keyword argument 'd_rss_trigger'", lines[1])


@unittest.skipIf(HAVE, 'this CPython has object tracing')
class BeforePython313(tl.TmpDirCase):
    def test_launcher_says_313(self):
        tl.write(self.dir, 'app.py', 'print(1)\n')
        r = tl.trace(['--objects', 'app.py'], self.dir)
        self.assertEqual(r.returncode, 2)
        self.assertIn('3.13', r.stderr)
        self.assertEqual(r.stdout, '')

    def test_api_raises(self):
        r = tl.run(['-c', 'import pmt_tracer; pmt_tracer.ReferenceTracing()'], self.dir)
        self.assertEqual(r.returncode, 1)
        self.assertIn('RuntimeError', r.stderr)
        self.assertIn('3.13', r.stderr)


if __name__ == '__main__':
    unittest.main()
