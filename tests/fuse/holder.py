# A process that holds a file open for the FUSE tests.  Prints "open", then
# obeys one command a line on stdin: "read" prints "data TEXT" or
# "error ERRNO-NAME"; "fsync" (always asks the daemon: no cache answers
# it) prints "synced" or "error ERRNO-NAME"; "close" prints "closed" or "close-error ERRNO-NAME".
import errno
import os
import sys

fd = os.open(sys.argv[1], os.O_RDONLY)
print("open", flush=True)
for line in sys.stdin:
    cmd = line.strip()
    if cmd == "read":
        try:
            data = os.pread(fd, 4096, 0)
            print("data", data.decode(errors="replace").strip(), flush=True)
        except OSError as e:
            print("error", errno.errorcode.get(e.errno, e.errno), flush=True)
    elif cmd == "fsync":
        try:
            os.fsync(fd)
            print("synced", flush=True)
        except OSError as e:
            print("error", errno.errorcode.get(e.errno, e.errno), flush=True)
    elif cmd == "close":
        try:
            os.close(fd)
            print("closed", flush=True)
        except OSError as e:
            print("close-error", errno.errorcode.get(e.errno, e.errno),
                  flush=True)
        break
