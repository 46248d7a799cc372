#!/usr/bin/env bash
# A process whose request waits on a suspended mount can still be killed:
# the kernel sends FUSE INTERRUPT for it, uvfsd ends the wait, and the
# request answers EINTR without having entered the file system (before,
# the process stayed in D state, unkillable, until the resume).  A waiter
# that is not killed still completes at the resume, and nothing is left
# holding the mount afterwards.
. "$(dirname "$0")/lib.sh"

start_daemon
cd "$WORK"
M=$MNT/m
mkdir "$M"
expect 0 "$UVFS" mount -t memfs none "$M"
echo data >"$M/f"
mkdir "$M/d"
expect 0 "$UVFS" suspend "$M"

# killed_ends SIGNAL PID: SIGNAL ends the waiting child PID within 2 s
# (a D-state wait would outlast any bound).
killed_ends() {
	local sig=$1 pid=$2 rc
	kill -"$sig" "$pid"
	wait_child "$pid" "$(($(bound_ms 2000) / 1000))"
	rc=$?
	[ $rc = 255 ] && fail "a waiter killed with SIG$sig still waits: $(hang_report "$pid")"
	echo "SIG$sig: $CHILD_STATUS"
	case $CHILD_STATUS in
	"killed by signal"*) ;;
	*) fail "the waiter killed with SIG$sig ended: $CHILD_STATUS" ;;
	esac
}

note "a read's open, killed while it waits"
bg_start cat cat "$M/f"
killed_ends KILL "$BG"

note "a create, terminated while it waits"
bg_start touch touch "$M/new"
killed_ends TERM "$BG"

note "a listing, killed while it waits"
bg_start ls ls -l "$M/d"
killed_ends KILL "$BG"

note "a waiter left alone completes at the resume"
bg_start stat stat -c %s "$M/f"
STAT_PID=$BG
# uvfsd keeps serving meanwhile
expect_within 5 0 "$UVFS" -m "$MNT" stats
expect_within 5 0 "$UVFS" resume "$M"
wait_child "$STAT_PID" 5
rc=$?
[ $rc = 0 ] || fail "the waiting stat ended: $CHILD_STATUS: $(cat "$WORK/stat.out")"
[ "$(cat "$WORK/stat.out")" = 5 ] || fail "the waiting stat said $(cat "$WORK/stat.out")"

note "the interrupted requests made nothing and hold nothing"
[ ! -e "$M/new" ] || fail "the terminated create made $M/new"
[ "$(cat "$M/f")" = data ] || fail "$M/f changed"
expect_umount "$M"
alive
echo PASS
