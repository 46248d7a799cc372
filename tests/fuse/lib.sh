# lib.sh - sourced by the FUSE tests: start uvfsd on a temporary mount
# point, always clean up (trap), helpers.  Exit codes: 0 pass, 1 fail,
# 77 skip: the whole test (skip), or a part of it (skip_part: the rest
# still runs and must pass, and the test then exits 77, not 0, so that
# meson and tests/summary.py show the skip; the reasons are on stdout as
# "SKIP: ..." lines).
set -u

UVFSD=${UVFSD:-}
UVFS=${UVFS:-}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

skip() { echo "SKIP: $*"; exit 77; }
SKIPPED_PARTS=0
skip_part() { echo "SKIP: (part) $*"; SKIPPED_PARTS=$((SKIPPED_PARTS + 1)); }
fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "--- $*"; }

[ -n "$UVFSD" ] && [ -x "$UVFSD" ] || skip "UVFSD not set to the built uvfsd"
[ -n "$UVFS" ] && [ -x "$UVFS" ] || skip "UVFS not set to the built uvfs"
[ "$(id -u)" = 0 ] || skip "needs root (FUSE mounts, other users)"
[ -c /dev/fuse ] || skip "no /dev/fuse on this machine"

WORK=$(mktemp -d /tmp/uvfs-fuse.XXXXXX) || fail "mktemp"
chmod 755 "$WORK"
MNT=$WORK/mnt
mkdir "$MNT"
# the control socket: in a directory of the test's own (uvfsd insists on
# one that is its owner's alone, mode 0700)
CTL=$WORK/ctl
mkdir -m 700 "$CTL"
DAEMON_PID=
BG_PIDS=()
CLEANUP_PATHS=()        # made outside $WORK: removed at exit too

mounted() { grep -q " $1 " /proc/self/mountinfo; }

# running_child PID: PID is a child of this shell that has not exited.
# Not kill -0: once the shell has reaped a child its pid is free, and
# the system (pid_max 32768 is common) hands it to a process of anyone's
# soon enough.
running_child() {
	local st
	read -r st 2>/dev/null </proc/"$1"/stat || return 1
	st=${st##*) }                   # state ppid ...
	set -- $st
	[ "$2" = "$$" ] && [ "$1" != Z ]
}

cleanup() {
	local rc=$?
	cd /
	# only what is still ours: a pid that ended long ago may be anyone's
	for p in "${BG_PIDS[@]}"; do
		running_child "$p" && kill -9 "$p" 2>/dev/null
	done
	if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill -TERM "$DAEMON_PID" 2>/dev/null
		for _ in $(seq 100); do
			kill -0 "$DAEMON_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$DAEMON_PID" 2>/dev/null
	fi
	for m in $(awk -v w="$WORK" 'index($5, w) == 1 { print $5 }' \
		   /proc/self/mountinfo | sort -r); do
		umount -l "$m" 2>/dev/null
	done
	if [ $rc -ne 0 ] && [ $rc -ne 77 ] && [ -f "$WORK/uvfsd.log" ]; then
		echo "--- uvfsd log:"
		tail -50 "$WORK/uvfsd.log"
	fi
	rm -rf "$WORK"
	for p in "${CLEANUP_PATHS[@]}"; do rm -rf "$p"; done
	[ $rc -eq 0 ] && [ "$SKIPPED_PARTS" -gt 0 ] && rc=77
	exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# start_daemon [uvfsd options...]: uvfsd in the foreground, in the
# background of this script; returns once the mount answers.
start_daemon() {
	"$UVFSD" "$MNT" -f -o allow_other --socket "$CTL/uvfsd.sock" "$@" \
		>>"$WORK/uvfsd.log" 2>&1 &
	DAEMON_PID=$!
	for _ in $(seq 200); do
		if mounted "$MNT" && "$UVFS" -m "$MNT" stats >/dev/null 2>&1
		then
			return 0
		fi
		kill -0 "$DAEMON_PID" 2>/dev/null ||
			fail "uvfsd exited at startup: $(cat "$WORK/uvfsd.log")"
		sleep 0.05
	done
	fail "uvfsd did not come up"
}

# stop_daemon: SIGTERM; it must exit 0 (a sanitizer report fails it),
# leave no mount and remove its socket.
stop_daemon() {
	local sock rc
	sock=$(awk -v m="$MNT" '$5 == m { for (i = 7; i <= NF; i++) if ($i == "-") { print $(i + 2); exit } }' /proc/self/mountinfo)
	kill -TERM "$DAEMON_PID"
	wait_daemon
	[ -z "$sock" ] || [ ! -e "$sock" ] || fail "socket $sock left behind"
}

# wait_daemon: waits (20 s at most) for the daemon to exit by itself.
wait_daemon() {
	local rc
	for _ in $(seq 200); do
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$DAEMON_PID" 2>/dev/null && fail "uvfsd did not exit"
	wait "$DAEMON_PID"
	rc=$?
	DAEMON_PID=
	[ $rc -eq 0 ] || fail "uvfsd exited with $rc: $(tail -40 "$WORK/uvfsd.log")"
	if grep -qE "(ERROR|WARNING): (Address|Leak|Thread)Sanitizer|runtime error" \
		"$WORK/uvfsd.log"; then
		fail "sanitizer report: $(cat "$WORK/uvfsd.log")"
	fi
	mounted "$MNT" && fail "$MNT still mounted after uvfsd exited"
	return 0
}

# expect STATUS COMMAND...: runs it, output in $OUT, status must match.
expect() {
	local want=$1 got
	shift
	OUT=$("$@" 2>&1)
	got=$?
	[ "$got" = "$want" ] ||
		fail "'$*' exited $got, expected $want; output: $OUT"
	return 0
}

# A normal unmount that must succeed once the kernel has given back what
# the test's own programs held: FUSE sends the RELEASE of a closed file in
# the background, after close(2) has returned, so a "busy" answer right
# after the last close is retried for up to 5 s.  Any other error fails.
expect_umount() {
	local i
	for i in $(seq 50); do
		OUT=$("$UVFS" umount "$@" 2>&1) && return 0
		case $OUT in
		*"target is busy"*) sleep 0.1 ;;
		*) fail "'uvfs umount $*' failed: $OUT" ;;
		esac
	done
	fail "'uvfs umount $*' still busy after 5 s: $OUT"
}

