#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Summarise LAS well-log files as HTML: pmt's sample workload.

In the spirit of the LASToHTML program of the pymemtrace technical notes: for
each LAS file, parse its sections, hold every curve's values in memory while
computing statistics (min, max, mean, standard deviation) and a text histogram,
write FILE.html, drop the arrays, and finally write index.html. Memory grows
while a file is held and shrinks when it is dropped, which is what the tracer
and the process monitor are meant to show. Pure Python, stdlib only.

Logging goes through the `logging` module to OUTDIR/LASToHTML.log in the
format of the technical notes. With --log-process SECONDS the pmt process
monitor (pmt_tracer.process.log_process), when importable, writes its JSON
lines into the same log file, labelled with each file's name.

    lastohtml.py INDIR OUTDIR [--log-process SECONDS] [--jobs N]
"""
import argparse
import contextlib
import html
import logging
import math
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

LOG_FORMAT = ('%(asctime)s - %(filename)s#%(lineno)d - %(process)5d - (%(threadName)-10s)'
              ' - %(levelname)-8s - %(message)s')
LOG_NAME = 'LASToHTML.log'
HIST_BINS = 24
HIST_WIDTH = 50
PERCENTILES = (1, 10, 50, 90, 99)
SAMPLE_ROWS = 200

logger = logging.getLogger(__name__)


class LASError(Exception):
    pass


class HeaderLine:
    """One "MNEM.UNIT  DATA : DESCRIPTION" line of a header section."""
    __slots__ = ('mnemonic', 'unit', 'data', 'description')

    def __init__(self, line):
        dot = line.find('.')
        colon = line.rfind(':')
        if dot < 0 or colon < dot:
            raise LASError('not a header line: %r' % line)
        self.mnemonic = line[:dot].strip()
        rest = line[dot + 1:colon]
        space = rest.find(' ')
        if space < 0:
            self.unit, self.data = rest, ''
        else:
            self.unit, self.data = rest[:space], rest[space:].strip()
        self.description = line[colon + 1:].strip()


class LASFile:
    def __init__(self, path):
        self.path = path
        self.sections = {}  # title -> [HeaderLine]
        self.other = []
        self.curves = []    # [HeaderLine] from ~CURVE
        self.columns = []   # one list of floats per curve
        self.null = None

    def well_value(self, mnemonic, default=''):
        for h in self.sections.get('WELL', ()):
            if h.mnemonic == mnemonic:
                return h.data
        return default


def section_name(line):
    word = line[1:].split(None, 1)
    return word[0].upper() if word else ''


def read_las(path):
    """Parses a whole file; the text and the arrays are held at once, as a
    straightforward reader would."""
    las = LASFile(path)
    with open(path, encoding='ascii', errors='replace') as f:
        text = f.read()
    lines = text.splitlines()
    del text
    section = None
    data_start = None
    for i, line in enumerate(lines):
        if not line.strip() or line.lstrip().startswith('#'):
            continue
        if line.startswith('~'):
            name = section_name(line)
            section = name[0] if name else ''
            if section == 'A':
                data_start = i + 1
                break
            continue
        if section == 'O':
            las.other.append(line.strip())
            continue
        key = {'V': 'VERSION', 'W': 'WELL', 'C': 'CURVE', 'P': 'PARAMETER'}.get(section)
        if key is None:
            raise LASError('%s:%d: line outside a section' % (path, i + 1))
        h = HeaderLine(line)
        las.sections.setdefault(key, []).append(h)
        if key == 'CURVE':
            las.curves.append(h)
    if data_start is None:
        raise LASError('%s: no ~ASCII section' % path)
    if not las.curves:
        raise LASError('%s: no ~CURVE section' % path)
    try:
        las.null = float(las.well_value('NULL', '-999.25'))
    except ValueError:
        las.null = -999.25
    ncurves = len(las.curves)
    values = []
    for i in range(data_start, len(lines)):
        fields = lines[i].split()
        if not fields:
            continue
        values.extend(float(v) for v in fields)
    del lines
    if len(values) % ncurves:
        raise LASError('%s: %d values do not fill rows of %d curves'
                       % (path, len(values), ncurves))
    las.columns = [values[c::ncurves] for c in range(ncurves)]
    return las


class CurveStats:
    def __init__(self, values, null):
        good = [v for v in values if v != null]
        self.count = len(values)
        self.nulls = self.count - len(good)
        if good:
            self.min = min(good)
            self.max = max(good)
            self.mean = math.fsum(good) / len(good)
            self.std = math.sqrt(math.fsum((v - self.mean) ** 2 for v in good) / len(good))
        else:
            self.min = self.max = self.mean = self.std = float('nan')
        self.histogram = histogram(good, self.min, self.max)
        # a sorted copy for the percentiles: memory peaks while it is held
        ordered = sorted(good)
        self.percentiles = [percentile(ordered, q) for q in PERCENTILES]
        del ordered
        self.zones = zones(good)


def percentile(ordered, q):
    if not ordered:
        return float('nan')
    pos = (len(ordered) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def smooth(values, window):
    """Running mean, as a log analyst would compute a trend."""
    out = []
    acc = 0.0
    for i, v in enumerate(values):
        acc += v
        if i >= window:
            acc -= values[i - window]
        out.append(acc / min(i + 1, window))
    return out


def zones(values):
    """Count the crossings of the smoothed curve through its own mean: a
    crude count of zones, enough to make the reader work per value."""
    if len(values) < 2:
        return 0
    trend = smooth(values, 25)
    mean = math.fsum(trend) / len(trend)
    above = trend[0] > mean
    n = 0
    for v in trend:
        if (v > mean) != above:
            above = not above
            n += 1
    return n


def histogram(values, lo, hi):
    counts = [0] * HIST_BINS
    if not values or not hi > lo:
        if values:
            counts[0] = len(values)
        return counts
    scale = HIST_BINS / (hi - lo)
    last = HIST_BINS - 1
    for v in values:
        b = int((v - lo) * scale)
        counts[b if b < last else last] += 1
    return counts


def histogram_text(stats):
    peak = max(stats.histogram) or 1
    width = (stats.max - stats.min) / HIST_BINS if stats.count else 0.0
    rows = []
    for b, n in enumerate(stats.histogram):
        lo = stats.min + b * width
        rows.append('%12.4f | %-*s %d' % (lo, HIST_WIDTH, '#' * round(n * HIST_WIDTH / peak), n))
    return '\n'.join(rows)


def table(headings, rows):
    out = ['<table>\n<tr>']
    out.extend('<th>%s</th>' % html.escape(h) for h in headings)
    out.append('</tr>\n')
    for row in rows:
        out.append('<tr>')
        out.extend('<td>%s</td>' % html.escape(str(c)) for c in row)
        out.append('</tr>\n')
    out.append('</table>\n')
    return ''.join(out)


def fmt(v):
    return 'NaN' if v != v else '%.4f' % v


def write_html(las, stats, out_path):
    title = os.path.basename(las.path)
    parts = ['<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>%s</title></head><body>\n'
             % html.escape(title), '<h1>%s</h1>\n' % html.escape(title)]
    for key in ('VERSION', 'WELL', 'PARAMETER'):
        lines = las.sections.get(key, ())
        parts.append('<h2>%s</h2>\n' % key)
        parts.append(table(('Mnemonic', 'Unit', 'Value', 'Description'),
                           ((h.mnemonic, h.unit, h.data, h.description) for h in lines)))
    parts.append('<h2>Curves</h2>\n')
    parts.append(table(('Curve', 'Unit', 'Description', 'Count', 'Nulls', 'Min', 'Max', 'Mean',
                        'Std. dev.', 'Zones') + tuple('P%d' % q for q in PERCENTILES),
                       ((h.mnemonic, h.unit, h.description, s.count, s.nulls, fmt(s.min),
                         fmt(s.max), fmt(s.mean), fmt(s.std), s.zones)
                        + tuple(fmt(p) for p in s.percentiles)
                        for h, s in zip(las.curves, stats))))
    rows = len(las.columns[0]) if las.columns else 0
    every = max(1, rows // SAMPLE_ROWS)
    parts.append('<h2>Sampled data (every %d rows)</h2>\n' % every)
    parts.append(table([h.mnemonic for h in las.curves],
                       ([fmt(col[r]) for col in las.columns] for r in range(0, rows, every))))
    for h, s in zip(las.curves, stats):
        parts.append('<h3>%s histogram</h3>\n<pre>%s</pre>\n'
                     % (html.escape(h.mnemonic), html.escape(histogram_text(s))))
    if las.other:
        parts.append('<h2>Other</h2>\n<pre>%s</pre>\n' % html.escape('\n'.join(las.other)))
    parts.append('</body></html>\n')
    with open(out_path, 'w', encoding='utf-8') as f:
        f.write(''.join(parts))


def process_file(path, outdir, monitor):
    name = os.path.basename(path)
    t0 = time.perf_counter()
    if monitor is not None:
        monitor(name)  # one label per file: the plot marks where each began
    logger.info('Reading %s', path)
    las = read_las(path)
    rows = len(las.columns[0]) if las.columns else 0
    logger.info('Read %s: %d curves, %d rows', name, len(las.curves), rows)
    stats = [CurveStats(col, las.null) for col in las.columns]
    out_path = os.path.join(outdir, name + '.html')
    write_html(las, stats, out_path)
    result = {
        'name': name, 'html': name + '.html', 'bytes': os.path.getsize(path),
        'well': las.well_value('WELL'), 'curves': len(las.curves), 'rows': rows,
        'seconds': time.perf_counter() - t0,
    }
    del las, stats  # drop the arrays: RSS should fall back here
    logger.info('Wrote %s in %.3f s', out_path, result['seconds'])
    return result


def write_index(results, outdir, elapsed):
    body = ['<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>LAS files</title>'
            '</head><body>\n<h1>LAS files</h1>\n<table>\n<tr><th>File</th><th>Well</th>'
            '<th>Bytes</th><th>Curves</th><th>Rows</th><th>Seconds</th></tr>\n']
    for r in results:
        body.append('<tr><td><a href="%s">%s</a></td><td>%s</td><td>%d</td><td>%d</td>'
                    '<td>%d</td><td>%.3f</td></tr>\n'
                    % (html.escape(r['html'], quote=True), html.escape(r['name']),
                       html.escape(r['well']), r['bytes'], r['curves'], r['rows'], r['seconds']))
    body.append('</table>\n<p>%d files, %d bytes in %.3f s</p>\n</body></html>\n'
                % (len(results), sum(r['bytes'] for r in results), elapsed))
    with open(os.path.join(outdir, 'index.html'), 'w', encoding='utf-8') as f:
        f.write(''.join(body))


def process_monitor(seconds, log_path):
    """The pmt process monitor when it is importable, else nothing: the
    workload must run the same with or without pmt installed."""
    if seconds is None:
        return contextlib.nullcontext(), None
    try:
        from pmt_tracer import process as pmt_process
    except ImportError as err:
        logger.warning('--log-process: pmt_tracer.process is not importable (%s)', err)
        return contextlib.nullcontext(), None
    label = getattr(pmt_process, 'add_message_to_queue', None)
    return pmt_process.log_process(interval=seconds, path=log_path), label


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('indir', help='directory of .las files')
    ap.add_argument('outdir', help='directory for the HTML and LASToHTML.log')
    ap.add_argument('--log-process', type=float, metavar='SECONDS',
                    help='also log process JSON records into the log every SECONDS')
    ap.add_argument('--jobs', type=int, default=1, help='files processed in parallel threads')
    args = ap.parse_args(argv)
    if args.log_process is not None and args.log_process <= 0:
        ap.error('--log-process must be positive')
    if args.jobs < 1:
        ap.error('--jobs must be positive')
    os.makedirs(args.outdir, exist_ok=True)
    log_path = os.path.join(args.outdir, LOG_NAME)
    # A fresh log per run, then append mode for every writer: the process
    # monitor writes into the same file through its own descriptor.
    open(log_path, 'w').close()
    logging.basicConfig(filename=log_path, filemode='a', format=LOG_FORMAT, level=logging.INFO)
    paths = sorted(os.path.join(args.indir, n) for n in os.listdir(args.indir)
                   if n.lower().endswith('.las'))
    if not paths:
        print('%s: no .las files' % args.indir, file=sys.stderr)
        return 2
    threading.current_thread().name = 'MainThread'
    t0 = time.perf_counter()
    monitor_cm, label = process_monitor(args.log_process, log_path)
    failed = 0
    results = []
    with monitor_cm:
        logger.info('Processing %d files from %s', len(paths), args.indir)
        if args.jobs == 1:
            jobs = [lambda p=p: process_file(p, args.outdir, label) for p in paths]
            outcomes = []
            for job in jobs:
                try:
                    outcomes.append(job())
                except (OSError, LASError, ValueError) as err:
                    outcomes.append(err)
        else:
            with ThreadPoolExecutor(args.jobs, thread_name_prefix='LAS') as ex:
                futures = [ex.submit(process_file, p, args.outdir, label) for p in paths]
                outcomes = []
                for fu in futures:
                    try:
                        outcomes.append(fu.result())
                    except (OSError, LASError, ValueError) as err:
                        outcomes.append(err)
        for path, outcome in zip(paths, outcomes):
            if isinstance(outcome, Exception):
                failed += 1
                logger.error('%s: %s', path, outcome)
                print('lastohtml: %s: %s' % (path, outcome), file=sys.stderr)
            else:
                results.append(outcome)
        elapsed = time.perf_counter() - t0
        write_index(results, args.outdir, elapsed)
        logger.info('Done: %d files, %d failed, %.3f s', len(results), failed, elapsed)
    print('%s: %d files in %.2f s, log %s' % (args.outdir, len(results), elapsed, log_path))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
