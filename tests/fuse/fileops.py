#!/usr/bin/env python3
"""fileops.py - fallocate, SEEK_DATA/SEEK_HOLE and copy_file_range on a
directory, each call and its answer printed one a line, so that
tests/fuse/fileops.sh can run it on a tmpfs and on a uvfsd mount and
compare the outputs.

  fileops.py ops DIR      every mode, error, map and copy tmpfs answers
  fileops.py map FILE     the data extents of FILE (SEEK_DATA/SEEK_HOLE)
  fileops.py copy SRC DST copy_file_range of all of SRC into a new DST
  fileops.py user DIR     as a user other than root: fallocate and a copy
                          into set-id files of root's, a read-only file
"""
import ctypes
import errno
import os
import stat
import sys

libc = ctypes.CDLL(None, use_errno=True)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64,
                           ctypes.c_int64]
libc.copy_file_range.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int,
                                 ctypes.c_void_p, ctypes.c_size_t,
                                 ctypes.c_uint]
libc.copy_file_range.restype = ctypes.c_ssize_t

KEEP, PUNCH, NOHIDE, COLLAPSE, ZERO, INSERT, UNSHARE = (
    0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40)
P = 4096


def err(e):
    return errno.errorcode.get(e, str(e))


def fa(fd, mode, off, ln):
    r = libc.fallocate(fd, mode, off, ln)
    return "0" if r == 0 else err(ctypes.get_errno())


def seek(fd, off, whence):
    try:
        return str(os.lseek(fd, off, whence))
    except OSError as e:
        return err(e.errno)


def cfr(fin, fout, n, off_in=None, off_out=None, flags=0):
    """copy_file_range; the offsets after it as well."""
    oi = ctypes.c_int64(off_in) if off_in is not None else None
    oo = ctypes.c_int64(off_out) if off_out is not None else None
    r = libc.copy_file_range(fin, ctypes.byref(oi) if oi is not None else None,
                             fout, ctypes.byref(oo) if oo is not None else None,
                             n, flags)
    res = str(r) if r >= 0 else err(ctypes.get_errno())
    if oi is not None:
        res += " in@%d" % oi.value
    if oo is not None:
        res += " out@%d" % oo.value
    return res


def data_map(fd):
    size = os.fstat(fd).st_size
    out, off = [], 0
    while off < size:
        try:
            d = os.lseek(fd, off, os.SEEK_DATA)
        except OSError as e:
            if e.errno != errno.ENXIO:
                out.append(err(e.errno))
            break
        h = os.lseek(fd, d, os.SEEK_HOLE)
        out.append("%d-%d" % (d, h))
        off = h
    return " ".join(out) or "(none)"


def st(fd):
    s = os.fstat(fd)
    return "size %d blocks %d mode %o" % (s.st_size, s.st_blocks,
                                          stat.S_IMODE(s.st_mode))


def fresh(d, name, flags=os.O_RDWR):
    p = os.path.join(d, name)
    if os.path.lexists(p):
        os.unlink(p)
    return os.open(p, os.O_CREAT | flags, 0o644)


def say(what, res):
    print("%-40s -> %s" % (what, res))


