# SPDX-License-Identifier: MIT
"""A small, independent decoder of pmt event logs (docs/FORMAT.md), for the
tests: it checks the tracer's output without going through libpmt's reader.
zstandard is not a dependency: the `zstd` CLI decompresses."""
import subprocess

MAGIC = b'\x89PMTLOG\n'
KINDS = ['CALL', 'EXCEPTION', 'LINE', 'RETURN', 'C_CALL', 'C_EXCEPTION', 'C_RETURN', 'OPCODE']
TAG_HEADER, TAG_CODE, TAG_THREAD, TAG_MESSAGE, TAG_SKIP, TAG_TRAILER = 1, 2, 3, 4, 5, 6
TAG_NAME, TAG_SITE = 7, 8
HDR_OBJECTS, HDR_NO_EVENTS = 0x20, 0x40
HDR_PREV, HDR_CALC_NONE, HDR_HEAP_LIBC, HDR_HEAP_PYTHON = 1, 2, 8, 16
# ALLOC ops (docs/FORMAT.md, "Heap records")
OPS = ['malloc', 'calloc', 'realloc', 'free', 'free(NULL)', 'posix_memalign', 'aligned_alloc',
       'memalign', 'valloc', 'pvalloc', 'py_malloc', 'py_calloc', 'py_realloc', 'py_free',
       'py_free(NULL)']
TRL_CLEAN, TRL_HOOK_ERROR, TRL_CUT, TRL_SIGNAL = 1, 2, 4, 8


class Truncated(Exception):
    pass


class Event:
    __slots__ = ('num', 'kind', 'code', 'line', 't_ns', 'rss', 'thread')

    def __init__(self, num, kind, code, line, t_ns, rss, thread):
        self.num, self.kind, self.code, self.line = num, kind, code, line
        self.t_ns, self.rss, self.thread = t_ns, rss, thread

    @property
    def what(self):
        return KINDS[self.kind]

    def __repr__(self):
        return 'Event(%d %s code=%d line=%d rss=%d thread=%d)' % (
            self.num, self.what, self.code, self.line, self.rss, self.thread)


class Alloc:
    """An allocator call: op name, block, old block (realloc), size, align,
    Python domain (1 MEM, 2 OBJ), the event number it precedes, and its site."""
    __slots__ = ('op', 'addr', 'old', 'size', 'align', 'domain', 'num', 'thread', 'code', 'line')

    def __init__(self, op, addr, old, size, align, domain, num, site):
        self.op, self.addr, self.old, self.size, self.align = op, addr, old, size, align
        self.domain, self.num = domain, num
        self.thread, self.code, self.line = site

    def __repr__(self):
        return 'Alloc(%s %#x size=%d ev=%d thread=%d code=%d line=%d)' % (
            self.op, self.addr, self.size, self.num, self.thread, self.code, self.line)


class Obj:
    """An object created ('NEW') or destroyed ('DEL'): its type name, address,
    time (ns since the start), RSS (pages), the event number it precedes,
    and its site (thread, code, line)."""
    __slots__ = ('op', 'type', 'addr', 't_ns', 'rss', 'num', 'thread', 'code', 'line')

    def __init__(self, op, type, addr, t_ns, rss, num, site):
        self.op, self.type, self.addr, self.t_ns, self.rss = op, type, addr, t_ns, rss
        self.num = num
        self.thread, self.code, self.line = site

    def __repr__(self):
        return 'Obj(%s %s %#x ev=%d thread=%d code=%d line=%d)' % (
            self.op, self.type, self.addr, self.num, self.thread, self.code, self.line)


class Code:
    __slots__ = ('id', 'kind', 'firstline', 'file', 'name')

    def __init__(self, id, kind, firstline, file, name):
        self.id, self.kind, self.firstline, self.file, self.name = id, kind, firstline, file, name


class Log:
    def __init__(self):
        self.header = {}
        self.codes = {}
        self.events = []
        self.allocs = []
        self.objects = []
        self.names = {}        # NAME id -> type name
        self.messages = []     # (event number, thread, text)
        self.threads = {}      # index -> (tid, name)
        self.skipped = 0
        self.trailer = None
        self.truncated = False
        self.zstd_ok = True

    @property
    def total(self):
        """Events seen: written + skipped."""
        return len(self.events) + self.skipped

    def code(self, ev):
        return self.codes.get(ev.code)

    def file_of(self, ev):
        c = self.codes.get(ev.code)
        return c.file if c else None

    def name_of(self, ev):
        c = self.codes.get(ev.code)
        return c.name if c else None


def _uv(d, p):
    v = s = 0
    while True:
        if p >= len(d):
            raise Truncated('varint')
        b = d[p]
        p += 1
        v |= (b & 0x7f) << s
        s += 7
        if b < 0x80:
            return v, p
        if s > 63:
            raise ValueError('varint too long')


def _sv(d, p):
    v, p = _uv(d, p)
    return (v >> 1) ^ -(v & 1), p


def _str(d, p):
    n, p = _uv(d, p)
    if p + n > len(d):
        raise Truncated('str')
    return d[p:p + n], p + n


