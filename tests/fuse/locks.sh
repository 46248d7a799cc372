#!/usr/bin/env bash
# locks.sh - file locks through uvfsd with real programs (flock(1) and
# tests/fuse/locker.py's fcntl and flock calls):
#  - local locks on memfs: flock and POSIX record locks between two
#    processes, a blocking lock woken by the unlock, by a signal (FUSE
#    INTERRUPT) and by a forced unmount (EIO); a close releases; another
#    user (setpriv) locks what it may read, as on tmpfs; one user's
#    40 waiting locks all wait and do not refuse another user's;
#  - across two uvfsd instances on one uvfs-hostfs export (the server on
#    a Unix socket, both mounting it with the 9p type): flock(1) and fcntl
#    locks exclude each other, and a host process's fcntl lock sees them;
#    a held lock survives a kill -9 of the server (reclaimed after the
#    reconnect), or, if a host process took it meanwhile, the file turns
#    stale (ESTALE); a lock request cut by its deadline (server stopped)
#    is not left granted;
#  - the same flock(1) exclusion on a diod export, if diod is installed.
# Needs root and /dev/fuse (77 otherwise).
. "$(dirname "$0")/lib.sh"
need_hostfs
need_nobody
command -v flock >/dev/null || skip "flock(1) is not installed (util-linux)"

# ---- helpers -----------------------------------------------------------

# locker_start NAME FILE MODE [COMMAND PREFIX...]: a locker.py on FILE.
locker_start() {
	local name=$1 file=$2 mode=$3
	shift 3
	mkfifo "$WORK/$name.in" "$WORK/$name.out"
	"$@" "$PY" "$WORK/locker.py" "$file" "$mode" <"$WORK/$name.in" \
		>"$WORK/$name.out" 2>>"$WORK/$name.err" &
	BG_PIDS+=($!)
	eval "L_PID_$name=$!"
	eval "exec {L_IN_$name}>\"$WORK/$name.in\""
	eval "exec {L_OUT_$name}<\"$WORK/$name.out\""
	local line
	locker_read "$name" line 20 || true
	[ "$line" = "open" ] || fail "locker $name: '$line' $(cat "$WORK/$name.err")"
}
locker_read() { # NAME VAR TIMEOUT
	local fd
	eval "fd=\$L_OUT_$1"
	read -r -t "$3" -u "$fd" "$2" ||
		fail "locker $1 does not answer: $(cat "$WORK/$1.err" 2>/dev/null)"
}
locker_send() { # NAME CMD (no reply read)
	local fd
	eval "fd=\$L_IN_$1"
	echo "$2" >&"$fd"
}
# locker NAME CMD WANT: the reply must be WANT (a prefix).
locker() {
	local r
	locker_send "$1" "$2"
	locker_read "$1" r 20
	case $r in "$3"*) ;; *) fail "locker $1: '$2' answered '$r', want '$3'" ;; esac
}
# The same, where a holder has just closed: the kernel sends the RELEASE
# that ends its locks after close(2) has returned, so EAGAIN is retried
# for 5 s (any other answer is final).
locker_after_close() { # NAME CMD WANT
	local r
	for _ in $(seq 50); do
		locker_send "$1" "$2"
		locker_read "$1" r 20
		[ "$r" = "error EAGAIN" ] || break
		sleep 0.1
	done
	case $r in "$3"*) ;; *) fail "locker $1: '$2' answered '$r', want '$3'" ;; esac
}
locker_end() { # NAME
	locker "$1" close closed
	eval "wait \$L_PID_$1" 2>/dev/null
	eval "exec {L_IN_$1}>&- {L_OUT_$1}<&-"
	rm -f "$WORK/$1.in" "$WORK/$1.out"
}
# A reply within S seconds after a command that waits: sets REPLY_LINE.
locker_wait_reply() { # NAME S
	locker_read "$1" REPLY_LINE "$2"
}
# The reply must not have come yet (the locker still waits).
locker_still() { # NAME
	local fd
	eval "fd=\$L_OUT_$1"
	if read -r -t 0.5 -u "$fd" REPLY_LINE; then
		fail "locker $1 did not wait: '$REPLY_LINE'"
	fi
}

# flock(1) -n must fail (held elsewhere) / succeed (free; a RELEASE the
# kernel sends after close(2) may still be on its way: retried 5 s).
flock_busy() { flock -n -x "$1" true && fail "flock -n $1: got it, but it is held"; return 0; }
flock_free() {
	for _ in $(seq 50); do flock -n -x "$1" true && return 0; sleep 0.1; done
	fail "flock -n $1: still held"
}

