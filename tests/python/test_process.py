# SPDX-License-Identifier: MIT
"""pmt_tracer.process: the native monitor's records, labels, start/stop, and
that the recorded RSS follows a program that allocates and frees in steps."""
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

from pmt_tracer import process

LINE_RE = re.compile(r'^.+?ProcessLoggingThread-JSON(-START|-STOP)?\s*(.+)$')
LAYOUT_RE = re.compile(
    r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} - \S+#\d+ - [ \d]{5,} - \(ProcMon   \) - INFO     - '
    r'ProcessLoggingThread-JSON')
MB = 1024 * 1024


def records(path):
    """(kind, record) for every JSON line, parsed as pymemtrace's process.py does."""
    out = []
    with open(path) as f:
        for line in f:
            m = LINE_RE.match(line)
            if m:
                out.append((m.group(1), json.loads(m.group(2))))
    return out


class ProcessTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.log = os.path.join(self.tmp.name, 'p.log')

    def tearDown(self):
        self.tmp.cleanup()

    def test_records_keys_and_layout(self):
        with process.log_process(interval=0.05, path=self.log):
            time.sleep(0.3)
        with open(self.log) as f:
            lines = f.read().splitlines()
        for line in lines:
            self.assertRegex(line, LAYOUT_RE)
        recs = records(self.log)
        self.assertGreaterEqual(len(recs), 4)
        self.assertEqual(recs[0][0], '-START')
        self.assertEqual(recs[-1][0], '-STOP')
        self.assertTrue(all(k is None for k, _ in recs[1:-1]))
        prev = -1.0
        for _, r in recs:
            self.assertEqual(list(r)[:5], ['timestamp', 'memory_info', 'cpu_times',
                                           'elapsed_time', 'pid'])
            self.assertEqual(r['pid'], os.getpid())
            time.strptime(r['timestamp'].split('.')[0], '%Y-%m-%d %H:%M:%S')
            self.assertRegex(r['timestamp'], r'\.\d{6}$')
            mi = r['memory_info']
            self.assertGreater(mi['rss'], 1 * MB)
            self.assertGreaterEqual(mi['vms'], mi['rss'])
            self.assertGreater(mi['pfaults'], 0)
            for k in ('user', 'system', 'children_user', 'children_system'):
                self.assertIsInstance(r['cpu_times'][k], float)
            self.assertGreaterEqual(r['elapsed_time'], prev)
            prev = r['elapsed_time']
        # elapsed time counts from the process start, like psutil's create_time
        self.assertGreater(recs[0][1]['elapsed_time'], 0.0)

    def test_labels_quotes_backslashes_unicode(self):
        label = 'say "hi" \\ back \u00e9\u20ac\U0001F600 \n newline'
        with process.log_process(interval=0.05, path=self.log) as mon:
            mon.add_message_to_queue(label)
            mon.add_message_to_queue('second')
            process.add_message_to_queue('module level')
            time.sleep(0.25)
        labels = [r['label'] for _, r in records(self.log) if 'label' in r]
        self.assertEqual(labels, [label, 'second', 'module level'])
        # one record per label, each freshly sampled
        with open(self.log) as f:
            text = f.read()
        self.assertEqual(text.count('"label"'), 3)
        self.assertNotIn(label, text)  # json.dumps escaped it: one line per record

    def test_module_level_without_monitor(self):
        with self.assertRaises(RuntimeError):
            process.add_message_to_queue('nobody listens')

    def test_start_stop(self):
        mon = process.start(self.log, 0.05)
        self.assertTrue(mon.running)
        time.sleep(0.12)
        process.stop()
        self.assertFalse(mon.running)
        kinds = [k for k, _ in records(self.log)]
        self.assertEqual(kinds[0], '-START')
        self.assertEqual(kinds[-1], '-STOP')
        self.assertEqual(kinds.count('-STOP'), 1)
        mon.stop()  # idempotent
        self.assertEqual([k for k, _ in records(self.log)].count('-STOP'), 1)

    def test_bad_arguments(self):
        with self.assertRaises(ValueError):
            process.ProcessMonitor(interval=0, path=self.log)
        with self.assertRaises(ProcessLookupError):
            process.ProcessMonitor(interval=1, path=self.log, pid=2 ** 22 + 12345)
        with self.assertRaises(OSError):
            process.ProcessMonitor(interval=1, path=os.path.join(self.tmp.name, 'no', 'x.log'))

    def test_monitor_other_process_ends_with_stop(self):
        child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(0.4)'])
        mon = process.ProcessMonitor(interval=0.05, path=self.log, pid=child.pid).start()
        child.wait()
        self.assertTrue(mon.wait(5.0), 'monitor did not end with its process')
        self.assertTrue(mon.ended)
        mon.stop()
        recs = records(self.log)
        self.assertEqual(recs[-1][0], '-STOP')
        self.assertTrue(all(r['pid'] == child.pid for _, r in recs))

    def test_interleaves_with_application_logging(self):
        logger = logging.getLogger('pmt-test-app')
        handler = logging.FileHandler(self.log)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
        try:
            with process.log_process(interval=0.002, path=self.log):
                for i in range(3000):
                    logger.info('application line %d with some padding %s', i, 'x' * 60)
        finally:
            logger.removeHandler(handler)
            handler.close()
        app = 0
        with open(self.log) as f:
            for line in f:
                m = LINE_RE.match(line)
                if m:
                    json.loads(m.group(2))  # never torn
                else:
                    self.assertRegex(line, r'^application line \d+ with some padding x{60}\n$')
                    app += 1
        self.assertEqual(app, 3000)

    def test_rss_follows_allocation_steps(self):
        # 50 MB of anonymous memory, touched page by page, then unmapped: the
        # step is exact whatever the allocator (a sanitizer's malloc keeps
        # freed blocks in quarantine, so a bytearray would not give RSS back)
        prog = (
            'import mmap, time\n'
            'from pmt_tracer import process\n'
            'with process.log_process(interval=0.05, path=%r) as p:\n'
            '    time.sleep(0.4)\n'
            '    p.add_message_to_queue("alloc")\n'
            '    m = mmap.mmap(-1, 50 * 1024 * 1024)\n'
            '    chunk = b"x" * (1024 * 1024)\n'
            '    for i in range(50):\n'
            '        m.write(chunk)\n'
            '    p.add_message_to_queue("touched")\n'
            '    time.sleep(0.6)\n'
            '    p.add_message_to_queue("free")\n'
            '    m.close()\n'
            '    time.sleep(0.6)\n' % self.log)
        subprocess.run([sys.executable, '-c', prog], check=True, env=os.environ)
        recs = [r for _, r in records(self.log)]
        idx = {r.get('label'): i for i, r in enumerate(recs) if 'label' in r}
        before = [r['memory_info']['rss'] for r in recs[:idx['alloc']]]
        # from the first sample after every page was touched (however slow
        # a loaded machine or a sanitizer build makes the touching)
        during = [r['memory_info']['rss'] for r in recs[idx['touched']:idx['free']]]
        after = [r['memory_info']['rss'] for r in recs[idx['free'] + 2:]]
        self.assertTrue(before and during and after, (len(before), len(during), len(after)))
        base = max(before)
        self.assertGreater(min(during), base + 45 * MB, 'RSS did not rise by the 50 MB')
        self.assertLess(max(after), base + 10 * MB, 'RSS did not fall after the free')
        # faults follow too: touching 50 MB is ~12800 page faults
        pf = [r['memory_info']['pfaults'] for r in recs]
        self.assertGreater(pf[idx['free']] - pf[0], 12000)


if __name__ == '__main__':
    unittest.main()
