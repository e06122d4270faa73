# SPDX-License-Identifier: MIT
"""pmt_tracer: record the RSS of a Python program at every call and return.

Command line::

    python -m pmt_tracer [OPTIONS] script.py [ARGS...]

API, with pymemtrace's names (``from pmt_tracer import ...`` in place of
``from pymemtrace import cPyMemTrace``)::

    with pmt_tracer.Profile(d_rss_trigger=-1, message=None, filepath=None) as p:
        ...
        p.write_message_to_log('a marker')
        print(p.log_file_path())

The log is the pmt binary event log (zstd); read it with pmt-summarise,
pmt-filter, pmt-prev, pmt-diff and pmt-gnuplot.
"""
import atexit
import gc
import functools
import os
import sys
import threading

from . import _pmt_tracer
from ._pmt_tracer import Tracer, expand_path, page_size, rss, rss_peak

__all__ = [
    'Profile', 'Trace', 'profile', 'trace', 'rss', 'rss_peak', 'write_message_to_log',
    'log_file_path', 'profile_log_path', 'trace_log_path', 'profile_wrapper_depth',
    'trace_wrapper_depth', 'Tracer', 'log_process', 'HOOKS', 'heap_library', 'heap_preloaded',
    'ReferenceTracing', 'reference_tracing', 'live_object_counts', 'count_new', 'count_del',
    'suspend', 'resume', 'objects_supported', 'reference_tracing_wrapper_depth',
    'reference_tracing_log_path', 'reference_tracing_write_message_to_log',
    'reference_tracing_live_object_counts',
]

# How events reach the tracer: 'monitoring' (sys.monitoring, PEP 669, Python
# 3.12+) or 'legacy' (PyEval_SetProfile / PyEval_SetTrace); 'auto' picks the
# faster where both exist (see the man page).
HOOKS = ('auto', 'monitoring', 'legacy') if sys.version_info >= (3, 12) else ('auto', 'legacy')


def _tracer_call(self, frame, event, arg):
    """sys.gettrace()/getprofile() return the Tracer while its C hook is in:
    a program that saves the hook and restores it later (test.support's
    no_tracing, debuggers, coverage) hands it back to sys.settrace/setprofile
    as a Python hook. Its first event puts the C hook back on this thread and
    is recorded."""
    self._thread_start(frame, event, arg)


Tracer.__call__ = _tracer_call

_PY_VERSION = '%d.%d.%d' % sys.version_info[:3]
_lock = threading.RLock()
# One stack per mode: CPython runs one profile and one trace function at a
# time, so entering a new one suspends the one below (pymemtrace's stacks).
_stacks = {'profile': [], 'trace': [], 'objects': []}
_started = []   # active objects in start order: write_message_to_log's target
_ordinal = 0
_exit_wrapped = False
_exec_wrapped = False
# Called with (why) just before every open log is closed at exit, os._exit
# ('exit') or exec ('exec'): --follow-children writes its pending child
# records there. Never raise.
_close_hooks = []
# Objects told about os.exec*: before(path, argv, env) -> env to pass (None
# for execv), closed(results) once the logs are closed, failed(error) when the
# exec raised and the logs were reopened.
_exec_hooks = []


def _default_path(kind, depth):
    global _ordinal
    # pymemtrace's name with our suffix: YYYYMMDD_HHMMSS_<ordinal>_<pid>_<P|T>_<depth>_PY<ver>
    name = '%%t_%d_%%p_%s_%d_PY%s.log.zst' % (_ordinal, kind, depth, _PY_VERSION)
    _ordinal += 1
    return os.path.join(os.getcwd(), name)


def _variant_path(path, n):
    """path with -n before its .log.zst (or at its end): another log of the
    same process."""
    sfx = '.log.zst'
    if path.endswith(sfx) and len(path) > len(sfx):
        return '%s-%d%s' % (path[:-len(sfx)], n, sfx)
    return '%s-%d' % (path, n)


def _run_close_hooks(why):
    for hook in list(_close_hooks):
        try:
            hook(why)
        except BaseException:
            pass


def _close_everything(why):
    """Every open log closed (trailer, clean flag), the close hooks first."""
    _run_close_hooks(why)
    try:
        return _pmt_tracer._close_all()
    except BaseException:
        return []


