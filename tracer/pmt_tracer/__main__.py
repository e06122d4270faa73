# SPDX-License-Identifier: MIT
"""python -m pmt_tracer [OPTIONS] (script.py | -m module | -c cmd) [ARGS...]

Runs the program as `python` would (sys.argv, __main__, exit status and
uncaught exceptions unchanged) while every call and return of every thread is
recorded with the process RSS in a pmt log.
"""
import _thread
import argparse
import builtins
import importlib.machinery
import io
import os
import runpy
import signal
import sys
import threading
import types

import pmt_tracer
from pmt_tracer import _pmt_tracer

PROG = 'pmt_tracer'
DEFAULT_OUTPUT = '%t_%p.log.zst'


def _parser():
    p = argparse.ArgumentParser(
        prog='python -m pmt_tracer',
        usage='python -m pmt_tracer [OPTIONS] (script.py | -m module | -c cmd) [ARGS...]',
        description='Record the RSS of a Python program at every call and return '
                    '(or every line) into a compact pmt log.',
        epilog='Read the log with: pmt-summarise LOG, pmt-filter LOG, pmt-prev LOG.')
    p.add_argument('-o', '--output', metavar='PATH', default=DEFAULT_OUTPUT,
                   help='log path; %%p = pid, %%t = YYYYMMDD_HHMMSS (default: %(default)s)')
    p.add_argument('-f', '--force', action='store_true', help='overwrite an existing log')
    p.add_argument('--mode', choices=('profile', 'trace'), default='profile',
                   help='profile: CALL/RETURN/C_CALL/C_RETURN/C_EXCEPTION (default); '
                        'trace: CALL/RETURN/LINE/EXCEPTION')
    p.add_argument('--drss', metavar='N', type=int, default=None,
                   help='write only events whose |dRSS| since the last written one is >= N '
                        'bytes (-1: one page; 0: every event, the default)')
    p.add_argument('--prev', action='store_true',
                   help='with --drss, also write the true previous event of each written one')
    p.add_argument('--calculate', choices=('none', 'rss', 'all'), default='all',
                   help='benchmarking: none = only count events, rss = also read RSS, '
                        'all = compute every field (default)')
    p.add_argument('--log', choices=('none', 'drss', 'drss-prev', 'all'), default=None,
                   help='benchmarking: none = write no events, drss = --drss -1, '
                        'drss-prev = --drss -1 --prev, all = every event')
    p.add_argument('--rss-source', choices=('auto', 'statm', 'perf'), default='auto',
                   help='how RSS is read: perf = re-read statm only when the kernel '
                        'says RSS changed (exact, needs perf and tracefs), statm = '
                        'every event; auto (default) = perf where it works, else statm')
    p.add_argument('--hook', choices=pmt_tracer.HOOKS, default='auto',
                   help='how events reach the tracer: monitoring = sys.monitoring (3.12+), '
                        'legacy = PyEval_SetProfile/SetTrace; auto = the faster (default)')
    p.add_argument('--heap', nargs='?', const='libc', choices=('libc', 'python'), default=None,
                   help='also record every allocator call, attributed to the Python code '
                        'running on its thread: libc (the default) = malloc, calloc, realloc, '
                        'free and the aligned variants of the whole process (the program is '
                        're-executed with libpmt_heap.so preloaded); python = the MEM and OBJ '
                        'allocator domains (what tracemalloc sees)')
    p.add_argument('--no-events', dest='events', action='store_false',
                   help='with --heap=python: the heap alone, without the call hook: no '
                        'event, no RSS; each allocation is attributed to the Python line '
                        'running when it is made, as tracemalloc does (the cheapest heap '
                        'tracing)')
    p.add_argument('--objects', action='store_true',
                   help='also record every Python object created and destroyed, by type and '
                        'creation site (CPython 3.13+); builtins excluded unless '
                        '--include-builtins')
    p.add_argument('--include-builtins', action='store_true',
                   help='with --objects: int, str, list, dict, functions... too')
    p.add_argument('--exclude-type', metavar='TYPE', action='append', default=None,
                   help='with --objects: not this tp_name (repeatable)')
    p.add_argument('--include-type', metavar='TYPE', action='append', default=None,
                   help='with --objects: only these tp_names (repeatable)')
    p.add_argument('--process-log', metavar='PATH',
                   help='also write periodic process JSON lines to PATH')
    p.add_argument('--process-interval', metavar='S', type=float, default=1.0,
                   help='interval of --process-log in seconds (default: 1.0)')
    p.add_argument('--follow-children', action='store_true',
                   help='also trace every Python child (subprocess, multiprocessing spawn '
                        'and forkserver, exec of a Python) with the same options, each into '
                        'its own log from the same -o pattern')
    p.add_argument('-q', '--quiet', action='store_true', help='no summary line at exit')
    p.add_argument('--version', action='version',
                   version='pmt_tracer (pmt) format %d' % _pmt_tracer.FORMAT_VERSION)
    g = p.add_mutually_exclusive_group()
    g.add_argument('-m', dest='module', metavar='module', help='run library module as a script')
    g.add_argument('-c', dest='cmd', metavar='cmd', help='program passed in as string')
    return p


