#!/usr/bin/env bash
# Exclusive creates through FUSE interrupted by signals (docs/net-tests.md,
# "net-many_files": the paths by which a create could be sent twice).
# Two processes make UVFS_NET_NSIGFILES (4000) new files each, with
# open(O_CREAT|O_EXCL), in one directory of a hostfs mount, while a
# timer sends each of them SIGALRM every 200 us (a handler that counts):
# a signal that comes while the CREATE is with uvfsd makes the kernel
# send FUSE_INTERRUPT.  An interrupted create that made its file and then
# failed with EINTR would be retried by Python (PEP 475) and answer
# EEXIST; one resent would too.  Every create must succeed, the host
# must hold every name once, and the creators must have taken signals
# (else the test proved nothing).
SERVER=${UVFS_NET_SERVER:-hostfs}
case $SERVER in
hostfs) . "$(dirname "$0")/../fuse/lib.sh" ;;
nfs) . "$(dirname "$0")/lib.sh" ;;
*) echo "FAIL: UVFS_NET_SERVER: hostfs or nfs, not $SERVER" >&2; exit 1 ;;
esac

HOSTFS=${UVFS_HOSTFS:-}
[ -n "$HOSTFS" ] && [ -x "$HOSTFS" ] || skip "UVFS_HOSTFS not set to the built uvfs-hostfs"
N=${UVFS_NET_NSIGFILES:-4000}

EXPORT=$WORK/export
mkdir "$EXPORT"
H=$MNT/h
if [ "$SERVER" = nfs ]; then
	net_nfs_mount "$EXPORT" "$H" timeout=10000
else
	start_daemon
	mkdir "$H"
	expect 0 "$UVFS" mount -t hostfs -o "server=$HOSTFS,timeout=10000" "$EXPORT" "$H"
fi
mkdir "$H/d" || fail "mkdir"

note "create 2 x $N files through FUSE under SIGALRM every 200 us"
python3 - "$H/d" "$N" "$EXPORT/d" <<'PY' || fail "the creates failed"
import errno, os, signal, sys, time
d, n, hostd = sys.argv[1], int(sys.argv[2]), sys.argv[3]
P = 2
kids = []
for k in range(P):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        got = [0]
        def on_alarm(sig, frame):
            got[0] += 1
        signal.signal(signal.SIGALRM, on_alarm)
        signal.siginterrupt(signal.SIGALRM, True)   # no SA_RESTART
        dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
        signal.setitimer(signal.ITIMER_REAL, 0.0002, 0.0002)
        for i in range(n):
            name = "s%d-%06d" % (k, i)
            t0 = time.time()
            try:
                fd = os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644, dir_fd=dfd)
            except OSError as e:
                signal.setitimer(signal.ITIMER_REAL, 0, 0)
                try:
                    st = os.lstat(os.path.join(hostd, name))
                    host = "on the host: ino %d, ctime %+.3f s from the call" % (st.st_ino, st.st_ctime - t0)
                except OSError as e2:
                    host = "not on the host (%s)" % e2
                print("creator %d: create %d (%s) failed after %.3f s: %s (%s); %s" %
                      (k, i, name, time.time() - t0, e, errno.errorcode.get(e.errno, "?"), host),
                      file=sys.stderr)
                os._exit(1)
            os.close(fd)
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        os.write(w, b"%d" % got[0])
        os._exit(0)
    os.close(w)
    kids.append((pid, r))
bad = 0
sigs = 0
for pid, r in kids:
    out = os.read(r, 64)
    _, st = os.waitpid(pid, 0)
    bad |= st != 0
    if st == 0:
        sigs += int(out)
print("--- signals taken by the creators: %d" % sigs)
if not bad and sigs < 100:
    print("only %d signals reached the creators: nothing was interrupted" % sigs, file=sys.stderr)
    bad = 1
names = os.listdir(hostd)
want = {"s%d-%06d" % (k, i) for k in range(P) for i in range(n)}
if not bad and (len(names) != len(set(names)) or set(names) != want):
    print("the host holds %d names, %d distinct, %d of those wanted" %
          (len(names), len(set(names)), len(set(names) & want)), file=sys.stderr)
    bad = 1
sys.exit(1 if bad else 0)
PY
expect 0 "$UVFS" -m "$MNT" servers
alive
stop_daemon
echo PASS
