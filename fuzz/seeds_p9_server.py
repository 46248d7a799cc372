#!/usr/bin/env python3
"""Writes the seed inputs of fuzz/fuzz_p9_server.c (seed-*) into the
directory given: request sequences a client sends after the target's own
Tversion and Tattach of fid 0 (chunk mode, first byte 0 or 2), and a few
raw streams (first byte 1).  Rerun it only to add seeds: the files it
writes are committed."""
import os
import struct
import sys

def s(x):
    x = x.encode() if isinstance(x, str) else x
    return struct.pack('<H', len(x)) + x

class Seq:
    def __init__(self):
        self.chunks = []
        self.tag = 2

    def msg(self, typ, body):
        b = struct.pack('<BH', typ, self.tag) + body
        self.tag += 1
        self.chunks.append(struct.pack('<H', len(b)) + b)
        return self

    def walk(self, fid, newfid, *names):
        return self.msg(110, struct.pack('<IIH', fid, newfid, len(names)) +
                        b''.join(s(n) for n in names))
    def lopen(self, fid, flags): return self.msg(12, struct.pack('<II', fid, flags))
    def lcreate(self, fid, name, flags=0o102, mode=0o644, gid=0):
        return self.msg(14, struct.pack('<I', fid) + s(name) + struct.pack('<III', flags, mode, gid))
    def symlink(self, fid, name, tgt, gid=0):
        return self.msg(16, struct.pack('<I', fid) + s(name) + s(tgt) + struct.pack('<I', gid))
    def mknod(self, fid, name, mode, ma=0, mi=0, gid=0):
        return self.msg(18, struct.pack('<I', fid) + s(name) + struct.pack('<IIII', mode, ma, mi, gid))
    def rename(self, fid, dfid, name): return self.msg(20, struct.pack('<II', fid, dfid) + s(name))
    def readlink(self, fid): return self.msg(22, struct.pack('<I', fid))
    def getattr(self, fid, mask=0x3fff): return self.msg(24, struct.pack('<IQ', fid, mask))
    def setattr(self, fid, valid, mode=0, uid=0, gid=0, size=0):
        return self.msg(26, struct.pack('<IIIIIQQQQQ', fid, valid, mode, uid, gid, size, 0, 0, 0, 0))
    def xattrwalk(self, fid, newfid, name): return self.msg(30, struct.pack('<II', fid, newfid) + s(name))
    def xattrcreate(self, fid, name, size, flags=0):
        return self.msg(32, struct.pack('<I', fid) + s(name) + struct.pack('<QI', size, flags))
    def readdir(self, fid, off=0, count=4000): return self.msg(40, struct.pack('<IQI', fid, off, count))
    def fsync(self, fid): return self.msg(50, struct.pack('<II', fid, 0))
    def lock(self, fid, typ=1, start=0, length=0):
        return self.msg(52, struct.pack('<IBIQQI', fid, typ, 0, start, length, 1) + s('c'))
    def getlock(self, fid, typ=1):
        return self.msg(54, struct.pack('<IBQQI', fid, typ, 0, 0, 1) + s('c'))
    def link(self, dfid, fid, name): return self.msg(70, struct.pack('<II', dfid, fid) + s(name))
    def mkdir(self, dfid, name, mode=0o755, gid=0):
        return self.msg(72, struct.pack('<I', dfid) + s(name) + struct.pack('<II', mode, gid))
    def renameat(self, od, on, nd, nn):
        return self.msg(74, struct.pack('<I', od) + s(on) + struct.pack('<I', nd) + s(nn))
    def unlinkat(self, dfid, name, flags=0): return self.msg(76, struct.pack('<I', dfid) + s(name) + struct.pack('<I', flags))
    def statfs(self, fid): return self.msg(8, struct.pack('<I', fid))
    def flush(self, oldtag): return self.msg(108, struct.pack('<H', oldtag))
    def read(self, fid, off=0, count=4000): return self.msg(116, struct.pack('<IQI', fid, off, count))
    def write(self, fid, data, off=0):
        return self.msg(118, struct.pack('<IQI', fid, off, len(data)) + data)
    def clunk(self, fid): return self.msg(120, struct.pack('<I', fid))
    def remove(self, fid): return self.msg(122, struct.pack('<I', fid))
    def version(self, msize=8192, v='9P2000.L'): return self.msg(100, struct.pack('<I', msize) + s(v))
    def attach(self, fid, uid=0): return self.msg(104, struct.pack('<II', fid, 0xffffffff) + s('') + s('') + struct.pack('<I', uid))

    def bytes(self, flags=0):
        return bytes([flags]) + b''.join(self.chunks)

