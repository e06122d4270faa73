#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Tracer overhead: the sample workload and a call-dense micro workload,
untraced, with the hook alone (`--calculate none --log none`), with RSS read
but nothing written (`--calculate rss --log none`), with `--log all` and with
`--drss -1 --prev`, for every RSS source that works here. Prints, per
configuration, the median time, the ratio to the untraced run of the same
invocation, ns/event added and bytes/event (events and bytes from the log's
trailer, through pmt-summarise); then, per workload and source, what the hook
alone, RSS and the full log add per event and the ratio of the full log's
cost to the hook's (what writing the log costs on top of being called).

Where pymemtrace's cPyMemTrace is importable from $PMT_BENCH_PEER_PATH (a
directory; pymemtrace is not built or shipped here), the call-dense workload
also runs at --peer-scale (cPyMemTrace writes about 200 bytes of text per
event) untraced, with the hook alone, RSS, the full log and under
cPyMemTrace.Profile at d_rss_trigger 0 (every event) and -1 (one page), all
in the same interleaved run.

    bench/tracer.py [--builddir DIR] [--reps N] [--workload sample|calls|both]
                    [--sources statm,perf] [--peer-scale F] [--markdown FILE]

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
    ap.add_argument('--peer-scale', type=float, default=0.05,
                    help='call-dense workload scale beside cPyMemTrace (default 0.05)')
    ap.add_argument('--markdown', help='also write the table to FILE')
    return bl.run_main(ap, run, argv)


def run(env, args):
    sources = bl.available_sources(env, args.sources)
    workloads = []
    if args.workload in ('sample', 'both'):
        workloads.append(bl.sample_workload(env))
    if args.workload in ('calls', 'both'):
        workloads.append(bl.calls_workload(env, args.calls_scale))
    peer_ok, why = bl.peer_works(env)
    if peer_ok and args.workload in ('calls', 'both'):
        wl = bl.calls_workload(env, args.peer_scale)
        wl.name = 'calls x%g, beside cPyMemTrace' % args.peer_scale
        wl.peer = True
        workloads.append(wl)
    elif bl.peer_path():
        print('bench: cPyMemTrace not importable from %s: %s' % (bl.peer_path(), why),
              file=sys.stderr)

    headings = ['Workload', 'Configuration', 'RSS source', 'Time (s)', 'Ratio', 'Events',
                'Written', 'ns/event added', 'bytes/event', 'Log bytes']
    rows = []
    split_head = ['Workload', 'RSS source', 'measured', 'hook alone (ns/event)',
                  'RSS read (ns/event)', 'full log (ns/event)', 'full log / hook']
    split = []
    peer_head = ['Workload', 'Configuration', 'RSS source', 'wall (ns/event)',
                 'CPU (ns/event)', 'wall / hook alone', 'bytes/event']
    peer_rows = []
    for wl in workloads:
        base = bl.Config('untraced')
        hook = bl.Config('hook alone', ['--calculate', 'none', '--log', 'none'])
        configs = [base, hook]
        by_source = {}
        for s in sources:
            rss = bl.Config('RSS, no log', ['--calculate', 'rss', '--log', 'none'], s)
            full = bl.Config('--log all', ['--log', 'all'], s)
            configs += [rss, full, bl.Config('--drss -1 --prev', ['--drss', '-1', '--prev'], s)]
            by_source[s] = (rss, full)
        peers = []
        if getattr(wl, 'peer', False):
            peers = [bl.Config('cPyMemTrace Profile(0)', peer_trigger=0),
                     bl.Config('cPyMemTrace Profile(-1)', peer_trigger=-1)]
            configs += peers
        bl.measure(env, wl, configs, args.reps)
        t0 = bl.median(base)

        def added(c, what):
            return (bl.median(c, what) - bl.median(base, what)) / c.summary['events'] * 1e9
        measures = [('times', 'wall time'), ('cpu', 'CPU, all threads')]
        if wl.thread_cpu:
            measures.append(('thread_cpu', 'CPU, main thread'))
        for s, (rss, full) in by_source.items():
            for what, label in measures:
                h, f = added(hook, what), added(full, what)
                split.append([wl.name, s, label, '%.0f' % h, '%.0f' % added(rss, what),
                              '%.0f' % f, 'x%.2f' % (f / h) if h > 0 else ''])
        if peers:
            events = hook.summary['events']
            for c in configs[1:]:
                if c.label.startswith('--drss'):
                    continue
                # the same program: per event of the hook's count, so that
                # every row divides by the same number
                w = (bl.median(c) - bl.median(base)) / events * 1e9
                cpu = (bl.median(c, 'cpu') - bl.median(base, 'cpu')) / events * 1e9
                h = (bl.median(hook) - bl.median(base)) / events * 1e9
                peer_rows.append([wl.name, c.label, c.summary['source'] or '', '%.0f' % w,
                                  '%.0f' % cpu, 'x%.2f' % (w / h) if h > 0 else '',
                                  '%.2f' % (c.summary['bytes'] / events)])
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
            % (args.reps, bl.machine(), bl.python_version(env)) + bl.markdown(headings, rows)
            + '\nAdded per event: the hook alone, with RSS read, and the full log; the last '
            'column is the full log\'s added cost over the hook\'s. Wall time is what the '
            'program feels; CPU time of all threads includes the writer thread\'s '
            'compression; the main thread\'s is the hook\'s own path.\n\n'
            + bl.markdown(split_head, split))
    if peer_rows:
        text += ('\nBeside pymemtrace\'s cPyMemTrace.Profile (d_rss_trigger 0: every event '
                 'written; -1: events where RSS moved by a page), the same program in the same '
                 'interleaved run; added cost per event of the program (the hook\'s count).\n\n'
                 + bl.markdown(peer_head, peer_rows))
    print(text)
    if args.markdown:
        with open(args.markdown, 'w') as f:
            f.write(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
