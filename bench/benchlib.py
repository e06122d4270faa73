# SPDX-License-Identifier: MIT
"""Shared pieces of the tracer benchmarks: where things are, how a workload
is run untraced and traced, how a traced run's log is counted, and tables.

Every figure is a median over repetitions whose configurations are
interleaved (these machines are noisy), and every traced time is compared
with an untraced run measured in the same invocation."""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get('PMT_SRCDIR') or os.path.dirname(HERE)


def parser(doc):
    """An argument parser with the options every benchmark takes: --builddir,
    --python, --reps and --sources."""
    ap = argparse.ArgumentParser(description=doc.split('\n\n')[0])
    ap.add_argument('--builddir')
    ap.add_argument('--python', default=os.environ.get('PYTHON') or sys.executable)
    ap.add_argument('--reps', type=int, default=3)
    ap.add_argument('--sources', default='statm,perf',
                    help='RSS sources to try (comma separated); unavailable ones are skipped')
    return ap


def run_main(ap, run, argv=None):
    """Parses argv with ap, then run(env, args) in a benchmark environment
    that is cleaned up whatever happens."""
    args = ap.parse_args(argv)
    if args.reps < 1:
        ap.error('--reps must be positive')
    env = Env(builddir(args.builddir), args.python)
    try:
        return run(env, args)
    finally:
        env.cleanup()


def builddir(given=None):
    """The build tree with pylib/ and analyze/: --builddir, $PMT_BUILDDIR, or
    the current directory."""
    d = given or os.environ.get('PMT_BUILDDIR') or os.getcwd()
    d = os.path.abspath(d)
    if not os.path.isdir(os.path.join(d, 'pylib', 'pmt_tracer')):
        sys.exit('bench: %s: no pylib/pmt_tracer here; run from the build directory or '
                 'give --builddir' % d)
    return d