def _wrap_os_exit():
    """os._exit skips atexit: close the logs (trailer, clean flag) first."""
    global _exit_wrapped
    if _exit_wrapped:
        return
    _exit_wrapped = True
    real_exit = os._exit

    @functools.wraps(real_exit)
    def _exit(status):
        _close_everything('exit')
        real_exit(status)

    os._exit = _exit


def _heap_mode(heap):
    """heap=False/None: off; True or 'libc': every libc allocator call (needs
    libpmt_heap.so preloaded: python -m pmt_tracer --heap does it); 'python':
    Python's MEM and OBJ allocator domains (works in any running process)."""
    if heap is None or heap is False:
        return 'off'
    if heap is True:
        return 'libc'
    if heap in ('off', 'libc', 'python'):
        return heap
    raise ValueError("heap must be False, True, 'libc' or 'python', not %r" % (heap,))


def heap_library():
    """Path of libpmt_heap.so, the allocator interposer --heap preloads."""
    return _pmt_tracer.heap_library()


def heap_preloaded():
    """True when libpmt_heap.so is loaded in this process (heap=True can work)."""
    return _pmt_tracer.heap_preloaded()


def _exec_prepare(path, argv, env):
    """Before os.exec*: a MESSAGE naming the program, then every log closed,
    since the new image never runs our atexit. Returns what _exec_failed needs."""
    try:
        shown = os.fsdecode(path) if not isinstance(path, int) else 'fd %d' % path
        text = 'pmt: exec %s %r' % (shown, [os.fsdecode(a) for a in argv])
    except Exception:
        text = 'pmt: exec %r' % (path,)
    with _lock:
        objs = [o for o in _started if o._tracer is not None and o._tracer.open]
        for o in objs:
            try:
                o._tracer.write_message(text)
            except Exception:
                pass
    for hook in list(_exec_hooks):
        try:
            env = hook.before(path, argv, env)
        except Exception:
            pass
    results = _close_everything('exec')
    for hook in list(_exec_hooks):
        try:
            hook.closed(results)
        except Exception:
            pass
    return objs, env


def _exec_failed(objs, path, error):
    """The exec raised: the process goes on, so its logs go on, each in a new
    file (the old one has its trailer) that names the one it continues."""
    reason = '%s: %s' % (type(error).__name__, error)
    with _lock:
        # Suspended objects first (started, then suspended again), the top
        # of each stack last, so each mode ends with its hook installed.
        order = [o for o in objs if _stacks[o._mode][-1:] != [o]]
        order += [o for o in objs if _stacks[o._mode][-1:] == [o]]
        for o in order:
            old = o._tracer.path
            try:
                o._continue('pmt: exec of %s failed (%s); this log continues %s'
                            % (os.fsdecode(path) if not isinstance(path, int) else path,
                               reason, old))
                if o not in [s[-1] for s in _stacks.values() if s]:
                    o._tracer.suspend()
            except Exception as e:
                try:
                    sys.stderr.write('pmt_tracer: after a failed exec, %s could not be '
                                     'continued: %s\n' % (old, e))
                except Exception:
                    pass
    for hook in list(_exec_hooks):
        try:
            hook.failed(error)
        except Exception:
            pass


def _wrap_os_exec():
    """os.execv and os.execve (every os.exec* function goes through one of
    them) close the logs first: otherwise the last frame of each is lost."""
    global _exec_wrapped
    if _exec_wrapped:
        return
    _exec_wrapped = True
    real_execv, real_execve = os.execv, os.execve

    @functools.wraps(real_execv)
    def execv(path, argv):
        objs, _ = _exec_prepare(path, argv, None)
        try:
            real_execv(path, argv)
        except BaseException as e:
            _exec_failed(objs, path, e)
            raise

    @functools.wraps(real_execve)
    def execve(path, argv, env):
        objs, env = _exec_prepare(path, argv, env)
        try:
            real_execve(path, argv, env)
        except BaseException as e:
            _exec_failed(objs, path, e)
            raise

    os.execv, os.execve = execv, execve


