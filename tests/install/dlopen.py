#!/usr/bin/env python3
"""dlopen.py LIBUVFS - loads libuvfs with dlopen (ctypes) and uses it.

A plugin host or an interpreter loads libuvfs after start-up; a library
with initial-exec thread-locals fails there with "cannot allocate memory
in static TLS block".  This makes a namespace, mounts a memfs, writes a
file, reads it back from another thread (the gate's thread-locals), and
frees everything.  Exit 0, or 1 with the reason.
"""
import ctypes
import os
import sys
import threading


def main():
    try:
        lib = ctypes.CDLL(sys.argv[1])
    except OSError as e:
        print(f"dlopen: {e}")
        return 1
    vp = ctypes.c_void_p
    lib.uvfs_new.argtypes = [vp, ctypes.POINTER(vp)]
    lib.uvfs_ctx_new.argtypes = [vp, vp, ctypes.POINTER(vp)]
    lib.uvfs_mkdir.argtypes = [vp, ctypes.c_char_p, ctypes.c_uint]
    lib.uvfs_mount.argtypes = [vp] + [ctypes.c_char_p] * 4
    lib.uvfs_open.argtypes = [vp, ctypes.c_char_p, ctypes.c_int, ctypes.c_uint]
    lib.uvfs_write.argtypes = [vp, ctypes.c_int, ctypes.c_char_p,
                               ctypes.c_size_t]
    lib.uvfs_write.restype = ctypes.c_ssize_t
    lib.uvfs_pread.argtypes = [vp, ctypes.c_int, ctypes.c_char_p,
                               ctypes.c_size_t, ctypes.c_int64]
    lib.uvfs_pread.restype = ctypes.c_ssize_t
    lib.uvfs_close.argtypes = [vp, ctypes.c_int]
    lib.uvfs_umount.argtypes = [vp, ctypes.c_char_p, ctypes.c_uint]
    lib.uvfs_9p_register.argtypes = [vp]
    lib.uvfs_ctx_free.argtypes = [vp]
    lib.uvfs_free.argtypes = [vp]

    def check(what, rc):
        if rc < 0:
            raise RuntimeError(f"{what}: {os.strerror(-rc)}")
        return rc

    u, ctx = vp(), vp()
    check("uvfs_new", lib.uvfs_new(None, ctypes.byref(u)))
    check("uvfs_ctx_new", lib.uvfs_ctx_new(u, None, ctypes.byref(ctx)))
    check("uvfs_9p_register", lib.uvfs_9p_register(u))
    check("uvfs_mkdir", lib.uvfs_mkdir(ctx, b"/mnt", 0o755))
    check("uvfs_mount", lib.uvfs_mount(ctx, b"memfs", b"none", b"/mnt",
                                       b"size=1m"))
    fd = check("uvfs_open", lib.uvfs_open(ctx, b"/mnt/f",
                                          os.O_CREAT | os.O_RDWR, 0o644))
    check("uvfs_write", lib.uvfs_write(ctx, fd, b"dlopen\n", 7))
    got = {}

    def reader():      # a thread the library has not seen yet
        buf = ctypes.create_string_buffer(16)
        got["n"] = lib.uvfs_pread(ctx, fd, buf, 16, 0)
        got["data"] = buf.raw[:max(got["n"], 0)]
    t = threading.Thread(target=reader)
    t.start()
    t.join()
    if got.get("data") != b"dlopen\n":
        print(f"dlopen: read back {got!r}")
        return 1
    check("uvfs_close", lib.uvfs_close(ctx, fd))
    check("uvfs_umount", lib.uvfs_umount(ctx, b"/mnt", 0))
    lib.uvfs_ctx_free(ctx)
    lib.uvfs_free(u)
    print("dlopen: loaded, mounted, wrote, read back from a new thread")
    return 0


if __name__ == "__main__":
    sys.exit(main())
