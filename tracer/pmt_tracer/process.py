# SPDX-License-Identifier: MIT
"""Periodic process records (RSS, page faults, CPU times) as JSON log lines.

pmt's replacement for pymemtrace's ``process`` module: the same
``ProcessLoggingThread-JSON-START`` / ``-JSON`` / ``-JSON-STOP`` lines with the
same keys, written by a native thread (``_pmt_process``) that reads /proc,
needs no psutil and never takes the GIL. On Linux the records also carry
``pfaults`` (minor + major faults), so page-fault plots work.

In a program::

    from pmt_tracer import process
    with process.log_process(interval=0.5, path='app.log') as proc:
        proc.add_message_to_queue('loading')   # a labelled record at the next tick
        ...

For any process: ``python -m pmt_tracer.process -p PID -i 0.25 -o out.log``,
or launch and monitor a command: ``python -m pmt_tracer.process -i 0.25 -- CMD ARGS``.
Then ``pmt-summarise out.log`` and ``pmt-gnuplot out.log plots/``.
"""
import argparse
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys

from . import _pmt_process

__all__ = [
    'ProcessMonitor', 'log_process', 'log_process_dec', 'add_message_to_queue', 'start', 'stop',
    'main',
]

LOGGER_PREFIX = 'ProcessLoggingThread-JSON'
LOGGER_PREFIX_START = LOGGER_PREFIX + '-START'
LOGGER_PREFIX_STOP = LOGGER_PREFIX + '-STOP'

# The monitor started by start() (the tracer's --process-log), or the
# innermost log_process(): where the module-level add_message_to_queue() goes.
_current = []


def _level_name(log_level):
    if isinstance(log_level, str):
        return log_level
    name = logging.getLevelName(log_level)
    return name if isinstance(name, str) else 'Level %d' % log_level


class ProcessMonitor:
    """Writes one JSON record every ``interval`` seconds about process ``pid``
    (default: this process) to ``path`` (appended) or to ``fd`` (default:
    stderr), from a native thread."""

    def __init__(self, interval=1.0, path=None, pid=-1, log_level=logging.INFO, fd=None):
        if pid is None or pid == -1:
            pid = os.getpid()
        opened = None
        if path is not None:
            # O_APPEND: each record is one write(2) and lands whole after
            # whatever the application's own logging wrote to the same file
            opened = os.open(os.fspath(path), os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
                             0o644)
            fd = opened
        elif fd is None:
            fd = sys.stderr.fileno() if sys.stderr is not None else 2
        try:
            # The path too: if the program closes the monitor's fd, the
            # monitor reopens the log by its path (in append mode).
            self._monitor = _pmt_process.Monitor(int(pid), float(interval), fd,
                                                 _level_name(log_level),
                                                 path=None if path is None else os.fspath(path))
        finally:
            if opened is not None:
                os.close(opened)  # the monitor keeps its own duplicate
        self.path = path

    @property
    def pid(self):
        return self._monitor.pid

    @property
    def interval(self):
        return self._monitor.interval

    @property
    def reopens(self):
        """Times the log's or /proc/PID's fd was found closed or reused by the
        program and reopened (read it after stop())."""
        return self._monitor.reopens

    @property
    def running(self):
        """True from start() until stop() or the end of the monitored process."""
        return self._monitor.running

    @property
    def ended(self):
        """True when the monitor stopped because the monitored process ended."""
        return self._monitor.ended

    def start(self):
        self._monitor.start()
        return self

    def stop(self):
        """Writes the STOP record (unless the process ended and one was written) and
        joins the thread. Raises OSError if a record could not be written."""
        self._monitor.stop()

    # pymemtrace's ProcessLoggingThread.join() does what stop() does
    join = stop

    def wait(self, timeout=None):
        """Waits until the monitor finishes; True if it has."""
        return self._monitor.wait(timeout)

    def add_message_to_queue(self, msg):
        """At the next tick, one freshly sampled record per queued message, with
        ``"label": msg`` (as pymemtrace)."""
        self._monitor.add_label(json.dumps(msg if isinstance(msg, str) else str(msg)))

    def __enter__(self):
        self.start()
        _current.append(self)
        return self

    def __exit__(self, *exc):
        try:
            _current.remove(self)
        except ValueError:
            pass
        self.stop()
        return False


