# SPDX-License-Identifier: MIT
"""python -m pmt_tracer: the program runs as if untraced; options; the log."""
import os
import re
import signal
import subprocess
import time
import unittest

import pmtlog
from pmt_testlib import PYTHON, TmpDirCase, env, man_page_text, run, trace, write

SHOW = '''
    import json, sys
    print(json.dumps({"argv": sys.argv, "name": __name__,
                      "main_file": getattr(sys.modules["__main__"], "__file__", None),
                      "path0": sys.path[0]}))
'''


class TestCli(TmpDirCase):
    def test_script_argv_and_main_as_untraced(self):
        write(self.dir, 'show.py', SHOW)
        plain = run(['show.py', 'a', '--opt', '-c'], self.dir)
        traced = trace(['-o', 'x.log.zst', 'show.py', 'a', '--opt', '-c'], self.dir)
        self.assertRan(plain)
        self.assertRan(traced)
        self.assertEqual(traced.stdout, plain.stdout)
        log = self.read_log('x.log.zst')
        self.assertFalse(log.truncated)
        self.assertEqual(log.header['argv'], ['show.py', 'a', '--opt', '-c'])

    def test_exit_status_of_system_exit(self):
        write(self.dir, 'ex.py', 'import sys\ndef f():\n    sys.exit(3)\nf()\n')
        r = trace(['-o', 'x.log.zst', 'ex.py'], self.dir)
        self.assertRan(r, 3)
        log = self.read_log('x.log.zst')
        self.assertFalse(log.truncated)
        self.assertTrue(log.trailer['flags'] & pmtlog.TRL_CLEAN)
        write(self.dir, 'ex2.py', 'raise SystemExit("bye")\n')
        r = trace(['-o', 'y.log.zst', 'ex2.py'], self.dir)
        self.assertRan(r, 1)
        self.assertIn('bye', r.stderr)

    def test_uncaught_exception_traceback_and_status(self):
        write(self.dir, 'boom.py', 'def f():\n    raise ValueError("boom")\nf()\n')
        plain = run(['boom.py'], self.dir)
        traced = trace(['-o', 'x.log.zst', 'boom.py'], self.dir)
        self.assertRan(traced, 1)
        self.assertEqual(plain.returncode, 1)
        lines = traced.stderr.splitlines()
        self.assertTrue(lines[-1].startswith('pmt_tracer: wrote '), lines[-1])
        # The program's traceback, exactly as untraced: no runpy or tracer frames.
        self.assertEqual('\n'.join(lines[:-1]), plain.stderr.rstrip('\n'))
        self.assertIn('ValueError: boom', traced.stderr)
        self.assertNotIn('runpy', traced.stderr)
        self.assertFalse(self.read_log('x.log.zst').truncated)

    def test_module_mode(self):
        os.mkdir(self.path('pkgdir'))
        write(self.path('pkgdir'), 'mymod.py', SHOW)
        r = trace(['-o', 'x.log.zst', '-m', 'mymod', 'q', '-v'], self.path('pkgdir'))
        self.assertRan(r)
        self.assertIn('"argv": ["%s", "q", "-v"]' % self.path('pkgdir/mymod.py'), r.stdout)
        self.assertIn('"name": "__main__"', r.stdout)
        log = self.read_log(self.path('pkgdir/x.log.zst'))
        files = {c.file for c in log.codes.values()}
        self.assertIn(self.path('pkgdir/mymod.py'), files)

    def test_command_mode(self):
        r = trace(['-o', 'x.log.zst', '-c',
                   'import sys\ndef g(): return 7\nprint(sys.argv, g(), __name__)', 'z'],
                  self.dir)
        self.assertRan(r)
        self.assertEqual(r.stdout.strip(), "['-c', 'z'] 7 __main__")
        log = self.read_log('x.log.zst')
        names = {log.name_of(e) for e in log.events if log.file_of(e) == '<string>'}
        self.assertIn('g', names)

    def test_output_pattern(self):
        write(self.dir, 'p.py', 'print(1)\n')
        r = trace(['-o', 'run_%p_%t.log.zst', 'p.py'], self.dir)
        self.assertRan(r)
        names = [n for n in os.listdir(self.dir) if n.startswith('run_')]
        self.assertEqual(len(names), 1, names)
        m = re.match(r'run_(\d+)_(\d{8})_(\d{6})\.log\.zst$', names[0])
        self.assertTrue(m, names[0])
        log = self.read_log(names[0])
        self.assertEqual(int(m.group(1)), log.header['pid'])
        self.assertEqual(time.strftime('%Y%m%d', time.localtime(log.header['start_wall_ns'] / 1e9)),
                         m.group(2))

    def test_default_output_name(self):
        write(self.dir, 'p.py', 'print(1)\n')
        r = trace(['p.py'], self.dir)
        self.assertRan(r)
        names = [n for n in os.listdir(self.dir) if n.endswith('.log.zst')]
        self.assertEqual(len(names), 1, names)
        m = re.match(r'\d{8}_\d{6}_(\d+)\.log\.zst$', names[0])
        self.assertTrue(m, names[0])
        self.assertEqual(int(m.group(1)), self.read_log(names[0]).header['pid'])

    def test_refuses_to_overwrite(self):
        write(self.dir, 'p.py', 'print(1)\n')
        with open(self.path('x.log.zst'), 'w') as f:
            f.write('precious')
        r = trace(['-o', 'x.log.zst', 'p.py'], self.dir)
        self.assertRan(r, 2)
        self.assertEqual(r.stdout, '')   # the program did not run
        self.assertRegex(r.stderr, r'^pmt_tracer: x\.log\.zst: file exists.*--force')
        with open(self.path('x.log.zst')) as f:
            self.assertEqual(f.read(), 'precious')
        r = trace(['--force', '-o', 'x.log.zst', 'p.py'], self.dir)
        self.assertRan(r)
        self.assertFalse(self.read_log('x.log.zst').truncated)

    def test_summary_line(self):
        write(self.dir, 'p.py', 'def f(): pass\nfor i in range(100): f()\n')
        r = trace(['-o', 'x.log.zst', 'p.py'], self.dir)
        self.assertRan(r)
        m = re.match(r'pmt_tracer: wrote (\S+): (\d+) events, (\d+) bytes \((\d+\.\d) B/event\); '
                     r'next: pmt-summarise (\S+)$', r.stderr.strip())
        self.assertTrue(m, r.stderr)
        self.assertEqual(m.group(1), 'x.log.zst')
        self.assertEqual(m.group(5), 'x.log.zst')
        log = self.read_log('x.log.zst')
        self.assertEqual(int(m.group(2)), log.trailer['total_events'])
        self.assertEqual(int(m.group(3)), os.path.getsize(self.path('x.log.zst')))
        self.assertGreaterEqual(int(m.group(2)), 200)

    def test_every_long_option_is_in_the_man_page(self):
        text = man_page_text('pmt_tracer')
        if text is None:
            self.skipTest('no docs/pmt_tracer.1 here')
        r = trace(['--help'], self.dir)
        self.assertRan(r)
        opts = set(re.findall(r'--[a-z][a-z-]*', r.stdout))
        self.assertIn('--follow-children', opts)
        for o in sorted(opts):
            self.assertIn(o, text, '%s is not in docs/pmt_tracer.1' % o)

    def test_bad_usage(self):
        r = trace(['--mode', 'nope', 'p.py'], self.dir)
        self.assertRan(r, 2)
        r = trace([], self.dir)
        self.assertRan(r, 2)
        r = trace(['-o', 'x.log.zst', 'missing.py'], self.dir)
        self.assertRan(r, 2)
        self.assertIn('missing.py', r.stderr)

    def test_sigkill_leaves_a_decodable_log(self):
        write(self.dir, 'spin.py', '''
            import time
            def f(i):
                return i + 1
            start = time.time()
            n = 0
            while True:
                n = f(n)
                if n == 200000:
                    open("ready", "w").close()
        ''')
        p = subprocess.Popen([PYTHON, '-m', 'pmt_tracer', '-o', 'k.log.zst', 'spin.py'],
                             cwd=self.dir, env=env(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        try:
            deadline = time.time() + 60
            while not os.path.exists(self.path('ready')) and time.time() < deadline:
                time.sleep(0.05)
            time.sleep(0.3)   # a few frames more
            self.assertTrue(os.path.exists(self.path('ready')))
        finally:
            p.send_signal(signal.SIGKILL)
            p.communicate()
        self.assertEqual(p.returncode, -signal.SIGKILL)
        log = self.read_log('k.log.zst')
        self.assertTrue(log.truncated)
        self.assertIsNone(log.trailer)
        self.assertGreater(len(log.events), 400000)
        calls = [e for e in log.events if e.what == 'CALL' and log.name_of(e) == 'f']
        self.assertGreater(len(calls), 200000)
        # The project's reader agrees: a warning, the events, exit 0 or 1.
        tool = subprocess.run(['pmt-filter', self.path('k.log.zst')], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True)
        if tool.returncode == 127 or 'not found' in tool.stderr:
            return
        self.assertIn('truncated', tool.stderr)
        self.assertGreater(tool.stdout.count('\n'), 400000)

    def test_idle_program_killed_keeps_its_events(self):
        # No event comes while the program sleeps: the writer thread ends the
        # frame, so the calls made before the sleep survive SIGKILL.
        write(self.dir, 'idle.py', '''
            import time
            def f(i):
                return i
            for i in range(1000):
                f(i)
            open("ready", "w").close()
            time.sleep(60)
        ''')
        p = subprocess.Popen([PYTHON, '-m', 'pmt_tracer', '-o', 'i.log.zst', 'idle.py'],
                             cwd=self.dir, env=env(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        try:
            deadline = time.time() + 60
            while not os.path.exists(self.path('ready')) and time.time() < deadline:
                time.sleep(0.02)
            time.sleep(0.5)
        finally:
            p.send_signal(signal.SIGKILL)
            p.communicate()
        log = self.read_log('i.log.zst')
        self.assertTrue(log.truncated)
        calls = [e for e in log.events if e.what == 'CALL' and log.name_of(e) == 'f']
        self.assertEqual(len(calls), 1000)


if __name__ == '__main__':
    unittest.main()
