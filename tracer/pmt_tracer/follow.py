# SPDX-License-Identifier: MIT
"""--follow-children: every Python child of a traced program is traced with
the same options, each into its own log.

How the tracer reaches a child: through the environment only, never by
editing a command line. The traced process puts the directory
pmt_tracer/_bootstrap (it holds one file, sitecustomize.py) first on
PYTHONPATH and its options, as JSON, in PMT_TRACER_FOLLOW. Every Python that
starts with that environment imports sitecustomize at start-up, before its
program, whatever started it: subprocess, multiprocessing spawn or
forkserver, a shell, os.exec* of a Python. The bootstrap takes its
directory off sys.path again, runs the sitecustomize it hides (Debian's,
a virtualenv's), checks that this interpreter can load the tracer (same
extension ABI as the one that started the run; otherwise one line on stderr
and the child runs untraced) and calls bootstrap() below.

How the parent learns of a child (pid and actual log path, which only the
child knows: %t is its own time): each traced process appends one JSON line
to RUN/<pid of its nearest traced ancestor>.children, RUN being a private
directory made by the top process. Every traced process holds a shared
flock on RUN/lock; the last one to end (the one that gets it exclusive)
removes RUN, so descendants that outlive the top process (a forkserver, a
daemon) still record their children; a top process removes those nobody
holds any more (a run killed with SIGKILL) once they are ten minutes old. The ancestor reads
its file at its own pace, without a thread of its own (a Python thread would
be traced): from an audit hook, which CPython runs with tracing off, at most
every DRAIN_INTERVAL seconds and at every process creation, and before each
of its logs is closed (exit, os._exit, exec). Each line becomes a
MESSAGE in the ancestor's log:

    pmt: child pid=1234 how=spawn log=/abs/path/20240101_120000_1234.log.zst
    pmt: child pid=1235 how=spawn not traced: <reason>

how is spawn (a new interpreter), fork (a fork of a traced process, traced by
the fork rule) or exec (a traced process that replaced its image with a
Python; same pid, its log is named -2, -3...).
"""
import atexit
import binascii
import fcntl
import json
import os
import signal
import sys
import threading
import time

import pmt_tracer
from pmt_tracer import _pmt_tracer

ENV = 'PMT_TRACER_FOLLOW'
RUN_PREFIX = 'pmt-follow-'
SWEEP_AGE = 600     # seconds
FORMAT = 1
DRAIN_INTERVAL = 0.1
# Audit events after which a child may exist: the child records are read.
_PROCESS_EVENTS = frozenset(('subprocess.Popen', 'os.fork', 'os.forkpty', 'os.posix_spawn',
                             'os.spawn', 'os.system', 'os.exec', 'os.kill'))
_SUFFIX = '.log.zst'
# Signals that end a process without letting it run any code, so its log
# keeps only the frames written before: before a traced process sends one
# to a traced child, it gives the child's idle flush (100-200 ms after its
# last event) time to write the frame in progress. (SIGTERM and SIGHUP
# close a traced child's log with a trailer: see bootstrap.)
_FATAL = frozenset(getattr(signal, n) for n in ('SIGKILL', 'SIGQUIT') if hasattr(signal, n))
KILL_SETTLE = 0.3
# Signals that end a process. Sent to a traced child still starting (no
# record from it yet: a pool's worker that the pool ends before it is up),
# one would kill it before its log is open or before SIGTERM closes it: the
# sender waits first, at most BOOT_WAIT s, for the child's record, which it
# writes once its log is open and its signal handlers are in place.
_ENDING = _FATAL | frozenset(getattr(signal, n) for n in ('SIGTERM', 'SIGHUP', 'SIGINT')
                             if hasattr(signal, n))
BOOT_WAIT = 5.0

_session = None
_installed = False


def bootstrap_dir():
    return os.path.join(os.path.dirname(os.path.abspath(pmt_tracer.__file__)), '_bootstrap')


def extension_abi():
    """What a child must share with us to load our extension."""
    import importlib.machinery
    return importlib.machinery.EXTENSION_SUFFIXES[0]


def has_pid(pattern):
    i = 0
    while i < len(pattern):
        if pattern[i] == '%':
            if pattern[i + 1:i + 2] == 'p':
                return True
            i += 2
        else:
            i += 1
    return False


def _insert(path, text):
    if path.endswith(_SUFFIX) and len(path) > len(_SUFFIX):
        return path[:-len(_SUFFIX)] + text + _SUFFIX
    return path + text


