# SPDX-License-Identifier: MIT
"""pytest plugin: the RSS growth of every test, from a pmt log of it.

    pytest --pmt                              # the tests that grew most, at the end
    @pytest.mark.limit_rss("24 MiB")          # fails a test that grows more
    pytest --pmt --pmt-baseline DIR [--pmt-fail-on-increase 1MiB]

Registered as the pytest11 entry point "pmt" when pmt_tracer is installed;
otherwise `-p pmt_tracer.pytest_plugin`. Without --pmt it only registers the
marker: nothing is imported, nothing traced.

Each test's call phase runs inside its own pmt_tracer.Profile. By default
the log keeps only page-sized RSS jumps and the event before each (--drss -1
--prev), which is cheap and still exact about the peak, and is deleted once
read. The previous events matter: pmt-summarise charges a jump to the
function running before it, which it knows only if that function's CALL is
in the log. --pmt-log-dir keeps every log, with every event unless
--pmt-drss says otherwise.

A test's growth is the peak RSS during it minus the RSS when it started;
"at end" is what it still held when it returned. The peak and the functions
that grew most come from running pmt-summarise --format json on the log:
the tool exists to read these logs (the plugin would otherwise need its own
zstd decoder, which Python's standard library lacks before 3.14), costs
about a millisecond per test, and is installed beside the tracer. Without it
on PATH the plugin says so and measures the growth at the end of each test
only, with no function list.
"""
import binascii
import json
import os
import re
import shutil
import subprocess
import tempfile

import pytest

BASELINE_NAME = 'pmt-baseline.json'
BASELINE_FORMAT = 1
SHOW_FUNCTIONS = 5

_SIZE_RE = re.compile(r'^\s*(\d+(?:\.\d*)?)\s*(?:([kKmMgGtT])i?[bB]?|[bB])?\s*$')
_SHIFT = {'k': 10, 'm': 20, 'g': 30, 't': 40}


def parse_size(text):
    """Bytes from 4096, "512k", "24 MiB", "1.5GB": binary multiples, as
    every pmt tool reads them. ValueError otherwise."""
    if isinstance(text, bool):
        raise ValueError('not a size: %r' % (text,))
    if isinstance(text, int):
        if text < 0:
            raise ValueError('a size cannot be negative: %d' % text)
        return text
    m = _SIZE_RE.match(str(text))
    if not m:
        raise ValueError('not a size: %r (e.g. 4096, 512k, 24 MiB, 1.5 GiB)' % (text,))
    shift = _SHIFT[m.group(2).lower()] if m.group(2) else 0
    return int(float(m.group(1)) * (1 << shift))


def format_size(n, sign=False):
    a = abs(n)
    for unit, shift in (('GiB', 30), ('MiB', 20), ('KiB', 10)):
        if a >= 1 << shift:
            text = '%.1f %s' % (a / float(1 << shift), unit)
            break
    else:
        text = '%d B' % a
    if n < 0:
        return '-' + text
    return ('+' + text) if sign else text


def log_name(nodeid):
    """A file name for a test: readable, unique (the crc of the whole id)."""
    stem = re.sub(r'[^A-Za-z0-9._-]+', '_', nodeid).strip('_.')[:120] or 'test'
    return '%s-%08x.log.zst' % (stem, binascii.crc32(nodeid.encode('utf-8')) & 0xffffffff)


