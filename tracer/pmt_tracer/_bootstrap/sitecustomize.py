# SPDX-License-Identifier: MIT
# pmt_tracer --follow-children: this directory is first on PYTHONPATH in the
# environment of a traced program, so every Python it starts runs this file
# at start-up (see pmt_tracer/follow.py). It takes its directory off
# sys.path, runs the sitecustomize it hides, then traces the child if this
# interpreter can load the tracer. Any Python may read this file (even 2.7):
# no syntax newer than that, and it never raises.
import os
import sys

_ENV = 'PMT_TRACER_FOLLOW'


def _pmt_here():
    return os.path.dirname(os.path.abspath(__file__))


def _pmt_notice(text):
    try:
        sys.stderr.write('pmt_tracer: pid %d: %s\n' % (os.getpid(), text))
        sys.stderr.flush()
    except Exception:
        pass


def _pmt_chain(here):
    """Runs the next sitecustomize on sys.path, as site.py would have."""
    try:
        import importlib.machinery
        import importlib.util
    except ImportError:
        import imp
        try:
            found = imp.find_module('sitecustomize', sys.path)
        except ImportError:
            return
        try:
            imp.load_module('sitecustomize', *found)
        finally:
            if found[0] is not None:
                found[0].close()
        return
    spec = importlib.machinery.PathFinder.find_spec('sitecustomize', sys.path)
    if spec is None or spec.loader is None:
        return
    mod = importlib.util.module_from_spec(spec)
    sys.modules['sitecustomize'] = mod
    spec.loader.exec_module(mod)


def _pmt_report(cfg, error):
    """Tells the traced ancestor that this child is not traced."""
    import json
    run, parent = cfg.get('run'), cfg.get('parent')
    if not run or not parent:
        return
    how = 'exec' if cfg.get('exec_pid') == os.getpid() else 'spawn'
    line = json.dumps({'pid': os.getpid(), 'ppid': os.getppid(), 'how': how,
                       'error': error}, sort_keys=True) + '\n'
    try:
        fd = os.open(os.path.join(run, '%d.children' % parent),
                     os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, 'O_CLOEXEC', 0),
                     int('600', 8))
    except OSError:
        return
    try:
        os.write(fd, line.encode('utf-8'))
    except OSError:
        pass
    os.close(fd)


def _pmt_why_not(cfg):
    """None if this interpreter can load the extension that started the
    run, else why not."""
    impl = getattr(sys, 'implementation', None)
    me = '%s %d.%d' % (getattr(impl, 'name', 'python'), sys.version_info[0], sys.version_info[1])
    want = 'CPython %s (%s)' % (cfg.get('python'), cfg.get('abi'))
    if impl is None or impl.name != 'cpython' or sys.version_info < (3, 8):
        return 'this interpreter (%s, %s) cannot load the tracer, built for %s' % (
            sys.executable, me, want)
    import importlib.machinery
    abi = importlib.machinery.EXTENSION_SUFFIXES[0]
    if abi != cfg.get('abi'):
        return 'this interpreter (%s, %s) cannot load the tracer, built for %s' % (
            sys.executable, abi, want)
    return None


def _pmt_trace(text):
    import json
    try:
        cfg = json.loads(text)
    except ValueError:
        _pmt_notice('not traced: %s is not JSON' % _ENV)
        return
    why = _pmt_why_not(cfg)
    if why is not None:
        _pmt_notice('not traced: ' + why)
        _pmt_report(cfg, why)
        return
    # The tracer from where the run's top process had it, whatever this
    # child's own sys.path holds.
    import importlib.machinery
    import importlib.util
    if 'pmt_tracer' not in sys.modules:
        spec = importlib.machinery.PathFinder.find_spec('pmt_tracer', [cfg.get('pkg') or ''])
        if spec is None:
            why = 'pmt_tracer not found in %s' % cfg.get('pkg')
            _pmt_notice('not traced: ' + why)
            _pmt_report(cfg, why)
            return
        mod = importlib.util.module_from_spec(spec)
        sys.modules['pmt_tracer'] = mod
        try:
            spec.loader.exec_module(mod)
        except BaseException:
            del sys.modules['pmt_tracer']
            raise
    from pmt_tracer import follow
    follow.bootstrap(text)


def _pmt_main():
    here = _pmt_here()
    sys.path[:] = [p for p in sys.path if not (p and os.path.abspath(p) == here)]
    text = os.environ.get(_ENV)
    try:
        _pmt_chain(here)
    finally:
        if text:
            try:
                _pmt_trace(text)
            except Exception as e:
                _pmt_notice('not traced: %s: %s' % (type(e).__name__, e))


# Without a hidden sitecustomize this module stays imported under that name:
# it cannot leave sys.modules while it is being imported.
_pmt_main()
