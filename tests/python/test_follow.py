# SPDX-License-Identifier: MIT
"""--follow-children: Python children (subprocess, multiprocessing spawn and
forkserver, exec) traced into their own logs, recorded in their parent's;
the program and its children behaving exactly as untraced. Also os.exec*
closing the log first, with or without the option."""
import glob
import os
import re
import signal
import subprocess
import sys
import time
import unittest

import pmtlog
from pmt_testlib import PYTHON, TmpDirCase, env, run, trace, write

CHILD_RE = re.compile(r'^pmt: child pid=(\d+) how=(\w+) (?:log=(.*)|not traced: (.*))$')


def children(log):
    """{pid: (how, log path or None, reason or None)} from a log's MESSAGEs."""
    out = {}
    for _, _, text in log.messages:
        m = CHILD_RE.match(text)
        if m:
            out[int(m.group(1))] = (m.group(2), m.group(3), m.group(4))
    return out


def texts(log):
    return [t for _, _, t in log.messages]


def names(log):
    return {log.name_of(e) for e in log.events if e.what == 'CALL'}


def other_python():
    """A CPython 3 of another minor version than ours, or None."""
    root = os.environ.get('PYENV_ROOT') or os.path.expanduser('~/.pyenv')
    real = os.environ.get('PMT_REAL_PYTHON') or sys.executable
    mine = subprocess.run([real, '-c', 'import sys; print(sys.version_info[:2])'],
                          stdout=subprocess.PIPE, universal_newlines=True).stdout
    for exe in sorted(glob.glob(os.path.join(root, 'versions', '3.*', 'bin', 'python3'))):
        v = subprocess.run([exe, '-c', 'import sys; print(sys.version_info[:2])'],
                           stdout=subprocess.PIPE, universal_newlines=True).stdout
        if v and v != mine:
            return exe
    return None


class FollowCase(TmpDirCase):
    def setUp(self):
        super().setUp()
        # The run directory goes to TMPDIR: the tests check that it is removed.
        self.tmp = self.path('tmp')
        os.mkdir(self.tmp)

    def go(self, args, traced=True, status=0):
        e = env()
        e['TMPDIR'] = self.tmp
        cmd = [PYTHON] + (['-m', 'pmt_tracer', '-q'] + args if traced else args)
        r = subprocess.run(cmd, cwd=self.dir, env=e, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True, timeout=180)
        self.assertRan(r, status)
        return r

    def logs(self, pattern='l_*.log.zst'):
        return {os.path.basename(p): pmtlog.read(p)
                for p in sorted(glob.glob(os.path.join(self.dir, pattern)))}

    def assertClean(self, name, log):
        self.assertFalse(log.truncated, name)
        self.assertIsNotNone(log.trailer, name)
        self.assertTrue(log.trailer['flags'] & pmtlog.TRL_CLEAN, name)

    def assertReadable(self, path, log):
        """A log cut by a signal: no trailer, but pmt-summarise reads it."""
        if log.truncated:
            s = subprocess.run(['pmt-summarise', path], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, universal_newlines=True)
            self.assertEqual(s.returncode, 0, s.stderr)
            self.assertIn('truncated', s.stderr)
        self.assertIn('pid', log.header, path)

    def calls(self, log, name):
        return sum(1 for e in log.events if e.what == 'CALL' and log.name_of(e) == name)

    def assertRunRemoved(self):
        self.assertEqual(os.listdir(self.tmp), [])


