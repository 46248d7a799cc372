#!/usr/bin/env bash
# lockwait.sh - blocking locks wait in uvfsd without a thread each: with
# uvfsd's default threads (64), two users (uids 65534 and 65533) each
# have 48 flock(1) waiting on a file root holds (96 in all: more than the
# threads, where a wait used to hold one and half of them was the cap),
# none is refused (ENOLCK), and meanwhile
#  - ordinary file operations on the mount answer;
#  - a third user's blocking flock on another file waits, and is granted
#    once its holder unlocks; a blocking fcntl lock too;
#  - a signal ends a blocking lock (FUSE INTERRUPT: the process dies by
#    it; a handled one gives EINTR);
# then the holder's unlock lets every waiter through, one after another;
# and uvfsd exits cleanly with waits still queued (the session's end
# answers them).
# Needs root and /dev/fuse (77 otherwise).
. "$(dirname "$0")/lib.sh"
command -v setpriv >/dev/null || skip "setpriv is not installed (util-linux)"
command -v flock >/dev/null || skip "flock(1) is not installed (util-linux)"
PY=/usr/bin/python3
[ -x "$PY" ] || skip "no /usr/bin/python3"
setpriv --reuid=65534 --regid=65534 --clear-groups "$PY" -c 'pass' ||
	skip "uid 65534 cannot run $PY"

PER=48
install -m 0644 "$HERE/locker.py" "$WORK/locker.py"
start_daemon
M=$MNT/w
mkdir "$M"
expect 0 "$UVFS" mount -t memfs none "$M"
chmod 0777 "$M"
echo h >"$M/held" && chmod 666 "$M/held"
echo m >"$M/mine" && chmod 666 "$M/mine"

# root holds "held" (flock(1) -c: a process that keeps it until told)
mkfifo "$WORK/hold.in"
flock -x "$M/held" -c "echo held >$WORK/hold.ok; read x <$WORK/hold.in" &
HOLDER=$!
BG_PIDS+=($HOLDER)
exec {HOLD_FD}>"$WORK/hold.in"
until_ms 5000 test -s "$WORK/hold.ok" || fail "root could not take the lock"

note "two users queue $PER blocking flocks each on a held file"
WAITERS=()
for u in 65534 65533; do
	for _ in $(seq $PER); do
		# (not the function: $! must be flock itself, setpriv execs)
		setpriv --reuid=$u --regid=$u --clear-groups \
			flock -x "$M/held" true 2>>"$WORK/waiters.err" &
		WAITERS+=($!)
		BG_PIDS+=($!)
	done
done
settled() {
	local p w
	for p in "${WAITERS[@]}"; do
		running_child "$p" || return 1         # refused, or done
		w=$(cat /proc/"$p"/wchan 2>/dev/null)
		[ "$w" = request_wait_answer ] || return 1
	done
}
until_ms 20000 settled || {
	cat "$WORK/waiters.err"
	fail "not every waiter waits in uvfsd ($(fuse_waiting) requests out)"
}
[ -s "$WORK/waiters.err" ] && fail "a waiter was refused: $(cat "$WORK/waiters.err")"
note "uvfsd threads now: $(ls /proc/"$DAEMON_PID"/task | wc -l)"

