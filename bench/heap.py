#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Heap tracing benchmarks: the DTrace technical note reproduced, and what
heap tracing costs beside the stdlib's tracemalloc.

1. The note's timing table on the sample workload: Task, real, user, sys and
   real ratio for the baseline, heap tracing with pymalloc, PYTHONMALLOC=malloc
   untraced and heap tracing with PYTHONMALLOC=malloc; and its log table: Size,
   Records, malloc, free and free(0x0) entries with and without pymalloc and
   their ratio; each beside the note's own figures (DTrace on macOS, 3.9).
2. Overhead, on the sample and call-dense workloads in one interleaved run:
   untraced, the plain RSS log, --heap, --heap=python (with the RSS event log
   of every call, and --no-events: the heap alone, without the call hook) and
   tracemalloc.start(1) (python -X tracemalloc=1), with the added time of each
   against untraced, and the two targets checked: --heap=python at most half
   the added cost of tracemalloc, measured with --no-events, which records
   what tracemalloc records (every allocation and the line it was made at,
   no call and no RSS); --heap adding no more than the plain RSS log adds
   again. The log of every run is read back for the RSS source it used.

Writes docs/bench-heap.md and docs/bench-heap.rst (or --outdir).

    bench/heap.py [--builddir DIR] [--reps N] [--outdir DIR] [--skip-overhead]
                  [--sample-scale F] [--calls-scale F]
