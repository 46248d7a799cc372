#!/usr/bin/env bash
# Every way uvfsd can fail to start ends in one clear message and exit
# status 1 (2 for a usage error), in the foreground and daemonized, without
# a crash or a sanitizer report, and leaves nothing behind: no mount, no
# socket, no process.  (The socket directory cases are in control.sh.)
. "$(dirname "$0")/lib.sh"

SOCK=$CTL/start.sock

# fails STATUS MESSAGE uvfsd-arguments...: in the foreground and, unless
# it is a usage error, daemonized (the parent must relay the child's
# message and status).
fails() {
	local want=$1 msg=$2
	shift 2
	for mode in -f daemon; do
		local args=("$@")
		[ "$mode" = -f ] && args+=(-f)
		[ "$mode" = daemon ] && [ "$want" = 2 ] && continue
		expect_msg "$want" "$msg" "$UVFSD" "${args[@]}"
		case $OUT in
		*Sanitizer* | *"runtime error"* | *"Segmentation"*)
			fail "uvfsd ${args[*]}: $OUT" ;;
		esac
		[ "$(printf '%s\n' "$OUT" | grep -c '^uvfsd: ')" -ge 1 ] ||
			fail "no uvfsd message: $OUT"
		[ ! -e "$SOCK" ] || fail "uvfsd ${args[*]}: $SOCK left behind"
		pgrep -f "^$UVFSD .*--socket $SOCK" >/dev/null &&
			fail "uvfsd ${args[*]}: a process stayed"
	done
	return 0
}

note "the mount point does not exist"
fails 1 "No such file or directory" "$WORK/nosuch" --socket "$SOCK"
note "the mount point is not a directory"
echo x >"$WORK/file"
fails 1 "not a directory" "$WORK/file" --socket "$SOCK"
note "bad options"
fails 2 "unknown mount option" "$MNT" -o nosuchoption --socket "$SOCK"
fails 2 "unknown option '--nosuchflag'" "$MNT" --nosuchflag --socket "$SOCK"
fails 2 "Try 'uvfsd --help'" "$MNT" --nosuchflag --socket "$SOCK"
fails 2 "a MOUNTPOINT is needed" --socket "$SOCK"
fails 2 "absolute path" "$MNT" --socket relative.sock
fails 2 "needs a type" "$MNT" --root "" --socket "$SOCK"
fails 2 "system, fuse or a size" "$MNT" -o writeback,wb_limit=lots --socket "$SOCK"
fails 2 "system, fuse or a size" "$MNT" -o writeback,wb_limit=0 --socket "$SOCK"
fails 2 "wb_limit= is for -o writeback" "$MNT" -o wb_limit=1g --socket "$SOCK"
fails 2 "a count from 1" "$MNT" -o max_threads=0 --socket "$SOCK"
fails 2 "a count from 1" "$MNT" -o idle_threads=x --socket "$SOCK"
fails 2 "a count from 1" "$MNT" -o mount_threads=0 --socket "$SOCK"
note "a root file system that cannot be made"
fails 1 "cannot create the namespace" "$MNT" --root nosuchfs --socket "$SOCK"
note "a socket path that does not fit"
fails 1 "socket path too long" "$MNT" --socket "$CTL/$(printf 'x%.0s' $(seq 120)).sock"
mounted "$MNT" && fail "a failed start left $MNT mounted"

note "the mount point is busy (a live uvfsd)"
start_daemon
fails 1 "already a mount point" "$MNT" --socket "$SOCK"
note "a daemon already answers on the socket"
mkdir "$WORK/m2"
fails 1 "a daemon already answers" "$WORK/m2" --socket "$CTL/uvfsd.sock"
mounted "$WORK/m2" && fail "$WORK/m2 mounted"
alive

note "a dead FUSE mount (its daemon was killed)"
kill -9 "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
ls "$MNT" >/dev/null 2>&1 && fail "the killed daemon's mount still answers"
fails 1 "dead FUSE mount" "$MNT" --socket "$SOCK"
umount -l "$MNT" || fail "cannot unmount the dead mount"
rm -f "$CTL/uvfsd.sock"

note "no access to /dev/fuse (a user without it)"
if command -v setpriv >/dev/null && id nobody >/dev/null 2>&1 &&
   ! setpriv --reuid=nobody --regid=nogroup --clear-groups \
	test -w /dev/fuse; then
	if setpriv --reuid=nobody --regid=nogroup --clear-groups \
	   test -x "$UVFSD"; then
		RT=$WORK/rt
		mkdir -m 700 "$RT"
		chown nobody "$RT"
		NM=$WORK/nm
		mkdir -m 777 "$NM"
		for mode in -f ""; do
			expect_msg 1 "cannot open /dev/fuse: Permission denied" \
				env XDG_RUNTIME_DIR="$RT" setpriv --reuid=nobody \
				--regid=nogroup --clear-groups "$UVFSD" "$NM" $mode
			case $OUT in *Sanitizer* | *Segmentation*) fail "$OUT" ;; esac
			mounted "$NM" && fail "$NM mounted"
			[ -z "$(find "$RT" -name '*.sock')" ] ||
				fail "socket left behind: $(find "$RT" -name '*.sock')"
		done
	else
		skip_part "no /dev/fuse access: uvfsd is not reachable by user nobody"
	fi
else
	skip_part "no /dev/fuse access: no setpriv or user nobody, or nobody may use /dev/fuse"
fi

start_daemon
alive
stop_daemon
echo PASS