# like expect, also checks the output contains a string.
expect_msg() {
	local want=$1 msg=$2
	shift 2
	expect "$want" "$@"
	case $OUT in
	*"$msg"*) ;;
	*) fail "'$*': output lacks '$msg': $OUT" ;;
	esac
}

# The daemon must still be serving.
alive() {
	kill -0 "$DAEMON_PID" 2>/dev/null || fail "uvfsd died"
	"$UVFS" -m "$MNT" mounts >/dev/null || fail "uvfsd does not answer"
	ls "$MNT" >/dev/null || fail "the mount does not answer"
}

# Holders: python3 processes that keep a file open and obey commands
# ("read", "close") on a fifo; replies on another.
holder_start() { # NAME FILE
	local name=$1 file=$2
	mkfifo "$WORK/$name.in" "$WORK/$name.out"
	python3 "$HERE/holder.py" "$file" <"$WORK/$name.in" \
		>"$WORK/$name.out" &
	BG_PIDS+=($!)
	eval "H_PID_$name=$!"
	eval "exec {H_IN_$name}>\"$WORK/$name.in\""
	eval "exec {H_OUT_$name}<\"$WORK/$name.out\""
	local line
	holder_read "$name" line
	[ "$line" = "open" ] || fail "holder $name: $line"
}

holder_read() { # NAME VAR
	local fd
	eval "fd=\$H_OUT_$1"
	read -r -t 20 -u "$fd" "$2" || fail "holder $1 does not answer"
}

holder_cmd() { # NAME CMD -> $REPLY_LINE
	local fd
	eval "fd=\$H_IN_$1"
	echo "$2" >&"$fd"
	holder_read "$1" REPLY_LINE
}

holder_pid() { eval "echo \$H_PID_$1"; }

ms_now() { echo $(($(date +%s%N) / 1000000)); }
# until_ms MS CMD...: CMD every 0.1 s until it succeeds, for MS at most
until_ms() {
	local end=$(($(ms_now) + $1))
	shift
	until "$@"; do
		[ "$(ms_now)" -lt "$end" ] || return 1
		sleep 0.1
	done
}

