# SPDX-License-Identifier: MIT
"""Heap tracing (--heap, --heap=python): exact allocator calls from a test
library loaded after start, with and without the GIL and from native
threads; attribution; leaks; fork; SIGKILL; an allocation storm; the
launcher's re-execution leaving the program's view unchanged."""
import json
import os
import signal
import subprocess
import sys
import time
import unittest

import pmtlog
from pmt_testlib import PYTHON, TmpDirCase, env, run, trace, write

BUILD = os.environ.get('PMT_BUILDDIR', '')
LIB = os.path.join(BUILD, 'tests', 'python', '.libs', 'libpmt_heaptest.so')
MARK_BEGIN, MARK_END = 777001, 777002

# What ht_pattern() does between its markers, in order: (op, size, align).
PATTERN = [
    ('malloc', 100001, 0), ('calloc', 7007, 0), ('realloc', 200003, 0), ('free', 0, 0),
    ('free', 0, 0), ('free(NULL)', 0, 0), ('free(NULL)', 0, 0), ('free(NULL)', 0, 0),
    ('posix_memalign', 1000, 64), ('free', 0, 0), ('aligned_alloc', 256, 128), ('free', 0, 0),
    ('memalign', 100, 32), ('free', 0, 0), ('valloc', 10, 0), ('free', 0, 0),
    ('pvalloc', 10, 0), ('free', 0, 0), ('realloc', 33, 0), ('free', 0, 0),
]

PRELUDE = '''
import ctypes, os, sys
LIB = %r
cdll = ctypes.CDLL(LIB)      # releases the GIL around each call
pydll = ctypes.PyDLL(LIB)    # keeps it
cdll.ht_storm.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_size_t]
cdll.ht_leak.argtypes = pydll.ht_leak.argtypes = [ctypes.c_int, ctypes.c_size_t]
for l in (cdll, pydll):    # looked up once here, not by __getattr__ in the calls
    l.ht_pattern, l.ht_leak, l.ht_churn, l.ht_storm
''' % LIB


def between_markers(log):
    """The allocator calls between each MARK_BEGIN and MARK_END block, per
    thread: a list of lists."""
    out, cur = [], {}
    for a in log.allocs:
        if a.op == 'malloc' and a.size == MARK_BEGIN:
            cur[a.thread] = []
            continue
        if a.op == 'malloc' and a.size == MARK_END:
            out.append(cur.pop(a.thread))
            continue
        if a.thread in cur:
            cur[a.thread].append(a)
    return out


def strip_marker_frees(calls):
    """Drops the free of the MARK_BEGIN block (the first call after it)."""
    return calls[1:] if calls and calls[0].op == 'free' else calls


def shape(calls):
    return [(a.op, a.size, a.align) for a in calls]