class _Base:
    """Context manager around one log; Profile and Trace set the mode."""
    _mode = 'profile'
    _kind = 'P'

    def __init__(self, d_rss_trigger=-1, message=None, filepath=None, *, prev=False,
                 calculate='all', log=True, rss_source='auto', force=True, argv=None,
                 hook='auto', heap=False, objects=None, events=True):
        if not isinstance(d_rss_trigger, int) or isinstance(d_rss_trigger, bool):
            raise TypeError('d_rss_trigger must be int, not %s' % type(d_rss_trigger).__name__)
        if message is not None and not isinstance(message, str):
            raise TypeError('message must be str, not %s' % type(message).__name__)
        if filepath is not None:
            filepath = os.fsdecode(os.fspath(filepath))
        self.d_rss_trigger = d_rss_trigger
        self.message = message
        self._filepath = filepath
        self._opts = dict(prev=prev, calculate=calculate, log=log, rss_source=rss_source,
                          force=force, hook=hook, heap=_heap_mode(heap))
        if not events:
            # the heap alone (heap='python'): no hook, each allocation
            # attributed to the frame running when it is made
            self._opts['events'] = False
        if objects:
            # objects=True or a dict of ReferenceTracing's filters: the
            # same log also holds every object created and destroyed
            self._opts.update(objects=True, **(objects if isinstance(objects, dict) else {}))
        self._argv = list(sys.argv) if argv is None else list(argv)
        self._tracer = None

    # -- life cycle -------------------------------------------------------
    def start(self):
        with _lock:
            if self._tracer is not None and self._tracer.open:
                raise RuntimeError('%s already started' % type(self).__name__)
            stack = _stacks[self._mode]
            path = self._filepath or _default_path(self._kind, len(stack))
            tracer = Tracer(path, mode=self._mode, trigger=self.d_rss_trigger,
                            argv=self._argv, **self._opts)
            _push(self, stack, tracer,
                  '# Detaching this %s log. New file:%s' % (self._mode, expand_path(path)))
            _started.append(self)
            if self.message is not None:
                tracer.write_message(self.message)
        return self

    def stop(self):
        """Closes the log; raises RuntimeError if the hook failed while running."""
        with _lock:
            tracer = self._tracer
            if tracer is None or not tracer.open:
                return
            if self in _started:
                _started.remove(self)
            _pop(self, _stacks[self._mode], '# Re-attaching this %s log.' % self._mode)

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        self.stop()
        return False

    def _continue(self, note):
        """A new log for this object, named after the current one (-2, -3...),
        never overwriting a file; note is its first MESSAGE."""
        old = self._tracer.path
        opts = dict(self._opts, force=False)
        for n in range(2, 1000):
            tracer = Tracer(_variant_path(old, n).replace('%', '%%'), mode=self._mode,
                            trigger=self.d_rss_trigger, argv=self._argv, **opts)
            try:
                tracer.start()
            except FileExistsError:
                continue
            self._tracer = tracer
            tracer.write_message(note)
            return
        raise FileExistsError('%s: every continuation name is taken' % old)

    # -- pymemtrace's methods ---------------------------------------------
    def log_file_path(self):
        """This object's own log path (pymemtrace returns the head of the stack)."""
        if self._tracer is None:
            return None
        return self._tracer.path

    def write_message_to_log(self, text):
        """A MESSAGE record in this object's log, even while it is suspended."""
        if self._tracer is None or not self._tracer.open:
            raise IOError('Log file is closed.')
        self._tracer.write_message(text)

    # -- ours ---------------------------------------------------------------
    @property
    def tracer(self):
        return self._tracer

    @property
    def events(self):
        return self._tracer.events if self._tracer else 0

    @property
    def bytes(self):
        return self._tracer.bytes if self._tracer else 0


class Profile(_Base):
    """Profile(d_rss_trigger=-1, message=None, filepath=None): CALL, RETURN,
    C_CALL, C_RETURN and C_EXCEPTION events of every thread."""
    _mode = 'profile'
    _kind = 'P'


class Trace(_Base):
    """Trace(d_rss_trigger=-1, message=None, filepath=None): CALL, RETURN, LINE
    and EXCEPTION events of every thread."""
    _mode = 'trace'
    _kind = 'T'


def objects_supported():
    """True when object tracing works here (CPython 3.13+)."""
    return _pmt_tracer.objects_supported()


_GC_ON_EXIT = (-1, 0, 1, 2)