def child_pattern(pattern):
    """Every process of the run needs its own name: a pattern without %p
    gets .%p before .log.zst, as a fork child does."""
    return pattern if has_pid(pattern) else _insert(pattern, '.%p')


def _notice(text):
    try:
        sys.stderr.write('pmt_tracer: pid %d: %s\n' % (os.getpid(), text))
        sys.stderr.flush()
    except Exception:
        pass


def _cmdline():
    """The child's whole command line, which says what it is
    (python3 -c 'from multiprocessing.spawn import spawn_main...')."""
    try:
        with open('/proc/self/cmdline', 'rb') as f:
            parts = f.read().split(b'\0')
        if parts and parts[-1] == b'':
            parts.pop()
        if parts:
            return [os.fsdecode(p) for p in parts]
    except OSError:
        pass
    return list(getattr(sys, 'orig_argv', None) or [sys.executable] + sys.argv)


def report(run, parent, record):
    """One JSON line appended to the ancestor's file (O_APPEND: whole lines
    even with many writers). Best effort: the run may be over."""
    if not run or not parent:
        return
    line = (json.dumps(record, sort_keys=True) + '\n').encode('utf-8', 'surrogateescape')
    try:
        fd = os.open(os.path.join(run, '%d.children' % parent),
                     os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        return
    try:
        os.write(fd, line)
    except OSError:
        pass
    finally:
        os.close(fd)


def _claim_name(run, path):
    b = os.fsencode(path)
    return os.path.join(run, 'claim-%08x-%d' % (binascii.crc32(b) & 0xffffffff, len(b)))


def claim(run, path):
    """Marks path as a log of this run, so that no later process of the run
    (an exec'd image, a reused pid) overwrites it, even with --force."""
    if not run or not path:
        return
    try:
        os.close(os.open(_claim_name(run, path), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
    except OSError:
        pass


def claimed(run, path):
    return bool(run) and os.path.exists(_claim_name(run, path))


def message_for(rec):
    head = 'pmt: child pid=%s how=%s' % (rec.get('pid'), rec.get('how', '?'))
    if rec.get('log'):
        return '%s log=%s' % (head, rec['log'])
    return '%s not traced: %s' % (head, rec.get('error', 'unknown'))


class _Session:
    """The follow state of one traced process."""

    def __init__(self, cfg, obj, top):
        self.cfg = cfg
        self.obj = obj
        self.top = top
        self.pid = os.getpid()
        self.ancestor = cfg.get('parent')   # whom we report to (None: the top)
        self.children = []      # records read, in order
        self.logs = {}          # pid -> log path of each traced child
        self.burst = 0.0
        self._reset()

    def _reset(self, offset=0):
        self.lock = threading.Lock()
        self.fd = None
        self.offset = offset
        self.partial = b''
        self.last = time.monotonic()
        self.lockfd = None

    def hold(self):
        """Our share of the run directory; False if the run is over."""
        try:
            fd = os.open(os.path.join(self.run, 'lock'), os.O_RDONLY | os.O_CLOEXEC)
        except (OSError, TypeError):
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)    # being removed
            return False
        self.lockfd = fd
        return True

    def leave(self):
        """Our share given back; the last process of the run removes it."""
        fd, self.lockfd = self.lockfd, None
        if fd is None:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            _remove_run(self.run)
        except OSError:
            pass
        finally:
            os.close(fd)

    @property
    def run(self):
        return self.cfg.get('run')

    def export(self):
        """Our children report to us."""
        cfg = dict(self.cfg, parent=self.pid)
        cfg.pop('exec_pid', None)
        cfg.pop('exec_from', None)
        cfg.pop('exec_offset', None)
        self.cfg = cfg
        os.environ[ENV] = json.dumps(cfg, sort_keys=True)

    def drain(self):
        if self.pid != os.getpid() or not self.lock.acquire(False):
            return
        try:
            self.last = time.monotonic()
            if self.fd is None:
                try:
                    self.fd = os.open(os.path.join(self.run, '%d.children' % self.pid),
                                      os.O_RDONLY | os.O_CLOEXEC)
                except (OSError, TypeError):
                    return
            while True:
                try:
                    data = os.pread(self.fd, 65536, self.offset)
                except OSError:
                    return
                if not data:
                    break
                self.offset += len(data)
                self.partial += data
            lines = self.partial.split(b'\n')
            self.partial = lines.pop()   # a line still being written
            for line in lines:
                try:
                    rec = json.loads(line.decode('utf-8', 'surrogateescape'))
                except ValueError:
                    continue
                self.children.append(rec)
                if rec.get('log') and isinstance(rec.get('pid'), int):
                    self.logs[rec['pid']] = rec['log']
                self._write(message_for(rec))
        finally:
            self.lock.release()

    def before_kill(self, pid, sig):
        """Called (audit hook, tracing off) before os.kill(pid, sig): the
        signal is sent as the program asked, only later. Children killed
        together (a pool's workers) wait once."""
        if sig not in _ENDING or not _alive(pid):
            return
        if pid not in self.logs and pid not in _traced(self.run):
            if not self._await_exec(pid):
                return
            if pid not in self.logs and not (self._starting(pid) and self._await_record(pid)
                                             and pid in self.logs):
                return  # not ours (a forkserver's worker is ours, not our child)
        if sig not in _FATAL:
            return
        now = time.monotonic()
        if now - self.burst > 2 * KILL_SETTLE:
            self.burst = now
        left = self.burst + KILL_SETTLE - now
        if left > 0:
            time.sleep(left)

    def _await_exec(self, pid):
        """A child of ours still running our image (multiprocessing's spawn
        returns between fork and exec, and a fork child reports quickly):
        waits until it has exec'd or reported (True). False when it died or
        BOOT_WAIT passed first."""
        mine = _read_proc('self/cmdline')

        def exec_done():
            stat = _read_proc('%d/stat' % pid)
            fields = stat[stat.rfind(b')') + 2:].split()
            if len(fields) < 2 or fields[1] != str(self.pid).encode():
                return True     # not our child: nothing to wait for here
            return _read_proc('%d/cmdline' % pid) != mine
        return self._wait(pid, exec_done)

    def _starting(self, pid):
        """pid is a Python started with our run in its environment, to
        report to us, which has not reported yet."""
        try:
            exe = os.path.basename(os.readlink('/proc/%d/exe' % pid))
            with open('/proc/%d/environ' % pid, 'rb') as f:
                environ = f.read()
        except OSError:
            return False
        if not exe.startswith('python'):
            return False    # a shell or any other program: it never reports
        key = os.fsencode(ENV) + b'='
        for var in environ.split(b'\0'):
            if var.startswith(key):
                try:
                    cfg = json.loads(var[len(key):].decode('utf-8', 'surrogateescape'))
                except ValueError:
                    return False
                return (isinstance(cfg, dict) and cfg.get('parent') == self.pid
                        and cfg.get('run') == self.run)
        return False

    def _await_record(self, pid):
        """Waits until pid has reported (True), has died or BOOT_WAIT has
        passed (False)."""
        return self._wait(pid, lambda: False)

    def _wait(self, pid, done):
        """Polls until done() or pid has reported (True), or until pid has
        died or BOOT_WAIT has passed (False)."""
        end = time.monotonic() + BOOT_WAIT
        while True:
            if done():
                return True
            self.drain()
            if any(r.get('pid') == pid for r in self.children):
                return True
            if time.monotonic() >= end or not _alive(pid):
                return False
            time.sleep(0.002)

    def _write(self, text):
        t = self.obj.tracer
        if t is not None and t.open:
            try:
                t.write_message(text)
            except Exception:
                pass

    def after_fork_child(self):
        parent = self.pid
        self.pid = os.getpid()
        self.ancestor = parent
        self.top = False
        self.children = []
        self.logs = {}
        if self.lockfd is not None:
            os.close(self.lockfd)   # the parent's open file, hence its lock
        self._reset()
        if not self.hold():
            self.cfg = dict(self.cfg, run=None)
        t = self.obj.tracer
        rec = {'pid': self.pid, 'ppid': parent, 'how': 'fork'}
        if t is not None and t.open:
            rec['log'] = t.path
            claim(self.run, t.path)
        else:
            rec['error'] = (t.error if t is not None else None) or 'no log open'
        report(self.run, parent, rec)
        self.export()


# -- hooks, installed once per process ---------------------------------------

def _alive(pid):
    """pid exists and is not a zombie."""
    try:
        fd = os.open('/proc/%d/stat' % pid, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        stat = os.read(fd, 512)
    except OSError:
        return False
    finally:
        os.close(fd)
    return stat[stat.rfind(b')') + 2:][:1] not in (b'Z', b'X', b'')


def _read_proc(name):
    try:
        with open('/proc/' + name, 'rb') as f:
            return f.read()
    except OSError:
        return b''


def _traced(run):
    """Every pid of the run with a log, from every process's record file."""
    pids = set()
    try:
        names = os.listdir(run)
    except (OSError, TypeError):
        return pids
    for n in names:
        if n.endswith('.children'):
            for rec in _records(os.path.join(run, n)):
                if rec.get('log'):
                    pids.add(rec.get('pid'))
    return pids


def _records(path):
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError:
        return []
    out = []
    for line in data.split(b'\n'):
        if line:
            try:
                out.append(json.loads(line.decode('utf-8', 'surrogateescape')))
            except ValueError:
                pass
    return out


# Raised by CPython under a process-wide "being installed" flag (3.11): a
# hook that let the GIL go there (our reads do) makes sys.setprofile fail in
# any thread starting meanwhile, and threading's bootstrap dies of it.
_NOT_THERE = frozenset(('sys.setprofile', 'sys.settrace'))


def _audit(event, args):
    s = _session
    if s is None or event in _NOT_THERE:
        return
    if event in _PROCESS_EVENTS or time.monotonic() - s.last >= DRAIN_INTERVAL:
        s.drain()
    if event == 'os.kill' and s.pid == os.getpid():
        try:
            s.before_kill(*args)
        except Exception:
            pass


def _on_close(why):
    s = _session
    if s is not None and s.pid == os.getpid():
        s.drain()
        if why != 'exec':   # the new image takes our share
            s.leave()


def _after_fork_child():
    s = _session
    if s is not None:
        s.after_fork_child()


class _ExecHook:
    """The new image reports to our traced ancestor, as we did: it takes our
    place. Its log gets another name (same pid)."""

    def __init__(self):
        self.saved = None

    def before(self, path, argv, env):
        s = _session
        if s is None:
            return env
        s.drain()
        cfg = dict(s.cfg, parent=s.ancestor, exec_pid=os.getpid(), exec_offset=s.offset)
        t = s.obj.tracer
        if t is not None and t.open:
            cfg['exec_from'] = t.path
        text = json.dumps(cfg, sort_keys=True)
        if env is None:
            self.saved = os.environ.get(ENV)
            os.environ[ENV] = text
            return None
        if ENV in env:
            env = dict(env)
            env[ENV] = text
        return env

    def closed(self, results):
        pass

    def failed(self, error):
        s = _session
        if s is None:
            return
        if self.saved is not None:
            os.environ[ENV] = self.saved
            self.saved = None
        t = s.obj.tracer
        if t is not None and t.open:
            claim(s.run, t.path)


def _install():
    global _installed
    if _installed:
        return
    _installed = True
    sys.addaudithook(_audit)
    pmt_tracer._close_hooks.append(_on_close)
    pmt_tracer._exec_hooks.append(_ExecHook())
    os.register_at_fork(after_in_child=_after_fork_child)
    atexit.register(_at_exit)


def _at_exit():
    _on_close('exit')


def _remove_run(run):
    import shutil
    if run:
        shutil.rmtree(run, True)


# -- the top process (python -m pmt_tracer --follow-children) ----------------

def absolute(pattern):
    """The output pattern made absolute: children may run elsewhere."""
    if os.path.isabs(pattern):
        return pattern
    return os.path.join(os.getcwd().replace('%', '%%'), pattern)


def begin(opts):
    """Prepares the run (its directory, the environment) before the top
    process's log is opened. Returns the session; attach() it once open."""
    import tempfile
    _sweep(tempfile.gettempdir())
    run = tempfile.mkdtemp(prefix=RUN_PREFIX)
    os.close(os.open(os.path.join(run, 'lock'), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(pmt_tracer.__file__)))
    cfg = {'format': FORMAT, 'run': run, 'pkg': pkg, 'abi': extension_abi(),
           'python': '%d.%d' % sys.version_info[:2], 'top': os.getpid(), 'parent': None,
           'opts': opts}
    boot = bootstrap_dir()
    old = os.environ.get('PYTHONPATH')
    saved = {'PYTHONPATH': old, ENV: os.environ.get(ENV)}
    os.environ['PYTHONPATH'] = boot + (os.pathsep + old if old else '')
    s = _Session(cfg, None, True)
    s.saved_env = saved
    s.hold()
    return s


def _sweep(tmp):
    """Removes the run directories nobody holds any more: those of runs
    whose last process was killed (SIGKILL) or left while another was still
    dying. Only ours, and only when old enough that their top process has
    long taken its lock."""
    try:
        names = os.listdir(tmp)
    except OSError:
        return
    now = time.time()
    for n in names:
        if not n.startswith(RUN_PREFIX):
            continue
        d = os.path.join(tmp, n)
        try:
            st = os.lstat(d)
            if st.st_uid != os.getuid() or now - st.st_mtime < SWEEP_AGE:
                continue
            fd = os.open(os.path.join(d, 'lock'), os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            _remove_run(d)
        except OSError:
            pass
        finally:
            os.close(fd)


def abort(s):
    """The top log could not be opened: the environment as it was."""
    for k, v in s.saved_env.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    s.leave()


def attach(s, obj):
    """After the top process's log is open (its hook suspended meanwhile)."""
    global _session
    obj.tracer.suspend()
    try:
        s.obj = obj
        claim(s.run, obj.log_file_path())
        _session = s
        s.export()
        _install()
    finally:
        obj.tracer.resume()


def finish(s):
    """At the end of the top process: the last child records read (call
    before the log is closed). Returns every record of the run, direct
    children or not, read from the run directory, which is then removed;
    None in a fork child of the top process (the run is not its own)."""
    global _session
    s.drain()
    if not (s.pid == os.getpid() and s.top):
        return None
    records = []
    try:
        names = sorted(os.listdir(s.run))
    except OSError:
        names = []
    for n in names:
        if n.endswith('.children'):
            records += _records(os.path.join(s.run, n))
    _session = None
    s.leave()
    return records


# -- a child ------------------------------------------------------------------

def _open(cfg, argv):
    o = cfg['opts']
    cls = pmt_tracer.Trace if o.get('mode') == 'trace' else pmt_tracer.Profile
    pattern = child_pattern(o['output'])
    run = cfg.get('run')
    last = None
    for n in range(1, 1000):
        tmpl = pattern if n == 1 else _insert(pattern, '-%d' % n)
        if claimed(run, _pmt_tracer.expand_path(tmpl)):
            continue
        obj = cls(o.get('trigger', 0), None, tmpl, prev=o.get('prev', False),
                  calculate=o.get('calculate', 'all'), log=o.get('log', True),
                  rss_source=o.get('rss_source', 'auto'), force=o.get('force', False),
                  argv=argv, hook=o.get('hook', 'auto'))
        try:
            obj.start()
        except FileExistsError as e:
            last = e
            continue
        return obj
    raise last or FileExistsError('no free log name')


def bootstrap(text):
    """Called by sitecustomize in a child whose interpreter can load the
    tracer. Never raises: a child that cannot be traced runs untraced, said
    in one line on stderr and in its ancestor's log."""
    global _session
    try:
        cfg = json.loads(text)
    except ValueError as e:
        _notice('not traced: %s: %s' % (ENV, e))
        return
    if not isinstance(cfg, dict) or cfg.get('format') != FORMAT or 'opts' not in cfg:
        _notice('not traced: %s is not from this version of pmt_tracer' % ENV)
        return
    pid = os.getpid()
    how = 'exec' if cfg.get('exec_pid') == pid else 'spawn'
    parent = cfg.get('parent')
    session = _Session(cfg, None, cfg.get('top') == pid)
    if how == 'exec':
        # The records our previous image did not read are ours.
        session.offset = cfg.get('exec_offset') or 0
    if not session.hold():
        cfg['run'] = None       # the run is over: traced, reported to nobody
    run = cfg.get('run')
    rec = {'pid': pid, 'ppid': os.getppid(), 'how': how}
    try:
        obj = _open(cfg, _cmdline())
    except Exception as e:
        rec['error'] = str(e)
        _notice('not traced: %s' % e)
        report(run, parent, rec)
        session.leave()
        return
    # What is left is ours, not the child's: out of its log.
    obj.tracer.suspend()
    try:
        claim(run, obj.log_file_path())
        if how == 'exec' and cfg.get('exec_from'):
            obj.write_message_to_log('pmt: exec of pid %d; this image continues %s'
                                     % (pid, cfg['exec_from']))
        rec['log'] = obj.log_file_path()
        session.obj = obj
        _session = session
        session.export()
        # As the launcher does: SIGTERM and SIGHUP close the log with a
        # trailer, and the child still dies of the signal. In place before
        # the record, for which a parent sending a signal waits.
        _pmt_tracer._close_on_signals()
        _install()
        report(run, parent, rec)
    finally:
        obj.tracer.resume()