class Env:
    def __init__(self, build, python):
        self.build = build
        self.python = python
        self.env = dict(os.environ)
        self.env['PYTHONPATH'] = os.path.join(build, 'pylib')
        self.env['PYTHONDONTWRITEBYTECODE'] = '1'
        self.env['LC_ALL'] = 'C'
        self.summarise = os.path.join(build, 'analyze', 'pmt-summarise')
        self.tmp = tempfile.mkdtemp(prefix='pmt-bench-')

    def cleanup(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


class Workload:
    """A Python program to trace: argv after the interpreter. thread_cpu: it
    takes --thread-cpu FILE (the main thread's CPU time, written at its end)."""

    def __init__(self, name, argv, setup=None, thread_cpu=False):
        self.name = name
        self.argv = argv
        self.setup = setup
        self.thread_cpu = thread_cpu


def sample_workload(env, scale=1.0):
    """lastohtml.py over generated LAS files (generated once per run; scale
    multiplies every file's rows)."""
    las = os.path.join(env.tmp, 'las%g' % scale)
    out = os.path.join(env.tmp, 'html')

    def setup():
        if not os.path.isdir(las):
            subprocess.run([env.python, os.path.join(SRCDIR, 'sample-data', 'gen_las.py'), las]
                           + ([] if scale == 1.0 else ['--scale', str(scale)]),
                           check=True, stdout=subprocess.DEVNULL)
    name = 'sample (lastohtml.py)' if scale == 1.0 else 'sample (lastohtml.py, rows x%g)' % scale
    return Workload(name, [os.path.join(SRCDIR, 'sample-data', 'lastohtml.py'), las, out], setup)


def calls_workload(env, scale=1.0):
    return Workload('calls (bench/calls.py)' if scale == 1.0 else
                    'calls (bench/calls.py --scale %g)' % scale,
                    [os.path.join(SRCDIR, 'bench', 'calls.py'), '--scale', str(scale)],
                    thread_cpu=True)


# Runs a program under pymemtrace's cPyMemTrace.Profile:
#   python -c PEER_RUNNER D_RSS_TRIGGER LOG PROGRAM [ARGS...]
PEER_RUNNER = r"""
import runpy, sys
try:
    from pymemtrace import cPyMemTrace
except ImportError:
    import cPyMemTrace
trigger, log = int(sys.argv[1]), sys.argv[2]
sys.argv = sys.argv[3:]
with cPyMemTrace.Profile(trigger, filepath=log):
    runpy.run_path(sys.argv[0], run_name='__main__')
"""


# Runs a program inside pmt_tracer.ReferenceTracing(**OPTIONS) (objects
# alone, no event hook), as pymemtrace's note runs its ReferenceTracing rows:
#   python -c OBJECTS_RUNNER OPTIONS_JSON LOG PROGRAM [ARGS...]
OBJECTS_RUNNER = r"""
import json, runpy, sys
import pmt_tracer
opts, log = json.loads(sys.argv[1]), sys.argv[2]
sys.argv = sys.argv[3:]
with pmt_tracer.ReferenceTracing(filepath=log, **opts):
    runpy.run_path(sys.argv[0], run_name='__main__')
"""


def peer_path():
    """$PMT_BENCH_PEER_PATH: a directory where pymemtrace's cPyMemTrace is
    importable (as pymemtrace.cPyMemTrace or cPyMemTrace), or None."""
    d = os.environ.get('PMT_BENCH_PEER_PATH')
    return os.path.abspath(d) if d else None


def peer_works(env):
    """cPyMemTrace imports with $PMT_BENCH_PEER_PATH: (True, '') or (False, why)."""
    d = peer_path()
    if not d:
        return False, 'PMT_BENCH_PEER_PATH is not set'
    e = dict(env.env)
    e['PYTHONPATH'] = d + os.pathsep + e['PYTHONPATH']
    p = subprocess.run([env.python, '-c', 'try:\n from pymemtrace import cPyMemTrace\n'
                        'except ImportError:\n import cPyMemTrace'], env=e,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if p.returncode:
        return False, (p.stderr.decode(errors='replace').strip().splitlines() or ['?'])[-1]
    return True, ''


class Config:
    """One way of running a workload: untraced, pmt_tracer with options, or
    (peer_trigger not None) under cPyMemTrace.Profile(peer_trigger)."""

    def __init__(self, label, tracer_args=None, source=None, trace='Yes', calculate='',
                 log='', peer_trigger=None, objects=None):
        self.label = label
        self.tracer_args = tracer_args  # None: untraced
        self.peer_trigger = peer_trigger
        self.objects = objects  # ReferenceTracing(**objects) through OBJECTS_RUNNER
        self.source = source
        self.trace, self.calculate, self.log = trace, calculate, log
        self.times = []
        self.cpu = []           # user + system time of the whole process (every thread)
        self.thread_cpu = []    # the program's main thread alone, where it says
        self.summary = None

    @property
    def traced(self):
        return (self.tracer_args is not None or self.peer_trigger is not None
                or self.objects is not None)


def run_once(env, wl, cfg, index):
    log = os.path.join(env.tmp, 'run%d.log.zst' % index)
    run_env = env.env
    if cfg.peer_trigger is not None:
        log = os.path.join(env.tmp, 'run%d.log' % index)
        argv = [env.python, '-c', PEER_RUNNER, str(cfg.peer_trigger), log] + wl.argv
        run_env = dict(env.env)
        run_env['PYTHONPATH'] = peer_path() + os.pathsep + run_env['PYTHONPATH']
    elif cfg.objects is not None:
        argv = [env.python, '-c', OBJECTS_RUNNER, json.dumps(cfg.objects), log] + wl.argv
    elif cfg.traced:
        argv = [env.python, '-m', 'pmt_tracer', '-q', '-f', '-o', log]
        argv += cfg.tracer_args
        if cfg.source:
            argv += ['--rss-source', cfg.source]
        argv += wl.argv
    else:
        argv = [env.python] + wl.argv
    cpu_file = os.path.join(env.tmp, 'cpu%d' % index)
    if wl.thread_cpu:
        argv += ['--thread-cpu', cpu_file]
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, env=run_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    t = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status) if hasattr(os, 'waitstatus_to_exitcode') \
        else status >> 8
    if p.returncode != 0:
        sys.exit('bench: %s failed (%d): %s\n%s' % (cfg.label, p.returncode, ' '.join(argv),
                                                   err.decode(errors='replace')))
    cfg.times.append(t)
    cfg.cpu.append(ru.ru_utime + ru.ru_stime)
    if wl.thread_cpu:
        with open(cpu_file) as f:
            cfg.thread_cpu.append(float(f.read()))
        os.unlink(cpu_file)
    if cfg.traced:
        s = summarise(env, log)
        if cfg.summary is None or (s['events'], s['objects']) > (cfg.summary['events'],
                                                                  cfg.summary['objects']):
            cfg.summary = s
        os.unlink(log)


def summarise(env, log):
    p = subprocess.run([env.summarise, '--format', 'json', '--top', '0', log], env=env.env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if p.returncode != 0:
        sys.exit('bench: pmt-summarise %s: %s' % (log, p.stderr.decode(errors='replace')))
    j = json.loads(p.stdout)
    d = j['logs'][0]
    objects = sum(t['created'] + t['destroyed'] for t in j.get('objects', []))
    return {'events': int(d['events']), 'written': int(d['written']),
            'bytes': int(d['log_bytes']), 'source': d.get('rss_source', ''),
            'objects': objects}


def source_works(env, source):
    """A source counts as available only if a traced run really used it."""
    log = os.path.join(env.tmp, 'probe.log.zst')
    p = subprocess.run([env.python, '-m', 'pmt_tracer', '-q', '-f', '-o', log, '--rss-source',
                        source, '-c', 'pass'], env=env.env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    if p.returncode != 0:
        return False, p.stderr.decode(errors='replace').strip().splitlines()[-1:] or ['failed']
    used = summarise(env, log)['source']
    os.unlink(log)
    return used == source, 'the log says %r' % used


def available_sources(env, names):
    """The RSS sources among names (comma separated) that work here; the
    others are reported on stderr. Exits when none works."""
    sources = []
    for s in names.split(','):
        ok, why = source_works(env, s)
        if ok:
            sources.append(s)
        else:
            print('bench: RSS source %s unavailable: %s' % (s, why), file=sys.stderr)
    if not sources:
        sys.exit('bench: no RSS source works')
    return sources


def measure(env, wl, configs, reps, progress=None):
    if progress is None:
        progress = sys.stderr.isatty()
    if wl.setup:
        wl.setup()
    for r in range(reps):
        # alternate the order so slow drifts hit every configuration alike
        order = configs if r % 2 == 0 else list(reversed(configs))
        for i, cfg in enumerate(order):
            if progress:
                print('\r%-60s' % ('%s: rep %d/%d: %s' % (wl.name.split()[0], r + 1, reps,
                                                            cfg.label))[:60],
                      end='', file=sys.stderr, flush=True)
            run_once(env, wl, cfg, i)
    if progress:
        print('\r%-60s\r' % '', end='', file=sys.stderr, flush=True)


def median(cfg, what='times'):
    """Median wall time, or of 'cpu' or 'thread_cpu'."""
    return statistics.median(getattr(cfg, what))


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    return '%s, %d CPUs, Linux %s' % (cpu, os.cpu_count() or 0, platform.release())


def python_version(env):
    p = subprocess.run([env.python, '-c', 'import sys; print(sys.version.split()[0])'],
                       stdout=subprocess.PIPE, check=True)
    return p.stdout.decode().strip()


def fmt_int(n):
    return '{:,}'.format(n)


def fmt_rate(x):
    if x >= 1e6:
        return '%.2fm' % (x / 1e6)
    if x >= 1e3:
        return '%.1fk' % (x / 1e3)
    return '%.0f' % x


def _numeric(cell):
    t = str(cell).replace(',', '').lstrip('x').rstrip('mk')
    try:
        float(t)
        return True
    except ValueError:
        return t in ('', '-')


def markdown(headings, rows):
    right = [all(_numeric(r[i]) for r in rows) for i in range(len(headings))]
    out = ['| ' + ' | '.join(headings) + ' |',
           '|' + '|'.join('---:' if r else '---' for r in right) + '|']
    out += ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows]
    return '\n'.join(out) + '\n'


def rst_grid(headings, rows):
    cols = [headings] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cols) for i in range(len(headings))]
    line = lambda ch: '+' + '+'.join(ch * (w + 2) for w in widths) + '+'
    fmt = lambda r: '| ' + ' | '.join(c.ljust(w) for c, w in zip(r, widths)) + ' |'
    out = [line('-'), fmt(headings), line('=')]
    for r in cols[1:]:
        out += [fmt(r), line('-')]
    return '\n'.join(out) + '\n'