"""
import datetime
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

# The DTrace note's own figures (seeds/003): Python 3.9 on macOS; its
# "without pymalloc" runs are a debug build, ours PYTHONMALLOC=malloc.
NOTE_TIMES = [
    ('Baseline', 35.49, 29.72, 2.03, 'x1.0'),
    ('DTrace, no tracing', 49.54, 35.56, 2.45, 'x1.395'),
    ('DTrace, trace malloc(), free(). Release with pymalloc', 3220, 902.5, 1950, 'x90.73'),
    ('DTrace, no tracing. Debug without pymalloc', 148.55, 139.99, 1.93, 'x4.186'),
    ('DTrace, trace malloc(), free(). Debug without pymalloc', 3520, 1183, 2127, 'x99.18'),
]
NOTE_LOG = [  # (row, debug, release, debug/release)
    ('Size', '11 Gb', '16 Mb', 'x68'),
    ('Lines', '16m', '243k', 'x68'),
    ('malloc() entries', '8,096,729', '94,880', 'x85'),
    ('free() entries', '8,054,421', '144,684', 'x56'),
    ('free(0x0) entries', '38,849', '74,254', 'x0.52'),
]

HEAP_OPTS = ['--heap', '--drss', '-1']


class Run:
    def __init__(self, label, tracer_args=None, env=None, python_args=()):
        self.label = label
        self.tracer_args = tracer_args
        self.env = env or {}
        self.python_args = list(python_args)
        self.real, self.user, self.sys = [], [], []
        self.log = None   # the summary of the last log

    def med(self, what):
        return statistics.median(getattr(self, what))


def run_once(env, wl, cfg, index):
    log = os.path.join(env.tmp, 'heap%d.log.zst' % index)
    argv = [env.python] + cfg.python_args
    if cfg.tracer_args is not None:
        argv += ['-m', 'pmt_tracer', '-q', '-f', '-o', log] + cfg.tracer_args
    argv += wl.argv
    e = dict(env.env)
    e.update(cfg.env)
    errpath = os.path.join(env.tmp, 'stderr')
    with open(errpath, 'wb') as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, env=e, stdout=subprocess.DEVNULL, stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
        real = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status) if hasattr(os, 'waitstatus_to_exitcode') \
        else status >> 8
    if p.returncode != 0:
        with open(errpath, 'rb') as f:
            sys.exit('bench: %s failed (%d): %s\n%s' % (cfg.label, p.returncode, ' '.join(argv),
                                                       f.read().decode(errors='replace')))
    cfg.real.append(real)
    cfg.user.append(ru.ru_utime)
    cfg.sys.append(ru.ru_stime)
    if cfg.tracer_args is not None:
        cfg.log = heap_summary(env, log)
        os.unlink(log)


def heap_summary(env, log):
    p = subprocess.run([env.summarise, '--format', 'json', '--top', '1', log], env=env.env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        sys.exit('bench: pmt-summarise %s: %s' % (log, p.stderr.decode(errors='replace')))
    js = json.loads(p.stdout)
    d = js['logs'][0]
    calls = {r['call']: int(r['count']) for r in js.get('allocator_calls', [])}
    heap = js.get('heap', [{}])[0]
    return {'events': int(d['events']), 'written': int(d['written']),
            'bytes': int(d['log_bytes']), 'calls': calls, 'source': d.get('rss_source', ''),
            'records': int(heap.get('records', 0))}


def measure(env, wl, cfgs, reps):
    if wl.setup:
        wl.setup()
    for r in range(reps):
        order = cfgs if r % 2 == 0 else list(reversed(cfgs))
        for i, c in enumerate(order):
            if sys.stderr.isatty():
                print('\r%-70s' % ('%s: rep %d/%d: %s' % (wl.name.split()[0], r + 1, reps,
                                                            c.label))[:70],
                      end='', file=sys.stderr, flush=True)
            run_once(env, wl, c, i)
    if sys.stderr.isatty():
        print('\r%-70s\r' % '', end='', file=sys.stderr, flush=True)


def fmt_size(n):
    for unit, k in (('GB', 1e9), ('MB', 1e6), ('kB', 1e3)):
        if n >= k:
            return '%.1f %s' % (n / k, unit)
    return '%d B' % n


def technote(env, reps, scale):
    wl = bl.sample_workload(env, scale)
    base = Run('Baseline (untraced, pymalloc)')
    heap = Run('Heap tracing (--heap), release with pymalloc', HEAP_OPTS)
    nopy = Run('No tracing, PYTHONMALLOC=malloc (without pymalloc)',
               env={'PYTHONMALLOC': 'malloc'})
    heapm = Run('Heap tracing (--heap), PYTHONMALLOC=malloc', HEAP_OPTS,
                env={'PYTHONMALLOC': 'malloc'})
    cfgs = [base, heap, nopy, heapm]
    measure(env, wl, cfgs, reps)
    t0 = base.med('real')
    times = [[c.label, '%.2f' % c.med('real'), '%.2f' % c.med('user'), '%.2f' % c.med('sys'),
              'x%.3f' % (c.med('real') / t0)] for c in cfgs]

    def entries(c):
        k = c.log['calls']
        return {'size': c.log['bytes'], 'records': c.log['records'] + c.log['written'],
                'malloc': k.get('malloc', 0), 'free': k.get('free', 0) + k.get('free(NULL)', 0),
                'null': k.get('free(NULL)', 0), 'calloc': k.get('calloc', 0),
                'realloc': k.get('realloc', 0)}
    a, b = entries(heapm), entries(heap)

    def ratio(x, y):
        return 'x%.2f' % (x / y) if y else '-'
    logrows = [
        ['Size', fmt_size(a['size']), fmt_size(b['size']), ratio(a['size'], b['size'])],
        ['Records (allocator calls + RSS events written)', bl.fmt_int(a['records']),
         bl.fmt_int(b['records']), ratio(a['records'], b['records'])],
        ['malloc() entries', bl.fmt_int(a['malloc']), bl.fmt_int(b['malloc']),
         ratio(a['malloc'], b['malloc'])],
        ['free() entries (free(0x0) included)', bl.fmt_int(a['free']), bl.fmt_int(b['free']),
         ratio(a['free'], b['free'])],
        ['free(0x0) entries', bl.fmt_int(a['null']), bl.fmt_int(b['null']),
         ratio(a['null'], b['null'])],
        ['calloc() entries (not traced by the note)', bl.fmt_int(a['calloc']),
         bl.fmt_int(b['calloc']), ratio(a['calloc'], b['calloc'])],
        ['realloc() entries (not traced by the note)', bl.fmt_int(a['realloc']),
         bl.fmt_int(b['realloc']), ratio(a['realloc'], b['realloc'])],
    ]
    per_call = [b['size'] / max(1, heap.log['records']), a['size'] / max(1, heapm.log['records'])]
    return times, logrows, per_call, wl, {c.log['source'] for c in cfgs if c.log}


def overhead(env, reps, sample_scale, calls_scale):
    out = []
    for wl in (bl.sample_workload(env, sample_scale), bl.calls_workload(env, calls_scale)):
        base = Run('untraced')
        plain = Run('plain RSS log (every event)', [])
        heap = Run('--heap', ['--heap'])
        heapd = Run('--heap --drss -1', ['--heap', '--drss', '-1'])
        py = Run('--heap=python', ['--heap=python'])
        pyd = Run('--heap=python --drss -1', ['--heap=python', '--drss', '-1'])
        pyn = Run('--heap=python --no-events', ['--heap=python', '--no-events'])
        tm = Run('tracemalloc.start(1) (-X tracemalloc=1)', python_args=['-X', 'tracemalloc=1'])
        cfgs = [base, plain, heap, heapd, py, pyd, pyn, tm]
        measure(env, wl, cfgs, reps)
        out.append((wl, cfgs))
    return out


def overhead_tables(results):
    sections = []
    for wl, cfgs in results:
        base, plain, heap, heapd, py, pyd, pyn, tm = cfgs
        t0 = base.med('real')
        rows = []
        for c in cfgs:
            t = c.med('real')
            calls = c.log['records'] if c.log else None
            rows.append([c.label, '%.2f' % t, 'x%.2f' % (t / t0), '%+.2f' % (t - t0),
                         '%.2f' % c.med('user'), '%+.2f' % (c.med('user') - base.med('user')),
                         bl.fmt_int(calls) if calls else '-',
                         fmt_size(c.log['bytes']) if c.log else '-'])
        added = {c.label: c.med('real') - t0 for c in cfgs}
        a_plain, a_heap, a_py, a_pyn, a_tm = (added[plain.label], added[heap.label],
                                              added[py.label], added[pyn.label], added[tm.label])

        def of_tm(a):
            return a / a_tm if a_tm > 0 else float('inf')
        u0 = base.med('user')
        u_pyn, u_tm = pyn.med('user') - u0, tm.med('user') - u0
        checks = [
            '--heap=python --no-events (what tracemalloc records: every allocation at its '
            'line, no call, no RSS) added %.2f s, tracemalloc %.2f s: %.2f of it (target: '
            'at most 0.5): %s; in user time %.2f s against %.2f s: %.2f'
            % (a_pyn, a_tm, of_tm(a_pyn), 'met' if a_tm > 0 and a_pyn <= 0.5 * a_tm else 'NOT met',
               u_pyn, u_tm, u_pyn / u_tm if u_tm > 0 else float('inf')),
            '--heap added %.2f s over the plain RSS log, which adds %.2f s (target: at most '
            'that): %s' % (a_heap - a_plain, a_plain,
                           'met' if a_heap - a_plain <= a_plain else 'NOT met'),
            '--heap=python with the RSS event log of every call added %.2f s: %.2f of '
            'tracemalloc' % (a_py, of_tm(a_py)),
            '--heap=python --drss -1 (the call hook still runs at every event) added %.2f s: '
            '%.2f of tracemalloc' % (added[pyd.label], of_tm(added[pyd.label])),
            '--heap=python beyond the plain RSS log it also writes (tracemalloc writes no '
            'RSS log): %.2f s, %.2f of tracemalloc'
            % (a_py - a_plain, (a_py - a_plain) / a_tm if a_tm > 0 else float('inf')),
        ]
        sections.append((wl, rows, checks))
    return sections


def main(argv=None):
    ap = bl.parser(__doc__)
    ap.add_argument('--outdir', default=os.path.join(bl.SRCDIR, 'docs'))
    ap.add_argument('--skip-overhead', action='store_true')
    ap.add_argument('--sample-scale', type=float, default=1.0,
                    help='multiply the rows of every LAS file of the sample workload')
    ap.add_argument('--calls-scale', type=float, default=1.0,
                    help='bench/calls.py --scale (1: about 37 M events)')
    return bl.run_main(ap, run, argv)


def run(env, args):
    times, logrows, per_call, wl, sources = technote(env, args.reps, args.sample_scale)
    results = [] if args.skip_overhead else overhead(env, args.reps, args.sample_scale,
                                                     args.calls_scale)
    sections = overhead_tables(results)
    for _, cfgs in results:
        sources |= {c.log['source'] for c in cfgs if c.log}
    when = datetime.date.today().isoformat()
    intro = ('Measured %s on %s, CPython %s, %d interleaved repetitions (medians; real from '
             'the wall clock, user and sys from wait4). The machine is shared with other work: '
             'read ratios, not absolute times. Heap tracing is `python -m pmt_tracer --heap '
             '--drss -1`: every allocator call of the process with its site, and the RSS events '
             'that moved RSS by a page. "Without pymalloc" is `PYTHONMALLOC=malloc` on a release '
             'build: pyenv builds release interpreters only, where the note used a debug build. '
             'RSS source of the traced runs (read back from their logs): %s.'
             % (when, bl.machine(), bl.python_version(env), args.reps,
                ', '.join(sorted(s or '?' for s in sources))))
    th = ['Task', 'real', 'user', 'sys', 'real ratio']
    lh = ['Task', 'PYTHONMALLOC=malloc', 'pymalloc', 'malloc/pymalloc']
    nth = ['Task (the note: DTrace, macOS, Python 3.9)', 'real', 'user', 'sys', 'real ratio']
    nlh = ['Task (the note)', 'Debug', 'Release', 'Debug/Release']
    per = ('Log bytes per allocator call (the whole compressed log, its RSS events and code '
           'records included, over the calls): %.2f with pymalloc, %.2f with PYTHONMALLOC=malloc.'
           % tuple(per_call))
    md = ['# The DTrace technical note reproduced: heap tracing', '', intro, '',
          '## Timing (sample workload, %s)' % wl.name, '', bl.markdown(th, times),
          'The note\'s own figures:', '', bl.markdown(nth, [list(map(str, r)) for r in NOTE_TIMES]),
          '## Log', '', bl.markdown(lh, logrows), per, '', 'The note\'s own figures:', '',
          bl.markdown(nlh, [list(r) for r in NOTE_LOG])]
    rst = ['The DTrace technical note reproduced: heap tracing',
           '=' * 50, '', intro, '', 'Timing', '------', '', bl.rst_grid(th, times),
           'The note\'s own figures:', '', bl.rst_grid(nth, [list(map(str, r)) for r in NOTE_TIMES]),
           'Log', '---', '', bl.rst_grid(lh, logrows), per, '', 'The note\'s own figures:', '',
           bl.rst_grid(nlh, [list(r) for r in NOTE_LOG])]
    oh = ['Configuration', 'real (s)', 'ratio', 'added (s)', 'user (s)', 'added user (s)',
          'allocator calls', 'log']
    for wl, rows, checks in sections:
        md += ['## Overhead: %s' % wl.name, '', bl.markdown(oh, rows)]
        md += ['* ' + c for c in checks] + ['']
        t = 'Overhead: %s' % wl.name
        rst += [t, '-' * len(t), '', bl.rst_grid(oh, rows)]
        rst += ['* ' + c for c in checks] + ['']
    os.makedirs(args.outdir, exist_ok=True)
    for name, text in (('bench-heap.md', md), ('bench-heap.rst', rst)):
        path = os.path.join(args.outdir, name)
        with open(path, 'w') as f:
            f.write('\n'.join(text).rstrip('\n') + '\n')
        print('bench: wrote %s' % path, file=sys.stderr)
    sys.stdout.write('\n'.join(md) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