# (the system's python and a copy of the script: what another user can
# run, whatever the caller's PATH and the source tree's modes)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
install -m 0644 "$HERE/locker.py" "$WORK/locker.py"
start_daemon
EXPORT=$WORK/export
mkdir -m 0777 "$EXPORT"

# ---- local locks on memfs ---------------------------------------------

note "memfs: flock(1) and fcntl locks between processes"
M=$MNT/m
mkdir "$M"
expect 0 "$UVFS" mount -t memfs none "$M"
echo data >"$M/f"
chmod 0644 "$M/f"
locker_start a "$M/f" rw
locker_start b "$M/f" rw
locker a "flock ex" ok
flock_busy "$M/f"
locker b "flock sh" "error EAGAIN"
locker a "flock un" ok
flock_free "$M/f"
locker a "lockf wr 0 10" ok
locker b "lockf wr 5 1" "error EAGAIN"
locker b "lockf wr 10 10" ok                   # next to it
locker b "getlk wr 0 1" "locked wr 0 10 $(eval echo \$L_PID_a)"
locker b "flock ex" ok                         # flock: another space
locker b "flock un" ok
note "memfs: a blocking lock is woken by the unlock"
locker_send b "lockf wr 0 1 wait"
locker_still b
locker a "lockf un 0 10" ok
locker_wait_reply b 10
[ "$REPLY_LINE" = ok ] || fail "the waiter got '$REPLY_LINE'"
note "memfs: a close by the owner releases its POSIX locks"
locker_end b
locker_after_close a "lockf wr 0 0" ok
locker_end a
locker_start a "$M/f" rw
locker_after_close a "lockf wr 0 0" ok
locker_end a

note "memfs: a blocking lock ends with a signal (FUSE INTERRUPT)"
locker_start a "$M/f" rw
locker a "flock ex" ok
t0=$(ms_now)
timeout -s TERM 1 flock -x "$M/f" true
rc=$?
t1=$(ms_now)
[ $rc = 124 ] || fail "flock under timeout exited $rc, want 124 (killed)"
[ $((t1 - t0)) -lt "$(bound_ms 5000)" ] || fail "the interrupted flock took $((t1 - t0)) ms"
alive
note "memfs: another user locks what it may read (setpriv)"
locker_start n "$M/f" r setpriv --reuid="$NOBODY" --regid="$NOGROUP" --clear-groups
locker n "flock sh" "error EAGAIN"        # a holds it exclusively
locker a "flock un" ok
locker n "flock sh" ok
locker n "lockf rd 0 1" ok
locker n "lockf wr 0 1" "error EBADF"          # open read-only, as tmpfs
locker a "lockf wr 0 1" "error EAGAIN"
locker_end n
locker a "lockf wr 0 1" ok

note "memfs: a forced unmount wakes a waiter with EIO"
locker_start b "$M/f" rw
locker_send b "lockf wr 0 1 wait"
locker_still b
expect 0 "$UVFS" umount -f "$M"
locker_wait_reply b 10
[ "$REPLY_LINE" = "error EIO" ] || fail "the waiter got '$REPLY_LINE', want EIO"
locker_end b
locker_end a
alive

note "memfs: one user's waiting locks do not refuse another user's"
# A blocking lock held a uvfsd thread while it waited, so the waits were
# bounded (half of max_threads: 32 here); nobody filled them all, waiting
# on a lock of his own, and then every other user's blocking lock on the
# mount, of any file, was refused at once (flock: ENOLCK).  A wait now
# holds no thread, only a record (1024 per uid): all 40 wait, and root's
# lock still goes through (tests/fuse/lockwait.sh: two users).
M=$MNT/w
mkdir "$M"
expect 0 "$UVFS" mount -t memfs none "$M"
echo n >"$M/nob" && chmod 666 "$M/nob"
echo r >"$M/mine" && chmod 600 "$M/mine"
locker_start h "$M/nob" r setpriv --reuid="$NOBODY" --regid="$NOGROUP" --clear-groups
locker h "flock ex" ok
WAITERS=()
for _ in $(seq 40); do
	# (not the function as_nobody: $! must be flock itself)
	setpriv --reuid="$NOBODY" --regid="$NOGROUP" --groups="$NOGROUP" \
		flock -x "$M/nob" true 2>>"$WORK/waiters.err" &
	WAITERS+=($!)
	BG_PIDS+=($!)
done
# each of them waits in uvfsd or has been refused
settled() {
	local p w
	for p in "${WAITERS[@]}"; do
		running_child "$p" || continue
		w=$(cat /proc/"$p"/wchan 2>/dev/null)
		[ "$w" = request_wait_answer ] || return 1
	done
}
until_ms 20000 settled || fail "nobody's waiters did not settle"
timeout 10 flock -x "$M/mine" true ||
	fail "root's blocking flock was refused while nobody waited (rc $?)"