def pytest_addoption(parser):
    g = parser.getgroup('pmt', 'RSS growth per test (pmt_tracer)')
    g.addoption('--pmt', action='store_true', default=False,
                help='trace each test with pmt_tracer, report the tests whose RSS grew most '
                     'and apply @pytest.mark.limit_rss')
    g.addoption('--pmt-log-dir', metavar='DIR', default=None,
                help='keep each test\'s log in DIR (every event, unless --pmt-drss)')
    g.addoption('--pmt-drss', metavar='N', type=int, default=None,
                help='log only events whose RSS differs by N bytes from the last logged one '
                     '(default: -1, one page; 0 with --pmt-log-dir: every event)')
    g.addoption('--pmt-top', metavar='N', type=int, default=10,
                help='tests listed at the end (default: 10; 0: none)')
    g.addoption('--pmt-baseline', metavar='DIR', default=None,
                help='store each test\'s growth in DIR/%s, or compare with it when it '
                     'exists' % BASELINE_NAME)
    g.addoption('--pmt-fail-on-increase', metavar='BYTES', default=None,
                help='with --pmt-baseline: fail the tests that grew more than BYTES beyond '
                     'their baseline (4096, 512k, 1 MiB)')


def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'limit_rss(size): with --pmt, fail the test if its RSS grows by more '
                   'than size ("24 MiB", "512k", bytes as an int)')
    opt = config.option
    if not opt.pmt:
        for name in ('pmt_log_dir', 'pmt_drss', 'pmt_baseline', 'pmt_fail_on_increase'):
            if getattr(opt, name) is not None:
                raise pytest.UsageError('--%s needs --pmt' % name.replace('_', '-'))
        return
    if opt.pmt_fail_on_increase is not None and opt.pmt_baseline is None:
        raise pytest.UsageError('--pmt-fail-on-increase needs --pmt-baseline')
    increase = None
    if opt.pmt_fail_on_increase is not None:
        try:
            increase = parse_size(opt.pmt_fail_on_increase)
        except ValueError as e:
            raise pytest.UsageError('--pmt-fail-on-increase: %s' % e)
    if opt.pmt_top < 0:
        raise pytest.UsageError('--pmt-top: must be 0 or more')
    try:
        import pmt_tracer
    except ImportError as e:
        raise pytest.UsageError('--pmt: cannot import pmt_tracer: %s' % e)
    config.pluginmanager.register(_Pmt(config, pmt_tracer, increase), 'pmt_tracer-session')


class _Result:
    __slots__ = ('growth', 'kept', 'peak_known', 'functions', 'log', 'error')

    def __init__(self, growth, kept, peak_known, functions, log, error=None):
        self.growth, self.kept, self.peak_known = growth, kept, peak_known
        self.functions, self.log, self.error = functions, log, error