# wait_stopped PID: kill -STOP returns before a thread running on another
# CPU has taken the signal; wait (5 s) until every thread is in state T.
wait_stopped() {
	local pid=$1 i t st all
	for i in $(seq 500); do
		all=1
		for t in /proc/"$pid"/task/*/stat; do
			[ -r "$t" ] || continue
			st=$(sed 's/.*) //' "$t" 2>/dev/null | cut -c1)
			case $st in T|t|"") ;; *) all=0 ;; esac
		done
		[ $all = 1 ] && return 0
		sleep 0.01
	done
	fail "process $pid did not stop"
}

# stacks PID...: where each process waits, for a failure message: its
# command line, then per thread its state and kernel stack (one line,
# innermost call first; threads alike are counted once).
stacks() {
	local p t
	for p in "$@"; do
		if [ ! -d /proc/"$p" ]; then
			echo "[$p: gone]"
			continue
		fi
		echo "[$p: $(tr '\0' ' ' </proc/"$p"/cmdline 2>/dev/null)]"
		for t in /proc/"$p"/task/*; do
			printf '%s %s: %s\n' \
				"$(sed 's/.*) //' "$t"/stat 2>/dev/null | cut -c1)" \
				"$(cat "$t"/comm 2>/dev/null)" \
				"$(sed 's/^\[<0>\] //; s/+0x.*//' "$t"/stack \
				   2>/dev/null | paste -sd' ' -)"
		done | sort | uniq -c
	done
}

# fuse_waiting: the requests the kernel has sent to the daemon at $MNT and
# waits on (its connection's count in /sys/fs/fuse/connections).
fuse_waiting() {
	local d
	d=$(awk -v m="$MNT" '$5 == m { d = $3 } END { print d }' \
		/proc/self/mountinfo)
	cat /sys/fs/fuse/connections/"${d#*:}"/waiting 2>/dev/null ||
		echo "unknown (no fusectl)"
}

# hang_report PID...: what a failure after a bounded wait says: the FUSE
# requests outstanding, where PID... and the daemon wait (the kernel's
# stacks; the daemon's own too if gdb is there).
hang_report() {
	echo "FUSE requests outstanding: $(fuse_waiting)"
	stacks "$@" ${DAEMON_PID:+"$DAEMON_PID"}
	if [ -n "$DAEMON_PID" ] && command -v gdb >/dev/null; then
		echo "[uvfsd's threads]"
		timeout 60 gdb -p "$DAEMON_PID" -batch \
			-ex "thread apply all bt 10" 2>/dev/null |
			grep -E '^(Thread|#)'
	fi
}

# bg_start NAME COMMAND...: runs it in the background, output in
# $WORK/NAME.out, pid in BG; it must still wait (on a suspended mount)
# half a second later.
bg_start() {
	local name=$1
	shift
	"$@" >"$WORK/$name.out" 2>&1 &
	BG=$!
	BG_PIDS+=($BG)
	sleep 0.5
	running_child "$BG" ||
		fail "'$*' did not wait on the suspended mount: $(cat "$WORK/$name.out")"
}

# wait_child PID SECONDS: waits (SECONDS at most) for the child PID to
# exit; then returns its status, or 255 with CHILD_STATUS "still running".
# CHILD_STATUS says how it ended ("exit N", "killed by signal N").
wait_child() {
	local pid=$1 end=$((SECONDS + $2)) rc
	while [ $SECONDS -lt $end ] && running_child "$pid"; do
		sleep 0.05
	done
	if running_child "$pid"; then
		CHILD_STATUS="still running after $2 s"
		return 255
	fi
	wait "$pid"
	rc=$?
	if [ $rc -gt 128 ]; then
		CHILD_STATUS="killed by signal $((rc - 128))"
	else
		CHILD_STATUS="exit $rc"
	fi
	return $rc
}

# expect_within SECONDS STATUS COMMAND...: expect, with a bound: a command
# still running after SECONDS fails the test with where it (and the
# daemon) waits, and is killed.
expect_within() {
	local secs=$1 want=$2 pid got
	shift 2
	"$@" >"$WORK/expect.out" 2>&1 &
	pid=$!
	wait_child "$pid" "$secs"
	got=$?
	if [ $got = 255 ] && running_child "$pid"; then
		local r
		r=$(hang_report "$pid")
		kill -9 "$pid" 2>/dev/null
		fail "'$*' did not return within $secs s; $r"
	fi
	OUT=$(cat "$WORK/expect.out")
	[ "$got" = "$want" ] ||
		fail "'$*' ended ($CHILD_STATUS), expected exit $want; output: $OUT"
	return 0
}

