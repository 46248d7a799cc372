# A process that holds a file open and takes locks on it, for
# tests/fuse/locks.sh.  argv: FILE MODE (r, w or rw).  Prints "open", then
# obeys one command a line on stdin, each answered by one line:
#   lockf TYPE START LEN [wait]   fcntl(F_SETLK/F_SETLKW) of a POSIX lock
#                                 (TYPE rd, wr, un) -> "ok" or "error NAME"
#   ofd TYPE START LEN            the same with F_OFD_SETLK
#   getlk TYPE START LEN          F_GETLK -> "unlocked" or "locked TYPE START LEN PID"
#   flock ex|sh|un [wait]         flock(2) -> "ok" or "error NAME"
#   read                          -> "data TEXT" or "error NAME"
#   close                         -> "closed" (and exits)
import errno
import fcntl
import os
import struct
import sys

TYPES = {"rd": fcntl.F_RDLCK, "wr": fcntl.F_WRLCK, "un": fcntl.F_UNLCK}
NAMES = {v: k for k, v in TYPES.items()}
F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW = 36, 37, 38
FMT = "hhqqi"           # struct flock on x86_64/aarch64 Linux (padded)

mode = {"r": os.O_RDONLY, "w": os.O_WRONLY, "rw": os.O_RDWR}[sys.argv[2]]
fd = os.open(sys.argv[1], mode)
print("open", flush=True)


def err(e):
    return "error " + errno.errorcode.get(e.errno, str(e.errno))


def flock_struct(t, start, length, pid=0):
    return struct.pack(FMT + "4x", TYPES[t], os.SEEK_SET, int(start),
                       int(length), pid)


for line in sys.stdin:
    a = line.split()
    if not a:
        continue
    try:
        if a[0] in ("lockf", "ofd"):
            wait = len(a) > 4 and a[4] == "wait"
            cmd = {("lockf", False): fcntl.F_SETLK,
                   ("lockf", True): fcntl.F_SETLKW,
                   ("ofd", False): F_OFD_SETLK,
                   ("ofd", True): F_OFD_SETLKW}[(a[0], wait)]
            fcntl.fcntl(fd, cmd, flock_struct(a[1], a[2], a[3]))
            print("ok", flush=True)
        elif a[0] == "getlk":
            r = fcntl.fcntl(fd, fcntl.F_GETLK, flock_struct(a[1], a[2], a[3]))
            t, _, s, n, pid = struct.unpack(FMT + "4x", r)
            if t == fcntl.F_UNLCK:
                print("unlocked", flush=True)
            else:
                print("locked", NAMES[t], s, n, pid, flush=True)
        elif a[0] == "flock":
            op = {"ex": fcntl.LOCK_EX, "sh": fcntl.LOCK_SH,
                  "un": fcntl.LOCK_UN}[a[1]]
            if not (len(a) > 2 and a[2] == "wait"):
                op |= fcntl.LOCK_NB
            fcntl.flock(fd, op)
            print("ok", flush=True)
        elif a[0] == "read":
            print("data", os.pread(fd, 4096, 0).decode(errors="replace").strip(),
                  flush=True)
        elif a[0] == "close":
            os.close(fd)
            print("closed", flush=True)
            break
        else:
            print("error EINVAL", flush=True)
    except OSError as e:
        print(err(e), flush=True)
