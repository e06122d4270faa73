# SPDX-License-Identifier: MIT
"""pmt_tracer.pytest_plugin: pytest --pmt run for real on small test files,
passing and failing. Skipped where this Python has no pytest (the pyenv
builds); .ci/setup runs it with Debian's python3-pytest on /usr/bin/python3."""
import json
import os
import re
import shutil
import subprocess
import unittest

import pmtlog
from pmt_testlib import PYTHON, TmpDirCase, env, man_page_text, write


def have_pytest():
    r = subprocess.run([PYTHON, '-c', 'import pytest'], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    return r.returncode == 0


HAVE_PYTEST = have_pytest()

TESTS = '''
    import pytest

    keep = []

    def make_big(n):
        return bytearray(n << 20)

    def test_small():
        assert sum(range(100)) == 4950

    def test_grows():
        keep.append(make_big(8))

    @pytest.mark.limit_rss("24 MiB")
    def test_within_limit():
        keep.append(make_big(4))

    @pytest.mark.limit_rss("4 MiB")
    def test_over_limit():
        keep.append(make_big(16))

    @pytest.mark.limit_rss(1 << 20)
    def test_spike():
        x = make_big(32)       # freed before the end: the peak still counts
        del x
'''


@unittest.skipUnless(HAVE_PYTEST, 'pytest is not installed for this Python')
class TestPytestPlugin(TmpDirCase):
    def pytest(self, *args, path=None, status=None):
        e = env()
        if path is not None:
            e['PATH'] = path
        # Our plugin comes from its pytest11 entry point (the staged
        # dist-info), as in an installed pmt_tracer.
        r = subprocess.run([PYTHON, '-m', 'pytest', '-p', 'no:cacheprovider', '-q'] + list(args),
                           cwd=self.dir, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=300)
        if status is not None:
            self.assertEqual(r.returncode, status,
                             'exit %d\nstdout:\n%s\nstderr:\n%s' % (r.returncode, r.stdout,
                                                                  r.stderr))
        return r

    def table(self, out):
        """{nodeid: (growth, at end)} from the end-of-run table, in bytes."""
        rows = {}
        for m in re.finditer(r'^ +([-+][\d.]+ (?:[KMG]i)?B) +([-+][\d.]+ (?:[KMG]i)?B) +'
                             r'(?:\S+ +)?(test_\S+)$', out, re.M):
            rows[m.group(3)] = (self.size(m.group(1)), self.size(m.group(2)))
        return rows

    @staticmethod
    def size(text):
        n, unit = text.split()
        mult = {'B': 1, 'KiB': 1 << 10, 'MiB': 1 << 20, 'GiB': 1 << 30}[unit]
        return int(float(n) * mult)

    def test_entry_point_registers_the_plugin(self):
        r = self.pytest('--help', status=0)
        for opt in ('--pmt', '--pmt-log-dir', '--pmt-drss', '--pmt-top', '--pmt-baseline',
                    '--pmt-fail-on-increase'):
            self.assertIn(opt, r.stdout)
        r = self.pytest('--markers', status=0)
        self.assertIn('@pytest.mark.limit_rss(size)', r.stdout)
        text = man_page_text('pmt_tracer')
        if text is not None:
            for opt in re.findall(r'--pmt[a-z-]*', self.pytest('--help').stdout):
                self.assertIn(opt, text, '%s is not in docs/pmt_tracer.1' % opt)

    def test_limits_and_report(self):
        write(self.dir, 'test_mem.py', TESTS)
        r = self.pytest('--pmt', 'test_mem.py', status=1)
        self.assertRegex(r.stdout, r'(?m)^FAILED test_mem.py::test_over_limit')
        self.assertRegex(r.stdout, r'(?m)^FAILED test_mem.py::test_spike')
        self.assertIn('2 failed, 3 passed', r.stdout)
        self.assertIn('RSS grew by 16.0 MiB during the test, more than its limit_rss of '
                      '4.0 MiB', r.stdout)
        self.assertIn('more than its limit_rss of 1.0 MiB', r.stdout)
        # The function that grew, from the test's own log.
        self.assertRegex(r.stdout, r'16\.0 MiB  make_big \(%s\)'
                         % re.escape(self.path('test_mem.py')))
        self.assertRegex(r.stdout, r'32\.0 MiB  make_big')
        self.assertIn("log: not kept (--pmt-log-dir DIR keeps every test's log)", r.stdout)
        rows = self.table(r.stdout)
        self.assertEqual(set(rows), {'test_mem.py::' + n for n in (
            'test_small', 'test_grows', 'test_within_limit', 'test_over_limit', 'test_spike')})
        mib = 1 << 20
        growth = {k.split('::')[1]: v for k, v in rows.items()}
        self.assertGreaterEqual(growth['test_spike'][0], 32 * mib)
        self.assertLess(growth['test_spike'][1], 1 * mib)      # freed by its end
        self.assertGreaterEqual(growth['test_over_limit'][0], 16 * mib)
        self.assertGreaterEqual(growth['test_grows'][1], 8 * mib)
        self.assertLess(growth['test_small'][0], 1 * mib)
        # Listed by growth, largest first.
        order = [k.split('::')[1] for k in re.findall(r'(test_mem\.py::\w+)$', r.stdout.split(
            'pmt: RSS growth per test')[1], re.M)]
        self.assertEqual(order[:2], ['test_spike', 'test_over_limit'])
        self.assertEqual(os.listdir(self.dir), ['test_mem.py'])     # no log left behind

    def test_marks_are_inert_without_pmt(self):
        write(self.dir, 'test_mem.py', TESTS)
        r = self.pytest('test_mem.py', status=0)
        self.assertIn('5 passed', r.stdout)
        self.assertNotIn('pmt:', r.stdout)

    def test_a_failing_test_stays_failed_with_the_growth_beside(self):
        write(self.dir, 'test_f.py', '''
            import pytest
            @pytest.mark.limit_rss("1 MiB")
            def test_fails_and_grows():
                x = bytearray(8 << 20)
                assert x is None
        ''')
        r = self.pytest('--pmt', 'test_f.py', status=1)
        self.assertIn('assert x is None', r.stdout)
        self.assertIn('pmt', r.stdout)
        self.assertIn('more than its limit_rss of 1.0 MiB', r.stdout)

    def test_log_dir_keeps_full_logs(self):
        write(self.dir, 'test_mem.py', TESTS)
        r = self.pytest('--pmt', '--pmt-log-dir', 'logs', '-k', 'grows', 'test_mem.py',
                        status=0)
        self.assertIn('logs: %s' % self.path('logs'), r.stdout)
        names = os.listdir(self.path('logs'))
        self.assertEqual(len(names), 1, names)
        self.assertTrue(names[0].startswith('test_mem.py_test_grows-'), names)
        log = pmtlog.read(self.path('logs/' + names[0]))
        self.assertFalse(log.truncated)
        self.assertEqual(log.header['argv'], ['test_mem.py::test_grows'])
        self.assertEqual(log.header['drss_trigger'], 0)     # every event
        self.assertEqual(log.skipped, 0)
        self.assertIn('make_big', {log.name_of(e) for e in log.events if e.what == 'CALL'})
        self.assertIn('pmt: test test_mem.py::test_grows', [t for _, _, t in log.messages])

    def test_baseline_store_then_fail_on_increase(self):
        write(self.dir, 'test_b.py', '''
            keep = []
            def test_a():
                keep.append(bytearray(8 << 20))
            def test_b():
                keep.append(bytearray(1 << 20))
        ''')
        r = self.pytest('--pmt', '--pmt-baseline', 'base', 'test_b.py', status=0)
        path = self.path('base/pmt-baseline.json')
        self.assertIn('baseline stored: base/pmt-baseline.json (2 tests)', r.stdout)
        with open(path) as f:
            stored = json.load(f)
        self.assertEqual(sorted(stored['tests']), ['test_b.py::test_a', 'test_b.py::test_b'])
        self.assertGreaterEqual(stored['tests']['test_b.py::test_a']['growth'], 8 << 20)
        # test_a now grows 8 MiB more, test_b 2 MiB more (clear of the page
        # noise of RSS, under the threshold): only test_a fails.
        write(self.dir, 'test_b.py', '''
            keep = []
            def test_a():
                keep.append(bytearray(16 << 20))
            def test_b():
                keep.append(bytearray(3 << 20))
        ''')
        r = self.pytest('--pmt', '--pmt-baseline', 'base', '--pmt-fail-on-increase', '4 MiB',
                        'test_b.py', status=1)
        self.assertRegex(r.stdout, r'(?m)^FAILED test_b.py::test_a')
        self.assertNotRegex(r.stdout, r'(?m)^FAILED test_b.py::test_b')
        # (8 MiB and the few pages the interpreter touched meanwhile)
        self.assertRegex(r.stdout, r'MiB more than its baseline 8\.\d MiB '
                                   r'\(--pmt-fail-on-increase 4\.0 MiB\)')
        self.assertIn('2 tests compared, 2 grew more than before, 1 by more than 4.0 MiB',
                      r.stdout)
        with open(path) as f:
            self.assertEqual(json.load(f), stored)        # a baseline is not rewritten
        # Without the threshold the comparison is shown, nothing fails.
        r = self.pytest('--pmt', '--pmt-baseline', 'base', 'test_b.py', status=0)
        self.assertIn('vs baseline', r.stdout)

    def test_without_pmt_summarise(self):
        write(self.dir, 'test_mem.py', TESTS)
        # PATH without the pmt tools.
        path = os.pathsep.join(p for p in os.environ['PATH'].split(os.pathsep)
                               if p and not os.path.exists(os.path.join(p, 'pmt-summarise')))
        r = self.pytest('--pmt', 'test_mem.py', path=path, status=1)
        self.assertIn('pmt-summarise not found on PATH: growth is measured at the end of each '
                      'test (its peak is unknown)', r.stdout)
        # The limit holds on what the test kept; the spike is not seen.
        self.assertRegex(r.stdout, r'(?m)^FAILED test_mem.py::test_over_limit')
        self.assertNotRegex(r.stdout, r'(?m)^FAILED test_mem.py::test_spike')
        self.assertNotIn('functions that grew most', r.stdout)

    def test_usage_errors(self):
        write(self.dir, 'test_mem.py', TESTS)
        for args, msg in ((['--pmt-baseline', 'b'], '--pmt-baseline needs --pmt'),
                          (['--pmt', '--pmt-fail-on-increase', '1k'],
                           '--pmt-fail-on-increase needs --pmt-baseline'),
                          (['--pmt', '--pmt-baseline', 'b', '--pmt-fail-on-increase', 'lots'],
                           "--pmt-fail-on-increase: not a size: 'lots'")):
            r = self.pytest(*(args + ['test_mem.py']), status=4)
            self.assertIn(msg, r.stderr)
        write(self.dir, 'test_bad.py', '''
            import pytest
            @pytest.mark.limit_rss("much")
            def test_x():
                pass
        ''')
        r = self.pytest('--pmt', 'test_bad.py')
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("limit_rss: not a size: 'much'", r.stdout + r.stderr)

    def test_sizes(self):
        r = subprocess.run([PYTHON, '-c', '''
from pmt_tracer.pytest_plugin import parse_size
for t in ("4096", "512k", "24 MiB", "24MB", "1.5 GiB", "3B", 7):
    print(parse_size(t))
for t in ("", "1 XB", "-1", "k"):
    try:
        parse_size(t)
    except ValueError:
        print("bad")
'''], stdout=subprocess.PIPE, universal_newlines=True, env=env())
        self.assertEqual(r.stdout.split(), ['4096', '524288', '25165824', '25165824',
                                            '1610612736', '3', '7', 'bad', 'bad', 'bad',
                                            'bad'])


if __name__ == '__main__':
    unittest.main()