class _Pmt:
    def __init__(self, config, tracer, increase):
        opt = config.option
        self.config = config
        self.tracer = tracer
        self.increase = increase
        self.keep = opt.pmt_log_dir is not None
        self.dir = os.path.abspath(opt.pmt_log_dir) if self.keep else None
        self.drss = opt.pmt_drss if opt.pmt_drss is not None else (0 if self.keep else -1)
        self.top = opt.pmt_top
        self.baseline_dir = opt.pmt_baseline
        self.baseline = None          # {nodeid: growth} when comparing
        self.baseline_path = None
        self.summarise = shutil.which('pmt-summarise')
        self.own = os.path.dirname(os.path.abspath(tracer.__file__)) + os.sep
        self.results = {}
        self.notes = []

    # -- session -----------------------------------------------------------
    def pytest_sessionstart(self, session):
        if self.keep:
            os.makedirs(self.dir, exist_ok=True)
        else:
            self.dir = tempfile.mkdtemp(prefix='pmt-pytest-')
        if self.summarise is None:
            self.notes.append('pmt-summarise not found on PATH: growth is measured at the end '
                              'of each test (its peak is unknown) and failures list no '
                              'functions')
        if self.baseline_dir is not None:
            self.baseline_path = os.path.join(self.baseline_dir, BASELINE_NAME)
            if os.path.exists(self.baseline_path):
                self.baseline = self._load_baseline(self.baseline_path)
        # The tracer's one-time costs (its first writer, thread, RSS source)
        # land here rather than in the first test.
        warm = os.path.join(self.dir, '.warm-up.log.zst')
        p = self.tracer.Profile(-1, None, warm, argv=['warm-up'])
        p.start()
        p.stop()
        os.unlink(warm)

    def _load_baseline(self, path):
        try:
            with open(path) as f:
                data = json.load(f)
            if data.get('format') != BASELINE_FORMAT:
                raise ValueError('format %r, not %d' % (data.get('format'), BASELINE_FORMAT))
            return {k: int(v['growth']) for k, v in data['tests'].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise pytest.UsageError('--pmt-baseline: %s: %s' % (path, e))

    def pytest_sessionfinish(self, session):
        if self.baseline_path is not None and self.baseline is None and self.results:
            os.makedirs(self.baseline_dir, exist_ok=True)
            data = {'format': BASELINE_FORMAT, 'unit': 'bytes',
                    'growth': 'peak RSS during the test minus RSS at its start',
                    'tests': {k: {'growth': r.growth, 'at_end': r.kept}
                              for k, r in sorted(self.results.items())}}
            tmp = self.baseline_path + '.tmp'
            with open(tmp, 'w') as f:
                json.dump(data, f, indent=1, sort_keys=True)
                f.write('\n')
            os.replace(tmp, self.baseline_path)
            self.notes.append('baseline stored: %s (%d tests)'
                              % (self.baseline_path, len(self.results)))
        if not self.keep:
            shutil.rmtree(self.dir, True)

    # -- each test ---------------------------------------------------------
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item):
        path = os.path.join(self.dir, log_name(item.nodeid))
        prof = self.tracer.Profile(self.drss, 'pmt: test %s' % item.nodeid, path,
                                   argv=[item.nodeid], prev=self.drss != 0)
        rss0 = self.tracer.rss()
        try:
            prof.start()
        except Exception as e:
            self.results[item.nodeid] = _Result(0, 0, False, None, None,
                                                'not traced: %s' % e)
            yield
            return
        yield
        error = None
        try:
            prof.stop()
        except RuntimeError as e:     # the hook failed: the log says how far it got
            error = str(e)
        rss1 = self.tracer.rss()
        self.results[item.nodeid] = self._measure(path, rss0, rss1, error)

    def _measure(self, path, rss0, rss1, error):
        kept = rss1 - rss0
        growth, peak_known, functions = kept, False, None
        if self.summarise is not None:
            r = subprocess.run([self.summarise, '--format', 'json', '--top', '0', path],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               universal_newlines=True)
            try:
                if r.returncode != 0:
                    raise ValueError(r.stderr.strip() or 'exit status %d' % r.returncode)
                data = json.loads(r.stdout)
                peak = max(int(data['logs'][0]['rss_peak']), rss1)
                growth, peak_known = peak - rss0, True
                functions = [f for f in data.get('functions', [])
                             if f.get('self_bytes', 0) > 0
                             and not str(f.get('file', '')).startswith(self.own)]
                functions.sort(key=lambda f: -f['self_bytes'])
                functions = functions[:SHOW_FUNCTIONS]
            except (ValueError, KeyError, IndexError, TypeError) as e:
                error = error or 'pmt-summarise: %s' % e
        if not self.keep:
            try:
                os.unlink(path)
            except OSError:
                pass
        return _Result(growth, kept, peak_known, functions, path if self.keep else None, error)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        rep = outcome.get_result()
        if rep.when != 'call':
            return
        res = self.results.get(item.nodeid)
        if res is None:
            return
        reasons = []
        marker = item.get_closest_marker('limit_rss')
        if marker is not None:
            limit = self._limit(marker)
            if res.error and not res.peak_known and self.summarise is not None:
                reasons.append('RSS growth unknown (%s), limit_rss %s not checked'
                               % (res.error, format_size(limit)))
            elif res.growth > limit:
                reasons.append('RSS grew by %s during the test, more than its limit_rss of %s'
                               % (format_size(res.growth), format_size(limit)))
        base = self.baseline.get(item.nodeid) if self.baseline is not None else None
        if self.increase is not None and base is not None and res.growth - base > self.increase:
            reasons.append('RSS grew by %s during the test, %s more than its baseline %s '
                           '(--pmt-fail-on-increase %s)'
                           % (format_size(res.growth), format_size(res.growth - base),
                              format_size(base), format_size(self.increase)))
        if not reasons:
            return
        text = '\n'.join(reasons + [self._details(res)])
        if rep.passed and not hasattr(rep, 'wasxfail'):
            rep.outcome = 'failed'
            rep.longrepr = text
        else:
            rep.sections.append(('pmt', text))

    def _limit(self, marker):
        if len(marker.args) != 1 or marker.kwargs:
            raise pytest.UsageError('limit_rss takes one size, e.g. limit_rss("24 MiB")')
        try:
            return parse_size(marker.args[0])
        except ValueError as e:
            raise pytest.UsageError('limit_rss: %s' % e)

    def _details(self, res):
        lines = []
        if res.peak_known:
            lines.append('(peak RSS during the test minus RSS at its start; %s still held '
                         'at its end)' % format_size(res.kept))
        else:
            why = res.error or (self.notes[0] if self.summarise is None else 'peak unknown')
            lines.append('(RSS at the end of the test minus at its start: %s)' % why)
        if res.functions:
            lines.append('functions that grew most (self growth, from pmt-summarise of '
                         'the test\'s log):')
            w = max(len(format_size(f['self_bytes'])) for f in res.functions)
            for f in res.functions:
                line = '  %*s  %s (%s)' % (w, format_size(f['self_bytes']), f['function'],
                                           f['file'])
                if self.drss == 0:      # a filtered log does not count every call
                    line += ', %d call%s' % (f['calls'], '' if f['calls'] == 1 else 's')
                lines.append(line)
        elif res.peak_known:
            lines.append('no function grew by itself (the growth is in C code called '
                         'before any event, or below one page each)')
        if res.log:
            lines.append('log: %s' % res.log)
        else:
            lines.append('log: not kept (--pmt-log-dir DIR keeps every test\'s log)')
        return '\n'.join(lines)

    # -- the end -------------------------------------------------------------
    def pytest_terminal_summary(self, terminalreporter):
        tr = terminalreporter
        tr.write_sep('=', 'pmt: RSS growth per test')
        for note in self.notes:
            tr.write_line(note)
        if not self.results:
            tr.write_line('no test was traced')
            return
        what = ('peak RSS during the test minus RSS at its start' if self.summarise
                else 'RSS at the end of the test minus at its start')
        compare = self.baseline is not None
        rows = sorted(self.results.items(), key=lambda kv: (-kv[1].growth, kv[0]))
        if self.top:
            n = min(self.top, len(rows))
            tr.write_line('%d test%s traced; the %s grew most (growth: %s):'
                          % (len(rows), '' if len(rows) == 1 else 's',
                             'one that' if n == 1 else '%d that' % n, what))
            head = '%12s %12s' % ('growth', 'at end')
            if compare:
                head += ' %12s' % 'vs baseline'
            tr.write_line(head + '  test')
            for nodeid, r in rows[:self.top]:
                line = '%12s %12s' % (format_size(r.growth, True), format_size(r.kept, True))
                if compare:
                    b = self.baseline.get(nodeid)
                    line += ' %12s' % ('new' if b is None else format_size(r.growth - b, True))
                tr.write_line(line + '  ' + nodeid + ('  (%s)' % r.error if r.error else ''))
        if compare:
            deltas = [(r.growth - self.baseline[k], k) for k, r in self.results.items()
                      if k in self.baseline]
            worse = sorted(d for d in deltas if d[0] > 0)[::-1]
            tr.write_line('baseline %s: %d tests compared, %d grew more than before%s'
                          % (self.baseline_path, len(deltas), len(worse),
                             '' if self.increase is None else
                             ', %d by more than %s (failed)'
                             % (sum(1 for d in worse if d[0] > self.increase),
                                format_size(self.increase))))
        if self.keep:
            tr.write_line('logs: %s' % self.dir)