def seeds():
    q = Seq()
    q.walk(0, 1, 'f').lopen(1, 2).read(1).write(1, b'abc', 3).fsync(1).getattr(1).clunk(1)
    yield 'file-io', q.bytes()
    q = Seq()
    q.walk(0, 1).lopen(1, 0o200000).readdir(1).readdir(1, 5).clunk(1).statfs(0)
    yield 'readdir', q.bytes()
    q = Seq()
    q.walk(0, 1, 'd').lcreate(1, 'n').write(1, b'x' * 100).clunk(1)
    q.walk(0, 2, 'd').mkdir(2, 'sub').symlink(2, 'sl', '../../out').mknod(2, 'fifo', 0o10644)
    q.walk(0, 3, 'd', 'sub').walk(3, 4, '..', '..', '..').getattr(4).unlinkat(2, 'sub', 0x200)
    yield 'create', q.bytes()
    q = Seq()
    q.walk(0, 1, 'd', 'g').walk(0, 2, 'd').walk(0, 3).rename(1, 3, 'moved').renameat(3, 'moved', 2, 'back')
    q.renameat(0, 'd', 0, 'e').getattr(1).link(3, 1, 'hard').remove(1).getattr(2)
    yield 'rename', q.bytes(2)
    q = Seq()
    q.walk(0, 1, 'f').xattrcreate(1, 'user.a', 4).write(1, b'abcd').clunk(1)
    q.walk(0, 2, 'f').xattrwalk(2, 3, 'user.a').read(3).clunk(3).xattrwalk(2, 4, '').read(4)
    q.walk(0, 5, 'out').xattrwalk(5, 6, 'trusted.x').readlink(5)
    yield 'xattr', q.bytes()
    q = Seq()
    q.walk(0, 1, 'f').lopen(1, 2).lock(1).getlock(1).walk(0, 2, 'f').lopen(2, 2).lock(2).getlock(2, 0).lock(1, 2)
    yield 'lock', q.bytes()
    q = Seq()
    q.walk(0, 1, 'f').setattr(1, 0x1 | 0x8, mode=0o4777, size=10).setattr(0, 0x6, uid=1000, gid=1000)
    q.walk(0, 2, 'root', 'etc').walk(0, 3, 'd', 'up', 'x').walk(0, 4, 'out').lopen(4, 0)
    yield 'setattr-escape', q.bytes(2)
    q = Seq()
    q.walk(0, 1, 'f').lopen(1, 0).read(1, 0, 8000).flush(4).flush(9).version().walk(0, 2).attach(5).walk(5, 6, 'd')
    yield 'flush-version', q.bytes()
    q = Seq()
    q.walk(0, 0, 'd').walk(0, 0, '..').walk(0, 1, 'nonexistent', 'x').walk(1, 1).clunk(0).remove(0).getattr(0)
    yield 'fid-reuse', q.bytes()
    q = Seq()
    q.version(8192).attach(0).walk(0, 1, 'f').getattr(1)
    # raw: the same as one stream with real sizes
    raw = b''
    for c in q.chunks:
        l = struct.unpack('<H', c[:2])[0]
        raw += struct.pack('<I', l + 4) + c[2:]
    yield 'raw', bytes([1]) + raw
    yield 'raw-short', bytes([1]) + struct.pack('<I', 3) + b'xyz'
    yield 'raw-big', bytes([1]) + raw[:19 + 4 + 8] + struct.pack('<IBH', 100000, 116, 7) + b'z' * 100 + raw[19:]

def main():
    out = sys.argv[1]
    for name, data in seeds():
        with open(os.path.join(out, 'seed-' + name), 'wb') as f:
            f.write(data)

main()
