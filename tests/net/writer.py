# A writer for the network tests, driven one command a line on stdin:
#   "open PATH"  -> "open" | "error ERRNO-NAME"
#   "write N"    -> pwrite of N bytes ('w') at offset 0: "wrote COUNT" |
#                   "error ERRNO-NAME"
#   "fsync"      -> "synced" | "fsync-error ERRNO-NAME"
#   "close"      -> "closed" | "close-error ERRNO-NAME"
# One line of reply per command, flushed.
import errno
import os
import sys

fd = -1


def err(e):
    return errno.errorcode.get(e.errno, str(e.errno))


for line in sys.stdin:
    cmd, _, arg = line.strip().partition(" ")
    try:
        if cmd == "open":
            fd = os.open(arg, os.O_WRONLY)
            print("open", flush=True)
        elif cmd == "write":
            n = os.pwrite(fd, b"w" * int(arg), 0)
            print("wrote", n, flush=True)
        elif cmd == "fsync":
            try:
                os.fsync(fd)
                print("synced", flush=True)
            except OSError as e:
                print("fsync-error", err(e), flush=True)
        elif cmd == "close":
            f, fd = fd, -1
            try:
                os.close(f)
                print("closed", flush=True)
            except OSError as e:
                print("close-error", err(e), flush=True)
        else:
            print("error EINVAL", flush=True)
    except OSError as e:
        print("error", err(e), flush=True)
