#!/usr/bin/env bash
# Inode reuse on the host (issue: hostfs kept a stale file type).  A file
# is seen through a hostfs mount (the kernel and uvfs cache its node),
# then removed on the host, and a symlink, then a directory, is made under
# the same name on the same inode number.  Through the mount: stat shows
# the new type, readlink gives the target, the directory lists its entry,
# and the file's old data is not served.  uvfs-hostfs puts a generation
# (the birth time) into qid.path, so the reused number is a new qid and
# the driver makes a new vnode (docs/server.md).
#
# The host must reuse the inode number.  The export is a small ext4 file
# system of its own (an image in the work directory, loop-mounted, removed
# on exit), where the lowest free inode is taken next, so the number comes
# back at once whatever the rest of the machine does; without mkfs.ext4 or
# loop devices the export is a directory in /tmp, where reuse depends on
# other activity: when it does not happen within a few tries (tmpfs never
# reuses), the test skips with a message.
# No network: it lives with the network tests for the server side.
. "$(dirname "$0")/../fuse/lib.sh"

HOSTFS=${UVFS_HOSTFS:-}
[ -n "$HOSTFS" ] && [ -x "$HOSTFS" ] || skip "UVFS_HOSTFS not set to the built uvfs-hostfs"

start_daemon
EXPORT=$WORK/export
mkdir "$EXPORT"
if command -v mkfs.ext4 >/dev/null &&
   truncate -s 16M "$WORK/ext4.img" &&
   mkfs.ext4 -q -F "$WORK/ext4.img" >/dev/null 2>&1 &&
   mount -o loop "$WORK/ext4.img" "$EXPORT" 2>/dev/null; then
	note "the export: a fresh ext4 image"
else
	note "the export: a directory in $WORK (no ext4 image: no mkfs.ext4 or loop device)"
fi
H=$MNT/h
mkdir "$H"
expect 0 "$UVFS" mount -t hostfs -o "server=$HOSTFS,timeout=5000" "$EXPORT" "$H"

# make_reused KIND: "$EXPORT/x" is a regular file seen through the mount,
# then becomes KIND (symlink|dir) on the same inode number; 1 if the host
# would not reuse it.
make_reused() {
	local kind=$1 try ino0 ino1
	for try in $(seq 20); do
		rm -rf "$EXPORT/x"
		printf 'old file data' >"$EXPORT/x"
		ino0=$(stat -c %i "$EXPORT/x")
		# through the mount: the kernel and the driver cache the node
		[ "$(stat -c %F "$H/x")" = "regular file" ] ||
			fail "x through the mount: $(stat -c %F "$H/x")"
		[ "$(cat "$H/x")" = "old file data" ] || fail "x: wrong data"
		rm "$EXPORT/x"
		case $kind in
		symlink) ln -s "target-$try" "$EXPORT/x" ;;
		dir) mkdir "$EXPORT/x" && echo inside >"$EXPORT/x/entry" ;;
		esac
		ino1=$(stat -c %i "$EXPORT/x")
		[ "$ino0" = "$ino1" ] && { TRY=$try; return 0; }
	done
	return 1
}

# the kernel keeps an entry of a 9p mount for its 1 s timeout: past it,
# every access below looks the name up again
settle() { sleep 1.2; }

note "a regular file turned symlink on the same inode"
make_reused symlink ||
	skip "the host file system of $EXPORT does not reuse inode numbers"
settle
t=$(stat -c %F "$H/x")
[ "$t" = "symbolic link" ] || fail "stat after the reuse: '$t', not a symbolic link"
got=$(readlink "$H/x") || fail "readlink through the mount failed"
[ "$got" = "target-$TRY" ] || fail "readlink: '$got', expected target-$TRY"
# and it stays right (no flip back from a cache)
sleep 0.3
[ "$(readlink "$H/x")" = "target-$TRY" ] || fail "readlink changed"

note "a regular file turned directory on the same inode"
rm -f "$EXPORT/x"
settle
make_reused dir ||
	skip "the host file system of $EXPORT does not reuse inode numbers"
settle
t=$(stat -c %F "$H/x")
[ "$t" = directory ] || fail "stat after the reuse: '$t', not a directory"
ls "$H/x" >"$WORK/ls.out" 2>&1 || fail "ls of the directory: $(cat "$WORK/ls.out")"
[ "$(cat "$WORK/ls.out")" = entry ] || fail "ls: $(cat "$WORK/ls.out")"
[ "$(cat "$H/x/entry")" = inside ] || fail "x/entry: wrong data"

note "a file held open across the reuse reads its own data or fails"
rm -rf "$EXPORT/x"
printf 'held data' >"$EXPORT/y"
exec 8<"$H/y"
rm "$EXPORT/y"
mkdir "$EXPORT/y"
settle
[ "$(stat -c %F "$H/y")" = directory ] || fail "y: $(stat -c %F "$H/y")"
got=$(cat <&8 2>/dev/null)
case $got in
"held data"|"") ;;           # the data, or an error: never another file's
*) fail "the held descriptor read '$got'" ;;
esac
exec 8<&-

expect 0 "$UVFS" umount "$H"
alive
stop_daemon
echo PASS