class TestExec(FollowCase):
    """os.exec* closes the log before the image is replaced."""

    def test_exec_closes_the_log(self):
        write(self.dir, 'ex.py', '''
            import os, sys
            def before():
                return bytearray(1 << 20)
            before()
            sys.stdout.flush()
            os.execv(sys.executable, [sys.executable, '-c', 'print("after exec")'])
        ''')
        plain = self.go(['ex.py'], traced=False)
        r = self.go(['-o', 'l_%p.log.zst', 'ex.py'])
        self.assertEqual(r.stdout, plain.stdout)
        self.assertEqual(r.stdout, 'after exec\n')
        logs = self.logs()
        self.assertEqual(len(logs), 1, list(logs))   # the new image is not followed
        (name, log), = logs.items()
        self.assertClean(name, log)
        self.assertIn('before', names(log))
        self.assertTrue(texts(log)[-1].startswith('pmt: exec '), texts(log))
        self.assertIn("'-c', 'print(\"after exec\")'", texts(log)[-1])

    def test_failed_exec_continues_in_a_new_log(self):
        write(self.dir, 'ex.py', '''
            import os, sys
            try:
                os.execv('/nonexistent/prog', ['prog'])
            except OSError as e:
                print('failed', e.errno)
            def later():
                return 7
            later()
            sys.exit(4)
        ''')
        plain = self.go(['ex.py'], traced=False, status=4)
        r = self.go(['-o', 'l_%p.log.zst', 'ex.py'], status=4)
        self.assertEqual(r.stdout, plain.stdout)
        self.assertEqual(r.stderr, plain.stderr)
        logs = self.logs()
        self.assertEqual(len(logs), 2, list(logs))
        first, second = sorted(logs, key=len)          # l_PID.log.zst, l_PID-2.log.zst
        self.assertTrue(second.endswith('-2.log.zst'), second)
        for n in (first, second):
            self.assertClean(n, logs[n])
        self.assertEqual(texts(logs[first])[-1], "pmt: exec /nonexistent/prog ['prog']")
        self.assertNotIn('later', names(logs[first]))
        cont = [t for t in texts(logs[second]) if 'failed' in t]
        self.assertEqual(len(cont), 1, texts(logs[second]))
        self.assertIn('pmt: exec of /nonexistent/prog failed (FileNotFoundError', cont[0])
        said = cont[0].split('this log continues ')[-1]
        self.assertEqual(os.path.join(self.dir, said), self.path(first))
        self.assertIn('later', names(logs[second]))


