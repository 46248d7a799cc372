#!/usr/bin/env python3
"""xattr.py - extended attributes through a mounted file system, for
tests/fuse/xattr.sh.  Each command prints one line per operation ("what ->
result"), so that the same run on the FUSE mount and on a tmpfs can be
compared with diff.

  xattr.py ops DIR      the calls and their errors, as root (DIR is empty)
  xattr.py setup DIR    files for "user" (run as root)
  xattr.py user DIR     the permission rules, as a user other than root
  xattr.py acl FILE     system.posix_acl_access: get and set
  xattr.py dump DIR     every file below DIR (not following symlinks) with
                        its attributes and values, sorted

getxattr and listxattr are called through ctypes too, to see the size 0
queries and ERANGE (os.getxattr grows its buffer by itself).
"""
import ctypes
import errno
import os
import sys

libc = ctypes.CDLL(None, use_errno=True)
libc.getxattr.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p,
                          ctypes.c_size_t]
libc.getxattr.restype = ctypes.c_ssize_t
libc.listxattr.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t]
libc.listxattr.restype = ctypes.c_ssize_t

XATTR_SIZE_MAX = 65536


def res(what, fn, *args, **kw):
    """Runs fn; prints and returns its result or its errno name."""
    try:
        r = fn(*args, **kw)
    except OSError as e:
        r = errno.errorcode.get(e.errno, str(e.errno))
    if isinstance(r, list):
        r = sorted(r)
    if isinstance(r, bytes) and len(r) > 40:
        r = "%d bytes" % len(r)
    print("%s -> %s" % (what, r))
    return r


def c_get(path, name, size):
    buf = ctypes.create_string_buffer(size) if size else None
    n = libc.getxattr(path.encode(), name.encode(), buf, size)
    if n < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return n if size == 0 else buf.raw[:n]


def c_list(path, size):
    buf = ctypes.create_string_buffer(size) if size else None
    n = libc.listxattr(path.encode(), buf, size)
    if n < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return n if size == 0 else sorted(buf.raw[:n].split(b"\0")[:-1])


