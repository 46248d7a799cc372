#!/usr/bin/env bash
# The errors a file system hands up reach the kernel as errors it takes,
# and with their meaning (fuse_i.h, kernel_errno).  A 9P server
# (tests/fuse/p9errs.py, mounted as "9p" over a Unix socket) answers
# chosen requests with chosen Rlerror codes:
#   - one the kernel refuses in a reply (512 and above: ENOTSUPP, 524, is
#     a Linux-internal code a server may leak): the open fails with EIO,
#     where the kernel refused the reply and the open never returned;
#   - 1500: EIO too (libfuse made it ERANGE);
#   - ENOSYS to an open: EOPNOTSUPP, and the next opens still reach uvfsd
#     (the kernel took ENOSYS as "no OPEN in this daemon", opened the next
#     file itself and sent its READ without a handle: uvfsd crashed);
#   - ENOSYS to an fsync: EOPNOTSUPP, and the next fsync still reaches the
#     file system (the kernel stopped sending FSYNC for good: every later
#     fsync of every file of the mount answered 0 unasked).
# And a listing whose names include ones the kernel refuses (empty, with
# a '/'): the other names are listed, and the mount unmounts after it;
# and files with attributes the kernel refuses in an entry (no file type,
# a size above 2^63 - 1): EIO, and the mount unmounts after them.
. "$(dirname "$0")/lib.sh"

start_daemon
cd "$WORK"
# p9_mount TAG DIR NAME...: tests/fuse/p9errs.py serving NAME... on
# $WORK/TAG.sock (its log $WORK/TAG.log), mounted as "9p" on DIR.
p9_mount() {
	local tag=$1 dir=$2
	shift 2
	python3 "$HERE/p9errs.py" "$WORK/$tag.sock" "$@" \
		>"$WORK/$tag.log" 2>&1 &
	BG_PIDS+=($!)
	for _ in $(seq 100); do
		grep -q ready "$WORK/$tag.log" 2>/dev/null && break
		sleep 0.05
	done
	grep -q ready "$WORK/$tag.log" ||
		fail "the 9P server did not start: $(cat "$WORK/$tag.log")"
	mkdir "$dir"
	expect 0 "$UVFS" mount -t 9p -o timeout=5000 "unix:$WORK/$tag.sock" "$dir"
}

N=$MNT/n
p9_mount p9 "$N" open-524 open-1500 open-38 fsync-38
echo memfs >"$MNT/m"

# try OP FILE: opens FILE (read-only; read-write for fsync), reads it or
# fsyncs it, or (create) makes it (O_CREAT) and closes it; prints "ok
# DATA" or the errno's name.
try() {
	python3 - "$@" <<'PY'
import errno, os, sys
op, path = sys.argv[1], sys.argv[2]
try:
    if op == "create":
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
        print("ok")
        sys.exit(0)
    fd = os.open(path, os.O_RDWR if op == "fsync" else os.O_RDONLY)
    try:
        if op == "fsync":
            os.fsync(fd)
            print("ok")
        else:
            print("ok", os.read(fd, 100).decode().strip())
    finally:
        os.close(fd)
except OSError as e:
    print("EOPNOTSUPP" if e.errno == errno.EOPNOTSUPP  # not ENOTSUP
          else errno.errorcode.get(e.errno, e.errno))
PY
}

note "an errno the kernel refuses in a reply (524): EIO, not a hang"
expect_within 10 0 try read "$N/open-524"
[ "$OUT" = EIO ] || fail "open answered 524 by the server: $OUT, not EIO"
alive

note "an errno out of range (1500): EIO"
expect_within 10 0 try read "$N/open-1500"
[ "$OUT" = EIO ] || fail "open answered 1500 by the server: $OUT, not EIO"

note "ENOSYS to an open: EOPNOTSUPP, and later opens still reach uvfsd"
expect_within 10 0 try read "$N/open-38"
[ "$OUT" = EOPNOTSUPP ] || fail "open answered ENOSYS by the server: $OUT, not EOPNOTSUPP"
expect_within 10 0 try read "$N/ok"
[ "$OUT" = "ok hello" ] || fail "read of ok after the ENOSYS: $OUT"
grep -q "^Tlopen ok" "$WORK/p9.log" || fail "the open of ok did not reach the server"
expect_within 10 0 try read "$MNT/m"
[ "$OUT" = "ok memfs" ] || fail "read of a memfs file after the ENOSYS: $OUT"
alive

