#!/usr/bin/env bash
# 50 partition/heal cycles under checksumming readers: no short read, no
# wrong byte (issue: a read returned 0 bytes in the middle of a 4 MiB file
# after a reconnect, and FUSE took it for the end of the file).
# A 9p mount of uvfs-hostfs (or of UVFS_NET_SERVER's kind: diod, or
# nfs-ganesha as an nfs mount; tests/net/lib.sh) across a veth pair,
# deadline DEADLINE ms; two readers (checker.py) read a 4 MiB file in
# 4 KiB reads, pages dropped before each pass.  Each cycle cuts the link
# for 300 ms (within the deadline: requests wait) or, every fifth, for
# DEADLINE + 500 ms (past it: the loss is noticed, calls fail, the mount
# reconnects), then heals it for 300 ms (800 ms after a long cut).
# Errors are allowed; a short read, a wrong byte or a shrunken size is a
# failure.
. "$(dirname "$0")/lib.sh"

CYCLES=${UVFS_NET_CYCLES_CHECKSUM:-50}
DEADLINE=${UVFS_NET_DEADLINE:-1000}
SIZE=$((4 << 20))

SERVER=${UVFS_NET_SERVER:-hostfs}
net_setup
start_daemon
EXPORT=$WORK/export
mkdir "$EXPORT"
python3 - "$EXPORT/big" "$SIZE" <<'PY'
import sys
with open(sys.argv[1], "wb") as f:
    n = int(sys.argv[2]) // 8
    f.write(b"".join(b"%08d" % (i % 100000000) for i in range(n)))
PY
net_start "$SERVER" "$EXPORT"
note "server: $SERVER at $NET_SOURCE"
C=$MNT/c
mkdir "$C"
expect 0 "$UVFS" mount -t "$NET_TYPE" -o "timeout=$DEADLINE" "$NET_SOURCE" "$C"

STOP=$WORK/stop
checkers=()
for k in 1 2; do
	python3 "$(dirname "$0")/checker.py" "$C/big" "$SIZE" "$STOP" \
		>"$WORK/checker$k.out" 2>&1 &
	checkers+=($!)
	BG_PIDS+=($!)
done
sleep 0.5
ms_sleep() { sleep "$(($1 / 1000)).$(printf %03d $(($1 % 1000)))"; }
t0=$(ms_now)
for i in $(seq "$CYCLES"); do
	net_cut
	if [ $((i % 5)) = 0 ]; then
		ms_sleep $((DEADLINE + 500))
		net_heal
		ms_sleep 800
	else
		ms_sleep 300
		net_heal
		ms_sleep 300
	fi
	for p in "${checkers[@]}"; do
		kill -0 "$p" 2>/dev/null && continue
		wait "$p"
		fail "a reader stopped in cycle $i: $(grep -hv '^pass [0-9]' "$WORK"/checker*.out)"
	done
done
note "$CYCLES cycles in $(($(ms_now) - t0)) ms"
# the link is up: each reader must complete a whole pass more
for k in 1 2; do
	n0=$(grep -c '^pass' "$WORK/checker$k.out")
	for _ in $(seq 300); do
		[ "$(grep -c '^pass' "$WORK/checker$k.out")" -gt "$n0" ] && break
		sleep 0.1
	done
	[ "$(grep -c '^pass' "$WORK/checker$k.out")" -gt "$n0" ] ||
		fail "reader $k completes no pass within 30 s of the last heal: $(grep -v '^pass [0-9]' "$WORK/checker$k.out")"
done
touch "$STOP"
for k in 1 2; do
	p=${checkers[$((k - 1))]}
	for _ in $(seq 300); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$p" 2>/dev/null && fail "reader $k does not stop (30 s): in D state? $(dstate_pids "$p")"
	wait "$p"
	rc=$?
	note "reader $k: $(grep -v '^pass [0-9]' "$WORK/checker$k.out")"
	[ $rc = 0 ] || fail "reader $k: $(grep -v '^pass [0-9]' "$WORK/checker$k.out")"
done
[ "$(cmp "$EXPORT/big" "$C/big" && echo same)" = same ] ||
	fail "the file through the mount differs after the cycles"
expect 0 "$UVFS" umount "$C"
alive
stop_daemon
echo PASS
