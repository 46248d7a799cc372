#!/usr/bin/env python3
"""p9errs.py - a small 9P2000.L server whose files answer with the errors
and attributes their names ask for, for tests/fuse/errnos.sh.

  p9errs.py SOCKET NAME...

Serves one directory (the root) on the Unix socket SOCKET, one connection
at a time.  It holds the file "ok" (reads "hello\\n") and one file per
NAME: "open-N" answers Tlopen with Rlerror N, "fsync-N" answers Tfsync
with Rlerror N (its Tlopen succeeds); "notype" and "badtype" have a mode
with no file type, or with S_IFMT (which is none), "hugesize" a size
above 2^63 - 1; any other NAME is a plain file (a listing shows each
NAME as given, even one no file can have).  A Tlcreate makes a regular
file, but one whose name begins with "fifo" is then a FIFO (Tgetattr); a
Tmkdir a directory, but one whose name begins with "notdir" a file.
Every Tlopen, Tfsync, Tlcreate and Tmkdir is logged on stdout ("Tlopen
NAME", ...), so a test sees which requests reached the server.  Anything
it does not serve answers EOPNOTSUPP.
"""
import socket
import stat
import struct
import sys
import time

ROOT = 1
QT_DIR = 0x80
EOPNOTSUPP = 95


def qid(p):
    return struct.pack("<BIQ", QT_DIR if p == ROOT else 0, 0, p)


def pstr(s):
    b = s.encode()
    return struct.pack("<H", len(b)) + b


class Msg:
    def __init__(self, data):
        self.d, self.o = data, 0

    def take(self, fmt):
        v = struct.unpack_from("<" + fmt, self.d, self.o)
        self.o += struct.calcsize("<" + fmt)
        return v if len(v) > 1 else v[0]

    def str(self):
        n = self.take("H")
        v = self.d[self.o:self.o + n]
        self.o += n
        return v.decode()


PLAIN = (stat.S_IFREG | 0o644, 6)
# the names whose Tgetattr answers what no file can have: (mode, size)
SPECIAL = {
    "notype": (0o644, 6),                               # no file type
    "badtype": (0o170000 | 0o644, 6),                   # S_IFMT: none
    "hugesize": (stat.S_IFREG | 0o644, 2**64 - 1),      # > LLONG_MAX
}


def getattr_body(p, attrs):
    now = int(time.time())
    if p == ROOT:
        mode, nlink, size = stat.S_IFDIR | 0o755, 2, 0
    else:
        (mode, size), nlink = attrs.get(p, PLAIN), 1
    return (struct.pack("<Q", 0x7ff) + qid(p) +
            struct.pack("<IIIQQQQQ", mode, 0, 0, nlink, 0, size, 4096, 1) +
            struct.pack("<10Q", now, 0, now, 0, now, 0, 0, 0, 0, 0))


def serve(conn, files, attrs):
    names = {v: n for n, v in files.items()}
    fids = {}
    buf = b""
    while True:
        while len(buf) < 4 or len(buf) < struct.unpack_from("<I", buf)[0]:
            d = conn.recv(65536)
            if not d:
                return
            buf += d
        size = struct.unpack_from("<I", buf)[0]
        m, buf = buf[:size], buf[size:]
        t, tag = struct.unpack_from("<BH", m, 4)
        r = Msg(m[7:])

        def reply(rtype, body=b""):
            conn.sendall(struct.pack("<IBH", 7 + len(body), rtype, tag) +
                         body)

        def lerror(e):
            reply(7, struct.pack("<I", e))

        def asked(p, what):
            n = names.get(p, "")
            return int(n[len(what):]) if n.startswith(what) else 0

        if t == 100:                                    # Tversion
            msize = r.take("I")
            reply(101, struct.pack("<I", min(msize, 65536)) +
                  pstr("9P2000.L"))
        elif t == 104:                                  # Tattach
            fids[r.take("I")] = ROOT
            reply(105, qid(ROOT))
        elif t == 110:                                  # Twalk
            fid, newfid, nw = r.take("IIH")
            p, qids, n = fids.get(fid), b"", 0
            for _ in range(nw):
                name = r.str()
                if p != ROOT or name not in files:
                    break
                p = files[name]
                qids += qid(p)
                n += 1
            if nw and n == 0:
                lerror(2)
                continue
            if n == nw:
                fids[newfid] = p
            reply(111, struct.pack("<H", n) + qids)
        elif t == 24:                                   # Tgetattr
            reply(25, getattr_body(fids[r.take("I")], attrs))
        elif t == 12:                                   # Tlopen
            p = fids[r.take("I")]
            print("Tlopen", names.get(p, "/"), flush=True)
            e = asked(p, "open-")
            if e:
                lerror(e)
            else:
                reply(13, qid(p) + struct.pack("<I", 0))
        elif t == 50:                                   # Tfsync
            p = fids[r.take("I")]
            print("Tfsync", names.get(p, "/"), flush=True)
            e = asked(p, "fsync-")
            if e:
                lerror(e)
            else:
                reply(51)
        elif t == 14:                                   # Tlcreate
            fid, name, (flags, mode, gid) = r.take("I"), r.str(), r.take("III")
            p = 2 + len(files)
            files[name], names[p], fids[fid] = p, name, p
            # a name from "fifo" on: the server says it made a FIFO
            attrs[p] = (stat.S_IFIFO | 0o644 if name.startswith("fifo")
                        else stat.S_IFREG | (mode & 0o7777), 0)
            print("Tlcreate", name, flush=True)
            reply(15, qid(p) + struct.pack("<I", 0))
        elif t == 72:                                   # Tmkdir
            dfid, name, (mode, gid) = r.take("I"), r.str(), r.take("II")
            p = 2 + len(files)
            files[name], names[p] = p, name
            # a name from "notdir" on: the server says it made a file
            attrs[p] = (stat.S_IFREG | 0o644 if name.startswith("notdir")
                        else stat.S_IFDIR | (mode & 0o7777), 0)
            print("Tmkdir", name, flush=True)
            reply(73, qid(p))
        elif t == 116:                                  # Tread
            fid, off, count = r.take("IQI")
            data = b"hello\n"[off:off + count]
            reply(117, struct.pack("<I", len(data)) + data)
        elif t == 40:                                   # Treaddir
            fid, off, count = r.take("IQI")
            ents = [(".", ROOT, 4), ("..", ROOT, 4)] + \
                   [(n, v, 8) for n, v in files.items()]
            out = b""
            for i, (n, v, dtype) in enumerate(ents):
                if i < off:
                    continue
                e = qid(v) + struct.pack("<QB", i + 1, dtype) + pstr(n)
                if len(out) + len(e) > count:
                    break
                out += e
            reply(41, struct.pack("<I", len(out)) + out)
        elif t == 120:                                  # Tclunk
            fids.pop(r.take("I"), None)
            reply(121)
        elif t == 108:                                  # Tflush
            reply(109)
        elif t == 8:                                    # Tstatfs
            reply(9, struct.pack("<IIQQQQQQI", 0x01021997, 4096, 100, 50,
                                 50, 100, 50, 1, 255))
        else:
            lerror(EOPNOTSUPP)


def main():
    files, attrs = {"ok": 2}, {}
    for i, n in enumerate(sys.argv[2:]):
        files[n] = 3 + i
        if n in SPECIAL:
            attrs[3 + i] = SPECIAL[n]
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(sys.argv[1])
    ls.listen(8)
    print("ready", flush=True)
    while True:
        conn, _ = ls.accept()
        try:
            serve(conn, files, attrs)
        except OSError:
            pass
        conn.close()


main()
