#!/usr/bin/env bash
# A stopped server with 10 callers in one directory (issue: the kernel
# serialised lookups per directory and each caller waited a whole deadline
# in turn, in D state).  A hostfs mount (uvfs-hostfs spawned and
# supervised by uvfsd) with a deadline of DEADLINE ms; the server is
# SIGSTOPped (every thread of it: wait_stopped); 10 processes at once stat
# a name each in one directory (names not seen before: real lookups) and
# time themselves.  Each must return (an error) within deadline + 1 s of
# its start, and none may be left in D state then.  After SIGCONT the mount
# answers again.  Through FUSE and uvfsd: no network needed.
. "$(dirname "$0")/../fuse/lib.sh"

HOSTFS=${UVFS_HOSTFS:-}
[ -n "$HOSTFS" ] && [ -x "$HOSTFS" ] || skip "UVFS_HOSTFS not set to the built uvfs-hostfs"
DEADLINE=${UVFS_NET_DEADLINE:-2000}
NCALLERS=10

start_daemon
EXPORT=$WORK/export
mkdir -p "$EXPORT/dir"
H=$MNT/h
mkdir "$H"
expect 0 "$UVFS" mount -t hostfs -o "server=$HOSTFS,timeout=$DEADLINE" "$EXPORT" "$H"
ls "$H/dir" >/dev/null || fail "ls"
P=$("$UVFS" -m "$MNT" servers --json |
	python3 -c 'import json,sys; s=json.load(sys.stdin); print(s[0]["pid"] if s else 0)')
[ "$P" -gt 0 ] || fail "no server pid"

kill -STOP "$P"
wait_stopped "$P"
callers=()
for k in $(seq $NCALLERS); do
	python3 - "$H/dir/name$k" >"$WORK/caller$k.out" 2>&1 <<'PY' &
import os, sys, time
t = time.monotonic()
try:
    os.stat(sys.argv[1])
    r = "ok"
except OSError as e:
    r = e.strerror
print(int((time.monotonic() - t) * 1000), r, flush=True)
PY
	callers+=($!)
	BG_PIDS+=($!)
done
t0=$(ms_now)
# the bound: deadline + 1 s from the start of the last caller (+ Python's
# own start, which the callers do not count: they time their stat)
limit=$((DEADLINE + 1000 + 500))
while [ $(($(ms_now) - t0)) -lt $limit ]; do
	alive_n=0
	for p in "${callers[@]}"; do kill -0 "$p" 2>/dev/null && alive_n=$((alive_n + 1)); done
	[ $alive_n = 0 ] && break
	sleep 0.05
done
left=()
for p in "${callers[@]}"; do kill -0 "$p" 2>/dev/null && left+=("$p"); done
if [ ${#left[@]} -gt 0 ]; then
	dpids=""
	for p in "${left[@]}"; do
		st=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | cut -c1)
		[ "$st" = D ] && dpids="$dpids $p"
	done
	kill -CONT "$P"
	fail "${#left[@]} of $NCALLERS callers still wait $limit ms after they started (deadline $DEADLINE ms); in D state:${dpids:- none}"
fi
worst=0
for k in $(seq $NCALLERS); do
	read -r ms what <"$WORK/caller$k.out" || fail "caller $k: no output"
	note "caller $k: $ms ms, $what"
	[ "$ms" -gt "$worst" ] && worst=$ms
	[ "$ms" -le $((DEADLINE + 1000)) ] ||
		fail "caller $k waited $ms ms (deadline $DEADLINE ms + 1 s)"
	case $what in ok) fail "caller $k: a stat answered by a stopped server" ;; esac
done
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