# bound_ms MS: a wall-clock bound for this build: 5x under ThreadSanitizer
# (uvfsd built with it runs everything 5-15x slower).
bound_ms() {
	if grep -qa __tsan_init "$UVFSD" 2>/dev/null; then
		echo $(($1 * 5))
	else
		echo "$1"
	fi
}

# need_hostfs: skips unless UVFS_HOSTFS names the built uvfs-hostfs;
# sets HOSTFS.
need_hostfs() {
	HOSTFS=${UVFS_HOSTFS:-}
	[ -n "$HOSTFS" ] && [ -x "$HOSTFS" ] ||
		skip "UVFS_HOSTFS not set to the built uvfs-hostfs"
}

# need_nobody: skips unless setpriv and the user nobody exist; sets
# NOBODY and NOGROUP.
need_nobody() {
	command -v setpriv >/dev/null ||
		skip "setpriv is not installed (util-linux)"
	id nobody >/dev/null 2>&1 || skip "no user 'nobody'"
	NOBODY=$(id -u nobody)
	NOGROUP=$(id -g nobody)
}

# need_nobody_python: need_nobody, and NPY set to a python3 that nobody
# may run (root's may be a pyenv shim under /root); as_nobody CMD... runs
# CMD as nobody.
as_nobody() {
	setpriv --reuid="$NOBODY" --regid="$NOGROUP" --groups="$NOGROUP" "$@"
}
need_nobody_python() {
	need_nobody
	NPY=
	for p in python3 /usr/bin/python3 /usr/local/bin/python3; do
		if as_nobody "$p" -c 'import os' 2>/dev/null; then
			NPY=$p
			break
		fi
	done
	[ -n "$NPY" ] || skip "no python3 that user nobody can run"
}

# both NAME COMMAND...: COMMAND run on the tmpfs, then on the mount (@D@
# in an argument: $TMPFS, then $MNT); it must succeed in both, and its
# outputs ($WORK/NAME.tmpfs, $WORK/NAME.uvfs) must be the same.
both() {
	local name=$1 d out
	shift
	for d in "$TMPFS" "$MNT"; do
		out=$WORK/$name.$([ "$d" = "$MNT" ] && echo uvfs || echo tmpfs)
		"${@//@D@/$d}" >"$out" 2>&1 || { cat "$out"; fail "$name in $d"; }
	done
	diff -u "$WORK/$name.tmpfs" "$WORK/$name.uvfs" ||
		fail "$name: the mount and tmpfs differ (- tmpfs, + uvfs)"
	return 0
}

# start_daemon_and_tmpfs [uvfsd options...]: uvfsd, and a tmpfs at
# $TMPFS to compare with; the cwd is $WORK.
start_daemon_and_tmpfs() {
	start_daemon "$@"
	cd "$WORK" || fail "cd $WORK"
	TMPFS=$WORK/tmpfs
	mkdir "$TMPFS"
	mount -t tmpfs -o mode=755 tmpfs "$TMPFS" || skip "cannot mount a tmpfs"
}

# make_src_tree DIR MODE...: a small source tree on the host for the copy
# tests: files (empty, 3 MB, 70 kB, a name with spaces), a symlink, a
# dangling one, a hard link, an empty directory, a 750 directory, one file
# per MODE in DIR/modes, and an old mtime.
make_src_tree() {
	local src=$1 m
	shift
	mkdir -p "$src/dir/sub" "$src/empty dir" "$src/modes"
	echo "hello" >"$src/hello.txt"
	: >"$src/empty"
	head -c 3000000 /dev/urandom >"$src/big.bin"
	head -c 70000 /dev/urandom >"$src/dir/sub/mid.bin"
	echo "spaces" >"$src/name with spaces"
	ln -s hello.txt "$src/link"
	ln -s ../nowhere "$src/dir/dangling"
	ln "$src/hello.txt" "$src/dir/hard"
	for m in "$@"; do
		echo "$m" >"$src/modes/f$m"
		chmod "$m" "$src/modes/f$m"
	done
	chmod 750 "$src/dir/sub"
	touch -d "2001-02-03 04:05:06" "$src/hello.txt"
}
