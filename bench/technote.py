#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Reproduces the Summary and "Cost of Tracing" tables of the cPyMemTrace
technical note: the sample workload untraced and under each configuration
of the note (Trace? Calculate? Log?), for every RSS source that works here,
with Time, Ratio, Events logged, Events/s, ns/event added, bytes/event and
log size; then the per-part cost (hook, RSS, fields, logging) in ns/event.
Then the second note's table (pymemtrace's cPyMemTrace_perf), under CPython
3.13+: Profile and Trace, each logging page jumps and every event, and
Reference Tracing with no builtins, with builtins, one class, one class with
GC: Time, Ratio, Log size, Records, beside pymemtrace's published ratios.
Writes docs/bench-technote.rst and docs/bench-technote.md (or --outdir).

    bench/technote.py [--builddir DIR] [--reps N] [--workload sample|calls]
                      [--sources statm,perf] [--outdir DIR]
                      [--objects-python PY] [--objects-builddir DIR]
                      [--tables both|first|second]

The second table runs under --objects-python ($PMT_BENCH_OBJECTS_PYTHON),
by default --python when it is 3.13+, else the newest CPython 3.13+ found
(python3.13/3.14 on PATH, pyenv's versions), with pmt built for it in
--objects-builddir ($PMT_BENCH_OBJECTS_BUILDDIR), by default the build
directory when that Python is its own, else BUILDDIR/bench-pyX.Y, which is
configured and built here when it has no Makefile. With no 3.13+, the
table says why it is missing. --objects-python none leaves it out.
--tables second measures the second table alone and replaces its section
of the existing files (each section states its own conditions).
"""
import datetime
import glob
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

# (Calculate?, Log?, tracer options, needs an RSS source)
NOTE_ROWS = [
    ('No', 'No', ['--calculate', 'none', '--log', 'none'], False),
    ('RSS', 'No', ['--calculate', 'rss', '--log', 'none'], True),
    ('All', 'No', ['--calculate', 'all', '--log', 'none'], True),
    ('All', 'dRSS >= 4096', ['--calculate', 'all', '--log', 'drss'], True),
    ('All', 'dRSS >= 4096 and previous event', ['--calculate', 'all', '--log', 'drss-prev'],
     True),
    ('All', 'All', ['--calculate', 'all', '--log', 'all'], True),
]


# The second note (CPython 3.13): (tracer, configuration, pmt_tracer options
# or ReferenceTracing keywords, pymemtrace's published ratio). The one class
# is the workload's LASFile, one per file read.
NOTE2_CLASS = 'LASFile'
NOTE2_ROWS = [
    ('Profile', 'dRSS >= one page', ['--mode', 'profile', '--drss', '-1'], None, 'x8.9'),
    ('Profile', 'every event', ['--mode', 'profile', '--drss', '0'], None, 'x42'),
    ('Trace', 'dRSS >= one page', ['--mode', 'trace', '--drss', '-1'], None, 'x17'),
    ('Trace', 'every event', ['--mode', 'trace', '--drss', '0'], None, 'x62'),
    ('Reference Tracing', 'no builtins', None, {}, 'x36'),
    ('Reference Tracing', 'with builtins', None, {'include_builtins': True}, 'x78'),
    ('Reference Tracing', 'one class (%s), gc_collect_on_exit=-1' % NOTE2_CLASS, None,
     {'include_tp_names': [NOTE2_CLASS], 'gc_collect_on_exit': -1}, 'x2.0'),
    ('Reference Tracing', 'one class (%s), with GC (gc_collect_on_exit=2)' % NOTE2_CLASS, None,
     {'include_tp_names': [NOTE2_CLASS], 'gc_collect_on_exit': 2}, 'x2.4'),
]


def main(argv=None):
    ap = bl.parser(__doc__)
    ap.add_argument('--workload', choices=('sample', 'calls'), default='sample')
    ap.add_argument('--outdir', default=os.path.join(bl.SRCDIR, 'docs'))
    ap.add_argument('--objects-python', default=os.environ.get('PMT_BENCH_OBJECTS_PYTHON'),
                    help='CPython 3.13+ for the second table ("none": leave it out)')
    ap.add_argument('--objects-builddir', default=os.environ.get('PMT_BENCH_OBJECTS_BUILDDIR'),
                    help='pmt built for --objects-python')
    ap.add_argument('--tables', choices=('both', 'first', 'second'), default='both')
    return bl.run_main(ap, run, argv)


def replace_second(outdir, md2, rst2):
    """--tables second: the second section of the existing files replaced."""
    for name, text, mark in (('bench-technote.md', md2, '## The second technical note'),
                             ('bench-technote.rst', rst2, 'The second technical note')):
        path = os.path.join(outdir, name)
        with open(path) as f:
            old = f.read()
        i = old.find('\n' + mark)
        with open(path, 'w') as f:
            f.write((old[:i + 1] if i >= 0 else old + '\n') + text)
    print(md2)
    print('bench: replaced the second table of %s/bench-technote.{md,rst}' % outdir,
          file=sys.stderr)
    return 0


def py_version(python):
    try:
        p = subprocess.run([python, '-c', 'import sys; print(*sys.version_info[:2])'],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True)
        return tuple(int(x) for x in p.stdout.split())
    except (OSError, subprocess.CalledProcessError, ValueError):
        return None


def find_py313():
    """The newest CPython 3.13+ on PATH or among pyenv's versions, or None."""
    found = []
    for minor in range(13, 20):
        w = shutil.which('python3.%d' % minor)
        if w:
            found.append(w)
    roots = [os.environ.get('PYENV_ROOT'), os.path.expanduser('~/.pyenv')]
    try:
        roots.append(subprocess.run(['pyenv', 'root'], stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL).stdout.decode().strip())
    except OSError:
        pass
    for r in filter(None, roots):
        found += glob.glob(os.path.join(r, 'versions', '3.1[3-9]*', 'bin', 'python3'))
    best = None
    for py in found:
        v = py_version(py)
        if v and v >= (3, 13) and (best is None or v > best[0]):
            best = (v, py)
    return best[1] if best else None


def objects_env(env, args):
    """(Env, None) to run the second table in, or (None, why it is left out)."""
    py, build = args.objects_python, args.objects_builddir
    if py == 'none':
        return None, '--objects-python none'
    own = py_version(env.python)
    if not py:
        py = env.python if own and own >= (3, 13) else find_py313()
        if not py:
            return None, ('no CPython 3.13+ found (--python is %s; give --objects-python)'
                          % '.'.join(map(str, own or ('?',))))
    v = py_version(py)
    if not v or v < (3, 13):
        return None, '%s is not CPython 3.13+ (Reference Tracing needs PyRefTracer)' % py
    if not build:
        if os.path.realpath(py) == os.path.realpath(env.python):
            build = env.build
        else:
            build = os.path.join(env.build, 'bench-py%d.%d' % v)
    if not os.path.isdir(os.path.join(build, 'pylib', 'pmt_tracer')) or build != env.build:
        if not os.path.exists(os.path.join(build, 'Makefile')):
            os.makedirs(build, exist_ok=True)
            print('bench: configuring pmt for %s in %s' % (py, build), file=sys.stderr)
            subprocess.run([os.path.join(bl.SRCDIR, 'configure'), '-q', 'PYTHON=' + py],
                           cwd=build, check=True, stdout=subprocess.DEVNULL)
        if build != env.build:
            subprocess.run(['make', '-s', '-j%d' % (os.cpu_count() or 1)], cwd=build,
                           check=True, stdout=subprocess.DEVNULL)
    return bl.Env(bl.builddir(build), py), None


def second_note(env, args):
    """The second note's table: (markdown, rst)."""
    title = 'The second technical note: Profile, Trace and Reference Tracing'
    oenv, why = objects_env(env, args)
    if not oenv:
        text = 'Not measured: %s.' % why
        print('bench: second table left out: %s' % why, file=sys.stderr)
        return ('## %s\n\n%s\n' % (title, text),
                '%s\n%s\n\n%s\n' % (title, '-' * len(title), text.replace('`', '``')))
    try:
        wl = bl.sample_workload(oenv)
        base = bl.Config('untraced')
        configs = [base]
        for tracer, what, opts, objects, _ in NOTE2_ROWS:
            configs.append(bl.Config('%s, %s' % (tracer, what), opts, objects=objects))
        bl.measure(oenv, wl, configs, args.reps)
        t0 = bl.median(base)
        headings = ['Tracer', 'Configuration', 'Time (s)', 'Ratio', 'Log size', 'Records',
                    'bytes/record', "pymemtrace's ratio"]
        rows = [['none', 'untraced', '%.2f' % t0, 'x1.0', '-', '-', '-', 'x1.0']]
        for (tracer, what, opts, objects, theirs), c in zip(NOTE2_ROWS, configs[1:]):
            t = bl.median(c)
            recs = c.summary['objects'] if objects is not None else c.summary['written']
            rows.append([tracer, what, '%.2f' % t, 'x%.2f' % (t / t0),
                         bl.fmt_int(c.summary['bytes']), bl.fmt_int(recs),
                         '%.2f' % (c.summary['bytes'] / recs) if recs else '-', theirs])
        events = max(c.summary['events'] for c in configs[1:] if c.objects is None)
        intro = ('%s under CPython %s, untraced and under each row of pymemtrace\'s '
                 '`cPyMemTrace_perf` note; median of %d interleaved run(s), up to %s events per '
                 'Profile/Trace run (RSS source as `--rss-source auto` picks it). Reference '
                 'Tracing rows run the program inside `pmt_tracer.ReferenceTracing(...)` '
                 '(objects alone, no event hook), `gc_collect_on_exit=2` (the default) unless '
                 'the row says otherwise. Records: events written, or object records (NEW and '
                 'DEL). pymemtrace\'s ratios are its published ones (macOS, its own workload, '
                 'not run here).' % (wl.name, bl.python_version(oenv), args.reps,
                                     bl.fmt_int(events)))
        return ('## %s\n\n%s\n\n%s' % (title, intro, bl.markdown(headings, rows)),
                '%s\n%s\n\n%s\n\n%s' % (title, '-' * len(title), intro.replace('`', '``'),
                                         bl.rst_grid(headings, rows)))
    finally:
        oenv.cleanup()


def run(env, args):
    if args.tables == 'second':
        return replace_second(args.outdir, *second_note(env, args))
    sources = bl.available_sources(env, args.sources)
    wl = bl.sample_workload(env) if args.workload == 'sample' else bl.calls_workload(env)

    base = bl.Config('untraced', trace='No', calculate='No', log='No')
    configs = [base]
    by_key = {}
    for calc, log, opts, needs_source in NOTE_ROWS:
        for s in (sources if needs_source else [None]):
            c = bl.Config('%s/%s/%s' % (calc, log, s or '-'), opts, s, 'Yes', calc, log)
            configs.append(c)
            by_key[(calc, log, s)] = c
    bl.measure(env, wl, configs, args.reps)

    events = max(c.summary['events'] for c in configs[1:])
    t0 = bl.median(base)
    headings = ['Trace?', 'Calculate?', 'Log?', 'RSS source', 'Time (s)', 'Ratio',
                'Events logged', 'Events/s', 'ns/event added', 'bytes/event', 'Log size']
    rows = [['No', 'No', 'No', '-', '%.2f' % t0, 'x1.0', '0', bl.fmt_rate(events / t0), '-',
             '-', '-']]
    for c in configs[1:]:
        t = bl.median(c)
        ev = c.summary['events']
        rows.append(['Yes', c.calculate, c.log, c.source or '-', '%.2f' % t,
                     'x%.2f' % (t / t0), bl.fmt_int(c.summary['written']),
                     bl.fmt_rate(ev / t), '%.0f' % ((t - t0) / ev * 1e9),
                     '%.2f' % (c.summary['bytes'] / ev), bl.fmt_int(c.summary['bytes'])])

    def per_event(a, b):
        return '%.0f' % ((bl.median(a) - bl.median(b)) / events * 1e9)

    hook = by_key[('No', 'No', None)]
    parts_head = ['Part of tracing'] + ['ns/event (%s)' % s for s in sources] + ['Notes']
    parts = [['Typical Python code (untraced time / events)']
             + ['%.0f' % (t0 / events * 1e9)] * len(sources) + ['the program itself'],
             ['Attach and call the C hook, count only'] + [per_event(hook, base)] * len(sources)
             + ['--calculate none'],
             ['Calculate RSS'] + [per_event(by_key[('RSS', 'No', s)], hook) for s in sources]
             + ['--calculate rss minus none'],
             ['Calculate every field'] + [per_event(by_key[('All', 'No', s)],
                                                    by_key[('RSS', 'No', s)]) for s in sources]
             + ['time, code id, thread'],
             ['Log when dRSS >= 4096'] + [per_event(by_key[('All', 'dRSS >= 4096', s)],
                                                    by_key[('All', 'No', s)]) for s in sources]
             + ['filter, few records'],
             ['Log every event'] + [per_event(by_key[('All', 'All', s)],
                                              by_key[('All', 'No', s)]) for s in sources]
             + ['record + zstd level 1']]

    when = datetime.date.today().isoformat()
    intro = ('%s, untraced and under every configuration of the cPyMemTrace technical note; '
             'median of %d interleaved runs, %s events per traced run. Measured %s on %s, '
             'Python %s. Produced by `bench/technote.py`.'
             % (wl.name, args.reps, bl.fmt_int(events), when, bl.machine(),
                bl.python_version(env)))
    os.makedirs(args.outdir, exist_ok=True)
    md2, rst2 = second_note(env, args) if args.tables == 'both' else ('', '')
    md = ('# Tracer overhead: the technical note table\n\n%s\n\n%s\n## Cost of tracing\n\n%s'
          '\n%s' % (intro, bl.markdown(headings, rows), bl.markdown(parts_head, parts), md2))
    title = 'Tracer overhead: the technical note table'
    rst = ('%s\n%s\n\n%s\n\n%s\nCost of tracing\n---------------\n\n%s\n%s'
           % (title, '=' * len(title), intro.replace('`', '``'), bl.rst_grid(headings, rows),
              bl.rst_grid(parts_head, parts), rst2))
    for name, text in (('bench-technote.md', md), ('bench-technote.rst', rst)):
        with open(os.path.join(args.outdir, name), 'w') as f:
            f.write(text)
    print(md)
    print('bench: wrote %s/bench-technote.{md,rst}' % args.outdir, file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
