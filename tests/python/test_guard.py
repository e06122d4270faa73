# SPDX-License-Identifier: MIT
"""The hook's guard: programs that take the hook away (cProfile, profile,
sys.setprofile/settrace users, threading.setprofile, sys.monitoring users).
The program must run as untraced (its own profiler sees what it would see),
every event the hook could see must be in the log, and every displacement is
said: a MESSAGE at the event where it was seen, one when the hook is back,
and a warning on stderr at exit."""
import json
import os
import re
import sys
import unittest

from pmt_testlib import TmpDirCase, run, trace, write

HAVE_MONITORING = sys.version_info >= (3, 12)
# cProfile takes the legacy profile slot before 3.12, a sys.monitoring tool
# id from 3.12 on.
CPROFILE_TAKES_SLOT = sys.version_info < (3, 12)
HOOKS = ['legacy', 'monitoring'] if HAVE_MONITORING else ['legacy']

DISPLACED = re.compile(r'^pmt: hook displaced by (.*) at event (\d+)$')
REARMED = re.compile(r'^pmt: hook re-armed at event (\d+)$')


def guard_messages(log):
    return [(n, th, t) for n, th, t in log.messages
            if t.startswith('pmt: ') and not t.startswith('pmt: hook=')]


def calls(log, name, thread=None):
    names = {idx: nm for idx, (tid, nm) in log.threads.items()}
    return sum(1 for e in log.events
               if e.what == 'CALL' and log.name_of(e) == name
               and (thread is None or names.get(e.thread) == thread))


def profile_rows(text):
    """cProfile/profile statistics without the times: {function: ncalls}."""
    rows = {}
    for line in text.splitlines():
        m = re.match(r'^\s*(\d+(?:/\d+)?)\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+(.*\S)\s*$', line)
        if m:
            rows[m.group(2)] = m.group(1)
    return rows


class GuardCase(TmpDirCase):
    def traced(self, script, args=(), name='g.log.zst', status=0, prog_args=()):
        r = trace(['-o', name] + list(args) + [script] + list(prog_args), self.dir)
        self.assertRan(r, status)
        log = self.read_log(name)
        self.assertFalse(log.truncated)
        self.assertEqual(log.total, log.trailer['total_events'])
        return r, log

    def untraced(self, script, status=0, prog_args=()):
        r = run([script] + list(prog_args), self.dir)
        self.assertRan(r, status)
        return r

    def assertDisplacedThenRearmed(self, log, by):
        msgs = [t for _, _, t in guard_messages(log)]
        self.assertTrue(msgs, 'no guard MESSAGE')
        m = DISPLACED.match(msgs[0])
        self.assertTrue(m, msgs)
        self.assertRegex(m.group(1), by)
        self.assertTrue(any(REARMED.match(t) for t in msgs[1:]), msgs)
        # the numbers are those of the log's own event numbering
        for n, _, t in guard_messages(log):
            mm = DISPLACED.match(t) or REARMED.match(t)
            if mm:
                self.assertEqual(int(mm.groups()[-1]), n, t)


