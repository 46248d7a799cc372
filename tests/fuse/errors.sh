#!/usr/bin/env bash
# Bad input gets a clear error and changes nothing, and the daemon keeps
# serving: unknown type, missing source, a target outside any uvfsd mount,
# garbage on the control socket, a stranger on the socket, a second uvfsd
# on the same mount point; the command line's usage errors and exit codes.
. "$(dirname "$0")/lib.sh"

start_daemon
cd "$WORK"
mkdir "$MNT/d"
echo keep >"$MNT/d/keep"
# the mount table without the reference counts (the kernel's lookups vary)
mount_table() { "$UVFS" -m "$MNT" mounts | awk '{ $4 = ""; print }'; }
mount_table >"$WORK/mounts.before" || fail "uvfs mounts"

note "the command line"
expect_msg 1 "uvfs: cannot mount none (nosuchfs) on $MNT/d: unknown file system type" \
	"$UVFS" mount -t nosuchfs none "$MNT/d"
expect_msg 2 "SOURCE and TARGET are required" "$UVFS" mount -t memfs "$MNT/d"
expect_msg 2 "-t TYPE is required" "$UVFS" mount none "$MNT/d"
expect_msg 1 "not inside a uvfsd mount" "$UVFS" mount -t memfs none "$WORK"
expect_msg 1 "uvfs: cannot unmount /tmp: not inside a uvfsd mount" "$UVFS" umount /tmp
expect_msg 1 "uvfs: cannot unmount $MNT/d:" "$UVFS" umount "$MNT/d"
expect_msg 1 "uvfs: cannot unmount $MNT/nonexistent:" "$UVFS" umount "$MNT/nonexistent"
expect_msg 1 "uvfs: cannot mount none (memfs) on $MNT/nonexistent:" \
	"$UVFS" mount -t memfs none "$MNT/nonexistent"
expect_msg 1 "uvfs: cannot mount none (memfs) on $MNT/d/keep:" \
	"$UVFS" mount -t memfs none "$MNT/d/keep"
expect_msg 1 "uvfs: cannot revoke $MNT/nonexistent:" "$UVFS" revoke "$MNT/nonexistent"
expect_msg 1 "uvfs: cannot resume $MNT/d:" "$UVFS" resume "$MNT/d"
expect_msg 1 "uvfs: cannot list the holders of $MNT/d:" "$UVFS" holders "$MNT/d"
expect_msg 2 "unknown command" "$UVFS" frobnicate
expect_msg 2 "usage: uvfs umount" "$UVFS" umount -x "$MNT/d"
expect_msg 2 "usage: uvfs umount" "$UVFS" umount
expect_msg 2 "usage: uvfs holders" "$UVFS" holders
expect 2 "$UVFS"
for c in mount umount revoke suspend resume mounts holders stats; do
	expect_msg 0 "usage: uvfs $c" "$UVFS" "$c" --help
done
expect_msg 0 "Exit status" "$UVFS" --help
expect_msg 3 "cannot reach uvfsd" env UVFS_SOCKET="$WORK/nosuch.sock" "$UVFS" umount "$MNT/d"
alive

note "a mount with spaces and odd bytes in its path"
ODD="$MNT/d/a dir %20 with spaces"
mkdir "$ODD"
expect 0 "$UVFS" mount -t memfs -o size=1m none "$ODD"
echo in >"$ODD/f" || fail "write in the odd mount"
expect 0 "$UVFS" -m "$MNT" mounts --json
python3 -c 'import json,sys; t=[m["path"] for m in json.loads(sys.argv[1])["mounts"]]; assert "/d/a dir %20 with spaces" in t, t' "$OUT" ||
	fail "mounts --json: $OUT"
expect 0 "$UVFS" umount "$ODD"
[ -z "$(ls "$ODD")" ] || fail "the odd mount left something"

note "garbage on the control socket"
SOCK=$(awk -v m="$MNT" '$5 == m { for (i = 7; i <= NF; i++) if ($i == "-") { print $(i + 2); exit } }' /proc/self/mountinfo)
[ -S "$SOCK" ] || fail "no socket at '$SOCK'"
[ "$(stat -c %a "$SOCK")" = 600 ] || fail "socket mode $(stat -c %a "$SOCK")"
python3 - "$SOCK" "$MNT" <<'PY' || fail "garbage was not refused"
import socket, sys
sock = sys.argv[1]
def ask(data, shut=True):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock)
    s.sendall(data)
    if shut:
        s.shutdown(socket.SHUT_WR)
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
    s.close()
    return out
bad = [
    b"\n", b"\x00\x01\x02garbage\n", b"mount\n", b"mount memfs\n",
    b"mount memfs none d opts\n", b"mount memfs none /d opts extra\n",
    b"umount\n", b"umount d\n", b"umount -x /d\n", b"umount /d /d\n",
    b"umount %zz\n", b"umount %00\n", b"revoke\n", b"holders a b\n",
    b"frobnicate /d\n", b"mount  memfs none /d x\n", b"stats extra\n",
    b"mount memfs none /d\tx\n", b"\xff\xfe\xfd\n", b"A" * 20000 + b"\n",
    b"mount memfs none /d", bytes(range(256)) + b"\n",
    b"umount " + b"/" + b"x" * 5000 + b"\n",
]
for req in bad:
    out = ask(req)
    if not out.startswith(b"error "):
        print("not refused:", req[:60], out[:200])
        sys.exit(1)
# a client that sends nothing is dropped after a timeout
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sock)
s.settimeout(30)
if not s.recv(100).startswith(b"error "):
    sys.exit(1)
s.close()
# a correct request still works
if not ask(b"ping\n").startswith(b"ok"):
    sys.exit(1)
PY
mount_table >"$WORK/mounts.after"
diff "$WORK/mounts.before" "$WORK/mounts.after" || fail "garbage changed the mounts"
[ "$(cat "$MNT/d/keep")" = keep ] || fail "garbage changed the tree"
alive

note "a stranger on the socket"
if command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
	expect_msg 3 "cannot reach uvfsd" setpriv --reuid=nobody --regid=nogroup \
		--clear-groups "$UVFS" -m "$MNT" mounts
	# past the directory's and the file's modes too: the daemon checks
	# the peer's uid (and answers at once, without a slot)
	chmod 711 "$(dirname "$SOCK")"
	chmod 666 "$SOCK"
	expect_msg 1 "permission denied" setpriv --reuid=nobody --regid=nogroup \
		--clear-groups "$UVFS" -m "$MNT" mounts
	chmod 600 "$SOCK"
	chmod 700 "$(dirname "$SOCK")"
fi

note "a second uvfsd on the same mount point"
expect_msg 1 "already a mount point" "$UVFSD" "$MNT" -f
expect_msg 1 "already a mount point" "$UVFSD" "$MNT"
expect_msg 1 "a daemon already answers" "$UVFSD" "$WORK" -f --socket "$SOCK"
expect_msg 2 "a MOUNTPOINT is needed" "$UVFSD"
expect_msg 2 "Try 'uvfsd --help' for more information." "$UVFSD"
expect_msg 2 "unknown mount option" "$UVFSD" "$WORK" -o nosuchoption
expect_msg 1 "not a directory" "$UVFSD" "$MNT/d/keep" -f
alive

mount_table >"$WORK/mounts.after"
diff "$WORK/mounts.before" "$WORK/mounts.after" || fail "the mounts changed"
stop_daemon
echo PASS
