#!/usr/bin/env bash
# Control requests whose walk waits on a suspended mount (a mount of a
# path inside it) hold nothing the other requests need: while
# one waits, a forced unmount of the suspended mount, a resume, stats and
# a mount elsewhere answer at once; the waiting request then fails with a
# clear error (forced unmount) or completes (resume), and leaves nothing.
# A shutdown meanwhile does not wait for it either, and when every
# connection slot is taken by such waits, a resume is still served.
. "$(dirname "$0")/lib.sh"

start_daemon
cd "$WORK"
M=$MNT/m
mkdir "$M"
echo covered >"$M/marker"

# mount_waits_inside: $M mounted and suspended, and a mount of $M/sub
# waiting inside it (bg_start's "mount", pid MPID).
mount_waits_inside() {
	expect 0 "$UVFS" mount -t memfs none "$M"
	mkdir "$M/sub"
	expect 0 "$UVFS" suspend "$M"
	bg_start mount "$UVFS" mount -t memfs none "$M/sub"
	MPID=$BG
}

# forced_ends NAME PID MESSAGE: a forced unmount of $M answers at once and
# ends the wait of the request bg_start started as NAME (pid PID), which
# fails with an error starting MESSAGE; nothing of $M stays mounted.
forced_ends() {
	local name=$1 pid=$2 want=$3 rc
	expect_within 5 0 "$UVFS" umount -f "$M"
	wait_child "$pid" 5
	rc=$?
	[ $rc = 255 ] && fail "the $name still waits after the forced unmount: $(stacks "$DAEMON_PID")"
	OUT=$(cat "$WORK/$name.out")
	echo "$OUT"
	[ $rc = 1 ] || fail "the waiting $name ended with $rc: $OUT"
	case $OUT in
	"$want"?*) ;;
	*) fail "the waiting $name's error: $OUT" ;;
	esac
	expect 0 "$UVFS" -m "$MNT" mounts --raw
	case $OUT in *"$M"*) fail "a mount was left: $OUT" ;; esac
	[ "$(cat "$M/marker")" = covered ] || fail "$M does not show what it covered"
	alive
}

note "a forced unmount while a mount inside the suspended mount waits"
mount_waits_inside
# the rest of the server answers meanwhile
expect_within 5 0 "$UVFS" -m "$MNT" stats
mkdir "$MNT/else"
expect_within 5 0 "$UVFS" mount -t memfs none "$MNT/else"
expect_within 5 0 "$UVFS" umount "$MNT/else"
forced_ends mount "$MPID" "uvfs: cannot mount none (memfs) on $M/sub: "

note "a resume lets the waiting mount complete"
mount_waits_inside
expect_within 5 0 "$UVFS" resume "$M"
wait_child "$MPID" 5
rc=$?
[ $rc = 0 ] || fail "the waiting mount ended with $rc: $(cat "$WORK/mount.out")"
echo inner >"$M/sub/f"
expect 0 "$UVFS" -m "$MNT" mounts --raw
case $OUT in *"$M/sub"*) ;; *) fail "$M/sub is not listed: $OUT" ;; esac
expect_umount "$M/sub"
[ ! -e "$M/sub/f" ] || fail "$M/sub still shows the inner mount"
expect_umount "$M"

note "an unmount of a mount inside the suspended mount answers at once"
# (it used to wait for the resume, walking through the suspended mount;
# the library now names a mount below a suspended one from its mount
# table, and uvfsd's invalidation walks fetch no attributes)
expect 0 "$UVFS" mount -t memfs none "$M"
mkdir "$M/in"
expect 0 "$UVFS" mount -t memfs none "$M/in"
expect 0 "$UVFS" suspend "$M"
expect_within 5 0 "$UVFS" umount "$M/in"
expect_within 5 0 "$UVFS" umount -f "$M"
[ "$(cat "$M/marker")" = covered ] || fail "$M does not show what it covered"
alive