class TestDisplacement(GuardCase):
    def test_cprofile_run_three_calls(self):
        """f() before cProfile.run and twice after: all three in the log (the
        hook was lost for good at cProfile's enable()), and cProfile's own
        statistics as untraced."""
        write(self.dir, 'cp.py', '''
            import cProfile, sys
            def f(n):
                return n + 1
            def g(n):
                return f(n) * 2
            f(1)
            cProfile.run('g(2)', sort='calls')
            f(3)
            f(4)
            print('getprofile', sys.getprofile())
        ''')
        want = profile_rows(self.untraced('cp.py').stdout)
        self.assertRegex(' '.join(want), r'cp\.py:\d+\(f\)')
        for hook in HOOKS:
            r, log = self.traced('cp.py', ['--hook', hook], 'cp-%s.log.zst' % hook)
            self.assertEqual(profile_rows(r.stdout), want, hook)
            self.assertIn('getprofile None', r.stdout)
            if hook == 'legacy' and CPROFILE_TAKES_SLOT:
                # f(2) ran under cProfile, which held the slot
                self.assertEqual(calls(log, 'f'), 3)
                self.assertDisplacedThenRearmed(log, r'^<cProfile\.Profile object>$')
                self.assertRegex(r.stderr, r'pmt_tracer: the hook was displaced \d+ times? ')
            else:
                self.assertEqual(calls(log, 'f'), 4, hook)
                self.assertEqual(guard_messages(log), [], hook)
                self.assertNotIn('displaced', r.stderr)

    def test_profile_module(self):
        """The pure-Python profiler, through sys.setprofile: displaced and
        re-armed on every version with the legacy hook."""
        write(self.dir, 'pr.py', '''
            import profile
            def f(n):
                return n + 1
            f(1)
            profile.run('f(2)', sort='calls')
            f(3)
            f(4)
        ''')
        want = profile_rows(self.untraced('pr.py').stdout)
        for hook in HOOKS:
            r, log = self.traced('pr.py', ['--hook', hook], 'pr-%s.log.zst' % hook)
            self.assertEqual(profile_rows(r.stdout), want, hook)
            if hook == 'legacy':
                self.assertEqual(calls(log, 'f'), 3)
                self.assertDisplacedThenRearmed(log, r'^<bound method .*Profile')
                self.assertIn('the hook was displaced', r.stderr)
            else:
                self.assertEqual(calls(log, 'f'), 4)
                self.assertEqual(guard_messages(log), [])

    def test_setprofile_none_by_the_program(self):
        """sys.setprofile(None) (and settrace(None) in trace mode), in the main
        thread and another, directly and through a wrapper of the program's:
        the hook is back before the next event, nothing is missed, the
        program sees no profile function, and no warning is needed."""
        write(self.dir, 'none.py', '''
            import sys, threading
            def f(n):
                return n + 1
            setter = sys.settrace if sys.argv[1] == 'trace' else sys.setprofile
            getter = sys.gettrace if sys.argv[1] == 'trace' else sys.getprofile
            real = setter
            def own_setter(fn):          # a program that wraps it itself
                real(fn)
            seen = [getter()]
            f(1)
            setter(None)
            f(2)
            own_setter(None)
            f(3)
            def worker():
                seen.append(getter())
                setter(None)
                f(4)
            t = threading.Thread(target=worker, name='w')
            t.start()
            t.join()
            print('seen', seen)
        ''')
        for mode in ('profile', 'trace'):
            r, log = self.traced('none.py', ['--hook', 'legacy', '--mode', mode],
                                 'none-%s.log.zst' % mode, prog_args=[mode])
            self.assertIn('seen [None, None]', r.stdout)
            self.assertEqual(calls(log, 'f'), 4, mode)
            self.assertEqual(calls(log, 'f', 'w'), 1, mode)
            msgs = guard_messages(log)
            # each removal: displaced by None and re-armed at the same event
            pairs = [(DISPLACED.match(a[2]), REARMED.match(b[2])) for a, b in zip(msgs, msgs[1:])]
            pairs = [(a, b) for a, b in pairs if a and b]
            self.assertEqual(len(pairs), 3, msgs)
            for a, b in pairs:
                self.assertEqual(a.group(1), 'None')
                self.assertEqual(a.group(2), b.group(1))
            self.assertNotIn('displaced', r.stderr)

    def test_settrace_user_in_a_thread(self):
        """A coverage-like settrace user in one thread while the main thread
        runs too: in trace mode that thread is displaced while the user
        traces and re-armed after; in profile mode nothing changes. The
        user's own tracer sees the same lines as untraced."""
        write(self.dir, 'cov.py', '''
            import sys, threading
            lines = []
            def tracer(frame, event, arg):
                if event == 'line' and frame.f_code.co_name == 'work':
                    lines.append(frame.f_lineno - frame.f_code.co_firstlineno)
                return tracer
            def work(n):
                s = 0
                for i in range(n):
                    s += i
                return s
            def worker():
                sys.settrace(tracer)
                work(3)
                sys.settrace(None)
                work(5)
            t = threading.Thread(target=worker, name='cov')
            t.start()
            for i in range(200):
                work(2)
            t.join()
            print('lines', lines)
        ''')
        want = self.untraced('cov.py').stdout
        for mode in ('trace', 'profile'):
            for hook in HOOKS:
                r, log = self.traced('cov.py', ['--hook', hook, '--mode', mode],
                                     'cov-%s-%s.log.zst' % (mode, hook))
                self.assertEqual(r.stdout, want, (mode, hook))
                self.assertEqual(calls(log, 'work', 'MainThread'), 200, (mode, hook))
                names = {idx: nm for idx, (tid, nm) in log.threads.items()}
                msgs = guard_messages(log)
                if mode == 'trace' and hook == 'legacy':
                    self.assertEqual(calls(log, 'work', 'cov'), 1)     # work(5)
                    self.assertDisplacedThenRearmed(log, r'^<function tracer>$')
                    # said in the thread it happened in
                    self.assertEqual({names.get(th) for _, th, _ in msgs}, {'cov'})
                else:
                    self.assertEqual(calls(log, 'work', 'cov'), 2, (mode, hook))
                    self.assertEqual(msgs, [], (mode, hook))

    def test_threading_setprofile_replaced(self):
        """The program's own threading.setprofile hook: the threads it starts
        are the program's profiler's (which sees what it would untraced);
        after threading.setprofile(None) new threads are traced again."""
        write(self.dir, 'th.py', '''
            import sys, threading
            seen = []
            def prog_hook(frame, event, arg):
                if frame.f_code.co_name == 'work':
                    seen.append(event)
            def work():
                return sum(range(3))
            threading.setprofile(prog_hook)
            got = getattr(threading, 'getprofile', lambda: prog_hook)()
            t1 = threading.Thread(target=work, name='t1')
            t1.start()
            t1.join()
            threading.setprofile(None)
            t2 = threading.Thread(target=work, name='t2')
            t2.start()
            t2.join()
            print('hook', got is prog_hook, getattr(threading, 'getprofile', lambda: None)())
            print('seen', seen)
        ''')
        want = self.untraced('th.py').stdout
        self.assertIn("'call'", want)
        for hook in HOOKS:
            r, log = self.traced('th.py', ['--hook', hook], 'th-%s.log.zst' % hook)
            self.assertEqual(r.stdout, want, hook)
            self.assertEqual(calls(log, 'work', 't2'), 1, hook)
            if hook == 'legacy':
                self.assertEqual(calls(log, 'work', 't1'), 0)
                msgs = [t for _, _, t in guard_messages(log)]
                self.assertTrue(any(DISPLACED.match(t) and 'prog_hook' in t for t in msgs),
                                msgs)
                self.assertIn('the hook was displaced 1 time ', r.stderr)
            else:
                self.assertEqual(calls(log, 'work', 't1'), 1)

    def test_threads_started_while_displaced_everywhere(self):
        """3.12's threading.setprofile_all_threads: every thread displaced,
        then every thread re-armed by setprofile_all_threads(None)."""
        if not hasattr(__import__('threading'), 'setprofile_all_threads'):
            self.skipTest('threading.setprofile_all_threads is 3.12+')
        write(self.dir, 'all.py', '''
            import threading, time
            go, done = threading.Event(), threading.Event()
            def work():
                return 1
            def other():
                go.wait()
                work()
                done.wait()
                work()
            t = threading.Thread(target=other, name='o')
            t.start()
            time.sleep(0.05)
            threading.setprofile_all_threads(lambda *a: None)
            go.set()
            time.sleep(0.05)
            work()
            threading.setprofile_all_threads(None)
            done.set()
            t.join()
            work()
        ''')
        r, log = self.traced('all.py', ['--hook', 'legacy'])
        self.assertEqual(calls(log, 'work', 'o'), 1)          # the second one
        self.assertEqual(calls(log, 'work', 'MainThread'), 1)  # the last one
        msgs = [t for _, _, t in guard_messages(log)]
        self.assertEqual(sum(1 for t in msgs if DISPLACED.match(t)), 2, msgs)
        self.assertEqual(sum(1 for t in msgs if REARMED.match(t)), 2, msgs)


