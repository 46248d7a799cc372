#!/usr/bin/env bash
# hostfs at any size (issue: it stopped at about 65 500 files, ENFILE, and
# then every operation failed).  UVFS_NET_NFILES (200000) files are created
# through FUSE (by four processes) in one directory of a hostfs mount,
# with the kernel keeping an inode (so the driver a node, and the server a
# fid) for each; every create must succeed, the listing must hold every
# name once, each of a sample must stat and read back, and the mount must
# still answer (ls of its root, a new file) afterwards.  Needs the client's fid cache or the
# server's generous limit (lib/server: 1M fids by default).
. "$(dirname "$0")/../fuse/lib.sh"

HOSTFS=${UVFS_HOSTFS:-}
[ -n "$HOSTFS" ] && [ -x "$HOSTFS" ] || skip "UVFS_HOSTFS not set to the built uvfs-hostfs"
N=${UVFS_NET_NFILES:-200000}

start_daemon
EXPORT=$WORK/export
mkdir "$EXPORT"
H=$MNT/h
mkdir "$H"
expect 0 "$UVFS" mount -t hostfs -o "server=$HOSTFS,timeout=10000" "$EXPORT" "$H"
mkdir "$H/d" || fail "mkdir"

note "create $N files through FUSE"
t0=$(ms_now)
# four creators at once, each its own share of the names (one directory)
if ! python3 - "$H/d" "$N" "$EXPORT/d" <<'PY'
import errno, os, sys, time
d, n, hostd = sys.argv[1], int(sys.argv[2]), sys.argv[3]
P = 4
kids = []
for k in range(P):
    pid = os.fork()
    if pid == 0:
        dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
        for i in range(k, n, P):
            name = "f%07d" % i
            t0 = time.time()
            try:
                fd = os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644, dir_fd=dfd)
            except OSError as e:
                t1 = time.time()
                # what the host has under that name, and when it came
                try:
                    st = os.lstat(os.path.join(hostd, name))
                    host = "on the host: mode %o, ino %d, ctime %+.3f s from the call" % (st.st_mode, st.st_ino, st.st_ctime - t0)
                except OSError as e2:
                    host = "not on the host (%s)" % e2
                # and what the mount says of it now (the same file:
                # made by this call, which then failed)
                try:
                    ms = os.lstat(name, dir_fd=dfd)
                    mnt = "through the mount: mode %o, ino %d" % (ms.st_mode, ms.st_ino)
                except OSError as e3:
                    mnt = "not through the mount (%s)" % e3
                print("creator %d: create %d (%s) failed after %.3f s: %s (%s); %s; %s; %d made before it by this creator" %
                      (k, i, name, t1 - t0, e, errno.errorcode.get(e.errno, "?"), host, mnt, (i - k) // P),
                      file=sys.stderr)
                os._exit(1)
            if i % 10007 == 0:
                os.write(fd, name.encode())
            os.close(fd)
        os._exit(0)
    kids.append(pid)
bad = 0
for pid in kids:
    _, st = os.waitpid(pid, 0)
    bad |= st != 0
sys.exit(1 if bad else 0)
PY
then
	# what the session went through (losses, replays, timeouts, stale
	# fids, fid releases) and the daemon's counters, for the report
	"$UVFS" -m "$MNT" servers --json >&2
	"$UVFS" -m "$MNT" stats >&2
	fail "the creates failed"
fi
t1=$(ms_now)
note "created in $((t1 - t0)) ms"
# the kernel still knows them: every one keeps a node (and fid) alive
note "list them"
python3 - "$H/d" "$N" <<'PY' || fail "the listing is wrong"
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
names = os.listdir(d)
want = {"f%07d" % i for i in range(n)}
if len(names) != len(set(names)):
    print("duplicates in the listing: %d names, %d distinct" % (len(names), len(set(names))), file=sys.stderr)
    sys.exit(1)
if set(names) != want:
    miss = sorted(want - set(names))[:5]
    extra = sorted(set(names) - want)[:5]
    print("listing: %d names, missing %s, extra %s" % (len(names), miss, extra), file=sys.stderr)
    sys.exit(1)
# a sample: stat and the data written
for i in range(0, n, 10007):
    name = "f%07d" % i
    with open(os.path.join(d, name), "rb") as f:
        if f.read() != name.encode():
            print("%s: wrong data" % name, file=sys.stderr)
            sys.exit(1)
for i in range(1, n, 997):
    os.stat(os.path.join(d, "f%07d" % i))
PY
t2=$(ms_now)
note "listed and checked in $((t2 - t1)) ms"
[ "$(ls "$EXPORT/d" | wc -l)" = "$N" ] || fail "the host does not hold $N files"
ls "$H" >/dev/null || fail "ls of the mount's root fails after $N files"
echo after >"$H/after" || fail "a new file fails after $N files"
[ "$(cat "$EXPORT/after")" = after ] || fail "the new file did not reach the host"
expect 0 "$UVFS" -m "$MNT" servers
alive
stop_daemon
echo PASS