class ReferenceTracing:
    """ReferenceTracing(message=None, filepath=None, include_builtins=False,
    exclude_tp_names=None, include_tp_names=None, gc_collect_on_exit=2):
    every Python object created and destroyed (CPython 3.13+), as OBJECT
    records of a pmt log, with pymemtrace's filters: frames and code objects
    never; the builtins (int, str, list, dict, functions...) only with
    include_builtins; then exclude_tp_names, then include_tp_names, by the
    type's tp_name. With gc_collect_on_exit >= 0, gc.collect(n) runs at the
    start of __exit__ while objects are still recorded."""
    _mode = 'objects'

    def __init__(self, message=None, filepath=None, include_builtins=False,
                 exclude_tp_names=None, include_tp_names=None, gc_collect_on_exit=2, *,
                 calculate='all', rss_source='auto', force=True, argv=None):
        if message is not None and not isinstance(message, str):
            raise TypeError('argument 1 must be str, not %s' % type(message).__name__)
        if not _pmt_tracer.objects_supported():
            raise RuntimeError('pmt_tracer: ReferenceTracing needs CPython 3.13 or newer '
                               '(PyRefTracer_SetTracer); this is %d.%d' % sys.version_info[:2])
        for name, v in (('exclude_tp_names', exclude_tp_names),
                        ('include_tp_names', include_tp_names)):
            if v is not None and (isinstance(v, (str, bytes)) or not hasattr(v, '__iter__')):
                raise TypeError('%s must be a sequence of str, not %s' % (name, type(v).__name__))
        if (not isinstance(gc_collect_on_exit, int) or isinstance(gc_collect_on_exit, bool)
                or gc_collect_on_exit not in _GC_ON_EXIT):
            raise ValueError('gc_collect_on_exit must be -1, 0, 1, 2 not %r' % (gc_collect_on_exit,))
        if filepath is not None:
            filepath = os.fsdecode(os.fspath(filepath))
        self.message = message
        self._filepath = filepath
        self.include_builtins = bool(include_builtins)
        self.exclude_tp_names = None if exclude_tp_names is None else list(exclude_tp_names)
        self.include_tp_names = None if include_tp_names is None else list(include_tp_names)
        self.gc_collect_on_exit = gc_collect_on_exit
        self._opts = dict(calculate=calculate, rss_source=rss_source, force=force)
        self._argv = list(sys.argv) if argv is None else list(argv)
        self._tracer = None

    def start(self):
        with _lock:
            if self._tracer is not None and self._tracer.open:
                raise RuntimeError('ReferenceTracing already started')
            stack = _stacks['objects']
            path = self._filepath or _default_path('O', len(stack))
            tracer = Tracer(path, argv=self._argv, objects=True, events=False,
                            include_builtins=self.include_builtins,
                            exclude_tp_names=self.exclude_tp_names,
                            include_tp_names=self.include_tp_names, **self._opts)
            _push(self, stack, tracer,
                  'Detaching this Reference Tracing file wrapper. New file: %s'
                  % expand_path(path))
            if self.message is not None:
                tracer.write_message(self.message)
        return self

    def stop(self):
        with _lock:
            tracer = self._tracer
            if tracer is None or not tracer.open:
                return
            _pop(self, _stacks['objects'], 'Re-attaching this Reference Tracing file wrapper.')

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        if self.gc_collect_on_exit >= 0 and self._tracer is not None and self._tracer.open:
            gc.collect(self.gc_collect_on_exit)
        self.stop()
        return False

    # -- pymemtrace's methods (counts act on the head of the stack) -------
    def log_file_path(self):
        return None if self._tracer is None else self._tracer.path

    def write_message_to_log(self, text):
        if self._tracer is None or not self._tracer.open:
            raise IOError('Log file is closed.')
        self._tracer.write_message(text)

    def suspend(self):
        return suspend()

    def resume(self):
        return resume()

    def count_new(self):
        return count_new()

    def count_del(self):
        return count_del()

    def live_object_counts(self):
        return live_object_counts()

    @property
    def tracer(self):
        return self._tracer


def _push(obj, stack, tracer, detach_note):
    """Starts obj's tracer on top of stack (lock held): the outer log, if
    any, gets detach_note and is suspended until obj stops."""
    # Before the hook is in: these are ours, not the program's events.
    _wrap_os_exit()
    _wrap_os_exec()
    outer = stack[-1] if stack else None
    if outer is not None:
        outer._tracer.write_message(detach_note)
        outer._tracer.suspend()
    try:
        tracer.start()
    except BaseException:
        if outer is not None:
            outer._tracer.resume()
        raise
    obj._tracer = tracer
    stack.append(obj)


def _pop(obj, stack, reattach_note):
    """Stops obj's tracer (lock held); when obj was on top, the log below it
    resumes and gets reattach_note."""
    was_top = bool(stack) and stack[-1] is obj
    if obj in stack:
        stack.remove(obj)
    try:
        obj._tracer.stop()
    finally:
        if was_top and stack:
            outer = stack[-1]._tracer
            if outer.open:
                outer.resume()
                outer.write_message(reattach_note)