class TestFollow(FollowCase):
    def test_subprocess_child_and_a_child_that_fails(self):
        write(self.dir, 'child.py', '''
            import os, sys
            def grow():
                return bytearray(3 << 20)
            keep = grow()
            print('child', os.getpid(), sys.argv[1:])
            if sys.argv[1] == 'fail':
                raise ValueError('child failed')
            sys.exit(3)
        ''')
        write(self.dir, 'top.py', '''
            import subprocess, sys
            for arg in ('ok', 'fail'):
                r = subprocess.run([sys.executable, 'child.py', arg], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, universal_newlines=True)
                print(repr(r.stdout), r.returncode)
                print(r.stderr)
        ''')
        plain = self.go(['top.py'], traced=False)
        r = self.go(['--follow-children', '-o', 'l_%p.log.zst', 'top.py'])
        # The children's output, status and traceback exactly as untraced
        # (pids aside).
        strip = lambda s: re.sub(r'child \d+', 'child PID', s)
        self.assertEqual(strip(r.stdout), strip(plain.stdout))
        self.assertIn("ValueError: child failed", r.stdout)
        self.assertEqual(r.stderr, plain.stderr)
        pids = [int(p) for p in re.findall(r'child (\d+)', r.stdout)]
        logs = self.logs()
        self.assertEqual(len(logs), 3, list(logs))
        top = [l for l in logs.values() if l.header['pid'] not in pids][0]
        kids = children(top)
        self.assertEqual(sorted(kids), sorted(pids))
        for pid in pids:
            how, path, reason = kids[pid]
            self.assertEqual(how, 'spawn')
            self.assertEqual(path, self.path('l_%d.log.zst' % pid))
            log = logs[os.path.basename(path)]
            self.assertClean(path, log)
            self.assertEqual(log.header['pid'], pid)
            self.assertEqual(log.header['ppid'], top.header['pid'])
            self.assertEqual(log.header['argv'][1:3], ['child.py', 'ok' if pid == pids[0]
                                                       else 'fail'])
            self.assertIn('grow', names(log))
        self.assertRunRemoved()

    def test_spawn_pool(self):
        write(self.dir, 'pool.py', '''
            import multiprocessing as mp, os
            def init(barrier):
                barrier.wait()      # both workers up before any task
            def work(n):
                return os.getpid(), len(bytearray(n << 20))
            if __name__ == '__main__':
                ctx = mp.get_context('spawn')
                with ctx.Pool(2, init, (ctx.Barrier(2),)) as p:
                    res = p.map(work, [1, 2, 3, 4], chunksize=1)
                print(sorted(r[1] for r in res))
                print('workers', sorted({r[0] for r in res}))
        ''')
        plain = self.go(['pool.py'], traced=False)
        r = self.go(['--follow-children', '-o', 'l_%p.log.zst', 'pool.py'])
        self.assertEqual(r.stdout.splitlines()[0], plain.stdout.splitlines()[0])
        self.assertEqual(r.stderr, plain.stderr)
        busy = [int(p) for p in re.findall(r'\d+', r.stdout.splitlines()[1])]
        logs = self.logs()
        by_pid = {l.header['pid']: l for l in logs.values()}
        top = [l for l in logs.values() if l.header['argv'] == ['pool.py']][0]
        kids = children(top)
        # The two workers, each in their own log (the resource tracker,
        # when there is one, is a child too).
        workers = [p for p, (how, path, _) in kids.items()
                   if path and '--multiprocessing-fork' in by_pid[p].header['argv']]
        self.assertEqual(len(workers), 2, kids)
        for p in set(kids) - set(workers):
            self.assertIn('resource_tracker', ' '.join(by_pid[p].header['argv']))
        for pid in busy:
            self.assertIn(pid, workers)
        total = 0
        for pid in workers:
            how, path, _ = kids[pid]
            self.assertEqual(how, 'spawn')
            log = by_pid[pid]
            # A worker that left on the pool's sentinel has its trailer, and
            # so has one that terminate() killed with SIGTERM.
            self.assertReadable(path, log)
            self.assertIn('--multiprocessing-fork', log.header['argv'])
            total += self.calls(log, 'work')
            if pid in busy:
                self.assertIn('work', names(log))
        self.assertEqual(total, 4)
        self.assertRunRemoved()

    def test_a_child_killed_by_sigterm_leaves_a_readable_log(self):
        write(self.dir, 'term.py', '''
            import multiprocessing as mp, time
            def sleeper(q):
                q.put('up')
                time.sleep(60)
            if __name__ == '__main__':
                ctx = mp.get_context('spawn')
                q = ctx.Queue()
                p = ctx.Process(target=sleeper, args=(q,))
                p.start()
                q.get()
                p.terminate()
                p.join()
                print('exitcode', p.exitcode, p.pid)
        ''')
        plain = self.go(['term.py'], traced=False)
        r = self.go(['--follow-children', '-o', 'l_%p.log.zst', 'term.py'])
        # SIGTERM is the child's own: it dies of it at once, as untraced.
        self.assertEqual(r.stdout.split()[:2], ['exitcode', str(-signal.SIGTERM)])
        self.assertEqual(r.stdout.split()[:2], plain.stdout.split()[:2])
        pid = int(r.stdout.split()[2])
        path = self.path('l_%d.log.zst' % pid)
        top = [l for l in self.logs().values() if l.header['argv'] == ['term.py']][0]
        self.assertEqual(children(top)[pid], ('spawn', path, None))
        # The child's log is closed by the signal, with a trailer saying so.
        log = pmtlog.read(path)
        self.assertFalse(log.truncated)
        self.assertEqual(log.trailer['signal'], signal.SIGTERM)
        self.assertEqual(log.header['pid'], pid)
        self.assertReadable(path, log)
        self.assertIn('sleeper', names(log))
        self.assertIn('sleep', {log.name_of(e) for e in log.events if e.what == 'C_CALL'})

    def test_a_child_killed_while_it_starts_leaves_its_log(self):
        # A pool ends workers that are still starting (one worker did all
        # the work): the signal waits for the child's log and handlers.
        write(self.dir, 'early.py', '''
            import multiprocessing as mp, time
            def never():
                time.sleep(60)
            if __name__ == '__main__':
                ctx = mp.get_context('spawn')
                procs = [ctx.Process(target=never) for _ in range(2)]
                for p in procs:
                    p.start()
                procs[0].terminate()
                procs[1].kill()
                for p in procs:
                    p.join()
                print('exitcodes', [p.exitcode for p in procs], [p.pid for p in procs])
        ''')
        plain = self.go(['early.py'], traced=False)
        r = self.go(['--follow-children', '-o', 'l_%p.log.zst', 'early.py'])
        want = str([-signal.SIGTERM, -signal.SIGKILL])
        self.assertIn(want, plain.stdout)
        self.assertIn(want, r.stdout)
        term, kill = [int(p) for p in re.findall(r'\d+', r.stdout.split(']', 1)[1])]
        top = [l for l in self.logs().values() if l.header['argv'] == ['early.py']][0]
        kids = children(top)
        for pid in term, kill:
            self.assertEqual(kids[pid][:2], ('spawn', self.path('l_%d.log.zst' % pid)))
        log = pmtlog.read(self.path('l_%d.log.zst' % term))
        self.assertFalse(log.truncated)
        self.assertEqual(log.trailer['signal'], signal.SIGTERM)
        self.assertEqual(log.header['pid'], term)
        # SIGKILL gives no trailer: the header and any complete frame.
        self.assertEqual(pmtlog.read(self.path('l_%d.log.zst' % kill)).header['pid'], kill)

    def test_child_signal_handlers_as_untraced(self):
        write(self.dir, 'sig.py', '''
            import signal, subprocess, sys
            code = ("import signal\\n"
                    "D = signal.SIG_DFL\\n"
                    "print(signal.getsignal(signal.SIGTERM) is D)\\n"
                    "old = signal.signal(signal.SIGTERM, lambda s, f: None)\\n"
                    "print(old is D, signal.signal(signal.SIGTERM, old))\\n"
                    "print(signal.getsignal(signal.SIGTERM) is D)\\n")
            print(subprocess.run([sys.executable, '-c', code], stdout=subprocess.PIPE,
                                 universal_newlines=True).stdout)
        ''')
        plain = self.go(['sig.py'], traced=False)
        r = self.go(['--follow-children', '-o', 'l_%p.log.zst', 'sig.py'])
        self.assertEqual(re.sub('0x[0-9a-f]+', 'X', r.stdout),
                         re.sub('0x[0-9a-f]+', 'X', plain.stdout))
        self.assertEqual(r.stdout.split()[:2], ['True', 'True'])

    def test_forkserver_pool(self):
        write(self.dir, 'fs.py', '''
            import multiprocessing as mp, os
            def work(n):
                return os.getpid(), os.getppid(), n * 2
            if __name__ == '__main__':
                with mp.get_context('forkserver').Pool(2) as p:
                    res = p.map(work, [1, 2, 3, 4], chunksize=1)
                print(sorted(r[2] for r in res))
                print(sorted({r[0] for r in res}), sorted({r[1] for r in res}))
        ''')
        plain = self.go(['fs.py'], traced=False)
        r = self.go(['--follow-children', '-o', 'l_%p.log.zst', 'fs.py'])
        self.assertEqual(r.stdout.splitlines()[0], plain.stdout.splitlines()[0])
        busy, server = [[int(p) for p in re.findall(r'\d+', part)]
                        for part in r.stdout.splitlines()[1].split('] [')]
        self.assertEqual(len(server), 1)
        # The forkserver is a Python child; its workers are forks of it,
        # recorded in its log (it outlives the top process: the run
        # directory lasts until it ends).
        slog = pmtlog.read(self.path('l_%d.log.zst' % server[0]))
        self.assertClean('forkserver', slog)
        kids = children(slog)
        total = 0
        for pid in busy:
            self.assertEqual(kids[pid][0], 'fork', kids)
            log = pmtlog.read(kids[pid][1])
            self.assertReadable(kids[pid][1], log)
            self.assertEqual(log.header['ppid'], server[0])
            total += self.calls(log, 'work')
        self.assertEqual(total, 4)
        top = [l for l in self.logs().values() if l.header['argv'] == ['fs.py']][0]
        self.assertIn(server[0], children(top))

    def test_exec_of_a_python_is_followed(self):
        write(self.dir, 'ex.py', '''
            import os, sys
            def first():
                return 1
            first()
            print('pid', os.getpid(), flush=True)
            os.execv(sys.executable, [sys.executable, 'b.py', 'arg'])
        ''')
        write(self.dir, 'b.py', '''
            import sys
            def second():
                return bytearray(1 << 20)
            second()
            print('b', sys.argv)
            sys.exit(6)
        ''')
        plain = self.go(['ex.py'], traced=False, status=6)
        r = self.go(['--follow-children', '-o', 'l_%p.log.zst', 'ex.py'], status=6)
        self.assertEqual(re.sub(r'\d+', 'N', r.stdout), re.sub(r'\d+', 'N', plain.stdout))
        pid = int(r.stdout.split()[1])
        old = pmtlog.read(self.path('l_%d.log.zst' % pid))
        new = pmtlog.read(self.path('l_%d-2.log.zst' % pid))
        self.assertClean('before exec', old)
        self.assertClean('after exec', new)
        self.assertIn('first', names(old))
        self.assertTrue(texts(old)[-1].startswith('pmt: exec '), texts(old))
        self.assertNotIn('first', names(new))
        self.assertIn('second', names(new))
        self.assertEqual(new.header['pid'], pid)
        self.assertEqual(new.header['argv'][1:], ['b.py', 'arg'])
        self.assertIn('pmt: exec of pid %d; this image continues %s'
                      % (pid, self.path('l_%d.log.zst' % pid)), texts(new))
        self.assertRunRemoved()

    def test_exec_in_a_child_is_recorded_by_its_parent(self):
        write(self.dir, 'top.py', '''
            import subprocess, sys
            p = subprocess.run([sys.executable, '-c',
                                'import os, sys; os.execv(sys.executable, '
                                '[sys.executable, "-c", "import os; print(os.getpid())"])'],
                               stdout=subprocess.PIPE, universal_newlines=True)
            print(p.stdout.strip())
        ''')
        r = self.go(['--follow-children', '-o', 'l_%p.log.zst', 'top.py'])
        pid = int(r.stdout)
        top = [l for l in self.logs().values() if l.header['argv'] == ['top.py']][0]
        # The first image's log and the exec'd one's, both named by the parent.
        found = [CHILD_RE.match(t).groups() for t in texts(top) if CHILD_RE.match(t)]
        self.assertEqual([(int(p), how, path) for p, how, path, _ in found],
                         [(pid, 'spawn', self.path('l_%d.log.zst' % pid)),
                          (pid, 'exec', self.path('l_%d-2.log.zst' % pid))])
        for _, _, path, _ in found:
            self.assertClean(path, pmtlog.read(path))

    def test_shell_in_between_and_a_non_python_child(self):
        write(self.dir, 'top.py', '''
            import subprocess, sys
            r = subprocess.run(['/bin/sh', '-c', 'echo sh $0; exit 4', 'arg'])
            print('sh', r.returncode)
            r = subprocess.run('"%s" -c "import os; print(os.getpid())"' % sys.executable,
                               shell=True, stdout=subprocess.PIPE, universal_newlines=True)
            print(r.stdout.strip())
        ''')
        plain = self.go(['top.py'], traced=False)
        r = self.go(['--follow-children', '-o', 'l_%p.log.zst', 'top.py'])
        self.assertEqual(r.stdout.splitlines()[:2], plain.stdout.splitlines()[:2])
        self.assertEqual(r.stdout.splitlines()[1], 'sh 4')
        pid = int(r.stdout.splitlines()[2])
        top = [l for l in self.logs().values() if l.header['argv'] == ['top.py']][0]
        # The Python under the shell reports to its nearest traced ancestor.
        self.assertEqual(children(top), {pid: ('spawn', self.path('l_%d.log.zst' % pid),
                                               None)})
        self.assertEqual(len(self.logs()), 2)

    def test_child_sees_its_untraced_sys_path_and_sitecustomize(self):
        os.mkdir(self.path('site'))
        write(self.path('site'), 'sitecustomize.py', 'print("their sitecustomize")\n')
        write(self.dir, 'top.py', '''
            import subprocess, sys
            print(subprocess.run([sys.executable, '-c', 'import sys; print(sys.path)'],
                                 stdout=subprocess.PIPE, universal_newlines=True).stdout)
        ''')
        e = env()
        e['PYTHONPATH'] = self.path('site') + os.pathsep + e.get('PYTHONPATH', '')
        e['TMPDIR'] = self.tmp
        out = []
        for traced in (False, True):
            cmd = [PYTHON] + (['-m', 'pmt_tracer', '-q', '--follow-children', '-o',
                               'l_%p.log.zst'] if traced else []) + ['top.py']
            r = subprocess.run(cmd, cwd=self.dir, env=e, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
            self.assertRan(r)
            out.append(r.stdout)
        self.assertEqual(out[0], out[1])
        self.assertEqual(out[1].count('their sitecustomize'), 2)   # top and child
        self.assertNotIn('_bootstrap', out[1])
        self.assertEqual(len(self.logs()), 2)

    def test_not_followed_without_the_option(self):
        write(self.dir, 'top.py', '''
            import os, subprocess, sys
            code = 'import os; print(sorted(k for k in os.environ if "PMT_TRACER" in k), os.environ.get("PYTHONPATH"))'
            print(subprocess.run([sys.executable, '-c', code], stdout=subprocess.PIPE,
                                 universal_newlines=True).stdout)
        ''')
        plain = self.go(['top.py'], traced=False)
        r = self.go(['-o', 'l_%p.log.zst', 'top.py'])
        self.assertEqual(r.stdout, plain.stdout)
        self.assertEqual(len(self.logs()), 1)

    def test_pattern_without_pid(self):
        write(self.dir, 'top.py', '''
            import subprocess, sys
            subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'])
        ''')
        r = self.go(['--follow-children', '-o', 'run.log.zst', 'top.py'])
        pid = int(r.stdout)
        self.assertClean('top', pmtlog.read(self.path('run.log.zst')))
        self.assertClean('child', pmtlog.read(self.path('run.%d.log.zst' % pid)))

    def test_other_python_version_is_not_traced(self):
        other = other_python()
        if other is None:
            self.skipTest('no CPython of another version under pyenv')
        write(self.dir, 'top.py', '''
            import subprocess, sys
            r = subprocess.run([sys.argv[1], '-c', 'import os; print(os.getpid())'],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               universal_newlines=True)
            print(r.stdout.strip(), r.returncode)
            sys.stderr.write(r.stderr)
        ''')
        r = self.go(['--follow-children', '-o', 'l_%p.log.zst', 'top.py', other])
        pid, status = r.stdout.split()
        self.assertEqual(status, '0')
        lines = r.stderr.splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertRegex(lines[0], r'^pmt_tracer: pid %s: not traced: this interpreter '
                                   r'\(%s, .*\) cannot load the tracer, built for CPython '
                         % (pid, re.escape(other)))
        top = [l for l in self.logs().values() if l.header['argv'][0] == 'top.py'][0]
        how, path, reason = children(top)[int(pid)]
        self.assertIsNone(path)
        self.assertIn('cannot load the tracer', reason)
        self.assertEqual(len(self.logs()), 1)

    def test_python2_child_reads_the_bootstrap_and_runs_untraced(self):
        root = os.environ.get('PYENV_ROOT') or os.path.expanduser('~/.pyenv')
        found = sorted(glob.glob(os.path.join(root, 'versions', '2.*', 'bin', 'python2')))
        if not found:
            self.skipTest('no Python 2 under pyenv')
        write(self.dir, 'top.py', '''
            import subprocess, sys
            r = subprocess.run([sys.argv[1], '-c', 'import sys; print(sys.version_info[0])'],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               universal_newlines=True)
            print(r.stdout.strip(), r.returncode)
            sys.stderr.write(r.stderr)
        ''')
        r = self.go(['--follow-children', '-o', 'l_%p.log.zst', 'top.py', found[-1]])
        self.assertEqual(r.stdout.split(), ['2', '0'])
        # One line, not a SyntaxError from a sitecustomize Python 2 cannot read.
        self.assertRegex(r.stderr, r'^pmt_tracer: pid \d+: not traced: this interpreter '
                                   r'\(.*, python 2\.7\) cannot load the tracer[^\n]*\n$')
        self.assertEqual(len(self.logs()), 1)

    def test_stale_run_directories_are_swept(self):
        import fcntl
        dirs = {}
        for name in ('old', 'recent', 'held'):
            d = os.path.join(self.tmp, 'pmt-follow-' + name)
            os.mkdir(d)
            open(os.path.join(d, 'lock'), 'w').close()
            dirs[name] = d
        hour_ago = time.time() - 3600
        for name in ('old', 'held'):
            os.utime(dirs[name], (hour_ago, hour_ago))
        fd = os.open(os.path.join(dirs['held'], 'lock'), os.O_RDONLY)
        self.addCleanup(os.close, fd)
        fcntl.flock(fd, fcntl.LOCK_SH)      # a run still going
        write(self.dir, 'top.py', 'pass\n')
        self.go(['--follow-children', '-o', 'l_%p.log.zst', 'top.py'])
        self.assertEqual(sorted(os.listdir(self.tmp)), ['pmt-follow-held', 'pmt-follow-recent'])

    def test_summary_line(self):
        write(self.dir, 'top.py', '''
            import subprocess, sys
            for i in range(2):
                subprocess.run([sys.executable, '-c', 'pass'])
        ''')
        e = env()
        e['TMPDIR'] = self.tmp
        r = subprocess.run([PYTHON, '-m', 'pmt_tracer', '--follow-children', '-o',
                            'l_%p.log.zst', 'top.py'], cwd=self.dir, env=e,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=120)
        self.assertRan(r)
        self.assertEqual(r.stderr.splitlines()[-1],
                         'pmt_tracer: followed 2 child processes; 2 child logs in %s' % self.dir)


if __name__ == '__main__':
    unittest.main()
