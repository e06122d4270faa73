# SPDX-License-Identifier: MIT
"""The tracer's fds other than its log: a program that closes fds it did not
open and puts its own files on their numbers. The RSS values in the log stay
those of /proc/self/statm, the program's files are left byte-exact, the
process monitor's log stays whole, and each change is said. Also the note
on stderr when auto cannot use perf (forced by running as nobody)."""
import json
import os
import re
import shutil
import sys
import unittest

from pmt_testlib import TmpDirCase, env, run, trace, write

# Closes every fd the program did not open except the tracer's log (whose
# own safety is another matter) and puts the program's files on those
# numbers: a statm-shaped one where statm was, text ones elsewhere.
HOSTILE = '''
import os, sys
def statm():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1])
def hostile(keep):
    keep = {os.path.realpath(k) for k in keep}
    taken = []
    for name in os.listdir('/proc/self/fd'):
        fd = int(name)
        try:
            target = os.readlink('/proc/self/fd/%d' % fd)
        except OSError:
            continue
        if fd > 2 and target not in keep:
            taken.append(fd)
    files = []
    for i, fd in enumerate(sorted(taken)):
        try:
            os.close(fd)
        except OSError:
            continue
        data = b'200000 100000 50 10 0 900 0\\n' if i == 0 else b'program data %d\\n' % i
        path = 'own%d.txt' % i
        nfd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(nfd, data)
        if nfd != fd:
            os.dup2(nfd, fd)
            os.close(nfd)
        files.append((fd, path, data))
    return files
def intact(files):
    for fd, path, data in files:
        with open(path, 'rb') as f:
            on_disk = f.read()
        if (on_disk != data or os.pread(fd, 100, 0) != data
                or os.lseek(fd, 0, os.SEEK_CUR) != len(data)):
            return False
    return True
'''


def rss_marks(case, log):
    """The RSS of the event that read each 'statm N' mark's statm, against N."""
    marks = [(n, int(t.split()[1])) for n, _, t in log.messages if t.startswith('statm ')]
    by_num = {e.num: e for e in log.events}
    out = []
    for n, pages in marks:
        k = n - 1
        while not (by_num[k].what == 'C_RETURN' and log.name_of(by_num[k]).endswith('.read')):
            k -= 1
            case.assertGreater(k, n - 40)
        out.append((by_num[k].rss, pages))
    return out


def perf_works():
    r = run(['-c', 'import pmt_tracer\n'
                   't = pmt_tracer.Tracer("/dev/null", rss_source="perf", force=True)\n'
                   'try:\n'
                   '    t.start(); t.stop(); print("yes")\n'
                   'except OSError:\n'
                   '    print("no")\n'], os.getcwd())
    return r.stdout.strip() == 'yes'


class TestRssFd(TmpDirCase):
    def test_statm_fd_closed_and_reused(self):
        write(self.dir, 'rss.py', HOSTILE + '''
import pmt_tracer
keep = []
def step(n):
    b = bytearray(n << 20)
    for j in range(0, len(b), 4096):
        b[j] = 1
    keep.append(b)
    pmt_tracer.write_message_to_log("statm %d" % statm())
step(4)
files = hostile([sys.argv[1]])
for i in range(5):
    step(8)
print('taken', len(files), 'intact', intact(files))
''')
        sources = ['statm', 'auto'] + (['perf'] if perf_works() else [])
        for src in sources:
            name = 'rss-%s.log.zst' % src
            r = trace(['--rss-source', src, '-o', name, 'rss.py', name], self.dir)
            self.assertRan(r)
            m = re.search(r'taken (\d+) intact (\w+)', r.stdout)
            self.assertGreaterEqual(int(m.group(1)), 1, src)   # the statm fd, at least
            self.assertEqual(m.group(2), 'True', src)
            log = self.read_log(name)
            self.assertFalse(log.truncated)
            marks = rss_marks(self, log)
            self.assertEqual(len(marks), 6)
            for got, want in marks:
                self.assertLessEqual(abs(got - want), 4, (src, marks))
            self.assertGreater(marks[-1][1] - marks[0][1], 4 * 2000)
            # once per number the program took from us (its close-and-dup2
            # loop may take the reopened one too)
            said = [t for _, _, t in log.messages if t.startswith('pmt: RSS source')]
            self.assertGreaterEqual(len(said), 1, src)
            for t in said:
                self.assertRegex(t, r'closed or reused by the program; reopened at event \d+$')
            self.assertIn("the program closed or reused the RSS source's fd (reopened %d times)"
                          % len(said), r.stderr)


