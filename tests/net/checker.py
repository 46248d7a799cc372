# A checksumming reader for the network tests:
#   checker.py FILE SIZE STOPFILE
# Reads FILE (SIZE bytes, written by the test with pattern(): each 8-byte
# word is its own offset in decimal) again and again until STOPFILE exists,
# dropping the file's cached pages before each pass (POSIX_FADV_DONTNEED)
# so the reads reach the file system.  Reads are 4 KiB, aligned: each
# must return 4096 bytes of the right data, or fail (an error, retried at
# the same offset after a short pause); a read that returns fewer bytes
# before SIZE (0 = end of file) is a short read, and a size other than
# SIZE in fstat is the kernel's cache shrunk by one.  Prints "pass N"
# after each whole pass, and at the end one line
#   passes=N errors=N short=N wrong=N badsize=N
# and exits 0 when short, wrong and badsize are 0 and passes >= 1.
import errno
import hashlib
import os
import sys
import time

path, size, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3]


def pattern(off, n):
    first = off // 8
    words = b"".join(b"%08d" % ((first + i) % 100000000)
                     for i in range(n // 8))
    return words


want = hashlib.sha256(pattern(0, size)).hexdigest()
passes = errors = short = wrong = badsize = 0
msgs = []
fd = -1
while not os.path.exists(stop):
    try:
        if fd < 0:
            fd = os.open(path, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        h = hashlib.sha256()
        off = 0
        while off < size and not os.path.exists(stop):
            try:
                b = os.pread(fd, 4096, off)
            except OSError as e:
                errors += 1
                time.sleep(0.01)
                continue
            if len(b) != 4096:
                short += 1
                msgs.append("short read: %d bytes at %d" % (len(b), off))
                break
            if b != pattern(off, 4096):
                wrong += 1
                msgs.append("wrong bytes at %d" % off)
                break
            h.update(b)
            off += 4096
        st = os.fstat(fd)
        if st.st_size != size:
            badsize += 1
            msgs.append("size %d, not %d" % (st.st_size, size))
        if off == size:
            if h.hexdigest() != want:
                wrong += 1
                msgs.append("checksum mismatch")
            passes += 1
            print("pass", passes, flush=True)
        if short or wrong or badsize:
            break
    except OSError as e:
        errors += 1
        if fd >= 0 and e.errno in (errno.EIO, errno.ESTALE, errno.EBADF):
            try:
                os.close(fd)
            except OSError:
                pass
            fd = -1
        time.sleep(0.01)
print("passes=%d errors=%d short=%d wrong=%d badsize=%d" %
      (passes, errors, short, wrong, badsize), flush=True)
for m in msgs[:5]:
    print(m, flush=True)
sys.exit(0 if passes >= 1 and not (short or wrong or badsize) else 1)