note "ordinary file operations answer while they wait"
timeout 10 sh -c "
	echo data >'$M/new' && [ \"\$(cat '$M/new')\" = data ] &&
	mkdir '$M/d' && mv '$M/new' '$M/d/x' && ls '$M/d' >/dev/null &&
	stat '$M/held' >/dev/null && rm -r '$M/d'" ||
	fail "a file operation failed or hung while the locks waited"

note "a third user's blocking locks wait and are granted at the unlock"
locker_in=$WORK/r.in
mkfifo "$locker_in" "$WORK/r.out"
"$PY" "$WORK/locker.py" "$M/mine" rw <"$locker_in" >"$WORK/r.out" 2>"$WORK/r.err" &
BG_PIDS+=($!)
exec {R_IN}>"$locker_in" {R_OUT}<"$WORK/r.out"
read -r -t 10 -u $R_OUT line && [ "$line" = open ] || fail "locker: '$line'"
echo "flock ex" >&$R_IN
read -r -t 10 -u $R_OUT line && [ "$line" = ok ] || fail "locker flock: '$line'"
setpriv --reuid=65532 --regid=65532 --clear-groups flock -x "$M/mine" echo got >"$WORK/third.ok" 2>"$WORK/third.err" &
THIRD=$!
BG_PIDS+=($THIRD)
sleep 0.5
running_child $THIRD || fail "the third user's flock did not wait: $(cat "$WORK/third.err")"
echo "flock un" >&$R_IN
read -r -t 10 -u $R_OUT line && [ "$line" = ok ] || fail "locker unlock: '$line'"
wait_child_ok() { # PID WHAT
	local i
	for i in $(seq 100); do
		running_child "$1" || break
		sleep 0.1
	done
	running_child "$1" && fail "$2 still waits"
	wait "$1" || fail "$2 failed: $(cat "$WORK/third.err")"
}
wait_child_ok $THIRD "the third user's flock after the unlock"
[ -s "$WORK/third.ok" ] || fail "the third user's flock did not run its command"
# the same with a POSIX lock (F_SETLKW)
echo "lockf wr 0 0" >&$R_IN
read -r -t 10 -u $R_OUT line && [ "$line" = ok ] || fail "locker lockf: '$line'"
setpriv --reuid=65532 --regid=65532 --clear-groups "$PY" -c '
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX)
print("got", flush=True)' "$M/mine" >"$WORK/third2.out" 2>"$WORK/third.err" &
THIRD=$!
BG_PIDS+=($THIRD)
sleep 0.5
running_child $THIRD || fail "the third user's F_SETLKW did not wait: $(cat "$WORK/third.err")"
echo "lockf un 0 0" >&$R_IN
read -r -t 10 -u $R_OUT line && [ "$line" = ok ] || fail "locker lockf un: '$line'"
wait_child_ok $THIRD "the third user's F_SETLKW after the unlock"
[ "$(cat "$WORK/third2.out")" = got ] || fail "F_SETLKW: '$(cat "$WORK/third2.out")'"

note "a signal ends a blocking lock (FUSE INTERRUPT) while the others wait"
t0=$(ms_now)
timeout -s TERM 1 flock -x "$M/held" true
rc=$?
t1=$(ms_now)
[ $rc = 124 ] || fail "flock under timeout exited $rc, want 124 (killed)"
[ $((t1 - t0)) -lt "$(bound_ms 5000)" ] || fail "the interrupted flock took $((t1 - t0)) ms"
# a handled signal: flock(2) fails with EINTR (the handler raises, so
# python does not retry)
out=$(timeout 10 "$PY" -c '
import errno, fcntl, os, signal, sys
class Stop(Exception): pass
def h(*a): raise Stop()
signal.signal(signal.SIGALRM, h)
fd = os.open(sys.argv[1], os.O_RDONLY)
signal.setitimer(signal.ITIMER_REAL, 0.3)
try:
    fcntl.flock(fd, fcntl.LOCK_EX)
    print("granted")
except Stop:
    print("interrupted")
except OSError as e:
    print(errno.errorcode[e.errno])' "$M/held")
[ "$out" = interrupted ] || fail "a signal during flock gave '$out'"
settled || fail "the waiters did not all keep waiting"

note "the holder's unlock lets all $((2 * PER)) waiters through"
echo go >&$HOLD_FD
exec {HOLD_FD}>&-
wait $HOLDER
for p in "${WAITERS[@]}"; do
	for _ in $(seq 300); do
		running_child "$p" || break
		sleep 0.1
	done
	running_child "$p" && fail "waiter $p still waits after the unlock"
	wait "$p" || fail "waiter $p failed: $(cat "$WORK/waiters.err")"
done
echo "close" >&$R_IN
read -r -t 10 -u $R_OUT line
exec {R_IN}>&- {R_OUT}<&-

note "uvfsd ends with waits queued: they are answered, it exits cleanly"
# (on the namespace's root, which the shutdown does not force-unmount:
# the waits are still queued when the session ends; the holder one
# process, so that nothing of the test outlives it)
echo r >"$MNT/rootheld" && chmod 666 "$MNT/rootheld"
"$PY" -c '
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(600)' "$MNT/rootheld" >"$WORK/h2.out" 2>&1 &
H2=$!
BG_PIDS+=($H2)
until_ms 5000 test -s "$WORK/h2.out" || fail "root could not take the lock"
LAST=()
for _ in $(seq 4); do
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		flock -x "$MNT/rootheld" true 2>/dev/null &
	LAST+=($!)
	BG_PIDS+=($!)
done
WAITERS=("${LAST[@]}")
until_ms 20000 settled || fail "the last waiters do not wait"
kill -TERM "$DAEMON_PID"
wait_daemon
for p in "${LAST[@]}"; do
	for _ in $(seq 100); do
		running_child "$p" || break
		sleep 0.1
	done
	running_child "$p" && fail "waiter $p still waits after uvfsd's end"
	wait "$p" && fail "waiter $p got the lock"
done
kill -9 $H2 2>/dev/null
wait $H2 2>/dev/null
exit 0