def _objects_head():
    stack = _stacks['objects']
    if not stack:
        raise RuntimeError('no ReferenceTracing is active')
    return stack[-1]._tracer


def live_object_counts():
    """{type name: objects created minus destroyed} in the innermost
    ReferenceTracing (what its log holds)."""
    return _objects_head().live_object_counts()


def count_new():
    """Objects recorded as created by the innermost ReferenceTracing."""
    return _objects_head().object_stats[0]


def count_del():
    """Objects recorded as destroyed by the innermost ReferenceTracing."""
    return _objects_head().object_stats[1]


def suspend():
    """Stops recording objects in the innermost ReferenceTracing (a MESSAGE says so)."""
    t = _objects_head()
    t.write_message('Suspending reference tracing.')
    t.suspend()


def resume():
    """Records objects again after suspend() (a MESSAGE says so)."""
    t = _objects_head()
    t.resume()
    t.write_message('Resuming reference tracing.')


def reference_tracing_wrapper_depth():
    return len(_stacks['objects'])


def reference_tracing_log_path():
    o = _head('objects')
    return o.log_file_path() if o else None


def reference_tracing_write_message_to_log(text):
    o = _head('objects')
    if o is None:
        raise ValueError('Trying to write to a log file when no reference tracer is active.')
    o.write_message_to_log(text)


def reference_tracing_live_object_counts():
    return live_object_counts()


def _decorator(cls, args, kwargs):
    def wrap(func):
        @functools.wraps(func)
        def wrapper(*a, **kw):
            with cls(*args, **kwargs):
                return func(*a, **kw)
        return wrapper
    return wrap


def profile(*args, **kwargs):
    """Decorator: each call of the function runs inside its own Profile(*args, **kwargs)."""
    return _decorator(Profile, args, kwargs)


def reference_tracing(*args, **kwargs):
    """Decorator: each call of the function runs inside its own
    ReferenceTracing(*args, **kwargs)."""
    return _decorator(ReferenceTracing, args, kwargs)


def trace(*args, **kwargs):
    """Decorator: each call of the function runs inside its own Trace(*args, **kwargs)."""
    return _decorator(Trace, args, kwargs)


def _head(mode):
    stack = _stacks[mode]
    return stack[-1] if stack else None


def write_message_to_log(text):
    """A MESSAGE record in the most recently started active log."""
    with _lock:
        active = [o for o in _started if o._tracer is not None and o._tracer.active]
        if not active:
            raise ValueError('Trying to write to a log file when no tracer is active.')
        active[-1]._tracer.write_message(text)


def log_file_path():
    """Path of the most recently started active log, or None."""
    with _lock:
        active = [o for o in _started if o._tracer is not None and o._tracer.active]
        return active[-1].log_file_path() if active else None


def profile_log_path():
    o = _head('profile')
    return o.log_file_path() if o else None


def trace_log_path():
    o = _head('trace')
    return o.log_file_path() if o else None


def profile_wrapper_depth():
    return len(_stacks['profile'])


def trace_wrapper_depth():
    return len(_stacks['trace'])


def profile_write_message_to_log(text):
    o = _head('profile')
    if o is None:
        raise ValueError('Trying to write to a profile log file when no profiler is active.')
    o.write_message_to_log(text)


def trace_write_message_to_log(text):
    o = _head('trace')
    if o is None:
        raise ValueError('Trying to write to a trace log file when no tracer is active.')
    o.write_message_to_log(text)


def __getattr__(name):
    # The process monitor is another extension: imported only when used.
    if name == 'log_process':
        from .process import log_process
        return log_process
    raise AttributeError('module %r has no attribute %r' % (__name__, name))


def _reset_lock_in_child():
    global _lock
    _lock = threading.RLock()   # the parent's may have been held by another thread


def _close_at_exit():
    _run_close_hooks('exit')
    _stacks['profile'].clear()
    _stacks['trace'].clear()
    _stacks['objects'].clear()
    del _started[:]
    _pmt_tracer._close_all()


# The C function first and called from C: before it runs, an event would go
# to the parent's writer, which may flush into the parent's file.
os.register_at_fork(after_in_child=_pmt_tracer._after_fork_child)
os.register_at_fork(after_in_child=_reset_lock_in_child)
atexit.register(_close_at_exit)
