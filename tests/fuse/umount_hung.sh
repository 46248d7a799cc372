#!/usr/bin/env bash
# A plain (not forced) unmount of a mount below a hung file server: a
# hostfs mount whose server is SIGSTOPped (actimeo=0: every name inside
# asks it), memfs mounts on directories at its root; `uvfs umount` of
# one, by its path and by its id, plain or forced, answers at once (0,
# or EBUSY while something holds it), not after the server's deadline
# (timeout=, 8 s here): uvfsd names the mount from the library's table
# (uvfs_mount_id_of), and its invalidation's walk to the mount point's
# parent crosses into the hung mount without asking it (docs/fuse.md,
# "Invalidation", which says why a mount deeper down still waits).
. "$(dirname "$0")/lib.sh"

need_hostfs

start_daemon
cd "$WORK"
EXPORT=$WORK/export
mkdir -p "$EXPORT/a" "$EXPORT/b" "$EXPORT/c" "$EXPORT/d"
H=$MNT/h
mkdir "$H"
expect 0 "$UVFS" mount -t hostfs \
	-o "server=$HOSTFS,timeout=8000,actimeo=0,restarts=20" "$EXPORT" "$H"
for d in a b c d; do
	expect 0 "$UVFS" mount -t memfs none "$H/$d"
	echo "in $d" >"$H/$d/f"
done
id_at() {
	"$UVFS" -m "$MNT" mounts --raw -n -o ID,PATH |
		awk -v p="$1" '$2 == p && $1 > id { id = $1 } END { print id }'
}
IDB=$(id_at /h/b)
[ -n "$IDB" ] || fail "no id listed for /h/b"
# a process whose working directory is /h/c holds it: its unmount is
# busy (and not invalidated: docs/fuse.md)
(cd "$H/c" && exec sleep 600) &
HOLDER=$!
BG_PIDS+=($HOLDER)
SP=$("$UVFS" -m "$MNT" servers --json |
	python3 -c 'import json,sys; s=json.load(sys.stdin)["servers"]; print(s[0]["pid"] if s else 0)')
[ "$SP" -gt 0 ] || fail "no server pid"

note "the server stopped: unmounts below it answer at once"
kill -STOP "$SP"
CONT() { kill -CONT "$SP" 2>/dev/null; }
trap 'rc=$?; CONT; (exit $rc); cleanup' EXIT
wait_stopped "$SP"
# timed: well below the server's deadline of 8 s
timed() {
	local t0 t1
	t0=$(ms_now)
	expect_within 20 "$@"
	t1=$(ms_now)
	note "'${*:2}' took $((t1 - t0)) ms: $OUT"
	[ $((t1 - t0)) -lt "$(bound_ms 2000)" ] ||
		fail "'${*:2}' took $((t1 - t0)) ms (the server's deadline is 8 s)"
}
timed 0 "$UVFS" -m "$MNT" umount --id "$IDB"
timed 0 "$UVFS" umount "$H/a"
timed 1 "$UVFS" umount "$H/c"
case $OUT in *"busy"*) ;; *) fail "umount of the held mount: $OUT" ;; esac
timed 0 "$UVFS" umount -f "$H/d"
expect 0 "$UVFS" -m "$MNT" mounts --raw -n -o PATH
case $OUT in *"/h/a"*|*"/h/b"*|*"/h/d"*)
	fail "still listed: $OUT" ;; esac
case $OUT in *"/h/c"*) ;; *) fail "/h/c is not listed: $OUT" ;; esac
alive

note "the server goes on: the mounts show what they covered"
CONT
for d in a b d; do
	[ -d "$H/$d" ] && [ ! -e "$H/$d/f" ] || fail "$H/$d still shows its mount"
done
[ "$(cat "$H/c/f")" = "in c" ] || fail "$H/c/f reads wrong"
kill "$HOLDER"
wait "$HOLDER" 2>/dev/null
expect_umount "$H/c"
expect_umount "$H"
alive
echo PASS