@unittest.skipUnless(HAVE_MONITORING, 'sys.monitoring is 3.12+')
class TestMonitoringUsers(GuardCase):
    PROG = '''
        import sys
        M, E = sys.monitoring, sys.monitoring.events
        counts = {}
        def f(n):
            return n
        def counter(tool):
            def cb(code, offset):
                if code.co_name == 'f':
                    counts[tool] = counts.get(tool, 0) + 1
            return cb
        tools = [int(a) for a in sys.argv[1:]]
        for tool in tools:
            M.use_tool_id(tool, 'prog%d' % tool)
            M.register_callback(tool, E.PY_START, counter(tool))
            M.set_events(tool, E.PY_START)
        for i in range(5):
            f(i)
        print('counts', sorted(counts.items()))
        print('tools', [M.get_tool(i) for i in range(6)])
        for tool in tools:
            M.set_events(tool, 0)
            M.free_tool_id(tool)
        for i in range(6):      # a program that clears every id it may have used
            if i not in tools:
                M.free_tool_id(i)
        print('events', [M.get_events(i) for i in range(6)])
        f(9)
    '''

    def test_program_tools_and_ours(self):
        """The program takes the debugger's id and then ours (3): it gets
        both, its callbacks see what they would untraced, our hook moves to
        another id, and freeing every id does not stop it."""
        write(self.dir, 'mon.py', self.PROG)
        want = self.untraced_args('mon.py', '0', '3')
        r, log = self.traced_args('mon.py', ['0', '3'])
        self.assertEqual(r.stdout, want)
        self.assertIn("'prog3'", want)
        self.assertEqual(calls(log, 'f'), 6)
        msgs = [t for _, _, t in guard_messages(log)]
        self.assertEqual(len(msgs), 1, msgs)
        self.assertRegex(msgs[0], r"^pmt: sys.monitoring tool id 3 given to 'prog3'; hook moved "
                                  r"to tool id 4 at event \d+$")
        self.assertNotIn('displaced', r.stderr)

    def test_every_id_we_may_use_taken(self):
        """The program takes 3, 4 and 2 one after the other: we move each
        time, and then go on through the legacy hook."""
        write(self.dir, 'mon.py', self.PROG)
        want = self.untraced_args('mon.py', '3', '4', '2')
        r, log = self.traced_args('mon.py', ['3', '4', '2'])
        self.assertEqual(r.stdout, want)
        self.assertEqual(calls(log, 'f'), 6)
        msgs = [t for _, _, t in guard_messages(log)]
        self.assertEqual(len(msgs), 3, msgs)
        self.assertIn('hook moved to tool id 4', msgs[0])
        self.assertIn('hook moved to tool id 2', msgs[1])
        self.assertIn('no tool id left: hook=legacy', msgs[2])

    def untraced_args(self, script, *args):
        r = run([script] + list(args), self.dir)
        self.assertRan(r)
        return r.stdout

    def traced_args(self, script, args):
        r = trace(['-o', 'm.log.zst', script] + list(args), self.dir)
        self.assertRan(r)
        log = self.read_log('m.log.zst')
        self.assertFalse(log.truncated)
        return r, log


