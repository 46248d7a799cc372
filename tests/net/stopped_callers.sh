#!/usr/bin/env bash
# A stopped server with 10 callers in one directory (issue: the kernel
# serialised lookups per directory and each caller waited a whole deadline
# in turn, in D state).  A hostfs mount (uvfs-hostfs spawned and
# supervised by uvfsd) with a deadline of DEADLINE ms; the server is
# SIGSTOPped (every thread of it: wait_stopped); 10 processes at once stat
# a name each in one directory (names not seen before: real lookups) and
# time themselves.  Each must return (an error) within deadline + 1 s of
# its start, and none may be left in D state then.  After SIGCONT the mount
# answers again.  Through FUSE and uvfsd: no network needed.  With
# UVFS_NET_SERVER=nfs, an nfs mount of nfs-ganesha in a network namespace
# (tests/net/lib.sh) instead, ganesha stopped: its kernel still takes the
# connection's bytes and answers nothing.
SERVER=${UVFS_NET_SERVER:-hostfs}
case $SERVER in
hostfs) . "$(dirname "$0")/../fuse/lib.sh" ;;
nfs) . "$(dirname "$0")/lib.sh" ;;
*) echo "FAIL: UVFS_NET_SERVER: hostfs or nfs, not $SERVER" >&2; exit 1 ;;
esac

HOSTFS=${UVFS_HOSTFS:-}
[ -n "$HOSTFS" ] && [ -x "$HOSTFS" ] || skip "UVFS_HOSTFS not set to the built uvfs-hostfs"
DEADLINE=${UVFS_NET_DEADLINE:-2000}
NCALLERS=10

EXPORT=$WORK/export
mkdir -p "$EXPORT/dir"
H=$MNT/h
if [ "$SERVER" = nfs ]; then
	net_nfs_mount "$EXPORT" "$H" "timeout=$DEADLINE"
	P=$SRV_PID
else
	start_daemon
	mkdir "$H"
	expect 0 "$UVFS" mount -t hostfs -o "server=$HOSTFS,timeout=$DEADLINE" "$EXPORT" "$H"
	P=$("$UVFS" -m "$MNT" servers --json |
		python3 -c 'import json,sys; s=json.load(sys.stdin)["servers"]; print(s[0]["pid"] if s else 0)')
fi
ls "$H/dir" >/dev/null || fail "ls"
[ "$P" -gt 0 ] || fail "no server pid"

kill -STOP "$P"
wait_stopped "$P"
# One Python process forks the callers once it is running (so no caller
# pays an interpreter's start under load); each times its own stat, and
# the parent checks each at its own start + deadline + 1 s: finished, or
# else (still waiting) its state, D or not.
python3 - "$H/dir" "$NCALLERS" "$DEADLINE" >"$WORK/callers.out" 2>&1 <<'PY'
import os, sys, time
d, n, deadline = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
bound = (deadline + 1000) / 1000.0
kids = {}
for k in range(n):
    r, w = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        t = time.monotonic()
        try:
            os.stat(os.path.join(d, "name%d" % k))
            res = "ok"
        except OSError as e:
            res = e.strerror
        os.write(w, ("%d %s" % (int((time.monotonic() - t) * 1000), res)).encode())
        os._exit(0)
    os.close(w)
    kids[pid] = (k, start, r)
bad = []
for pid, (k, start, r) in sorted(kids.items(), key=lambda x: x[1][1]):
    while time.monotonic() < start + bound:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            break
        time.sleep(0.01)
    else:
        if os.waitpid(pid, os.WNOHANG)[0] != pid:
            try:
                with open("/proc/%d/stat" % pid) as f:
                    st = f.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                st = "?"
            bad.append("caller %d still waits %d ms after its start (state %s)"
                       % (k, int(bound * 1000), st))
            continue
    print("caller", k, os.read(r, 200).decode(), flush=True)
for b in bad:
    print("LATE", b, flush=True)
sys.exit(1 if bad else 0)
PY
rc=$?
cat "$WORK/callers.out"
if [ $rc != 0 ]; then
	kill -CONT "$P"
	fail "callers on a stopped server: $(grep LATE "$WORK/callers.out")"
fi
worst=0
while read -r _ k ms what; do
	[ "$ms" -gt "$worst" ] && worst=$ms
	[ "$ms" -le $((DEADLINE + 1000)) ] ||
		fail "caller $k waited $ms ms (deadline $DEADLINE ms + 1 s)"
	case $what in ok) fail "caller $k: a stat answered by a stopped server" ;; esac
done < <(grep '^caller' "$WORK/callers.out")
[ "$(grep -c '^caller' "$WORK/callers.out")" = "$NCALLERS" ] ||
	fail "not every caller reported: $(cat "$WORK/callers.out")"
note "worst caller: $worst ms (deadline $DEADLINE ms)"
kill -CONT "$P"
# it answers again
for _ in $(seq 100); do
	ls "$H/dir" >/dev/null 2>&1 && break
	sleep 0.05
done
ls "$H/dir" >/dev/null || fail "the mount does not answer after SIGCONT"
echo x >"$H/dir/after" || fail "a create after SIGCONT"
expect 0 "$UVFS" umount "$H"
alive
stop_daemon
echo PASS
