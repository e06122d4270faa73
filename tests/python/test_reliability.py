# SPDX-License-Identifier: MIT
"""The traced program comes first: whatever it does to its file descriptors,
the tracer never writes into its files, its exit status is its own, and the
log says what happened to it."""
import os
import re
import shutil
import signal
import subprocess
import time
import unittest

import pmtlog
from pmt_testlib import PYTHON, TmpDirCase, env, run, trace, write

# A program that writes JSON lines after doing something to the log's fd.
# argv: what to do, the log's path, the output file, the exit status.
JSONL = '''
    import json, os, resource, sys
    how, log, out, status = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3], sys.argv[4]

    def log_fds():
        fds = []
        for name in os.listdir('/proc/self/fd'):
            try:
                if os.readlink('/proc/self/fd/' + name) == log:
                    fds.append(int(name))
            except OSError:
                pass
        return fds

    def record(i):
        return {"i": i, "text": "line %d " % i + "x" * (i % 37)}

    def lines(fp, n):
        for i in range(n):
            fp.write(json.dumps(record(i)) + "\\n")
        fp.flush()

    if how == 'closerange':
        os.closerange(3, 1024)
    elif how == 'closeall':
        os.closerange(3, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    elif how in ('dup2', 'dup2-unlink', 'dup2-replace'):
        fds = log_fds()
        if fds:
            (fd,) = fds
            mine = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(mine, fd)
            os.close(mine)
            if how == 'dup2-unlink':
                os.unlink(log)
            elif how == 'dup2-replace':
                os.rename(out + '.other', log)
            with os.fdopen(fd, 'w') as fp:
                lines(fp, 20000)
            sys.exit(int(status))
    if how == 'closeall-unlink':
        os.closerange(3, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        os.unlink(log)
    with open(out, 'w') as fp:
        lines(fp, 20000)
    sys.exit(int(status))
'''


class TestLogFd(TmpDirCase):
    def setUp(self):
        super().setUp()
        write(self.dir, 'jsonl.py', JSONL)
        # What the program writes untraced: the reference for its file.
        r = run(['jsonl.py', 'none', 'none.log.zst', 'expected.jsonl', '0'], self.dir)
        self.assertRan(r)
        with open(self.path('expected.jsonl'), 'rb') as f:
            self.expected = f.read()

    def traced(self, how, status=0):
        return trace(['-o', 'x.log.zst', 'jsonl.py', how, 'x.log.zst', 'out.jsonl',
                      str(status)], self.dir)

    def assertProgramFileExact(self):
        with open(self.path('out.jsonl'), 'rb') as f:
            self.assertEqual(f.read(), self.expected)

    def assertLogComplete(self, reopened):
        log = self.read_log('x.log.zst')
        self.assertTrue(log.zstd_ok)
        self.assertFalse(log.truncated)
        self.assertEqual(log.total, log.trailer['total_events'])
        calls = [e for e in log.events if e.what == 'CALL' and log.name_of(e) == 'record']
        self.assertEqual(len(calls), 20000)
        notes = [m for m in log.messages if 'log fd taken by the program' in m[2]]
        if reopened:
            self.assertTrue(notes, log.messages)
            self.assertRegex(notes[0][2],
                             r'^pmt: log fd taken by the program at event \d+; reopened by path$')
        return log

    def test_closerange_then_open(self):
        r = self.traced('closerange')
        self.assertRan(r)
        self.assertProgramFileExact()
        self.assertLogComplete(reopened=False)

    def test_close_every_fd_then_open(self):
        r = self.traced('closeall')
        self.assertRan(r)
        self.assertProgramFileExact()
        self.assertLogComplete(reopened=True)

    def test_dup2_onto_the_log_fd(self):
        r = self.traced('dup2')
        self.assertRan(r)
        self.assertProgramFileExact()
        self.assertLogComplete(reopened=True)
        self.assertNotIn('log cut', r.stderr)

    def check_lost(self, how, why):
        r = self.traced(how, status=3)
        self.assertRan(r, 3)    # the program's status, not the tracer's
        self.assertProgramFileExact()
        self.assertRegex(r.stderr, r'pmt_tracer: \S*x\.log\.zst: log cut at event \d+: the '
                         r'program took its file descriptor and the log cannot be '
                         r'reopened: ' + why)
        return r

    def test_log_deleted_cannot_reopen(self):
        self.check_lost('dup2-unlink', 'No such file or directory')
        self.assertFalse(os.path.exists(self.path('x.log.zst')))

    def test_log_closed_and_deleted(self):
        self.check_lost('closeall-unlink', 'No such file or directory')

    def test_log_replaced_cannot_reopen(self):
        with open(self.path('out.jsonl.other'), 'wb') as f:
            f.write(b'another file')
        self.check_lost('dup2-replace', 'the path names another file now')
        with open(self.path('x.log.zst'), 'rb') as f:
            self.assertEqual(f.read(), b'another file')   # untouched