def _split_argv(argv):
    """Our options end at the script (the first non-option), -m X or -c X:
    everything after belongs to the program."""
    takes_value = {'-o', '--output', '--mode', '--drss', '--calculate', '--log',
                   '--rss-source', '--hook', '--process-log', '--process-interval',
                  '--exclude-type', '--include-type'}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ('-m', '-c'):
            return argv[:i + 2], argv[i + 2:]
        if a == '--':
            return argv[:i], argv[i + 1:]
        if a in takes_value:
            i += 2
            continue
        if a.startswith('-') and a != '-':
            i += 1
            continue
        return argv[:i], argv[i:]
    return argv, []


# The launcher re-executes the interpreter with libpmt_heap.so preloaded for
# --heap; these variables carry what it changed, so the traced process puts
# its environment back as it was and its children are not traced.
_ENV_MARK = '_PMT_HEAP_PRELOADED'
_ENV_OLD_PRELOAD = '_PMT_HEAP_OLD_LD_PRELOAD'
_ENV_OLD_ASAN = '_PMT_HEAP_OLD_ASAN_OPTIONS'
_ENV_SET_ASAN = '_PMT_HEAP_SET_ASAN_OPTIONS'


def _interpreter_args():
    """The interpreter and its own options (-X, -W, -O, -u, ...), as started."""
    orig = getattr(sys, 'orig_argv', None)
    if orig:
        for i in range(1, len(orig) - 1):
            if orig[i] == '-m' and orig[i + 1] == 'pmt_tracer':
                return [sys.executable] + orig[1:i]
            if orig[i] == '-mpmt_tracer':
                return [sys.executable] + orig[1:i]
    import subprocess
    return [sys.executable] + subprocess._args_from_interpreter_flags()