def parse(data, log=None):
    log = log or Log()
    if len(data) < len(MAGIC):
        log.truncated = True
        return log
    if data[:8] != MAGIC:
        raise ValueError('not a pmt log')
    p = 8
    num = 0
    t = 0
    rss = 0
    thread = 0
    site = (0, 0, 0)
    last_addr = 0
    obj_addr = obj_t = 0
    obj_rss = None
    M64 = (1 << 64) - 1
    while p < len(data):
        start = p
        try:
            tag = data[p]
            p += 1
            if tag & 0xf0 == 0x80:
                op = tag & 15
                if op == 15:
                    raise ValueError('bad ALLOC op %d at %d' % (op, start))
                domain = addr = old = size = align = 0
                if op >= 10:
                    domain, p = _uv(data, p)
                if op not in (4, 14):
                    d, p = _sv(data, p)
                    addr = (last_addr + d) & M64
                    last_addr = addr
                    if op in (2, 12):
                        d, p = _sv(data, p)
                        old = (addr + d) & M64
                    if op not in (3, 13):
                        size, p = _uv(data, p)
                    if op in (5, 6, 7):
                        align, p = _uv(data, p)
                log.allocs.append(Alloc(OPS[op], addr, old, size, align, domain, num, site))
                continue
            if tag & 0xf0 == 0x90:
                op = tag & 15
                if op > 1:
                    raise ValueError('bad OBJECT op %d at %d' % (op, start))
                tid, p = _uv(data, p)
                d, p = _sv(data, p)
                obj_addr = (obj_addr + d) & M64
                dt, p = _uv(data, p)
                obj_t += dt
                dr, p = _sv(data, p)
                if obj_rss is None:
                    obj_rss = log.header.get('rss_start', 0)
                obj_rss += dr
                log.objects.append(Obj(('NEW', 'DEL')[op], log.names.get(tid), obj_addr, obj_t,
                                       obj_rss, num, site))
                continue
            if tag & 0xf8 == 0x10:
                code, p = _uv(data, p)
                line, p = _uv(data, p)
                dt, p = _uv(data, p)
                dr, p = _sv(data, p)
                t += dt
                rss += dr
                log.events.append(Event(num, tag & 7, code, line, t, rss, thread))
                num += 1
                continue
            n, p = _uv(data, p)
            if p + n > len(data):
                raise Truncated('record')
            pl = data[p:p + n]
            p += n
        except Truncated:
            log.truncated = True
            break
        q = 0
        if tag == TAG_HEADER:
            h = log.header
            h['version'], q = _uv(pl, q)
            h['pid'], q = _uv(pl, q)
            h['ppid'], q = _uv(pl, q)
            h['page_size'], q = _uv(pl, q)
            v, q = _str(pl, q)
            h['python_version'] = v.decode()
            argc, q = _uv(pl, q)
            argv = []
            for _ in range(argc):
                a, q = _str(pl, q)
                argv.append(a.decode('utf-8', 'surrogateescape'))
            h['argv'] = argv
            h['start_wall_ns'], q = _uv(pl, q)
            h['mode'], q = _uv(pl, q)
            s, q = _str(pl, q)
            h['rss_source'] = s.decode()
            h['drss_trigger'], q = _sv(pl, q)
            h['flags'], q = _uv(pl, q)
            h['rss_start'], q = _uv(pl, q)
            rss = h['rss_start']
        elif tag == TAG_CODE:
            cid, q = _uv(pl, q)
            kind, q = _uv(pl, q)
            fl, q = _uv(pl, q)
            f, q = _str(pl, q)
            nm, q = _str(pl, q)
            log.codes[cid] = Code(cid, kind, fl, f.decode('utf-8', 'surrogateescape'),
                                  nm.decode('utf-8', 'surrogateescape'))
        elif tag == TAG_THREAD:
            idx, q = _uv(pl, q)
            tid, q = _uv(pl, q)
            name = None
            if q < len(pl):
                nm, q = _str(pl, q)
                name = nm.decode('utf-8', 'replace')
            old = log.threads.get(idx)
            if name is None and old:
                name = old[1]
            log.threads[idx] = (tid, name)
            thread = idx
        elif tag == TAG_SITE:
            th, q = _uv(pl, q)
            code, q = _uv(pl, q)
            line, q = _uv(pl, q)
            site = (th, code, line)
            if q < len(pl):
                tid, q = _uv(pl, q)
                nm, q = _str(pl, q)
                if th not in log.threads:
                    log.threads[th] = (tid, nm.decode('utf-8', 'replace'))
        elif tag == TAG_NAME:
            kind, q = _uv(pl, q)
            nid, q = _uv(pl, q)
            nm, q = _str(pl, q)
            if kind == 0:
                log.names[nid] = nm.decode('utf-8', 'replace')
        elif tag == TAG_MESSAGE:
            log.messages.append((num, thread, pl.decode('utf-8', 'replace')))
        elif tag == TAG_SKIP:
            k, q = _uv(pl, q)
            num += k
            log.skipped += k
        elif tag == TAG_TRAILER:
            tr = {}
            tr['total_events'], q = _uv(pl, q)
            tr['end_wall_ns'], q = _uv(pl, q)
            tr['peak_rss'], q = _uv(pl, q)
            tr['flags'], q = _uv(pl, q)
            tr['signal'] = 0
            if tr['flags'] & TRL_SIGNAL:
                tr['signal'], q = _uv(pl, q)
            log.trailer = tr
        elif 0x20 <= tag <= 0x7f:
            pass
        else:
            raise ValueError('bad tag 0x%02x at %d' % (tag, start))
    if log.trailer is None:
        log.truncated = True
    return log


def read(path):
    """Decodes a .log.zst file. A truncated file (zstd fails on the last frame,
    or no trailer) gives log.truncated = True and every whole record before."""
    r = subprocess.run(['zstd', '-dcq', str(path)], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    log = Log()
    log.zstd_ok = r.returncode == 0
    parse(bytearray(r.stdout), log)
    if not log.zstd_ok:
        log.truncated = True
    return log