note "ENOSYS to an fsync: EOPNOTSUPP, and later fsyncs still reach uvfsd"
expect_within 10 0 try fsync "$N/fsync-38"
[ "$OUT" = EOPNOTSUPP ] || fail "fsync answered ENOSYS by the server: $OUT, not EOPNOTSUPP"
grep -q "^Tfsync fsync-38" "$WORK/p9.log" || fail "the fsync did not reach the server"
expect_within 10 0 try fsync "$N/ok"
[ "$OUT" = ok ] || fail "fsync of ok: $OUT"
grep -q "^Tfsync ok" "$WORK/p9.log" ||
	fail "the fsync of ok did not reach the server (the kernel stopped sending FSYNC)"
alive

note "a listing with names the kernel refuses: the others are listed"
# A server's Rreaddir may hold a name with a '/' or an empty one; the
# kernel refused the whole READDIR(PLUS) reply for one of them, so the
# directory could not be listed at all (EIO).  Read with a large buffer
# (one READDIRPLUS) and with one of 48 bytes (READDIRPLUS at the start,
# plain READDIRs from the second entry on).
B=$MNT/bad
p9_mount p9b "$B" "a/b" "" "good"
getdents() {
	python3 - "$@" <<'PY'
import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
size = int(sys.argv[2])
buf = ctypes.create_string_buffer(size)
names = []
while True:
    n = libc.syscall(217, fd, buf, size)         # getdents64
    if n < 0:
        sys.exit("getdents64: " + os.strerror(ctypes.get_errno()))
    if n == 0:
        break
    o = 0
    while o < n:
        reclen = struct.unpack_from("<H", buf.raw, o + 16)[0]
        names.append(buf.raw[o + 19:o + reclen].split(b"\0")[0].decode())
        o += reclen
print(" ".join(sorted(names)))
PY
}
for size in 32768 48; do
	expect_within 10 0 getdents "$B" "$size"
	[ "$OUT" = ". .. good ok" ] ||
		fail "listing with a ${size}-byte buffer: '$OUT', not '. .. good ok'"
done
expect 0 ls -l "$B/good"
alive
expect_umount "$B"

note "entries with attributes the kernel refuses: EIO, and no hold or handle left"
# A server's file with no file type, an unknown one (S_IFMT) or a size
# above 2^63 - 1 (tests/fuse/p9errs.py): the kernel refuses the lookup's
# reply (EIO) and neither counts the lookup nor forgets it, so the hold
# passed with the entry stayed (the mount busy, "kernel reference").
A=$MNT/attrs
p9_mount p9a "$A" notype badtype hugesize
expect_within 10 0 try read "$A/ok"
[ "$OUT" = "ok hello" ] || fail "read of ok: $OUT"
for f in notype badtype hugesize; do
	expect_within 10 0 try read "$A/$f"
	[ "$OUT" = EIO ] || fail "open of $f: $OUT, not EIO"
	expect 1 stat "$A/$f"
done
# a create the server answers with a FIFO: the kernel refused the entry
# and never released the handle either (a holder "file .../fifo1")
expect_within 10 0 try create "$A/fifo1"
[ "$OUT" = EIO ] || fail "create of fifo1: $OUT, not EIO"
expect_within 10 0 try create "$A/reg1"
[ "$OUT" = ok ] || fail "create of reg1: $OUT"
# a mkdir the server answers with a file: the kernel refused the entry
# (not the type it asked for) and kept no lookup ("kernel reference")
expect 1 mkdir "$A/notdir1"
case $OUT in *"Input/output error"*) ;; *) fail "mkdir notdir1: $OUT" ;; esac
expect 0 mkdir "$A/dir1"
alive
expect_umount "$A"

expect_umount "$N"
stop_daemon
echo PASS
