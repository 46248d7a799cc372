#!/usr/bin/env bash
# The kernel's caches stay right.  memfs is cached for an hour (entries,
# attributes, failed lookups, pages across opens) since it changes only
# through uvfsd: every namespace change uvfsd makes (mount, unmount,
# forced unmount, revoke) must show at once, with no timeout to wait out.
# A hostfs export changes behind uvfsd: a change made on the host shows
# through the mount within its one-second timeout.
. "$(dirname "$0")/lib.sh"

HOSTFS=${UVFS_HOSTFS:-}

start_daemon
cd "$WORK"

note "failed lookups are remembered, and forgotten when the name appears"
mkdir "$MNT/c"
[ ! -e "$MNT/c/x" ] || fail "c/x exists"
[ ! -e "$MNT/c/x" ] || fail "c/x exists (cached)"
echo one >"$MNT/c/x"
[ "$(cat "$MNT/c/x")" = one ] || fail "c/x after create"
mv "$MNT/c/x" "$MNT/c/y"
[ ! -e "$MNT/c/x" ] || fail "c/x after rename"
[ "$(cat "$MNT/c/y")" = one ] || fail "c/y after rename"
ln "$MNT/c/y" "$MNT/c/z"
[ "$(stat -c %h "$MNT/c/y")" = 2 ] || fail "link count after ln"
rm "$MNT/c/z"
[ "$(stat -c %h "$MNT/c/y")" = 1 ] || fail "link count after rm"
echo more >>"$MNT/c/y"
[ "$(stat -c %s "$MNT/c/y")" = 9 ] || fail "size after append"
mkdir "$MNT/c/d"
[ "$(stat -c %h "$MNT/c")" = 3 ] || fail "directory link count after mkdir"

note "a mount shows at once over names looked up before"
mkdir "$MNT/m"
echo covered >"$MNT/m/f"
[ "$(cat "$MNT/m/f")" = covered ] || fail "m/f"
[ ! -e "$MNT/m/g" ] || fail "m/g exists"
expect 0 "$UVFS" mount -t memfs none "$MNT/m"
[ ! -e "$MNT/m/f" ] || fail "m/f still seen through the new mount"
echo inner >"$MNT/m/g"
[ "$(cat "$MNT/m/g")" = inner ] || fail "m/g in the new mount"

note "a normal unmount uncovers at once"
expect 0 "$UVFS" umount "$MNT/m"
[ "$(cat "$MNT/m/f")" = covered ] || fail "m/f after umount"
[ ! -e "$MNT/m/g" ] || fail "m/g still seen after umount"

note "a forced unmount uncovers at once; an open file's attributes fail"
expect 0 "$UVFS" mount -t memfs none "$MNT/m"
echo inner >"$MNT/m/g"
stat "$MNT/m/g" >/dev/null || fail "stat m/g"
exec {fd}<"$MNT/m/g"
expect 0 "$UVFS" umount -f "$MNT/m"
[ ! -e "$MNT/m/g" ] || fail "m/g still seen after umount -f"
[ "$(cat "$MNT/m/f")" = covered ] || fail "m/f after umount -f"
stat -L "/proc/self/fd/$fd" >/dev/null 2>&1 &&
	fail "fstat of a descriptor of the unmounted file system succeeded"
exec {fd}<&-

note "mount and unmount named through a symlink"
ln -s m "$MNT/lnk"
[ "$(cat "$MNT/m/f")" = covered ] || fail "m/f before the mount"
expect 0 "$UVFS" mount -t memfs none "$MNT/lnk"
[ ! -e "$MNT/m/f" ] || fail "m/f seen after a mount through a symlink"
echo inner >"$MNT/m/g"
expect 0 "$UVFS" umount "$MNT/lnk"
[ "$(cat "$MNT/m/f")" = covered ] || fail "m/f after umount through a symlink"
[ ! -e "$MNT/m/g" ] || fail "m/g seen after umount through a symlink"
expect 0 "$UVFS" mount -t memfs none "$MNT/m"
echo inner >"$MNT/m/g"
exec {fd}<"$MNT/m/g"
expect 0 "$UVFS" umount -f "$MNT/lnk"
[ ! -e "$MNT/m/g" ] || fail "m/g seen after umount -f through a symlink"
stat -L "/proc/self/fd/$fd" >/dev/null 2>&1 &&
	fail "fstat after umount -f through a symlink succeeded"
exec {fd}<&-

note "revoke (named through a symlink): the attributes fail through its descriptor"
echo r >"$MNT/c/rv"
ln -s c "$MNT/cl"
exec {fd}<"$MNT/c/rv"
stat -L "/proc/self/fd/$fd" >/dev/null || fail "fstat before revoke"
expect 0 "$UVFS" revoke "$MNT/cl/rv"
stat -L "/proc/self/fd/$fd" >/dev/null 2>&1 &&
	fail "fstat of a revoked descriptor succeeded"
exec {fd}<&-

if [ -n "$HOSTFS" ] && [ -x "$HOSTFS" ]; then
	note "hostfs: a change on the host shows within a second"
	mkdir "$WORK/export" "$MNT/h"
	echo old >"$WORK/export/f"
	expect 0 "$UVFS" mount -t hostfs -o "server=$HOSTFS" "$WORK/export" \
		"$MNT/h"
	[ "$(cat "$MNT/h/f")" = old ] || fail "h/f"
	[ ! -e "$MNT/h/n" ] || fail "h/n exists"
	echo newer >"$WORK/export/f"
	echo n >"$WORK/export/n"
	sleep 1.2
	[ "$(cat "$MNT/h/f")" = newer ] || fail "h/f after a change on the host: $(cat "$MNT/h/f")"
	[ -e "$MNT/h/n" ] || fail "h/n made on the host is not seen"
	expect 0 "$UVFS" umount "$MNT/h"
else
	skip_part "hostfs: UVFS_HOSTFS not set to the built uvfs-hostfs"
fi

alive
stop_daemon
echo PASS