# Many calls, and output of its own to a disk that has room.
BUSY = '''
    import sys
    def f(i):
        return i * 2
    with open(sys.argv[1], 'w') as out:
        for i in range(int(sys.argv[2])):
            f(i)
            if i % 1000 == 0:
                out.write('%d\\n' % i)
    sys.exit(int(sys.argv[3]))
'''


class SmallDisk(TmpDirCase):
    """A 1 MiB tmpfs: the log fills it long before the program ends."""

    def setUp(self):
        super().setUp()
        self.disk = self.path('disk')
        os.mkdir(self.disk)
        r = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', self.disk],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True)
        if r.returncode != 0:
            self.skipTest('cannot mount a small tmpfs here (needs root): %s'
                          % r.stdout.strip())
        self.addCleanup(subprocess.run, ['umount', '-l', self.disk])
        write(self.dir, 'busy.py', BUSY)

    def test_full_disk_keeps_the_exit_status_and_cuts_the_log(self):
        log_path = os.path.join(self.disk, 'x.log.zst')
        r = trace(['-o', log_path, 'busy.py', 'out.txt', '3000000', '0'], self.dir,
                  timeout=600)
        self.assertRan(r, 0)     # the program's status: the log failed, not it
        m = re.search(r'^pmt_tracer: \S+x\.log\.zst: log cut at event (\d+): '
                      r'No space left on device$', r.stderr, re.M)
        self.assertTrue(m, r.stderr)
        self.assertNotIn('pmt_tracer: wrote', r.stderr)
        with open(self.path('out.txt')) as f:
            self.assertEqual(len(f.read().splitlines()), 3000)   # the program ran to its end
        log = self.read_log(log_path)
        # Decodes to its end: no partial frame, a trailer that says CUT.
        self.assertTrue(log.zstd_ok)
        self.assertFalse(log.truncated)
        self.assertTrue(log.trailer['flags'] & pmtlog.TRL_CUT)
        self.assertEqual(len(log.events), int(m.group(1)))
        self.assertGreater(len(log.events), 100000)
        self.assertGreater(log.trailer['total_events'], 6000000)
        self.assertIn('pmt: log cut: No space left on device', [t for _, _, t in log.messages])
        calls = [e.line for e in log.events if log.name_of(e) == 'f' and e.what == 'CALL']
        self.assertEqual(calls, [calls[0]] * len(calls))
        # The tools say so.
        if shutil.which('pmt-summarise'):
            s = subprocess.run(['pmt-summarise', '--format', 'csv', log_path],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               universal_newlines=True)
            self.assertEqual(s.returncode, 0, s.stderr)
            self.assertTrue(s.stdout.splitlines()[1].endswith(',cut'), s.stdout)
            self.assertIn('log is cut: the tracer stopped writing after event %s of %d '
                          '(a write failed)' % (m.group(1), log.trailer['total_events']),
                          s.stderr)

    def test_full_disk_raises_at_exit_in_the_api(self):
        log_path = os.path.join(self.disk, 'api.log.zst')
        write(self.dir, 'api.py', '''
            import sys, pmt_tracer
            def f(i):
                return i
            try:
                with pmt_tracer.Profile(0, filepath=sys.argv[1]):
                    for i in range(3000000):
                        f(i)
            except RuntimeError as e:
                print('raised:', e)
        ''')
        r = run(['api.py', log_path], self.dir, timeout=600)
        self.assertRan(r, 0)
        self.assertRegex(r.stdout, r'^raised: pmt_tracer: \S+api\.log\.zst: log cut at event '
                         r'\d+: No space left on device$')