@contextlib.contextmanager
def log_process(interval=1.0, path=None, log_level=logging.INFO, pid=-1, fd=None):
    """Context manager: records every ``interval`` seconds while the block runs."""
    with ProcessMonitor(interval=interval, path=path, pid=pid, log_level=log_level, fd=fd) as mon:
        yield mon


def log_process_dec(*args, **kwargs):
    """Decorator: runs the function inside ``log_process(*args, **kwargs)``."""
    def decorate(fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*a, **kw):
            with log_process(*args, **kwargs):
                return fn(*a, **kw)
        return wrapper
    return decorate


def add_message_to_queue(msg):
    """Labels the next record of the innermost active monitor (the docs of
    pymemtrace show this module-level form)."""
    if not _current:
        raise RuntimeError('no process monitor is active')
    _current[-1].add_message_to_queue(msg)


def start(path, interval=1.0, log_level=logging.INFO):
    """Starts monitoring this process into ``path`` (None: stderr); used by the
    tracer's ``--process-log PATH --process-interval S``."""
    mon = ProcessMonitor(interval=interval, path=path, log_level=log_level)
    mon.__enter__()
    return mon


def stop():
    """Stops the monitor started by start() (or the innermost active one);
    returns it."""
    if _current:
        mon = _current[-1]
        mon.__exit__(None, None, None)
        return mon
    return None


def _exit_status(returncode):
    # a child killed by signal N exits a shell with 128 + N
    return 128 - returncode if returncode < 0 else returncode


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m pmt_tracer.process',
        description='Writes pymemtrace-compatible process JSON records (RSS, page faults, CPU '
                    'times) for a running process, or for a command it launches, until it ends.',
        epilog='Read the log with pmt-summarise LOG, plot it with pmt-gnuplot LOG OUTDIR.')
    parser.add_argument('-p', '--pid', type=int, default=None,
                        help='PID of a running process to monitor')
    parser.add_argument('-i', '--interval', type=float, default=1.0,
                        help='seconds between records [default: %(default)s]')
    parser.add_argument('-o', '--output', default=None,
                        help='log file, appended to [default: stderr]')
    parser.add_argument('-l', '--log-level', default='INFO',
                        help='level name written in each line [default: %(default)s]')
    parser.add_argument('command', nargs=argparse.REMAINDER,
                        help='-- CMD ARGS: launch CMD and monitor it until it exits')
    args = parser.parse_args(argv)
    cmd = args.command
    if cmd and cmd[0] == '--':
        cmd = cmd[1:]
    if (args.pid is None) == (not cmd):
        parser.error('give either -p PID or -- CMD ARGS')
    if not args.interval > 0:
        parser.error('the interval must be positive')
    prog = 'pmt_tracer.process'

    if args.pid is not None:
        try:
            mon = ProcessMonitor(interval=args.interval, path=args.output, pid=args.pid,
                                 log_level=args.log_level)
        except (OSError, ValueError) as e:
            print('%s: %s' % (prog, e), file=sys.stderr)
            return 2
        mon.start()
        try:
            while not mon.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        mon.stop()
        return 0

    try:
        child = subprocess.Popen(cmd)
    except OSError as e:
        print('%s: %s: %s' % (prog, cmd[0], e.strerror or e), file=sys.stderr)
        return 127 if isinstance(e, FileNotFoundError) else 126
    try:
        mon = ProcessMonitor(interval=args.interval, path=args.output, pid=child.pid,
                             log_level=args.log_level)
    except (OSError, ValueError) as e:
        print('%s: %s' % (prog, e), file=sys.stderr)
        child.kill()
        child.wait()
        return 2
    mon.start()

    def forward(signum, frame):
        try:
            child.send_signal(signum)
        except OSError:
            pass
    old = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        while True:
            try:
                rc = child.wait()
                break
            except KeyboardInterrupt:
                # the terminal sent SIGINT to the child too; wait for it
                continue
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        mon.stop()
    return _exit_status(rc)


if __name__ == '__main__':
    sys.exit(main())