def ops(d):
    f = os.path.join(d, "f")
    open(f, "w").close()
    sx, gx, lx, rx = os.setxattr, os.getxattr, os.listxattr, os.removexattr
    res("get absent", gx, f, "user.a")
    res("remove absent", rx, f, "user.a")
    res("list empty", lx, f)
    res("set", sx, f, "user.a", b"hello")
    res("get", gx, f, "user.a")
    res("get size 0", c_get, f, "user.a", 0)
    res("get size 5", c_get, f, "user.a", 5)
    res("get size 4", c_get, f, "user.a", 4)
    res("set binary", sx, f, "user.bin", b"a\0b\n")
    res("get binary", gx, f, "user.bin")
    res("replace", sx, f, "user.a", b"bye")
    res("get replaced", gx, f, "user.a")
    res("create existing", sx, f, "user.a", b"x", os.XATTR_CREATE)
    res("replace absent", sx, f, "user.new", b"x", os.XATTR_REPLACE)
    res("get after failed replace", gx, f, "user.new")
    res("replace existing", sx, f, "user.a", b"r", os.XATTR_REPLACE)
    res("create new", sx, f, "user.c", b"c", os.XATTR_CREATE)
    res("set empty", sx, f, "user.empty", b"")
    res("get empty", gx, f, "user.empty")
    res("get empty size 0", c_get, f, "user.empty", 0)
    res("set trusted", sx, f, "trusted.t", b"t")
    res("set security", sx, f, "security.s", b"s")
    res("list", lx, f)
    n = res("list size 0", c_list, f, 0)
    res("list exact", c_list, f, n)
    res("list short", c_list, f, n - 1)
    res("remove", rx, f, "user.a")
    res("get removed", gx, f, "user.a")
    res("remove again", rx, f, "user.a")
    res("list after remove", lx, f)
    # names
    res("empty name", sx, f, "", b"x")
    res("prefix alone", sx, f, "user.", b"x")
    res("unknown namespace", sx, f, "foo.bar", b"x")
    res("get unknown namespace", gx, f, "foo.bar")
    res("name 255", sx, f, "user." + "n" * 250, b"x")
    res("get name 255", gx, f, "user." + "n" * 250)
    res("remove name 255", rx, f, "user." + "n" * 250)
    res("name 256", sx, f, "user." + "n" * 251, b"x")
    # sizes
    big = bytes(range(256)) * (XATTR_SIZE_MAX // 256)
    res("set 64 KiB", sx, f, "user.big", big)
    res("get 64 KiB", lambda: gx(f, "user.big") == big)
    res("get 64 KiB size 0", c_get, f, "user.big", 0)
    res("get 64 KiB short", c_get, f, "user.big", XATTR_SIZE_MAX - 1)
    res("set 64 KiB + 1", sx, f, "user.big", big + b"x")
    res("64 KiB unchanged", lambda: gx(f, "user.big") == big)
    res("remove 64 KiB", rx, f, "user.big")
    for i in range(100):
        sx(f, "user.many%03d" % i, b"v%d" % i)
    res("100 more", lambda: len(lx(f)))
    res("many099", gx, f, "user.many099")
    # directories, symlinks, devices
    dd = os.path.join(d, "dir")
    os.mkdir(dd)
    res("set dir", sx, dd, "user.d", b"d")
    res("get dir", gx, dd, "user.d")
    ln = os.path.join(d, "link")
    os.symlink("f", ln)
    res("get through link", gx, ln, "user.c")
    res("lget link user", gx, ln, "user.c", follow_symlinks=False)
    res("lset link user", sx, ln, "user.x", b"x", follow_symlinks=False)
    res("lset link trusted", sx, ln, "trusted.l", b"l",
        follow_symlinks=False)
    res("lget link trusted", gx, ln, "trusted.l", follow_symlinks=False)
    res("get link trusted followed", gx, ln, "trusted.l")
    res("llist link", lx, ln, follow_symlinks=False)
    res("lremove link trusted", rx, ln, "trusted.l", follow_symlinks=False)
    res("set through link", sx, ln, "user.via", b"v")
    res("get set through link", gx, f, "user.via")
    os.mkfifo(os.path.join(d, "fifo"))
    res("set fifo user", sx, os.path.join(d, "fifo"), "user.x", b"x")
    res("set fifo trusted", sx, os.path.join(d, "fifo"), "trusted.x", b"x")
    res("dangling", gx, os.path.join(d, "nowhere"), "user.x")
    # descriptors
    fd = os.open(f, os.O_RDONLY)
    res("fset on O_RDONLY", sx, fd, "user.fd", b"fd")
    res("fget", gx, fd, "user.fd")
    res("fremove", rx, fd, "user.fd")
    # rename, hard links, unlink
    g = os.path.join(d, "g")
    os.rename(f, g)
    res("after rename", gx, g, "user.c")
    h = os.path.join(d, "h")
    os.link(g, h)
    res("set on hard link", sx, h, "user.h", b"h")
    res("seen on the other name", gx, g, "user.h")
    os.unlink(g)
    os.unlink(h)
    res("open unlinked", gx, fd, "user.h")
    os.close(fd)
    open(g, "w").close()
    res("a new file of the name", lx, g)
    os.rename(dd, os.path.join(d, "dir2"))
    res("dir after rename", gx, os.path.join(d, "dir2"), "user.d")
    x, y = os.path.join(d, "x"), os.path.join(d, "y")
    open(x, "w").close()
    open(y, "w").close()
    sx(x, "user.x", b"x")
    sx(y, "user.y", b"y")
    os.rename(x, y)
    res("renamed over", lx, y)


def acl(f):
    """POSIX ACLs (system.*) are not supported."""
    res("get acl", os.getxattr, f, "system.posix_acl_access")
    res("set acl", os.setxattr, f, "system.posix_acl_access", b"")


def setup(d):
    def mk(name, mode, attrs=(), uid=None, isdir=False):
        p = os.path.join(d, name)
        if isdir:
            os.mkdir(p)
        else:
            open(p, "w").close()
        for n, v in attrs:
            os.setxattr(p, n, v)
        os.chmod(p, mode)
        if uid is not None:
            os.chown(p, uid, uid)
    nobody = int(sys.argv[3])
    std = (("user.a", b"1"), ("trusted.t", b"t"), ("security.s", b"s"))
    mk("readable", 0o644, std)
    mk("secret", 0o600, std)
    mk("world", 0o666, std)
    mk("mine_ro", 0o400, (), nobody)
    mk("mine", 0o600, (), nobody)
    mk("sticky", 0o1777, (("user.d", b"d"),), None, True)
    mk("sticky_mine", 0o1777, (), nobody, True)
    mk("pubdir", 0o777, (), None, True)


def user(d):
    sx, gx, lx, rx = os.setxattr, os.getxattr, os.listxattr, os.removexattr
    p = lambda n: os.path.join(d, n)
    res("get readable", gx, p("readable"), "user.a")
    res("set readable", sx, p("readable"), "user.b", b"2")
    res("remove readable", rx, p("readable"), "user.a")
    res("get secret", gx, p("secret"), "user.a")
    res("list secret", lx, p("secret"))
    res("list secret size 0", c_list, p("secret"), 0)
    res("set world", sx, p("world"), "user.w", b"w")
    res("get world", gx, p("world"), "user.w")
    res("remove world", rx, p("world"), "user.a")
    res("set own read-only", sx, p("mine_ro"), "user.x", b"x")
    res("set own", sx, p("mine"), "user.x", b"x")
    res("get own", gx, p("mine"), "user.x")
    res("trusted get", gx, p("world"), "trusted.t")
    res("trusted set", sx, p("world"), "trusted.u", b"u")
    res("trusted set own", sx, p("mine"), "trusted.u", b"u")
    res("trusted remove", rx, p("world"), "trusted.t")
    res("security get", gx, p("secret"), "security.s")
    res("security set", sx, p("world"), "security.x", b"x")
    res("security set own", sx, p("mine"), "security.x", b"x")
    res("security remove", rx, p("world"), "security.s")
    res("sticky get", gx, p("sticky"), "user.d")
    res("sticky set", sx, p("sticky"), "user.x", b"x")
    res("sticky remove", rx, p("sticky"), "user.d")
    res("sticky own set", sx, p("sticky_mine"), "user.x", b"x")
    res("pubdir set", sx, p("pubdir"), "user.x", b"x")
    fd = os.open(p("readable"), os.O_RDONLY)
    res("fset readable", sx, fd, "user.b", b"2")
    res("fget readable", gx, fd, "user.a")
    os.close(fd)


def dump(d):
    for root, dirs, files in os.walk(d):
        dirs.sort()
        for name in sorted(dirs + files):
            p = os.path.join(root, name)
            names = sorted(os.listxattr(p, follow_symlinks=False))
            vals = ["%s=%s" % (n, os.getxattr(p, n, follow_symlinks=False)
                               .hex()) for n in names]
            print(os.path.relpath(p, d), " ".join(vals))


if __name__ == "__main__":
    {"ops": ops, "setup": setup, "user": user, "acl": acl,
     "dump": dump}[sys.argv[1]](
        sys.argv[2])
