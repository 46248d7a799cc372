#!/usr/bin/env bash
# The daemon's life: a clean shutdown on SIGTERM and SIGINT with mounts,
# open files and an operation blocked on a suspended mount (every mount
# force-unmounted, the FUSE mount gone, the socket removed, exit 0); the
# FUSE mount unmounted from outside; a --root of another type; the
# daemonized start (the parent exits once the child serves).
. "$(dirname "$0")/lib.sh"

cd "$WORK"

note "SIGTERM with nested mounts and open files"
start_daemon
mkdir -p "$MNT/a"
expect 0 "$UVFS" mount -t memfs none "$MNT/a"
mkdir "$MNT/a/b"
expect 0 "$UVFS" mount -t memfs none "$MNT/a/b"
echo held >"$MNT/a/b/f"
holder_start h "$MNT/a/b/f"
(cd "$MNT/a" && exec sleep 300) &
BG_PIDS+=($!)
sleep 0.2
stop_daemon
holder_cmd h read
case $REPLY_LINE in "error "*) ;; *) fail "read after shutdown: $REPLY_LINE" ;; esac
# the connection is gone: the kernel's flush answers ENOTCONN; the
# descriptor is closed all the same
holder_cmd h close
case $REPLY_LINE in closed | "close-error ENOTCONN") ;;
*) fail "close after shutdown: $REPLY_LINE" ;; esac

note "SIGINT with an operation blocked on a suspended mount"
start_daemon
mkdir -p "$MNT/s"
expect 0 "$UVFS" mount -t memfs none "$MNT/s"
echo x >"$MNT/s/f"
expect 0 "$UVFS" suspend "$MNT/s"
(echo y >>"$MNT/s/f") 2>/dev/null &
BG_PIDS+=($!)
sleep 0.3
kill -INT "$DAEMON_PID"
wait_daemon

note "the FUSE mount unmounted from outside"
start_daemon
mkdir "$MNT/a"
expect 0 "$UVFS" mount -t memfs none "$MNT/a"
umount "$MNT" || fail "umount $MNT"
wait_daemon
expect 3 "$UVFS" -m "$MNT" mounts

note "--root: the namespace root of a given type, with options"
start_daemon --root memfs:none:size=1m
head -c 3000000 /dev/zero >"$MNT/big" 2>/dev/null && fail "size=1m not applied to the root"
rm -f "$MNT/big"
stop_daemon
expect_msg 1 "cannot create the namespace" "$UVFSD" "$MNT" -f --root nosuchfs

note "daemonized"
expect 0 "$UVFSD" "$MNT" -o allow_other --socket "$CTL/d.sock"
mounted "$MNT" || fail "not mounted after the parent returned"
DAEMON_PID=$(pgrep -f "^$UVFSD $MNT -o allow_other --socket $CTL/d.sock$" | head -1)
[ -n "$DAEMON_PID" ] || fail "no daemon process"
"$UVFS" -m "$MNT" stats >/dev/null || fail "the daemon does not answer"
kill -TERM "$DAEMON_PID"
for _ in $(seq 100); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$DAEMON_PID" 2>/dev/null && fail "the daemon did not exit"
DAEMON_PID=
mounted "$MNT" && fail "still mounted"
echo PASS
