#!/usr/bin/env bash
# Permissions as a non-root user (setpriv): the same operations on the
# FUSE mount and on a tmpfs must succeed and fail alike.  uvfs checks the
# permissions itself (no default_permissions), with the caller's uid, gid,
# supplementary groups and umask as FUSE passes them.
. "$(dirname "$0")/lib.sh"

need_nobody

start_daemon_and_tmpfs

setup() { # DIR, as root
	local d=$1
	mkdir "$d/pub" "$d/priv" "$d/sticky" "$d/grp" "$d/ro"
	chmod 777 "$d/pub"; chmod 700 "$d/priv"; chmod 1777 "$d/sticky"
	chmod 775 "$d/grp"; chgrp "$NOGROUP" "$d/grp"; chmod 555 "$d/ro"
	echo secret >"$d/priv/s"; chmod 600 "$d/priv/s"
	echo rootfile >"$d/pub/rootfile"; chmod 644 "$d/pub/rootfile"
	echo rw >"$d/pub/world"; chmod 666 "$d/pub/world"
	echo x >"$d/pub/noread"; chmod 200 "$d/pub/noread"
	echo s >"$d/sticky/rootown"; chmod 666 "$d/sticky/rootown"
	printf '#!/bin/sh\necho ran\n' >"$d/pub/script"; chmod 755 "$d/pub/script"
	printf '#!/bin/sh\necho ran\n' >"$d/pub/noexec"; chmod 644 "$d/pub/noexec"
	echo g >"$d/grp/gfile"; chgrp "$NOGROUP" "$d/grp/gfile"; chmod 664 "$d/grp/gfile"
}

# Each line: the operation and its status; run as nobody in DIR.
ops() { # DIR
	local d=$1
	t() { "$@" >/dev/null 2>&1; echo "$* -> $?" | sed "s|$d|D|g"; }
	umask 027
	t cat "$d/priv/s"
	t ls "$d/priv"
	t cat "$d/pub/rootfile"
	t sh -c "echo x >>'$d/pub/rootfile'"
	t sh -c "echo x >>'$d/pub/world'"
	t cat "$d/pub/noread"
	t sh -c "echo y >'$d/pub/noread'"
	t "$d/pub/script"
	t "$d/pub/noexec"
	t touch "$d/pub/mine"
	t stat -c %a "$d/pub/mine"
	stat -c '%a %u %g' "$d/pub/mine" | sed 's/^/mine: /'
	t mkdir "$d/pub/mydir"
	stat -c '%a' "$d/pub/mydir" | sed 's/^/mydir: /'
	t chmod 600 "$d/pub/mine"
	t chmod 600 "$d/pub/rootfile"
	t chown root "$d/pub/mine"
	t chgrp root "$d/pub/mine"
	t truncate -s 0 "$d/pub/rootfile"
	t truncate -s 0 "$d/pub/world"
	t touch "$d/pub/rootfile"
	t touch "$d/pub/world"
	t touch -d 2001-01-01 "$d/pub/world"
	t rm "$d/pub/rootfile"
	t mv "$d/pub/mine" "$d/pub/mine2"
	t rm "$d/sticky/rootown"
	t mv "$d/sticky/rootown" "$d/sticky/x"
	t touch "$d/sticky/own"
	t rm "$d/sticky/own"
	t touch "$d/ro/new"
	t mkdir "$d/ro/new"
	t touch "$d/grp/new"
	t sh -c "echo g >>'$d/grp/gfile'"
	t ln "$d/pub/rootfile" "$d/pub/hardlink"
	t ln -s "$d/priv/s" "$d/pub/sym"
	t cat "$d/pub/sym"
	t sh -c "cd '$d/priv'"
	t sh -c "cd '$d/pub'"
	t test -w "$d/pub/rootfile"
	t test -r "$d/pub/world"
	t test -x "$d/pub/script"
	t mkfifo "$d/pub/fifo"
	t rmdir "$d/pub/mydir"
	t sh -c "exec 3>'$d/pub/created' && chmod 400 '$d/pub/created' && echo data >&3"
	t cat "$d/pub/created"
}

as_nobody() {
	setpriv --reuid="$NOBODY" --regid="$NOGROUP" --groups="$NOGROUP" "$@"
}

setup "$TMPFS"
mkdir "$MNT/t"
setup "$MNT/t"
export -f ops
export NOGROUP
as_nobody bash -c 'ops "$1"' _ "$TMPFS" >"$WORK/tmpfs.out" 2>&1
as_nobody bash -c 'ops "$1"' _ "$MNT/t" >"$WORK/uvfs.out" 2>&1
diff -u "$WORK/tmpfs.out" "$WORK/uvfs.out" || fail "the mount and tmpfs differ (- tmpfs, + uvfs)"
cat "$WORK/uvfs.out"
grep -c -- '-> 0' "$WORK/uvfs.out" | sed 's/^/operations that succeeded: /'
grep -c -- '-> [1-9]' "$WORK/uvfs.out" | sed 's/^/operations that failed: /'

note "supplementary groups"
mkdir "$MNT/g" && chgrp adm "$MNT/g" && chmod 770 "$MNT/g"
setpriv --reuid="$NOBODY" --regid="$NOGROUP" --groups="$NOGROUP" \
	touch "$MNT/g/x" 2>/dev/null && fail "created without the group"
setpriv --reuid="$NOBODY" --regid="$NOGROUP" --groups="$NOGROUP,$(getent group adm | cut -d: -f3)" \
	touch "$MNT/g/x" || fail "a supplementary group is not honoured"

# A user in more supplementary groups than a context holds
# (UVFS_NGROUPS_MAX, 32; Linux allows 65536, and users of directory
# services have hundreds): the kernel lets him in through any of them,
# and so must uvfs.  It kept the first 32 (in the kernel's order, the
# lowest gids) and refused what the 40th allowed: creating in a group's
# directory, reading its files, renaming and linking into another
# group's directory, chgrp to another group.
note "a user in 40 supplementary groups"
many=$(seq -s, 20001 20040)
for d in "$TMPFS" "$MNT"; do
	mkdir "$d/g40" "$d/g39" && chgrp 20040 "$d/g40" && chgrp 20039 "$d/g39" &&
		chmod 2770 "$d/g40" "$d/g39" || fail "setup in $d"
	echo secret >"$d/g40/r" && chgrp 20040 "$d/g40/r" && chmod 640 "$d/g40/r"
	setpriv --reuid="$NOBODY" --regid="$NOGROUP" --groups="$many" \
		sh -c "touch '$d/g40/new' && cat '$d/g40/r' &&
		       mv '$d/g40/new' '$d/g39/moved' && chgrp 20038 '$d/g39/moved' &&
		       ln '$d/g39/moved' '$d/g40/link' &&
		       stat -c '%U %g %a %h' '$d/g40/link'" \
		>"$WORK/g40.$([ "$d" = "$MNT" ] && echo uvfs || echo tmpfs)" 2>&1
done
diff -u "$WORK/g40.tmpfs" "$WORK/g40.uvfs" ||
	fail "a user in 40 groups: the mount and tmpfs differ (- tmpfs, + uvfs)"
cat "$WORK/g40.uvfs"

umount "$TMPFS"
stop_daemon
echo PASS