def ops(d):
    fd = fresh(d, "f")
    os.write(fd, b"abc")
    for name, m in [("0", 0), ("KEEP", KEEP), ("PUNCH", PUNCH),
                    ("PUNCH|KEEP", PUNCH | KEEP), ("COLLAPSE", COLLAPSE),
                    ("ZERO", ZERO), ("ZERO|KEEP", ZERO | KEEP),
                    ("INSERT", INSERT), ("UNSHARE", UNSHARE),
                    ("NOHIDE", NOHIDE), ("NOHIDE|PUNCH|KEEP",
                                         NOHIDE | PUNCH | KEEP),
                    ("0x100", 0x100), ("COLLAPSE|KEEP", COLLAPSE | KEEP)]:
        say("fallocate %s 0 %d" % (name, P), fa(fd, m, 0, P))
        say("  then", st(fd))
    say("len 0", fa(fd, 0, 0, 0))
    say("len -1", fa(fd, 0, 0, -1))
    say("off -1", fa(fd, 0, -1, 10))
    say("punch len 0", fa(fd, PUNCH | KEEP, 0, 0))
    say("wrapping", fa(fd, 0, (1 << 63) - 10, 100))
    say("past the largest", fa(fd, 0, 1 << 62, 1 << 62))
    ro = os.open(os.path.join(d, "f"), os.O_RDONLY)
    say("read-only", fa(ro, 0, 0, 10))
    say("read-only bad mode", fa(ro, 0x100, 0, 10))
    say("read-only off -1", fa(ro, 0, -1, 10))
    os.close(ro)
    ap = os.open(os.path.join(d, "f"), os.O_WRONLY | os.O_APPEND)
    say("O_APPEND", fa(ap, 0, 0, 10))
    say("O_APPEND punch", fa(ap, PUNCH | KEEP, 0, 10))
    os.close(ap)
    pa = os.open(os.path.join(d, "f"), os.O_PATH)
    say("O_PATH", fa(pa, 0, 0, 10))
    os.close(pa)
    os.mkfifo(os.path.join(d, "p"))
    pf = os.open(os.path.join(d, "p"), os.O_RDWR)
    say("fifo", fa(pf, 0, 0, 10))
    say("fifo seek data", seek(pf, 0, os.SEEK_DATA))
    os.close(pf)
    os.mkdir(os.path.join(d, "dir"))
    df = os.open(os.path.join(d, "dir"), os.O_RDONLY)
    say("directory", fa(df, 0, 0, 10))
    # (SEEK_DATA/SEEK_HOLE on a directory: tmpfs -EINVAL, FUSE's kernel
    # side answers itself from the size, -ENXIO or the offset: not ours,
    # docs/fuse.md; the conformance body checks the library's -EINVAL)
    os.close(df)
    os.close(fd)

    # the maps tmpfs answers after a sequence of writes, truncates,
    # fallocates and punches
    fd = fresh(d, "s")
    say("empty data", seek(fd, 0, os.SEEK_DATA))
    say("empty hole", seek(fd, 0, os.SEEK_HOLE))
    say("empty data -1", seek(fd, -1, os.SEEK_DATA))
    steps = [
        ("write 1 at 3P+10", lambda: os.pwrite(fd, b"x", 3 * P + 10)),
        ("truncate 10P+5", lambda: os.ftruncate(fd, 10 * P + 5)),
        ("write a page of zeros at 5P",
         lambda: os.pwrite(fd, b"\0" * P, 5 * P)),
        ("fallocate 0 7P+100 10", lambda: fa(fd, 0, 7 * P + 100, 10)),
        ("fallocate KEEP 20P P", lambda: fa(fd, KEEP, 20 * P, P)),
        ("punch 5P+10 100", lambda: fa(fd, PUNCH | KEEP, 5 * P + 10, 100)),
        ("punch 5P P", lambda: fa(fd, PUNCH | KEEP, 5 * P, P)),
        ("punch 3P+5 5P", lambda: fa(fd, PUNCH | KEEP, 3 * P + 5, 5 * P)),
        ("truncate 3P+100", lambda: os.ftruncate(fd, 3 * P + 100)),
        ("fallocate KEEP 20P P", lambda: fa(fd, KEEP, 20 * P, P)),
        ("truncate 30P", lambda: os.ftruncate(fd, 30 * P)),
        ("write 5 at 29P+4000", lambda: os.pwrite(fd, b"12345", 29 * P + 4000)),
        ("truncate 3P+100", lambda: os.ftruncate(fd, 3 * P + 100)),
        ("fallocate 0 8P 2", lambda: fa(fd, 0, 8 * P - 1, 2)),
    ]
    for name, fn in steps:
        r = fn()
        say(name, "%s; %s; map %s" % (r if isinstance(r, str) else "ok",
                                      st(fd), data_map(fd)))
    for off in (0, 3 * P, 3 * P + 99, 3 * P + 100, 4 * P, 8 * P, 8 * P + 1):
        say("at %d data, hole" % off, "%s %s" % (seek(fd, off, os.SEEK_DATA),
                                                 seek(fd, off, os.SEEK_HOLE)))
    say("position after SEEK_DATA 0", seek(fd, 0, os.SEEK_DATA) + " " +
        seek(fd, 0, os.SEEK_CUR))
    os.close(fd)

    # copy_file_range: counts, offsets, errors (contents and sizes; tmpfs
    # fills holes, memfs keeps them: fileops.sh compares those apart)
    a = fresh(d, "a")
    os.pwrite(a, b"A" * 100, 0)
    os.pwrite(a, b"B" * 100, 5 * P)
    b = fresh(d, "b")
    say("copy all at offsets", cfr(a, b, 10 * P, 0, 0))
    say("  positions", "%s %s" % (seek(a, 0, os.SEEK_CUR),
                                  seek(b, 0, os.SEEK_CUR)))
    say("copy at the positions", cfr(a, b, 50))
    say("  positions", "%s %s" % (seek(a, 0, os.SEEK_CUR),
                                  seek(b, 0, os.SEEK_CUR)))
    say("copy in at 200", cfr(a, b, 10, 200))
    say("flags 1", cfr(a, b, 10, flags=1))
    say("len 0", cfr(a, b, 0, 0, 0))
    say("past the end", cfr(a, b, 10, 10 * P, 0))
    say("cut at the end", cfr(a, b, 10, 5 * P + 97, 0))
    say("overlap", cfr(a, a, 100, 0, 50))
    say("overlap backwards", cfr(a, a, 100, 50, 0))
    say("adjacent", cfr(a, a, 50, 0, 50))
    say("overlap after the cut", cfr(a, a, 100, 5 * P + 50, 5 * P + 100))
    say("in -1", cfr(a, b, 10, -1, 0))
    say("out -1", cfr(a, b, 10, 0, -1))
    say("at the largest offset", cfr(a, b, 10, 0, (1 << 63) - 5))
    os.ftruncate(b, 5 * P + 100)
    say("out at INT64_MAX", cfr(a, b, 10, 0, (1 << 63) - 1))
    say("huge len", cfr(a, b, (1 << 63) - 1, 0, 0))
    ro = os.open(os.path.join(d, "b"), os.O_RDONLY)
    wo = os.open(os.path.join(d, "a"), os.O_WRONLY)
    ap = os.open(os.path.join(d, "b"), os.O_WRONLY | os.O_APPEND)
    say("from write-only", cfr(wo, b, 10, 0, 0))
    say("to read-only", cfr(a, ro, 10, 0, 0))
    say("to O_APPEND", cfr(a, ap, 10, 0, 0))
    df = os.open(os.path.join(d, "dir"), os.O_RDONLY)
    say("from a directory", cfr(df, b, 10, 0, 0))
    pf = os.open(os.path.join(d, "p"), os.O_RDWR)
    say("to a fifo", cfr(a, pf, 10, 0, 0))
    for f in (ro, wo, ap, df, pf):
        os.close(f)
    say("a", st(a))
    say("b", "size %d" % os.fstat(b).st_size)
    os.lseek(a, 0, os.SEEK_SET)
    os.lseek(b, 0, os.SEEK_SET)
    say("same content", os.pread(a, 6 * P, 0) == os.pread(b, 6 * P, 0))
    os.close(a)
    os.close(b)


