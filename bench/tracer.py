#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Tracer overhead: the sample workload and a call-dense micro workload,
untraced, with `--log all` and with `--drss -1 --prev`, for every RSS source
that works here. Prints, per configuration, the median time, the ratio to the
untraced run of the same invocation, ns/event added and bytes/event (events
and bytes from the log's trailer, through pmt-summarise).

    bench/tracer.py [--builddir DIR] [--reps N] [--workload sample|calls|both]
                    [--sources statm,perf] [--markdown FILE]

Run from the build directory (or give --builddir): it uses pylib/ and
analyze/pmt-summarise there."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402


def main(argv=None):
    ap = bl.parser(__doc__)
    ap.add_argument('--workload', choices=('sample', 'calls', 'both'), default='both')
    ap.add_argument('--calls-scale', type=float, default=1.0)
    ap.add_argument('--markdown', help='also write the table to FILE')
    return bl.run_main(ap, run, argv)


def run(env, args):
    sources = bl.available_sources(env, args.sources)
    workloads = []
    if args.workload in ('sample', 'both'):
        workloads.append(bl.sample_workload(env))
    if args.workload in ('calls', 'both'):
        workloads.append(bl.calls_workload(env, args.calls_scale))

    headings = ['Workload', 'Configuration', 'RSS source', 'Time (s)', 'Ratio', 'Events',
                'Written', 'ns/event added', 'bytes/event', 'Log bytes']
    rows = []
    for wl in workloads:
        base = bl.Config('untraced')
        configs = [base]
        for s in sources:
            configs.append(bl.Config('--log all', ['--log', 'all'], s))
            configs.append(bl.Config('--drss -1 --prev', ['--drss', '-1', '--prev'], s))
        bl.measure(env, wl, configs, args.reps)
        t0 = bl.median(base)
        rows.append([wl.name, 'untraced', '', '%.3f' % t0, 'x1.00', '', '', '', '', ''])
        for c in configs[1:]:
            t = bl.median(c)
            ev = c.summary['events']
            rows.append([wl.name, c.label, c.summary['source'], '%.3f' % t, 'x%.2f' % (t / t0),
                         bl.fmt_int(ev), bl.fmt_int(c.summary['written']),
                         '%.0f' % ((t - t0) / ev * 1e9) if ev else '',
                         '%.2f' % (c.summary['bytes'] / ev) if ev else '',
                         bl.fmt_int(c.summary['bytes'])])
    text = ('Tracer overhead, median of %d interleaved runs; %s; Python %s.\n\n'
            % (args.reps, bl.machine(), bl.python_version(env)) + bl.markdown(headings, rows))
    print(text)
    if args.markdown:
        with open(args.markdown, 'w') as f:
            f.write(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