note "every slot waits on the suspended mount: a resume still gets through"
# 16 connections per uid are served at once; here all of root's wait on
# the suspended mount, and the resume that would end those waits was
# refused ("too many connections") until one of them ended.
expect 0 "$UVFS" mount -t memfs none "$M"
for i in $(seq 20); do mkdir "$M/s$i"; done
expect 0 "$UVFS" suspend "$M"
PIDS=()
for i in $(seq 20); do
	"$UVFS" mount -t memfs none "$M/s$i" >"$WORK/many$i.out" 2>&1 &
	PIDS+=($!)
	BG_PIDS+=($!)
done
# 16 wait; the other 4 were refused (or dropped) and ended
for _ in $(seq 400); do
	n=0
	for p in "${PIDS[@]}"; do running_child "$p" && n=$((n + 1)); done
	[ $n -le 16 ] && break
	sleep 0.05
done
if [ $n != 16 ]; then
	for i in $(seq 20); do echo "$i: $(cat "$WORK/many$i.out")"; done
	fail "$n mounts wait on the suspended mount, not 16"
fi
expect_within 5 0 "$UVFS" -m "$MNT" stats
case $OUT in *"inflight"*) ;; *) fail "stats: $OUT" ;; esac
expect_msg 1 "too many connections" "$UVFS" holders "$M"
expect_within 5 0 "$UVFS" resume "$M"
for p in "${PIDS[@]}"; do
	wait_child "$p" 5
	[ $? = 255 ] && fail "a mount still waits after the resume"
done
grep -l "too many connections" "$WORK"/many*.out | wc -l
expect 0 "$UVFS" umount -f "$M"
alive

# child_of_suspended TYPE SOURCE [OPTIONS]: $M of that type, a memfs
# mount at $M/in with a file open, $M suspended: a forced unmount of
# $M/in answers at once (the library names it from its mount table, and
# uvfsd walks nothing inside $M), its file reads EIO, and after the
# resume $M shows the directory it covered.
child_of_suspended() {
	expect 0 "$UVFS" mount -t "$@" "$M"
	[ -d "$M/in" ] || mkdir "$M/in"
	expect 0 "$UVFS" mount -t memfs none "$M/in"
	echo inner >"$M/in/f"
	exec 7<"$M/in/f"
	expect 0 "$UVFS" suspend "$M"
	expect_within 5 0 "$UVFS" umount -f "$M/in"
	cat <&7 >/dev/null 2>"$WORK/dead.err" &&
		fail "the forced unmount's file still reads"
	grep -q "Input/output error" "$WORK/dead.err" ||
		fail "the dead file's read: $(cat "$WORK/dead.err")"
	exec 7<&-
	expect 0 "$UVFS" resume "$M"
	[ -d "$M/in" ] && [ ! -e "$M/in/f" ] ||
		fail "$M/in still shows the forced mount"
	expect_umount "$M"
	alive
}

note "a forced unmount of a mount inside the suspended mount"
child_of_suspended memfs none
# a file server's mount caches no names: every walk inside asks it
HOSTFS=${UVFS_HOSTFS:-}
if [ -n "$HOSTFS" ] && [ -x "$HOSTFS" ]; then
	note "the same under a file server's mount (hostfs)"
	mkdir -p "$WORK/export/in"
	child_of_suspended hostfs -o "server=$HOSTFS" "$WORK/export"
fi

note "a shutdown while a mount inside the suspended mount waits"
mount_waits_inside
# the shutdown force-unmounts everything, which ends the wait; it must
# not first wait for the requests in progress to end
expect_within 10 0 "$UVFS" shutdown "$MNT"
wait_daemon
wait_child "$MPID" 5
rc=$?
OUT=$(cat "$WORK/mount.out")
echo "$OUT"
[ $rc = 1 ] || fail "the waiting mount ended with $rc: $OUT"
echo PASS