class TestHostile(GuardCase):
    def test_code_without_builtins(self):
        """The guard's checks run inside whatever frame an event comes
        from: here code exec'd with __builtins__ = {} (as namedtuple's
        __new__ is), where an import finds no __import__. The hook is not
        taken for displaced, and the events are all there."""
        write(self.dir, 'nob.py', '''
            ns = {'__builtins__': {}}
            exec("def a():\\n    pass\\n"
                 "def loop(n):\\n    i = 0\\n    while i < n:\\n        a()\\n        i = i + 1\\n", ns)
            ns['loop'](150000)
            print('done')
        ''')
        for hook in HOOKS:
            with self.subTest(hook=hook):
                r, log = self.traced('nob.py', ['--hook', hook], name=hook + '.log.zst')
                self.assertEqual(r.stdout, 'done\n')
                self.assertNotIn('displaced', r.stderr)
                self.assertEqual(guard_messages(log), [])
                self.assertEqual(calls(log, 'a'), 150000)

    def test_2000_short_lived_threads(self):
        """Every thread's events are attributed to it (OS tids are reused
        along the way), the log decodes, and the tracer's thread table stays
        as large as the threads alive at once."""
        write(self.dir, 'many.py', '''
            import threading, pmt_tracer
            def work(k):
                return k * 2
            for batch in range(20):
                ts = [threading.Thread(target=work, args=(k,), name='w%d' % (batch * 100 + k))
                      for k in range(100)]
                for t in ts:
                    t.start()
                for t in ts:
                    t.join()
            print('slots', pmt_tracer._stacks['profile'][-1].tracer._thread_slots)
        ''')
        for hook in HOOKS:
            r, log = self.traced('many.py', ['--hook', hook], 'many-%s.log.zst' % hook)
            slots = int(re.search(r'slots (\d+)', r.stdout).group(1))
            self.assertLess(slots, 600, hook)
            names = {idx: nm for idx, (tid, nm) in log.threads.items()}
            per = {}
            for e in log.events:
                if e.what == 'CALL' and log.name_of(e) == 'work':
                    per[names.get(e.thread)] = per.get(names.get(e.thread), 0) + 1
            self.assertEqual(per, {'w%d' % k: 1 for k in range(2000)}, hook)

    def test_deep_recursion(self):
        """RecursionError: the program's traceback and exit status as
        untraced, and the log complete (every call returned)."""
        write(self.dir, 'rec.py', '''
            def r(n):
                return r(n + 1)
            r(0)
        ''')
        want = self.untraced('rec.py', status=1).stderr
        self.assertIn('RecursionError', want)
        for hook in HOOKS:
            r, log = self.traced('rec.py', ['--hook', hook], 'rec-%s.log.zst' % hook, status=1)
            got = '\n'.join(l for l in r.stderr.splitlines() if not l.startswith('pmt_tracer:'))
            self.assertEqual(got, want.rstrip('\n'), hook)
            ncalls = calls(log, 'r')
            rets = sum(1 for e in log.events if e.what == 'RETURN' and log.name_of(e) == 'r')
            self.assertGreater(ncalls, 500)
            self.assertEqual(ncalls, rets, hook)
            self.assertEqual(guard_messages(log), [])


if __name__ == '__main__':
    unittest.main()