def user(d):
    """As a user other than root, on root's files made by fileops.sh:
    d/su1 and d/su2 (06777), d/sg1 and d/sg2 (02766), d/src (0644,
    data), d/ro (0644)."""
    fd = os.open(os.path.join(d, "su1"), os.O_RDWR)
    say("fallocate KEEP", fa(fd, KEEP, 0, 10))
    say("  then", st(fd))
    os.close(fd)
    fd = os.open(os.path.join(d, "su2"), os.O_RDWR)
    src = os.open(os.path.join(d, "src"), os.O_RDONLY)
    say("copy nothing", cfr(src, fd, 10, 1 << 20, 0))
    say("  then", st(fd))
    say("copy 10", cfr(src, fd, 10, 0, 0))
    say("  then", st(fd))
    os.close(src)
    os.close(fd)
    # setgid without group execute, the writer not in the group: Linux
    # clears it too (FUSE's kernel side leaves it to the daemon)
    fd = os.open(os.path.join(d, "sg1"), os.O_RDWR)
    say("fallocate sg1", fa(fd, 0, 0, 10))
    say("  then", st(fd))
    os.close(fd)
    fd = os.open(os.path.join(d, "sg2"), os.O_RDWR)
    src = os.open(os.path.join(d, "src"), os.O_RDONLY)
    say("fallocate sg2 ZERO_RANGE", fa(fd, ZERO, 0, 10))
    say("copy nothing to sg2", cfr(src, fd, 10, 1 << 20, 0))
    say("  then", st(fd))
    say("copy 10 to sg2", cfr(src, fd, 10, 0, 0))
    say("  then", st(fd))
    os.close(src)
    os.close(fd)
    try:
        os.open(os.path.join(d, "ro"), os.O_RDWR)
        say("open ro for writing", "opened")
    except OSError as e:
        say("open ro for writing", err(e.errno))
    fd = os.open(os.path.join(d, "ro"), os.O_RDONLY)
    say("fallocate read-only", fa(fd, 0, 0, 10))
    say("map of ro", data_map(fd))
    os.close(fd)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "ops":
        ops(args[0])
    elif cmd == "map":
        fd = os.open(args[0], os.O_RDONLY)
        print(data_map(fd))
    elif cmd == "copy":
        fin = os.open(args[0], os.O_RDONLY)
        fout = os.open(args[1], os.O_CREAT | os.O_WRONLY | os.O_TRUNC,
                       0o644)
        size, done = os.fstat(fin).st_size, 0
        try:
            while done < size:
                n = os.copy_file_range(fin, fout, size - done)
                if n <= 0:
                    break
                done += n
            print(done)
        except OSError as e:
            print(err(e.errno))
    elif cmd == "user":
        user(args[0])
    else:
        sys.exit("fileops.py: unknown command " + cmd)


if __name__ == "__main__":
    main()