class TestProcessMonitorFds(TmpDirCase):
    def test_program_closes_everything(self):
        """--process-log: the program closes all it did not open and opens
        its own files; they stay byte-exact, the monitor's log whole, and
        the program never sees a monitor fd."""
        write(self.dir, 'mon.py', HOSTILE + '''
import time
from pmt_tracer import process
plog = os.path.realpath(sys.argv[2])
time.sleep(0.3)
def links():
    out = []
    for n in os.listdir('/proc/self/fd'):
        try:
            out.append(os.readlink('/proc/self/fd/' + n))
        except OSError:
            pass
    return out
import re
seen = links()
files = hostile([sys.argv[1]])
for fd, path, data in files:
    os.pwrite(fd, data, 0)
process.add_message_to_queue('after')
time.sleep(0.5)
print('monitor fds seen', sum(1 for s in seen if s == plog or re.fullmatch(r'/proc/\d+', s)))
print('intact', intact(files))
''')
        r = trace(['-o', 'm.log.zst', '--process-log', 'p.log', '--process-interval', '0.05',
                   'mon.py', 'm.log.zst', 'p.log'], self.dir)
        self.assertRan(r)
        self.assertIn('monitor fds seen 0', r.stdout)
        self.assertIn('intact True', r.stdout)
        self.assertNotIn('process log:', r.stderr)
        kinds, labels = [], []
        with open(self.path('p.log')) as f:
            for line in f:
                m = re.match(r'^.+?ProcessLoggingThread-JSON(-START|-STOP)? (\{.*\})\n$', line)
                self.assertTrue(m, line)
                rec = json.loads(m.group(2))
                kinds.append(m.group(1))
                labels.append(rec.get('label'))
        self.assertEqual(kinds[0], '-START')
        self.assertEqual(kinds[-1], '-STOP')
        self.assertIn('after', labels)
        self.assertGreater(len(kinds) - labels.index('after'), 3)   # it went on writing


class TestRssFallbackNote(TmpDirCase):
    """auto with no perf permission: one line on stderr with the reason and
    the command; none with -q, with --rss-source statm, in fork children."""

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0 or not shutil.which('setpriv'):
            self.skipTest('needs root and setpriv to run as nobody')
        os.chmod(self.dir, 0o777)
        if self.as_nobody_raw(['-c', 'import pmt_tracer']).returncode != 0:
            self.skipTest('this Python or the build cannot be run by nobody')
        write(self.dir, 'fk.py', '''
            import os
            def f():
                return 1
            pid = os.fork()
            if pid == 0:
                f()
            else:
                os.waitpid(pid, 0)
                f()
        ''')

    def as_nobody_raw(self, args):
        import subprocess
        # the interpreter itself: a wrapper (pyenv's shim) may not run as
        # nobody; the environment keeps a sanitizer build's preload
        return subprocess.run(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups',
                               sys.executable] + args, cwd=self.dir, env=env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=120)

    def as_nobody(self, args):
        return self.as_nobody_raw(['-m', 'pmt_tracer'] + args)

    NOTE = re.compile(r'^pmt_tracer: RSS read from /proc/self/statm at every event, about 2,250 '
                      r'ns each where perf would cost about 270 \(measured on the development '
                      r'machines\): perf cannot be used: (.+); (to enable it: .+|nothing enables '
                      r'it here)$', re.M)

    def test_note_once_with_reason_and_command(self):
        r = self.as_nobody(['-o', 'n%p.log.zst', 'fk.py'])
        self.assertRan(r)
        notes = self.NOTE.findall(r.stderr)
        self.assertEqual(len(notes), 1, r.stderr)     # not again from the fork child
        why, todo = notes[0]
        if 'tracefs' in why:
            self.assertEqual(why, 'the kmem:rss_stat id in tracefs is readable by root only')
            self.assertIn('run as root', todo)
        logs = [n for n in os.listdir(self.dir) if n.endswith('.log.zst')]
        self.assertEqual(len(logs), 2)
        for n in logs:
            self.assertEqual(self.read_log(n).header['rss_source'], 'statm')

    def test_no_note_when_asked_or_quiet(self):
        for args in (['--rss-source', 'statm'], ['-q']):
            r = self.as_nobody(args + ['-o', 'q%p.log.zst', 'fk.py'])
            self.assertRan(r)
            self.assertNotIn('RSS read from', r.stderr, args)


if __name__ == '__main__':
    unittest.main()