def _reexec_preloaded(argv):
    """execve() this same command with libpmt_heap.so first in LD_PRELOAD:
    same pid, so the caller's signals and exit status are the program's."""
    lib = _pmt_tracer.heap_library()
    if not lib or not os.path.exists(lib):
        return _error('--heap: %s: no such file (is pmt_tracer installed whole?)' % lib)
    env = dict(os.environ)
    old = env.get('LD_PRELOAD')
    env[_ENV_MARK] = '1'
    if old is not None:
        env[_ENV_OLD_PRELOAD] = old
    # First, so that its malloc is the one every lookup finds; it forwards to
    # the next one (libc's, or a sanitizer runtime's), which then may not
    # come first: ASan's check of that is turned off for this process.
    env['LD_PRELOAD'] = lib + (':' + old if old else '')
    if old and 'libasan' in old:
        if 'ASAN_OPTIONS' in env:
            env[_ENV_OLD_ASAN] = env['ASAN_OPTIONS']
        env[_ENV_SET_ASAN] = '1'
        env['ASAN_OPTIONS'] = 'verify_asan_link_order=0' + (
            ':' + env['ASAN_OPTIONS'] if env.get('ASAN_OPTIONS') else '')
    args = _interpreter_args() + ['-m', 'pmt_tracer'] + list(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(sys.executable, args, env)
    except OSError as e:
        return _error('--heap: cannot re-execute %s: %s' % (sys.executable, e.strerror))


def _restore_environment():
    """Undoes what _reexec_preloaded() added to the environment; True when
    this process was re-executed by it."""
    if os.environ.pop(_ENV_MARK, None) is None:
        return False
    old = os.environ.pop(_ENV_OLD_PRELOAD, None)
    if old is None:
        os.environ.pop('LD_PRELOAD', None)
    else:
        os.environ['LD_PRELOAD'] = old
    if os.environ.pop(_ENV_SET_ASAN, None) is not None:
        old = os.environ.pop(_ENV_OLD_ASAN, None)
        if old is None:
            os.environ.pop('ASAN_OPTIONS', None)
        else:
            os.environ['ASAN_OPTIONS'] = old
    return True


def _error(msg):
    sys.stderr.write('%s: %s\n' % (PROG, msg))
    return 2


def _user_traceback(tb):
    """Drops our own and runpy's frames, so the traceback is the program's."""
    skip = {os.path.abspath(__file__), os.path.abspath(runpy.__file__)}
    while tb is not None:
        f = tb.tb_frame.f_code.co_filename
        if not (f.startswith('<frozen runpy') or os.path.abspath(f) in skip):
            break
        tb = tb.tb_next
    return tb


def _run_script(path, probe=None):
    """Runs a script file as `python path` does: a fresh __main__ module,
    __file__ absolute from 3.9 on, sys.argv[0] as given. With probe, runs
    that instead, at the depth the program's first frame would have."""
    if not os.path.isfile(path):
        # A directory or zip file with __main__.py.
        if probe:
            return _frames(3, *probe)   # run_path, _run_module_code, _run_code
        runpy.run_path(path, run_name='__main__')
        return
    if probe:
        exec(*probe)
        return
    file = os.path.abspath(path) if sys.version_info >= (3, 9) else path
    with io.open_code(path) as f:
        source = f.read()
    code = compile(source, file, 'exec', dont_inherit=True)
    main_mod = types.ModuleType('__main__')
    main_mod.__dict__.update({
        '__file__': file, '__cached__': None, '__package__': None, '__spec__': None,
        '__loader__': importlib.machinery.SourceFileLoader('__main__', file),
        '__builtins__': builtins,
    })
    saved = sys.modules.get('__main__')
    sys.modules['__main__'] = main_mod
    try:
        exec(code, main_mod.__dict__)
    finally:
        sys.modules['__main__'] = saved


def _run_command(cmd, probe=None):
    if probe:
        exec(*probe)
        return
    main_mod = types.ModuleType('__main__')
    main_mod.__builtins__ = builtins
    saved_main = sys.modules.get('__main__')
    sys.modules['__main__'] = main_mod
    try:
        exec(compile(cmd, '<string>', 'exec'), main_mod.__dict__)
    finally:
        sys.modules['__main__'] = saved_main


def _run_target(ns, target, probe=None):
    if ns.cmd is not None:
        _run_command(ns.cmd, probe)
    elif ns.module is not None:
        if probe:
            return _frames(3, *probe)   # run_module, _run_module_code, _run_code
        runpy.run_module(ns.module, run_name='__main__', alter_sys=True)
    else:
        _run_script(target, probe)


# ---- the program's recursion limit: where it would be untraced ------------
#
# The program runs a few frames below the launcher's (runpy, main, exec...),
# so it would reach RecursionError that many frames earlier. The depth left
# to its first frame is measured twice, with a recursion probe: as untraced
# (in a fresh thread, the probe's frame first, or below runpy's two frames
# for -m and directories) and at the very place the program's first frame
# will be; the main thread then gets the difference back
# (_pmt_tracer._shift_recursion). sys.getrecursionlimit() is unchanged, and
# so are other threads.

def _down(n):
    try:
        return _down(n + 1)
    except RecursionError:
        return n


def _frames(n, code, g):
    if n > 1:
        return _frames(n - 1, code, g)
    exec(code, g)


_PROBE = '_pmt_r.append(_pmt_down(0))\n'


def _untraced_depth(runpy_frames):
    res = []
    done = _thread.allocate_lock()
    done.acquire()
    g = {'_pmt_r': res, '_pmt_down': _down, '_pmt_done': done}
    if runpy_frames:
        code = compile(_PROBE + '_pmt_done.release()\n', '<pmt probe>', 'exec')
        _thread.start_new_thread(_frames, (runpy_frames, code, g))
    else:
        def first_frame():
            res.append(_down(0))
            done.release()
        _thread.start_new_thread(first_frame, ())
    done.acquire()
    return res[0]


def _probe():
    res = []
    return (compile(_PROBE, '<pmt probe>', 'exec'), {'_pmt_r': res, '_pmt_down': _down}), res


def _recursion_shift(ns, target, here):
    """Frames the program's first frame is short of, against untraced;
    `here` is what the probe found there."""
    try:
        runpy_frames = 2 if ns.module is not None or (
            ns.cmd is None and not os.path.isfile(target)) else 0
        return _untraced_depth(runpy_frames) - here[0]
    except Exception:   # never worth failing the program for
        return 0


def _exit_status(e):
    """What the interpreter makes of an uncaught SystemExit."""
    code = e.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xff if code >= 0 else code & 0xff
    try:
        sys.stderr.write('%s\n' % (code,))
    except Exception:
        pass
    return 1


def _join_threads():
    """The interpreter waits for non-daemon threads at exit: wait while still
    tracing, so their events are in the log."""
    me = threading.current_thread()
    for t in threading.enumerate():
        if t is not me and not t.daemon and t.is_alive():
            t.join()


class _ExecSummary:
    """The summary line of the log the exec closed: atexit never comes."""

    def __init__(self, obj):
        self.obj = obj
        self.path = None
        self.pid = os.getpid()

    def before(self, path, argv, env):
        self.path = self.obj.log_file_path() if self.obj.tracer is not None else None
        return env

    def closed(self, results):
        for path, n, b, err in results:
            if path == self.path and os.getpid() == self.pid:
                sys.stderr.write('%s: wrote %s: %d events, %d bytes before exec; next: '
                                 'pmt-summarise %s\n' % (PROG, path, n, b, path))
                sys.stderr.flush()

    def failed(self, error):
        pass


def _children_line(records):
    traced = [r for r in records if r.get('log')]
    untraced = len(records) - len(traced)
    text = '%s: followed %d child process%s' % (PROG, len(records), 'es' if len(records) != 1 else '')
    if untraced:
        text += ' (%d not traced)' % untraced
    if traced:
        dirs = sorted({os.path.dirname(r['log']) for r in traced})
        text += '; %d child log%s in %s' % (len(traced), 's' if len(traced) != 1 else '',
                                            ', '.join(dirs))
    return text


# What each RSS source adds per event, measured with bench/tracer.py on the
# development machines (README, Performance).
STATM_NS, PERF_NS = 2250, 270


def _notes(tracer, path, ns, launcher_pid):
    """At exit, on stderr: what the log misses (always), and what the RSS
    source costs when auto could not use perf (once per run, not with -q)."""
    n, secs, _ = tracer.displaced
    if n:
        sys.stderr.write('%s: the hook was displaced %d time%s by another profiler or tracer '
                         '(%s of thread time without events in the log); see the MESSAGE '
                         'records: pmt-filter %s | grep MSG:\n'
                         % (PROG, n, '' if n == 1 else 's',
                            '%.3g s' % secs if secs >= 1 else '%.3g ms' % (secs * 1e3), path))
    why, hint, reopens, lost = tracer.rss_notes
    if reopens or lost:
        sys.stderr.write('%s: the program closed or reused the RSS source\'s fd%s%s; see the '
                         'MESSAGE records\n'
                         % (PROG, ' (reopened %d times)' % reopens if reopens else '',
                            ', RSS values are stale from the last one' if lost else ''))
    if (why and not ns.quiet and ns.rss_source == 'auto' and tracer.rss_source == 'statm'
            and os.getpid() == launcher_pid):
        sys.stderr.write('%s: RSS read from /proc/self/statm at every event, about %s ns each '
                         'where perf would cost about %d (measured on the development '
                         'machines): perf cannot be used: %s; %s\n'
                         % (PROG, '{:,}'.format(STATM_NS), PERF_NS, why,
                            'to enable it: ' + hint if hint else 'nothing enables it here'))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    reexecuted = _restore_environment()
    ours, prog_args = _split_argv(argv)
    ns = _parser().parse_args(ours)
    if ns.heap == 'libc' and not _pmt_tracer.heap_preloaded():
        if reexecuted:
            return _error('--heap: %s was preloaded but is not loaded (a set-user-ID '
                          'interpreter ignores LD_PRELOAD)' % _pmt_tracer.heap_library())
        return _reexec_preloaded(argv)
    if ns.module is None and ns.cmd is None:
        if not prog_args:
            _parser().print_usage(sys.stderr)
            return _error('no program to run (script.py, -m module or -c cmd)')
        target = prog_args[0]
        prog_args = prog_args[1:]
        if not os.path.exists(target):
            return _error('%s: no such file' % target)

    trigger, prev = 0, ns.prev
    if ns.drss is not None:
        trigger = ns.drss
    log = True
    if ns.log == 'none':
        log = False
    elif ns.log == 'drss':
        trigger = -1
    elif ns.log == 'drss-prev':
        trigger, prev = -1, True
    elif ns.log == 'all':
        trigger, prev = 0, False
    if prev and trigger == 0:
        return _error('--prev needs --drss N (N != 0)')
    if ns.heap and prev:
        return _error('--heap cannot be combined with --prev')
    if ns.heap and not log:
        return _error('--heap needs the event log (not --log none)')
    if not ns.events:
        if ns.heap != 'python':
            return _error('--no-events needs --heap=python')
        if ns.drss is not None or ns.prev or ns.log is not None:
            return _error('--no-events writes no event: --drss, --prev and --log do not apply')
    if not ns.objects and (ns.include_builtins or ns.exclude_type or ns.include_type):
        return _error('--include-builtins, --exclude-type and --include-type need --objects')
    if ns.objects:
        if not _pmt_tracer.objects_supported():
            return _error('--objects needs CPython 3.13 or newer (PyRefTracer_SetTracer); '
                          'this is %d.%d' % sys.version_info[:2])
        if ns.heap:
            return _error('--objects cannot be combined with --heap')
        if not log:
            return _error('--objects needs the event log (not --log none)')

    if ns.cmd is not None:
        sys.argv = ['-c'] + prog_args
    elif ns.module is not None:
        sys.argv = [ns.module] + prog_args     # runpy puts the module's path in argv[0]
    else:
        sys.argv = [target] + prog_args
        sys.path[0] = os.path.dirname(os.path.abspath(target))

    follow = session = None
    output = ns.output
    if ns.follow_children:
        from pmt_tracer import follow
        # Absolute, as the children's: every MESSAGE names a log anyone can open.
        output = follow.absolute(ns.output)
        session = follow.begin(dict(
            output=output, mode=ns.mode, trigger=trigger, prev=prev, calculate=ns.calculate,
            log=log, rss_source=ns.rss_source, hook=ns.hook, force=ns.force))

    obj_cls = pmt_tracer.Trace if ns.mode == 'trace' else pmt_tracer.Profile
    obj = obj_cls(trigger, None, output, prev=prev, calculate=ns.calculate, log=log,
                  rss_source=ns.rss_source, force=ns.force, argv=list(sys.argv),
                  hook=ns.hook, heap=ns.heap or False, events=ns.events,
                  objects=dict(include_builtins=ns.include_builtins,
                               exclude_tp_names=ns.exclude_type,
                               include_tp_names=ns.include_type) if ns.objects else None)

    process = None
    if ns.process_log:
        try:
            from pmt_tracer import process   # another module; only when asked for
            process.start(ns.process_log, ns.process_interval)
        except (ImportError, OSError, ValueError) as e:
            return _error('%s: %s' % (ns.process_log, e))

    summary = _ExecSummary(obj) if not ns.quiet else None
    if summary is not None:
        pmt_tracer._exec_hooks.append(summary)
    launcher_pid = os.getpid()
    target = None if ns.module is not None or ns.cmd is not None else target
    probe, here = _probe()
    try:
        _run_target(ns, target, probe)   # from here, as the program below
    except Exception:
        pass
    shift = _recursion_shift(ns, target, here)
    try:
        try:
            obj.start()
        except BaseException:
            if session is not None:
                follow.abort(session)
            raise
    except FileExistsError as e:
        return _error(str(e))
    except OSError as e:
        if e.filename is not None and e.strerror:
            return _error('%s: %s' % (e.filename, e.strerror[:1].lower() + e.strerror[1:]))
        return _error(str(e))
    except ValueError as e:
        return _error(str(e))
    if session is not None:
        follow.attach(session, obj)
    # SIGTERM, SIGHUP: the log gets its trailer and the program still dies
    # of the signal (SIGINT is KeyboardInterrupt, handled below).
    _pmt_tracer._close_on_signals()

    status = 0
    exc = None
    try:
        try:
            _pmt_tracer._shift_recursion(shift)
            try:
                _run_target(ns, target)
            finally:
                _pmt_tracer._shift_recursion(-shift)
        finally:
            _join_threads()
    except SystemExit as e:
        status = _exit_status(e)
    except BaseException as e:   # printed below, after the log is closed
        exc = e
        status = 1

    children = follow.finish(session) if session is not None else None
    try:
        path = obj.log_file_path()
        obj.stop()
        err = None
    except RuntimeError as e:
        err = str(e)
    tracer = obj.tracer
    if process is not None:
        try:
            mon = process.stop()
            if mon is not None and mon.reopens:
                sys.stderr.write('%s: process log: the program closed or reused its fds %d '
                                 'times; reopened %s each time\n'
                                 % (PROG, mon.reopens, ns.process_log))
        except Exception as e:
            sys.stderr.write('%s: process log: %s\n' % (PROG, e))

    if exc is not None:
        tb = _user_traceback(exc.__traceback__)
        sys.excepthook(type(exc), exc.with_traceback(tb), tb)
    if err:
        # The log failed, not the program: say so, and keep its exit status.
        sys.stderr.write('%s\n' % err)
    if tracer is not None:
        _notes(tracer, path, ns, launcher_pid)
    if not ns.quiet and tracer is not None and not err:
        n, b = tracer.events, tracer.bytes
        per = b / n if n else 0.0
        unit = 'event'
        if not ns.events:   # the heap alone: what a record costs is per allocator call
            per, unit = (b / tracer.heap_calls if tracer.heap_calls else 0.0), 'allocator call'
        heap = ', %d allocator calls' % tracer.heap_calls if ns.heap else ''
        if ns.objects:
            made, gone, _ = tracer.object_stats
            heap += ', %d objects created, %d destroyed' % (made, gone)
        sys.stderr.write('%s: wrote %s: %d events%s, %d bytes (%.1f B/%s); next: pmt-summarise %s\n'
                         % (PROG, path, n, heap, b, per, unit, path))
        if children is not None:
            sys.stderr.write('%s\n' % _children_line(children))
    sys.stderr.flush()
    if isinstance(exc, KeyboardInterrupt):
        # As the interpreter does: die of SIGINT, so the shell sees it.
        sys.stdout.flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    return status


if __name__ == '__main__':
    sys.exit(main())