[ -s "$WORK/waiters.err" ] &&
	fail "a wait of nobody's was refused: $(cat "$WORK/waiters.err")"
locker_start r "$M/mine" rw
locker r "flock ex" ok
timeout -s TERM 1 flock -x "$M/mine" true          # waits, then is killed
[ $? = 124 ] || fail "root's blocking flock on a held lock did not wait"
locker r "flock un" ok
locker_end r
locker h "flock un" ok
for p in "${WAITERS[@]}"; do wait "$p" 2>/dev/null; done
locker_end h
expect 0 "$UVFS" umount "$M"
alive

# ---- across two uvfsd instances on one hostfs export ------------------

note "hostfs: two uvfsd on one uvfs-hostfs server exclude each other"
SOCK=$WORK/hostfs.sock
start_listener() {
	"$HOSTFS" --listen "unix:$SOCK" "$EXPORT" &
	NP=$!
	BG_PIDS+=($NP)
	for _ in $(seq 100); do
		python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])' \
			"$SOCK" 2>/dev/null && return
		sleep 0.05
	done
	fail "uvfs-hostfs --listen did not come up"
}
start_listener
MNT2=$WORK/mnt2
CTL2=$WORK/ctl2
mkdir "$MNT2"
mkdir -m 700 "$CTL2"
"$UVFSD" "$MNT2" -f -o allow_other --socket "$CTL2/uvfsd.sock" \
	>>"$WORK/uvfsd2.log" 2>&1 &
D2=$!
BG_PIDS+=($D2)
for _ in $(seq 200); do
	mounted "$MNT2" && "$UVFS" -m "$MNT2" stats >/dev/null 2>&1 && break
	sleep 0.05
done
mounted "$MNT2" || fail "the second uvfsd did not come up: $(cat "$WORK/uvfsd2.log")"
H1=$MNT/h
H2=$MNT2/h
mkdir "$H1" "$H2"
expect 0 "$UVFS" mount -t 9p -o timeout=2000 "unix:$SOCK" "$H1"
expect 0 "$UVFS" -m "$MNT2" mount -t 9p -o timeout=2000 "unix:$SOCK" "$H2"
echo shared >"$H1/f"
[ "$(cat "$H2/f")" = shared ] || fail "the two mounts do not share the export"
locker_start a "$H1/f" rw
locker a "flock ex" ok
flock_busy "$H2/f"
locker_start b "$H2/f" rw
locker b "flock ex" "error EAGAIN"
locker a "flock un" ok
flock_free "$H2/f"
note "hostfs: fcntl locks across the mounts, and a host process sees them"
locker_after_close a "lockf wr 0 10" ok        # flock(1)'s RELEASE
locker b "lockf wr 5 1" "error EAGAIN"
locker b "lockf rd 20 5" ok
locker b "getlk wr 0 1" "locked wr 0 10"
python3 -c '
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
try:
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 3)
    sys.exit("the host process got a lock uvfs holds")
except OSError:
    pass
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 40)
' "$EXPORT/f" || fail "host fcntl locks do not see the server's"
note "hostfs: a blocking lock across the mounts is woken (by polling)"
locker_send b "lockf wr 0 1 wait"
locker_still b
locker a "lockf un 0 10" ok
locker_wait_reply b 10
[ "$REPLY_LINE" = ok ] || fail "the waiter on the other mount got '$REPLY_LINE'"
locker b "lockf un 0 0" ok

note "hostfs: a held lock survives a kill -9 of the server (reclaimed)"
locker a "lockf wr 0 0" ok
kill -9 "$NP"
wait "$NP" 2>/dev/null
start_listener
# a's mount recovers at its next request (the read), reclaiming the lock
for _ in $(seq 100); do
	locker_send a read
	locker_read a r 20
	case $r in "data shared") break ;; esac
	sleep 0.1
done
[ "$r" = "data shared" ] || fail "the lock holder's file does not read after the reconnect: $r"
for _ in $(seq 100); do
	locker_send b "lockf wr 0 1"
	locker_read b r 20
	case $r in "error EAGAIN") break ;; "ok") fail "the lock was lost in the reconnect" ;; esac
	sleep 0.1       # b's own mount still reconnecting (EIO)
done
[ "$r" = "error EAGAIN" ] || fail "b after the reconnect: $r"
locker a "lockf un 0 0" ok
locker b "lockf wr 0 1" ok
locker b "lockf un 0 0" ok

