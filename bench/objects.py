#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Object tracing beside pymemtrace's cPyMemTrace.ReferenceTracing, in one
interleaved run (CPython 3.13+).

Two workloads: `instances` (200,000 instances of one __slots__ class, a
quarter kept for a while: the user-class case, where every traced event is
an object) and `sample` (lastohtml.py over generated LAS files, the
technical note's workload, at --las-scale). Configurations: untraced;
pmt_tracer.ReferenceTracing() without and with builtins; and, where
cPyMemTrace imports from $PMT_BENCH_PEER_PATH, its ReferenceTracing()
without and with builtins (with builtins only on `instances` unless
--peer-builtins-sample: on the sample workload it writes gigabytes). Both
are used the same way, as a context around runpy.run_path of the program.

Reports wall and CPU time (user + system, every thread), their ratio to
untraced, the added time, log size, object events and bytes per object
event, and the target: pmt's added time at most a tenth of cPyMemTrace's.
Writes docs/bench-objects.md (or --outdir).

    bench/objects.py [--builddir DIR] [--python PY313] [--reps N]
                     [--las-scale X] [--outdir DIR] [--peer-builtins-sample]
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

INSTANCES = r"""
class Point:
    __slots__ = ('x', 'y')
    def __init__(self, x, y):
        self.x = x
        self.y = y
kept = []
for i in range(200000):
    p = Point(i, i)
    if i % 4 == 0:
        kept.append(p)
kept.clear()
"""

# python -c RUNNER pmt|peer BUILTINS LOG PROGRAM [ARGS...]
RUNNER = r"""
import runpy, sys
who, builtins, log = sys.argv[1], sys.argv[2] == '1', sys.argv[3]
if who == 'pmt':
    import pmt_tracer as m
else:
    try:
        from pymemtrace import cPyMemTrace as m
    except ImportError:
        import cPyMemTrace as m
sys.argv = sys.argv[4:]
with m.ReferenceTracing(filepath=log, include_builtins=builtins):
    runpy.run_path(sys.argv[0], run_name='__main__')
"""


class Cfg:
    def __init__(self, label, who=None, builtins=False):
        self.label, self.who, self.builtins = label, who, builtins
        self.wall, self.cpu = [], []
        self.log_bytes = self.records = None


def python313(given):
    p = subprocess.run([given, '-c', 'import sys; print(sys.version_info >= (3, 13))'],
                       stdout=subprocess.PIPE, universal_newlines=True)
    return p.returncode == 0 and p.stdout.strip() == 'True'


def records(env, log):
    """Object events in a log of either kind, as pmt-summarise reads it."""
    p = subprocess.run([env.summarise, '--format', 'json', log], env=env.env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        sys.exit('bench: pmt-summarise %s: %s' % (log, p.stderr.decode(errors='replace')))
    d = json.loads(p.stdout)
    return sum(r['created'] + r['destroyed'] for r in d.get('objects', []))


def run_once(env, prog, cfg, i):
    log = os.path.join(env.tmp, 'obj%d.log%s' % (i, '.zst' if cfg.who == 'pmt' else ''))
    run_env = env.env
    if cfg.who is None:
        argv = [env.python] + prog
    else:
        argv = [env.python, '-c', RUNNER, cfg.who, '1' if cfg.builtins else '0', log] + prog
        if cfg.who == 'peer':
            run_env = dict(env.env)
            run_env['PYTHONPATH'] = bl.peer_path() + os.pathsep + run_env['PYTHONPATH']
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, env=run_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    cfg.wall.append(time.perf_counter() - t0)
    cfg.cpu.append(ru.ru_utime + ru.ru_stime)
    if status != 0:
        sys.exit('bench: %s failed (status %d): %s' % (cfg.label, status,
                                                      err.decode(errors='replace')))
    if cfg.who is not None:
        if cfg.records is None:
            cfg.log_bytes = os.path.getsize(log)
            cfg.records = records(env, log)
        os.unlink(log)


def table(cfgs):
    base = cfgs[0]
    bw, bc = statistics.median(base.wall), statistics.median(base.cpu)
    rows = []
    for c in cfgs:
        w, u = statistics.median(c.wall), statistics.median(c.cpu)
        per = '%.2f' % (c.log_bytes / c.records) if c.records else '-'
        rows.append([c.label, '%.2f' % w, 'x%.2f' % (w / bw), '+%.2f' % (w - bw), '%.2f' % u,
                     'x%.2f' % (u / bc), '+%.2f' % (u - bc),
                     '-' if c.log_bytes is None else bl.fmt_int(c.log_bytes),
                     '-' if c.records is None else bl.fmt_int(c.records), per])
    heads = ['Configuration', 'wall (s)', 'ratio', 'added', 'CPU (s)', 'CPU ratio', 'CPU added',
             'log bytes', 'object events', 'bytes/event']
    return heads, rows


def verdicts(cfgs):
    base = cfgs[0]
    bw, bc = statistics.median(base.wall), statistics.median(base.cpu)
    by = {(c.who, c.builtins): c for c in cfgs}
    out = []
    for builtins in (False, True):
        ours, peer = by.get(('pmt', builtins)), by.get(('peer', builtins))
        if not ours or not peer:
            continue
        aw = statistics.median(ours.wall) - bw
        pw = statistics.median(peer.wall) - bw
        ac = statistics.median(ours.cpu) - bc
        pc = statistics.median(peer.cpu) - bc
        rw, rc = aw / pw if pw > 0 else float('inf'), ac / pc if pc > 0 else float('inf')
        out.append('* %s builtins: pmt added %.2f s wall, cPyMemTrace %.2f s: %.3f of it '
                   '(CPU %.3f; target: at most 0.1): %s'
                   % ('with' if builtins else 'no', aw, pw, rw, rc,
                      'met' if rw <= 0.1 else 'NOT met'))
    return out


def run(env, args):
    if not python313(env.python):
        sys.exit('bench: %s is not CPython 3.13+: object tracing needs '
                 'PyRefTracer_SetTracer (give --python)' % env.python)
    peer, why = bl.peer_works(env)
    if not peer:
        print('bench: cPyMemTrace not measured: %s' % why, file=sys.stderr)
    prog_inst = os.path.join(env.tmp, 'instances.py')
    with open(prog_inst, 'w') as f:
        f.write(INSTANCES)
    las, html = os.path.join(env.tmp, 'las'), os.path.join(env.tmp, 'html')
    subprocess.run([env.python, os.path.join(bl.SRCDIR, 'sample-data', 'gen_las.py'),
                    '--scale', str(args.las_scale), las], check=True, stdout=subprocess.DEVNULL)
    workloads = [('instances (200,000 objects of one class)', [prog_inst], True),
                 ('sample (lastohtml.py, gen_las.py --scale %g)' % args.las_scale,
                  [os.path.join(bl.SRCDIR, 'sample-data', 'lastohtml.py'), las, html],
                  args.peer_builtins_sample)]
    out = ['# Object tracing beside cPyMemTrace.ReferenceTracing (`bench/objects.py`)', '',
           'Generated by bench/objects.py on %s: %s, CPython %s, %d interleaved repetitions '
           '(medians), load average before the run %.2f.'
           % (datetime.date.today().isoformat(), bl.machine(), bl.python_version(env),
              args.reps, os.getloadavg()[0]), '',
           'Each configuration runs the program inside `ReferenceTracing(filepath=LOG, '
           'include_builtins=...)` of its module, around `runpy.run_path`. CPU is user + system '
           'time of every thread; object events are NEW + DEL records as pmt-summarise reads '
           'them from either log.', '']
    for name, prog, peer_builtins in workloads:
        cfgs = [Cfg('untraced'), Cfg('pmt ReferenceTracing()', 'pmt'),
                Cfg('pmt ReferenceTracing(include_builtins=True)', 'pmt', True)]
        if peer:
            cfgs.append(Cfg('cPyMemTrace.ReferenceTracing()', 'peer'))
            if peer_builtins:
                cfgs.append(Cfg('cPyMemTrace.ReferenceTracing(include_builtins=True)', 'peer',
                                True))
        for r in range(args.reps):
            order = cfgs if r % 2 == 0 else list(reversed(cfgs))
            for i, c in enumerate(order):
                run_once(env, prog, c, i)
        heads, rows = table(cfgs)
        out += ['## %s' % name, '', bl.markdown(heads, rows).rstrip('\n'), '']
        out += verdicts(cfgs) + ['']
    text = '\n'.join(out)
    print(text)
    os.makedirs(args.outdir, exist_ok=True)
    with open(os.path.join(args.outdir, 'bench-objects.md'), 'w') as f:
        f.write(text)
    return 0


def main():
    ap = bl.parser(__doc__)
    ap.add_argument('--las-scale', type=float, default=0.1)
    ap.add_argument('--outdir', default=os.path.join(bl.SRCDIR, 'docs'))
    ap.add_argument('--peer-builtins-sample', action='store_true')
    return bl.run_main(ap, run)


if __name__ == '__main__':
    sys.exit(main())