def summarise_json(path):
    r = subprocess.run(['pmt-summarise', '--format', 'json', '--top', '0', path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    if r.returncode == 127:
        return None
    return r, (json.loads(r.stdout) if r.stdout else None)


def under_asan():
    """The interpreter the tests run is the ASan build's wrapper script."""
    try:
        with open(PYTHON, 'rb') as f:
            return b'libasan' in f.read(4096)
    except OSError:
        return False


class HeapCase(TmpDirCase):
    def setUp(self):
        super().setUp()
        if not os.path.exists(LIB):
            self.skipTest('%s not built (make check builds it)' % LIB)

    def run_heap(self, body, args=('--heap',), name='h.log.zst', extra_env=None, **kw):
        write(self.dir, 'prog.py', PRELUDE + body)
        e = env()
        if extra_env:
            e.update(extra_env)
        r = subprocess.run([PYTHON, '-m', 'pmt_tracer', '-o', name] + list(args) + ['prog.py'],
                           cwd=self.dir, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=kw.get('timeout', 300))
        return r


class TestLibc(HeapCase):
    def test_exact_pattern_with_and_without_the_gil(self):
        r = self.run_heap('''
def work():
    n = len(()); cdll.ht_pattern()
def work_gil():
    n = len(()); pydll.ht_pattern()
work()
work_gil()
''')
        self.assertRan(r)
        self.assertIn('allocator calls', r.stderr)
        log = self.read_log('h.log.zst')
        self.assertFalse(log.truncated)
        self.assertTrue(log.header['flags'] & pmtlog.HDR_HEAP_LIBC)
        runs = between_markers(log)
        self.assertEqual(len(runs), 2)
        for calls, fn in zip(runs, ('work', 'work_gil')):
            calls = strip_marker_frees(calls)
            self.assertEqual(shape(calls), PATTERN)
            # realloc's old block is the malloc's; each free frees what was returned
            self.assertEqual(calls[2].old, calls[0].addr)
            self.assertEqual(calls[3].addr, calls[2].addr)
            self.assertEqual(calls[4].addr, calls[1].addr)
            self.assertEqual(calls[18].old, 0)
            self.assertEqual(calls[19].addr, calls[18].addr)
            self.assertEqual(calls[8].addr % 64, 0)
            self.assertEqual(calls[10].addr % 128, 0)
            # attributed to the Python function that made the ctypes call, on
            # the main thread, at the line of its last event
            for a in calls:
                self.assertEqual(log.codes[a.code].name, fn, a)
                self.assertEqual(a.thread, runs and calls[0].thread)
            self.assertEqual(log.threads[calls[0].thread][1], 'MainThread')
        # event numbers: after the C_RETURN of len() on the same line
        for calls in runs:
            before = log.events[calls[0].num - 1]
            self.assertEqual((before.what, log.name_of(before)), ('C_RETURN', 'len'))
        self.assertEqual(log.total, log.trailer['total_events'])

    def test_summarise_counts_agree_with_the_log(self):
        r = self.run_heap('''
def work():
    cdll.ht_pattern(); cdll.ht_pattern()
work()
''')
        self.assertRan(r)
        log = self.read_log('h.log.zst')
        got = summarise_json(self.path('h.log.zst'))
        if got is None:
            self.skipTest('pmt-summarise not on PATH')
        res, js = got
        self.assertEqual(res.returncode, 0, res.stderr)
        rows = {row['call']: row for row in js['allocator_calls']}
        for op in ('malloc', 'calloc', 'realloc', 'free', 'free(NULL)', 'posix_memalign',
                   'aligned_alloc', 'memalign', 'valloc', 'pvalloc'):
            n = sum(1 for a in log.allocs if a.op == op)
            self.assertEqual(rows[op]['count'], n, op)
        self.assertGreaterEqual(rows['posix_memalign']['count'], 2)
        mallocs = sum(a.size for a in log.allocs if a.op == 'malloc')
        self.assertEqual(rows['malloc']['bytes'], mallocs)
        self.assertEqual(js['heap'][0]['records'], len(log.allocs))

    def test_leaks_by_site_and_function(self):
        r = self.run_heap('''
def leaky():
    n = len(()); cdll.ht_leak(3, 123457)
def tidy():
    n = len(()); cdll.ht_churn(50, 65432)
leaky()
tidy()
''', args=('--heap', '--mode', 'trace'))
        self.assertRan(r)
        log = self.read_log('h.log.zst')
        leaked = [a for a in log.allocs if a.op == 'malloc' and a.size == 123457]
        self.assertEqual(len(leaked), 3)
        freed = {a.addr for a in log.allocs if a.op == 'free'}
        self.assertFalse(freed & {a.addr for a in leaked})
        # trace mode: the exact line of the call
        with open(self.path('prog.py')) as f:
            line = 1 + [i for i, l in enumerate(f) if 'ht_leak(3' in l][0]
        for a in leaked:
            self.assertEqual((log.codes[a.code].name, a.line), ('leaky', line))
        got = summarise_json(self.path('h.log.zst'))
        if got is None:
            self.skipTest('pmt-summarise not on PATH')
        _, js = got
        site = [s for s in js['leaks'] if s['function'] == 'leaky' and s['line'] == line]
        self.assertEqual(len(site), 1)
        self.assertEqual(site[0]['blocks'], 3)
        self.assertEqual(site[0]['bytes'], 3 * 123457)
        funcs = {f['function']: f for f in js['heap_functions_alloc']}
        self.assertEqual(funcs['tidy']['live_at_exit_bytes'], 0)
        self.assertGreaterEqual(funcs['tidy']['alloc_bytes'], 50 * 65432)
        self.assertEqual(funcs['leaky']['live_at_exit_bytes'], 3 * 123457)
        self.assertGreaterEqual(js['heap'][0]['peak_live_bytes'], 50 * 65432)

    def test_storm_of_native_and_python_threads(self):
        # 8 native threads that never hold the GIL, and 8 Python threads whose
        # calls release it, allocate while the main thread makes events: no
        # deadlock, every call recorded once, event numbers consistent.
        r = self.run_heap('''
import threading
def pyworker(i):
    cdll.ht_storm(1, 3000, 50000 + i)
ts = [threading.Thread(target=pyworker, args=(i,)) for i in range(8)]
for t in ts: t.start()
n = cdll.ht_storm(8, 3000, 40000)
def f(i):
    return i
for i in range(20000):
    f(i)
for t in ts: t.join()
assert n == 8
''', args=('--heap', '--drss', '-1'), timeout=600)
        self.assertRan(r)
        log = self.read_log('h.log.zst')
        self.assertFalse(log.truncated)
        for base in (40000, 50000):
            for i in range(8):
                m = [a for a in log.allocs if a.op == 'malloc' and a.size == base + i]
                self.assertEqual(len(m), 3000, (base, i))
                f = {a.addr for a in m}
                threads = {a.thread for a in m}
                self.assertEqual(len(threads), 1)
                frees = [a for a in log.allocs if a.op == 'free' and a.addr in f
                         and a.thread in threads]
                self.assertGreaterEqual(len(frees), 3000)
        native = {a.thread for a in log.allocs if 40000 <= a.size < 40008}
        self.assertEqual(len(native), 8)
        for th in native:
            self.assertIn(th, log.threads)    # announced by a SITE tail
        self.assertEqual({a.code for a in log.allocs if 40000 <= a.size < 40008}, {0})
        nums = [a.num for a in log.allocs]
        self.assertEqual(nums, sorted(nums))
        self.assertLessEqual(nums[-1], log.total)
        self.assertEqual(log.total, log.trailer['total_events'])

    def test_fork_child_gets_its_own_heap_log(self):
        r = self.run_heap('''
import os
cdll.ht_leak(1, 111111)
pid = os.fork()
if pid == 0:
    cdll.ht_leak(1, 222222)
    os._exit(0)
_, st = os.waitpid(pid, 0)
cdll.ht_leak(1, 333333)
print(pid)
''', name='f_%p.log.zst')
        self.assertRan(r)
        child = int(r.stdout.split()[-1])
        parent = [n for n in os.listdir(self.dir) if n.startswith('f_') and str(child) not in n]
        self.assertEqual(len(parent), 1)
        plog = self.read_log(parent[0])
        clog = self.read_log('f_%d.log.zst' % child)
        self.assertFalse(plog.truncated)
        self.assertFalse(clog.truncated)
        sizes = lambda lg: {a.size for a in lg.allocs if a.op == 'malloc'}
        self.assertTrue({111111, 333333} <= sizes(plog))
        self.assertNotIn(222222, sizes(plog))
        self.assertIn(222222, sizes(clog))
        self.assertNotIn(111111, sizes(clog))
        self.assertEqual(clog.header['pid'], child)

    def test_fork_while_other_threads_allocate(self):
        if under_asan():
            self.skipTest("ASan's allocator (GCC 12's libasan) is not fork-safe: a child "
                          "forked while another thread holds one of its locks blocks in it")
        # native threads hammer malloc/free (holding the interposer's mutex
        # often) while the main thread forks: every child must get a free
        # mutex, its own log, and exit.
        r = self.run_heap('''
import os, threading
t = threading.Thread(target=cdll.ht_storm, args=(4, 100000, 60000))
t.start()
children = []
for i in range(10):
    pid = os.fork()
    if pid == 0:
        cdll.ht_leak(1, 222222)
        os._exit(0)
    children.append(pid)
bad = [pid for pid in children if os.waitpid(pid, 0)[1] != 0]
t.join()
print(len(bad), ' '.join(map(str, children)))
''', name='s_%p.log.zst', timeout=600)
        self.assertRan(r)
        bad, *children = r.stdout.split()
        self.assertEqual(bad, '0')
        for pid in children:
            log = self.read_log('s_%s.log.zst' % pid)
            self.assertFalse(log.truncated, pid)
            self.assertEqual(len([a for a in log.allocs if a.size == 222222]), 1, pid)

    def test_sigkill_leaves_decodable_heap_records(self):
        write(self.dir, 'prog.py', PRELUDE + '''
import time
cdll.ht_leak(5, 99991)
open("ready", "w").close()
time.sleep(60)
''')
        p = subprocess.Popen([PYTHON, '-m', 'pmt_tracer', '--heap', '-o', 'k.log.zst',
                              'prog.py'], cwd=self.dir, env=env(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        try:
            deadline = time.time() + 120
            while not os.path.exists(self.path('ready')) and time.time() < deadline:
                time.sleep(0.02)
            time.sleep(0.5)    # the flusher ends the frame once the program is quiet
        finally:
            p.send_signal(signal.SIGKILL)
            p.communicate()
        self.assertEqual(p.returncode, -signal.SIGKILL)
        log = self.read_log('k.log.zst')
        self.assertTrue(log.truncated)
        self.assertEqual(len([a for a in log.allocs if a.size == 99991]), 5)

    def test_program_that_never_allocates_after_start(self):
        # nothing but the interpreter's own exit; and a program that leaves
        # through os._exit at once
        for body, status in (('pass', 0), ('import os; os._exit(3)', 3)):
            write(self.dir, 'prog.py', body + '\n')
            r = trace(['--heap', '-f', '-o', 'n.log.zst', 'prog.py'], self.dir)
            self.assertRan(r, status)
            log = self.read_log('n.log.zst')
            self.assertFalse(log.truncated)
            self.assertTrue(log.header['flags'] & pmtlog.HDR_HEAP_LIBC)
            got = summarise_json(self.path('n.log.zst'))
            if got is not None:
                self.assertEqual(got[0].returncode, 0, got[0].stderr)

    def test_launcher_changes_nothing_the_program_sees(self):
        write(self.dir, 'prog.py', '''
import os, signal, subprocess, sys
print(repr(sys.argv))
print(os.environ.get('LD_PRELOAD'), os.environ.get('PMT_X'))
print(sorted(k for k in os.environ if k.startswith('_PMT_HEAP')))
child = subprocess.run([sys.executable, '-c',
    'import os; print(os.environ.get("LD_PRELOAD")); '
    'print(any("libpmt_heap" in l for l in open("/proc/self/maps")))'],
    stdout=subprocess.PIPE, universal_newlines=True).stdout.split()
print(child)
print(any("libpmt_heap" in l for l in open("/proc/self/maps")))
if sys.argv[1] == 'die':
    os.kill(os.getpid(), signal.SIGTERM)
sys.exit(int(sys.argv[2]))
''')
        e = env()
        e['PMT_X'] = 'kept'
        # what the program sees untraced (PYTHON may be a wrapper that preloads
        # a sanitizer runtime itself)
        base = subprocess.run([PYTHON, '-c', 'import os; print(os.environ.get("LD_PRELOAD"))'],
                              env=e, stdout=subprocess.PIPE, universal_newlines=True,
                              check=True).stdout.strip()
        r = subprocess.run([PYTHON, '-m', 'pmt_tracer', '--heap', '-o', 'l.log.zst', 'prog.py',
                            'live', '7'], cwd=self.dir, env=e, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True)
        self.assertEqual(r.returncode, 7, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0], repr(['prog.py', 'live', '7']))
        self.assertEqual(lines[1], '%s kept' % base)
        self.assertEqual(lines[2], '[]')
        self.assertEqual(lines[3], repr([base, 'False']))
        self.assertEqual(lines[4], 'True')
        r = subprocess.run([PYTHON, '-m', 'pmt_tracer', '--heap', '-f', '-o', 'l.log.zst',
                            'prog.py', 'die', '0'], cwd=self.dir, env=e,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.assertEqual(r.returncode, -signal.SIGTERM)

    def test_pythonmalloc_malloc_shows_small_objects(self):
        body = '''
def objects():
    n = len(()); return [object() for _ in range(20000)]
x = objects()
'''
        counts = {}
        for mode in ('pymalloc', 'malloc'):
            r = self.run_heap(body, extra_env={'PYTHONMALLOC': mode}, name=mode + '.log.zst')
            self.assertRan(r)
            log = self.read_log(mode + '.log.zst')
            names = {cid: c.name for cid, c in log.codes.items()}
            counts[mode] = sum(1 for a in log.allocs if a.op == 'malloc'
                               and names.get(a.code, '').endswith('<listcomp>')
                               or a.op == 'malloc' and names.get(a.code) == 'objects')
        # without pymalloc every object is a malloc; with it, arenas are mmapped
        self.assertGreaterEqual(counts['malloc'], 20000)
        self.assertLess(counts['pymalloc'], 2000)


class TestPython(HeapCase):
    def test_domains_exact(self):
        r = self.run_heap('''
def make():
    return [bytearray(54321) for _ in range(5)]
x = make()
del x
''', args=('--heap=python',))
        self.assertRan(r)
        log = self.read_log('h.log.zst')
        self.assertTrue(log.header['flags'] & pmtlog.HDR_HEAP_PYTHON)
        self.assertFalse(log.header['flags'] & pmtlog.HDR_HEAP_LIBC)
        blocks = [a for a in log.allocs if a.op in ('py_malloc', 'py_realloc')
                  and a.size == 54322]
        self.assertEqual(len(blocks), 5)
        # bytearray buffers: one domain (OBJ up to 3.12, MEM from 3.13)
        self.assertIn(frozenset(a.domain for a in blocks), ({1}, {2}))
        names = {log.codes[a.code].name for a in blocks}
        self.assertTrue(names <= {'make', 'make.<locals>.<listcomp>', '<listcomp>'}, names)
        freed = [a for a in log.allocs if a.op == 'py_free' and a.addr in {b.addr for b in blocks}]
        self.assertEqual(len(freed), 5)
        self.assertTrue(all(a.op.startswith('py_') for a in log.allocs))
        self.assertEqual({a.domain for a in log.allocs}, {1, 2})

    def test_api_in_a_running_process(self):
        write(self.dir, 'prog.py', '''
import pmt_tracer
with pmt_tracer.Profile(0, filepath='api.log.zst', heap='python') as p:
    x = [bytearray(43210) for _ in range(3)]
print(p.tracer.heap, p.tracer.heap_calls > 0)
try:
    pmt_tracer.Profile(0, filepath='no.log.zst', heap=True).start()
except RuntimeError as e:
    print('refused:', 'python -m pmt_tracer --heap' in str(e), pmt_tracer.heap_preloaded())
''')
        r = run(['prog.py'], self.dir)
        self.assertRan(r)
        self.assertEqual(r.stdout.split('\n')[:2], ['python True', 'refused: True False'])
        self.assertFalse(os.path.exists(self.path('no.log.zst')))
        log = self.read_log('api.log.zst')
        self.assertEqual(len([a for a in log.allocs if a.size == 43211]), 3)

    def test_options_that_do_not_combine(self):
        write(self.dir, 'prog.py', 'pass\n')
        for extra in (['--drss', '-1', '--prev'], ['--log', 'none']):
            r = trace(['--heap=python', '-o', 'x.log.zst'] + extra + ['prog.py'], self.dir)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn('--heap', r.stderr)


NO_EVENTS_PROG = '''
import threading

def leaf():
    return bytearray(30001)

def middle():
    a = leaf()
    b = bytearray(30002)
    return a, b

def gen():
    for i in range(3):
        yield bytearray(30003)

def in_thread(out):
    out.append(bytearray(30004))

keep = [middle()]
keep.append(bytearray(30005))
keep.extend(gen())
out = []
t = threading.Thread(target=in_thread, args=(out,))
t.start()
t.join()
keep.append(out)
tmp = bytearray(30006)
del tmp
'''


def line_of(text, needle):
    """The 1-based line of the only line of text that contains needle."""
    found = [i + 1 for i, l in enumerate(text.split('\n')) if needle in l]
    assert len(found) == 1, (needle, found)
    return found[0]


class TestPythonNoEvents(TmpDirCase):
    """--heap=python --no-events: no hook; each allocation is attributed to
    the frame running when it is made."""

    def run_heap(self, body, args, name='h.log.zst'):
        write(self.dir, 'prog.py', body)
        return trace(['-o', name] + list(args) + ['prog.py'], self.dir, timeout=300)

    def blocks(self, log):
        """{size: [alloc]} of the program's bytearray buffers (size + 1)."""
        out = {}
        for a in log.allocs:
            if a.op in ('py_malloc', 'py_realloc') and 30002 <= a.size <= 30007:
                out.setdefault(a.size - 1, []).append(a)
        return out

    def test_known_allocations_at_their_function_and_line(self):
        r = self.run_heap(NO_EVENTS_PROG, args=('--heap=python', '--no-events'))
        self.assertRan(r)
        self.assertRegex(r.stderr, r'wrote \S+: 0 events, \d+ allocator calls, \d+ bytes '
                                   r'\(\d+\.\d B/allocator call\)')
        log = self.read_log('h.log.zst')
        flags = log.header['flags']
        self.assertTrue(flags & pmtlog.HDR_HEAP_PYTHON)
        self.assertTrue(flags & pmtlog.HDR_NO_EVENTS)
        self.assertEqual(log.events, [])
        got = self.blocks(log)
        want = {30001: ('leaf', 1), 30002: ('middle', 1), 30003: ('gen', 3),
                30004: ('in_thread', 1), 30005: ('<module>', 1), 30006: ('<module>', 1)}
        self.assertEqual(sorted(got), sorted(want))
        for size, (name, n) in want.items():
            line = line_of(NO_EVENTS_PROG, 'bytearray(%d)' % size)
            self.assertEqual(len(got[size]), n, size)
            for a in got[size]:
                self.assertEqual((log.codes[a.code].name, a.line), (name, line), a)
                self.assertTrue(log.codes[a.code].file.endswith('prog.py'))
        main = {a.thread for s in (30001, 30002, 30003, 30005) for a in got[s]}
        self.assertEqual(len(main), 1)
        self.assertNotIn(got[30004][0].thread, main)   # the other thread's own index
        # the freed temporary, and the live ones
        addrs = {a.addr for a in got[30006]}
        self.assertEqual(len([a for a in log.allocs if a.op == 'py_free' and a.addr in addrs]), 1)
        s = summarise_json(self.path('h.log.zst'))
        if s is None:
            return
        res, js = s
        self.assertEqual(res.returncode, 0, res.stderr)
        # no RSS was read: nothing is compared with it
        self.assertIn('no RSS', js['heap'][0]['reading'])
        self.assertEqual({x['reading'] for x in js['heap_functions_alloc']}, {''})
        leaks = {(x['function'], x['line']) for x in js['leaks']
                 if x['file'].endswith('prog.py')}
        for size in (30001, 30002, 30003, 30004, 30005):
            name, _ = want[size]
            self.assertIn((name, line_of(NO_EVENTS_PROG, 'bytearray(%d)' % size)), leaks)
        self.assertNotIn(('<module>', line_of(NO_EVENTS_PROG, 'bytearray(30006)')), leaks)

    def test_same_blocks_as_with_the_hook(self):
        """The same allocations as --heap=python finds, function by function."""
        self.assertRan(self.run_heap(NO_EVENTS_PROG, args=('--heap=python',), name='e.log.zst'))
        self.assertRan(self.run_heap(NO_EVENTS_PROG, args=('--heap=python', '--no-events'),
                                     name='n.log.zst'))
        with_hook, without = self.read_log('e.log.zst'), self.read_log('n.log.zst')
        self.assertGreater(len(with_hook.events), 0)

        def by_function(log):
            return sorted((size, log.codes[a.code].name)
                          for size, l in self.blocks(log).items() for a in l)
        self.assertEqual(by_function(with_hook), by_function(without))

    def test_api_in_a_running_process(self):
        write(self.dir, 'prog.py', '''
import pmt_tracer
def f():
    return [bytearray(43210) for _ in range(3)]
with pmt_tracer.Profile(0, filepath='api.log.zst', heap='python', events=False) as p:
    x = f()
print(p.tracer.events, p.tracer.heap_calls > 0)
for kw in (dict(heap=False), dict(heap=True)):
    try:
        pmt_tracer.Profile(0, filepath='no.log.zst', events=False, **kw).start()
    except (RuntimeError, ValueError) as e:
        print('refused')
''')
        r = run(['prog.py'], self.dir)
        self.assertRan(r)
        self.assertEqual(r.stdout.split('\n')[:3], ['0 True', 'refused', 'refused'])
        self.assertFalse(os.path.exists(self.path('no.log.zst')))
        log = self.read_log('api.log.zst')
        blocks = [a for a in log.allocs if a.size == 43211]
        self.assertEqual(len(blocks), 3)
        self.assertTrue({log.codes[a.code].name for a in blocks}
                        <= {'f', 'f.<locals>.<listcomp>', '<listcomp>'})

    def test_options_that_do_not_combine(self):
        write(self.dir, 'prog.py', 'pass\n')
        for extra in (['--no-events'], ['--heap', '--no-events'],
                      ['--heap=python', '--no-events', '--drss', '-1'],
                      ['--heap=python', '--no-events', '--log', 'all']):
            r = trace(['-o', 'x.log.zst'] + extra + ['prog.py'], self.dir)
            self.assertEqual(r.returncode, 2, (extra, r.stderr))
            self.assertIn('--no-events', r.stderr)
        self.assertFalse(os.path.exists(self.path('x.log.zst')))


if __name__ == '__main__':
    unittest.main()
