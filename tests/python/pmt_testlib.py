# SPDX-License-Identifier: MIT
"""Helpers shared by the tracer tests: run a program under the tracer in a
subprocess, decode its log."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

import pmtlog

PYTHON = os.environ.get('PYTHON') or sys.executable
HERE = os.path.dirname(os.path.abspath(__file__))


def env():
    e = dict(os.environ)
    e.setdefault('LC_ALL', 'C')
    e['PYTHONDONTWRITEBYTECODE'] = '1'
    return e


def run(args, cwd, timeout=120, input=None):
    """Runs PYTHON with args; returns CompletedProcess (text)."""
    return subprocess.run([PYTHON] + list(args), cwd=cwd, env=env(), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=timeout,
                          input=input)


def trace(args, cwd, **kw):
    return run(['-m', 'pmt_tracer'] + list(args), cwd, **kw)


def write(dirname, name, text):
    path = os.path.join(dirname, name)
    with open(path, 'w') as f:
        f.write(textwrap.dedent(text))
    return path


def have_zstd():
    return shutil.which('zstd') is not None


class TmpDirCase(unittest.TestCase):
    def setUp(self):
        if not have_zstd():
            self.skipTest('zstd CLI not installed')
        self.dir = tempfile.mkdtemp(prefix='pmt-test-')
        self.addCleanup(shutil.rmtree, self.dir, True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def read_log(self, name):
        return pmtlog.read(self.path(name) if not os.path.isabs(name) else name)

    def assertRan(self, r, status=0):
        self.assertEqual(r.returncode, status,
                         'exit %d\nstdout:\n%s\nstderr:\n%s' % (r.returncode, r.stdout, r.stderr))


def kind_counts(log, file):
    """Events per kind whose code's file is `file`."""
    counts = {}
    for ev in log.events:
        if log.file_of(ev) == file:
            counts[ev.what] = counts.get(ev.what, 0) + 1
    return counts


def man_page_text(name):
    """docs/NAME.1 as plain text (roff escapes and fonts dropped), or None
    without the sources."""
    src = os.environ.get('PMT_SRCDIR') or os.path.join(HERE, '..', '..')
    path = os.path.join(src, 'docs', name + '.1')
    if not os.path.exists(path):
        return None
    with open(path) as f:
        text = f.read()
    return re.sub(r'\\f[BIRP]', '', text.replace('\\-', '-'))