note "hostfs: a lock the new server refuses to give back: the file turns stale"
locker a "lockf wr 0 0" ok
kill -9 "$NP"
wait "$NP" 2>/dev/null
locker_start h "$EXPORT/f" rw
locker h "lockf wr 0 0" ok      # a host process takes it meanwhile
start_listener
for _ in $(seq 100); do
	locker_send a read
	locker_read a r 20
	case $r in "error ESTALE") break ;; "data shared") fail "a read on after its lock was lost" ;; esac
	sleep 0.1       # still reconnecting (EIO)
done
[ "$r" = "error ESTALE" ] || fail "the file whose lock was lost answers '$r', want ESTALE"
locker h "lockf un 0 0" ok
locker_end h
locker_end a                    # close works on a stale file
locker_start a "$H1/f" rw       # a new open is a new file
locker a "lockf wr 0 0" ok
locker a "lockf un 0 0" ok

note "hostfs: a lock request cut by its deadline is not left granted"
kill -STOP "$NP"
wait_stopped "$NP"
t0=$(ms_now)
locker_send a "lockf wr 0 1"
locker_wait_reply a 20
t1=$(ms_now)
case $REPLY_LINE in "error "*) ;; *) fail "a lock on a stopped server answered '$REPLY_LINE'" ;; esac
note "it failed after $((t1 - t0)) ms with $REPLY_LINE"
kill -CONT "$NP"
for _ in $(seq 100); do
	locker_send b "lockf wr 0 1"
	locker_read b r 20
	case $r in ok) break ;; "error EAGAIN") fail "the failed request was granted after all" ;; esac
	sleep 0.1
done
[ "$r" = ok ] || fail "b after the stopped server came back: $r"
locker_end a
locker_end b
expect_umount "$H1"
expect 0 "$UVFS" -m "$MNT2" umount "$H2"

note "hostfs (spawned, supervised): a held lock is taken again after kill -9"
S=$MNT/s
mkdir "$S"
mkdir -m 0777 "$WORK/sexport"
expect 0 "$UVFS" mount -t hostfs "$WORK/sexport" "$S"
echo x >"$S/f"
# a host process's try: 0 if it got bytes 0-1 (and let go), 1 if not
host_lock() {
	python3 -c '
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
try:
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 2, 0)
except OSError:
    sys.exit(1)
' "$WORK/sexport/f"
}
server_pid() { "$UVFS" -m "$MNT" servers --json |
	python3 -c 'import json,sys; s=json.load(sys.stdin)["servers"]; print(s[0]["pid"] if s else 0)'; }
locker_start a "$S/f" rw
locker a "lockf wr 0 0" ok
host_lock && fail "a host process got the lock uvfs holds"
P=$(server_pid)
[ "$P" -gt 0 ] || fail "no server pid"
kill -9 "$P"
for _ in $(seq 100); do
	locker_send a read
	locker_read a r 20
	[ "$r" = "data x" ] && break
	sleep 0.1
done
[ "$r" = "data x" ] || fail "the lock holder's file does not read after the restart: $r"
[ "$(server_pid)" != "$P" ] || fail "the server was not restarted"
host_lock && fail "the lock was not taken again after the restart"
locker a "lockf un 0 0" ok
host_lock || fail "the host still sees the lock after its unlock"
locker_end a
expect_umount "$S"

# ---- diod ---------------------------------------------------------------

DIOD=$(command -v diod || echo /usr/sbin/diod)
if [ -x "$DIOD" ]; then
	note "diod: flock(1) from two uvfsd on one diod export"
	DSOCK=$WORK/diod.sock
	mkdir -m 0777 "$WORK/dexport"
	"$DIOD" -f -n -e "$WORK/dexport" -l "$DSOCK" -L "$WORK/diod.log" &
	BG_PIDS+=($!)
	for _ in $(seq 100); do [ -S "$DSOCK" ] && break; sleep 0.05; done
	mkdir "$MNT/d" "$MNT2/d"
	expect 0 "$UVFS" mount -t 9p -o "aname=$WORK/dexport" "unix:$DSOCK" "$MNT/d"
	expect 0 "$UVFS" -m "$MNT2" mount -t 9p -o "aname=$WORK/dexport" "unix:$DSOCK" "$MNT2/d"
	echo x >"$MNT/d/f"
	locker_start a "$MNT/d/f" rw
	locker a "flock ex" ok
	flock_busy "$MNT2/d/f"
	locker a "flock un" ok
	flock_free "$MNT2/d/f"
	locker_end a
	expect_umount "$MNT/d"
	expect 0 "$UVFS" -m "$MNT2" umount "$MNT2/d"
else
	skip_part "diod is not installed"
fi

kill -TERM "$D2"
for _ in $(seq 100); do kill -0 "$D2" 2>/dev/null || break; sleep 0.1; done
alive
stop_daemon
