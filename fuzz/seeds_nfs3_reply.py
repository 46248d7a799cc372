#!/usr/bin/env python3
"""Writes the seed inputs of fuzz/fuzz_nfs3_reply.c (seed-*) into the
directory given: for each procedure a well-formed successful result (and
a few failures), XDR as RFC 1813 and RFC 1813's MOUNT v3 lay them out,
after the byte that picks the procedure (lib/nfs/nfs3_i.h, enum proc).
Rerun it only to add seeds: the files it writes are committed."""
import os
import struct
import sys

PROCS = ['mnt', 'getattr', 'setattr', 'lookup', 'create', 'mkdir',
         'symlink', 'mknod', 'link', 'remove', 'rmdir', 'rename',
         'readlink', 'read', 'write', 'commit', 'readdirplus', 'fsstat',
         'fsinfo']

def u32(v): return struct.pack('>I', v)
def u64(v): return struct.pack('>Q', v)
def opaque(b): return u32(len(b)) + b + b'\0' * (-len(b) % 4)

def fattr(typ=1, mode=0o644, size=12, fileid=42):
    return (u32(typ) + u32(mode) + u32(1) + u32(1000) + u32(1000) +
            u64(size) + u64(4096) + u32(0) + u32(0) + u64(7) + u64(fileid) +
            u32(1700000000) + u32(0) + u32(1700000001) + u32(0) +
            u32(1700000002) + u32(0))
def post_attr(**kw): return u32(1) + fattr(**kw)
NOATTR = u32(0)
def wcc(): return u32(1) + u64(12) + u32(1) + u32(0) + u32(2) + u32(0) + post_attr(typ=2, mode=0o755)
FH = opaque(b'handle!!')
def post_fh(): return u32(1) + FH
OK = u32(0)

def entry(fileid, name, cookie, nxt):
    return (u32(1) + u64(fileid) + opaque(name) + u64(cookie) +
            post_attr(fileid=fileid) + post_fh() + nxt)

def seeds():
    yield 'mnt', OK + FH + u32(2) + u32(1) + u32(0)
    yield 'mnt-noent', u32(2)
    yield 'getattr', OK + fattr()
    yield 'getattr-stale', u32(70)
    yield 'setattr', OK + wcc()
    yield 'lookup', OK + FH + post_attr() + post_attr(typ=2)
    yield 'lookup-noent', u32(2) + post_attr(typ=2)
    for p in ('create', 'mkdir', 'symlink', 'mknod'):
        yield p, OK + post_fh() + post_attr() + wcc()
    yield 'link', OK + post_attr() + wcc()
    yield 'remove', OK + wcc()
    yield 'rmdir', OK + wcc()
    yield 'rename', OK + wcc() + wcc()
    yield 'readlink', OK + post_attr(typ=5) + opaque(b'../target')
    yield 'read', OK + post_attr() + u32(5) + u32(1) + opaque(b'hello')
    yield 'write', OK + wcc() + u32(5) + u32(2) + b'verf0001'
    yield 'commit', OK + wcc() + b'verf0001'
    yield 'readdirplus', (OK + post_attr(typ=2) + b'cookie!!' +
                          entry(1, b'.', 1, entry(2, b'file', 2, u32(0))) +
                          u32(1))
    yield 'readdirplus-jukebox', u32(10008) + NOATTR
    yield 'fsstat', OK + NOATTR + u64(1 << 30) + u64(1 << 29) + u64(1 << 28) + u64(1000) + u64(500) + u64(400) + u32(0)
    yield 'fsinfo', OK + NOATTR + u32(1 << 20) * 6 + u32(4096) + u64(1 << 62) + u32(0) + u32(1) + u32(0x1b)

def main():
    out = sys.argv[1]
    for name, body in seeds():
        proc = PROCS.index(name.split('-')[0])
        with open(os.path.join(out, 'seed-' + name), 'wb') as f:
            f.write(bytes([proc]) + body)

main()