# Calls f until killed; writes "ready" (with whether SIGTERM is at its
# default, as the program sees it) after the first 200000 calls.
SPIN = '''
    import signal, sys, time
    if len(sys.argv) > 1 and sys.argv[1] == 'own-handler':
        def handler(sig, frame):
            open('handled', 'w').close()
            sys.exit(7)
        signal.signal(signal.SIGTERM, handler)
    def f(i):
        return i + 1
    n = 0
    while True:
        n = f(n)
        if n == 200000:
            with open('ready', 'w') as out:
                out.write(str(signal.getsignal(signal.SIGTERM) is signal.SIG_DFL))
'''


def _default_sigint():
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Hostile(TmpDirCase):
    def spin(self, sig, args=(), traced=True):
        write(self.dir, 'spin.py', SPIN)
        for name in ('ready', 'handled'):
            if os.path.exists(self.path(name)):
                os.unlink(self.path(name))
        argv = [PYTHON] + (['-m', 'pmt_tracer', '-o', 'k.log.zst', '-f'] if traced else [])
        # A suite started in the background of a non-interactive shell
        # inherits SIGINT ignored, and so would the program: give it the
        # default disposition, which a program started from a terminal has.
        p = subprocess.Popen(argv + ['spin.py'] + list(args), cwd=self.dir, env=env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             universal_newlines=True, preexec_fn=_default_sigint)
        try:
            deadline = time.time() + 120
            while not os.path.exists(self.path('ready')) and time.time() < deadline:
                time.sleep(0.02)
            time.sleep(0.2)
            self.assertTrue(os.path.exists(self.path('ready')))
        finally:
            p.send_signal(sig)
            try:
                out, err = p.communicate(timeout=120)
            except subprocess.TimeoutExpired:
                p.kill()    # not left spinning after the suite
                p.communicate()
                raise
        with open(self.path('ready')) as f:
            default = f.read()
        return p.returncode, err, default

    def spin_log(self):
        log = self.read_log('k.log.zst')
        calls = [e for e in log.events if e.what == 'CALL' and log.name_of(e) == 'f']
        self.assertGreater(len(calls), 200000)
        return log

    def test_sigterm_closes_the_log_and_the_program_dies_of_it(self):
        status, err, _ = self.spin(signal.SIGTERM, traced=False)
        self.assertEqual(status, -signal.SIGTERM)    # what untraced does
        status, err, default = self.spin(signal.SIGTERM)
        self.assertEqual(status, -signal.SIGTERM, err)
        self.assertEqual(default, 'True')   # the program still sees SIG_DFL
        log = self.spin_log()
        self.assertTrue(log.zstd_ok)
        self.assertFalse(log.truncated)
        self.assertTrue(log.trailer['flags'] & pmtlog.TRL_SIGNAL)
        self.assertFalse(log.trailer['flags'] & pmtlog.TRL_CLEAN)
        self.assertEqual(log.trailer['signal'], signal.SIGTERM)
        self.assertGreaterEqual(log.trailer['total_events'], len(log.events))

    def test_sigterm_with_the_programs_own_handler(self):
        status, err, default = self.spin(signal.SIGTERM, ['own-handler'])
        self.assertEqual(status, 7, err)
        self.assertEqual(default, 'False')
        self.assertTrue(os.path.exists(self.path('handled')))
        log = self.spin_log()
        self.assertFalse(log.truncated)
        self.assertTrue(log.trailer['flags'] & pmtlog.TRL_CLEAN)

    def test_sigint_closes_the_log_and_the_program_dies_of_it(self):
        status, err, _ = self.spin(signal.SIGINT, traced=False)
        self.assertEqual(status, -signal.SIGINT)
        status, err, _ = self.spin(signal.SIGINT)
        self.assertEqual(status, -signal.SIGINT, err)
        self.assertIn('KeyboardInterrupt', err)
        log = self.spin_log()
        self.assertFalse(log.truncated)
        self.assertTrue(log.trailer['flags'] & pmtlog.TRL_CLEAN)

    def test_sigkill_leaves_complete_frames(self):
        status, err, _ = self.spin(signal.SIGKILL)
        self.assertEqual(status, -signal.SIGKILL)
        log = self.spin_log()
        self.assertTrue(log.truncated)
        self.assertIsNone(log.trailer)

    def test_unwritable_output_directory(self):
        ro = self.path('ro')
        os.mkdir(ro)
        if os.geteuid() == 0:
            r = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', ro],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               universal_newlines=True)
            if r.returncode != 0:
                self.skipTest('root, and cannot mount a read-only tmpfs: %s' % r.stdout.strip())
            self.addCleanup(subprocess.run, ['umount', '-l', ro])
            why = 'read-only file system'
        else:
            os.chmod(ro, 0o555)
            self.addCleanup(os.chmod, ro, 0o755)
            why = 'permission denied'
        write(self.dir, 'p.py', 'open("ran", "w").close()\nprint("ran")\n')
        r = trace(['-o', os.path.join(ro, 'x.log.zst'), 'p.py'], self.dir)
        self.assertRan(r, 2)
        self.assertEqual(r.stdout, '')
        self.assertFalse(os.path.exists(self.path('ran')))   # the program never ran
        self.assertEqual(r.stderr, 'pmt_tracer: %s/x.log.zst: %s\n' % (ro, why))

    def test_fork_in_a_thread(self):
        write(self.dir, 'tfork.py', '''
            import os, threading
            def f(i):
                return i
            def worker():
                pid = os.fork()
                if pid == 0:
                    for i in range(5000):
                        f(i)
                    os._exit(0)
                _, st = os.waitpid(pid, 0)
                assert st == 0, st
            t = threading.Thread(target=worker)
            t.start()
            t.join()
            for i in range(100):
                f(i)
        ''')
        r = trace(['-o', 'x_%p.log.zst', 'tfork.py'], self.dir, timeout=120)
        self.assertRan(r)
        logs = sorted(n for n in os.listdir(self.dir) if n.endswith('.log.zst'))
        self.assertEqual(len(logs), 2, logs)
        counts = []
        for name in logs:
            log = self.read_log(name)
            self.assertFalse(log.truncated, name)
            counts.append(sum(1 for e in log.events if e.what == 'CALL' and log.name_of(e) == 'f'))
        self.assertEqual(sorted(counts), [100, 5000])

    def test_fork_is_not_a_fork_of_a_multithreaded_process(self):
        """The writer thread is stopped across fork(): CPython 3.12+ warns a
        program that forks with other threads running, and would warn the
        traced program where the untraced one was not. The parent's events
        after the fork are all in its log."""
        write(self.dir, 'pfork.py', '''
            import os, sys
            def f(i):
                return i
            for i in range(100000):     # records handed to the writer thread
                f(i)
            for n in range(3):
                pid = os.fork()
                if pid == 0:
                    f(0)
                    os._exit(0)
                _, st = os.waitpid(pid, 0)
                assert st == 0, st
                for i in range(20000):
                    f(i)
            print('forked', file=sys.stderr)
        ''')
        plain = run(['pfork.py'], self.dir)
        self.assertEqual((plain.returncode, plain.stderr), (0, 'forked\n'))
        # --heap=python: the writer is paused as without --heap. A --heap
        # (libc) writer is not (fork.c says why): not tested here.
        for extra in ([], ['--heap=python']):
            r = trace(['-q', '-o', 'p_%p.log.zst'] + extra + ['pfork.py'], self.dir)
            self.assertEqual((r.returncode, r.stderr), (0, 'forked\n'), extra)
            top = self.read_log('p_%d.log.zst' % self.pid_of_top(extra))
            self.assertFalse(top.truncated)
            calls = sum(1 for e in top.events if e.what == 'CALL' and top.name_of(e) == 'f')
            self.assertEqual(calls, 160000, extra)
            for name in os.listdir(self.dir):
                if name.endswith('.log.zst'):
                    os.unlink(os.path.join(self.dir, name))

    def test_sigkill_of_a_parent_waiting_for_its_fork_child(self):
        """What the parent did before fork() is in a complete frame once the
        fork returns, although its writer thread was stopped across the fork
        and a parent blocked in waitpid does not start it again."""
        write(self.dir, 'kfork.py', '''
            import os, time
            def f(i):
                return i
            for i in range(30000):
                f(i)
            pid = os.fork()
            if pid == 0:
                time.sleep(60)
                os._exit(0)
            open('forked', 'w').write(str(pid))
            os.waitpid(pid, 0)
        ''')
        p = subprocess.Popen([PYTHON, '-m', 'pmt_tracer', '-q', '-o', 'w_%p.log.zst', 'kfork.py'],
                             cwd=self.dir, env=env(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, universal_newlines=True)
        child = None
        try:
            deadline = time.time() + 120
            while time.time() < deadline:
                if os.path.exists(self.path('forked')):
                    with open(self.path('forked')) as f:
                        text = f.read()
                    if text:
                        child = int(text)
                        break
                time.sleep(0.02)
            self.assertIsNotNone(child)
            time.sleep(0.5)     # several of the writer's ticks, were it running
        finally:
            p.kill()
            if child:
                os.kill(child, signal.SIGKILL)     # it holds the pipes open
            p.communicate(timeout=120)
        log = self.read_log('w_%d.log.zst' % p.pid)
        self.assertTrue(log.truncated)
        calls = sum(1 for e in log.events if e.what == 'CALL' and log.name_of(e) == 'f')
        self.assertEqual(calls, 30000)

    def pid_of_top(self, extra):
        """The pid of the log with the most events (the parent's)."""
        best = None
        for name in os.listdir(self.dir):
            m = re.match(r'p_(\d+)\.log\.zst$', name)
            if m:
                n = os.path.getsize(os.path.join(self.dir, name))
                if best is None or n > best[0]:
                    best = (n, int(m.group(1)))
        self.assertIsNotNone(best, extra)
        return best[1]

    def test_chdir_then_fork_with_a_relative_output(self):
        write(self.dir, 'cdfork.py', '''
            import os
            def f(i):
                return i
            os.mkdir('sub')
            os.chdir('sub')
            pid = os.fork()
            if pid == 0:
                for i in range(3000):
                    f(i)
                os._exit(0)
            os.waitpid(pid, 0)
            print(pid)
        ''')
        r = trace(['-o', 'x.log.zst', 'cdfork.py'], self.dir)
        self.assertRan(r)
        child = int(r.stdout)
        self.assertEqual(os.listdir(self.path('sub')), [])
        log = self.read_log('x.%d.log.zst' % child)   # beside the parent's, per %p
        self.assertFalse(log.truncated)
        self.assertEqual(log.header['pid'], child)
        self.assertEqual(sum(1 for e in log.events if log.name_of(e) == 'f' and e.what == 'CALL'),
                         3000)
        self.assertFalse(self.read_log('x.log.zst').truncated)


if __name__ == '__main__':
    unittest.main()
