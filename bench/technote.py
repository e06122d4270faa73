#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Reproduces the Summary and "Cost of Tracing" tables of the cPyMemTrace
technical note: the sample workload untraced and under each configuration
of the note (Trace? Calculate? Log?), for every RSS source that works here,
with Time, Ratio, Events logged, Events/s, ns/event added, bytes/event and
log size; then the per-part cost (hook, RSS, fields, logging) in ns/event.
Writes docs/bench-technote.rst and docs/bench-technote.md (or --outdir).

    bench/technote.py [--builddir DIR] [--reps N] [--workload sample|calls]
                      [--sources statm,perf] [--outdir DIR]
"""
import datetime
import os
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


def main(argv=None):
    ap = bl.parser(__doc__)
    ap.add_argument('--workload', choices=('sample', 'calls'), default='sample')
    ap.add_argument('--outdir', default=os.path.join(bl.SRCDIR, 'docs'))
    return bl.run_main(ap, run, argv)


def run(env, args):
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
    md = ('# Tracer overhead: the technical note table\n\n%s\n\n%s\n## Cost of tracing\n\n%s'
          % (intro, bl.markdown(headings, rows), bl.markdown(parts_head, parts)))
    title = 'Tracer overhead: the technical note table'
    rst = ('%s\n%s\n\n%s\n\n%s\nCost of tracing\n---------------\n\n%s'
           % (title, '=' * len(title), intro.replace('`', '``'), bl.rst_grid(headings, rows),
              bl.rst_grid(parts_head, parts)))
    for name, text in (('bench-technote.md', md), ('bench-technote.rst', rst)):
        with open(os.path.join(args.outdir, name), 'w') as f:
            f.write(text)
    print(md)
    print('bench: wrote %s/bench-technote.{md,rst}' % args.outdir, file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
