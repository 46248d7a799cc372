#!/usr/bin/env bash
# Permissions in every cache state, for two users.  The owner (root) warms
# every cache the kernel keeps first (stat, ls -l, open and read each file:
# names, attributes, pages), then user nobody tries each access; then the
# owner changes modes and owners and nobody tries again at once, with its
# own entries still cached.  The same script runs on a tmpfs: both
# transcripts (statuses and error messages) must be identical.
#
# What it covers: directory search on cached names (a 0700 directory, a
# 0711 one), reading and listing, FIFO and device opens, setuid/setgid
# cleared by a non-owner's write and truncation (and kept where tmpfs keeps
# them), and chmod/chown seen by the other user without waiting.
. "$(dirname "$0")/lib.sh"

need_nobody

start_daemon_and_tmpfs

# As root: the tree.
setup() { # DIR
	local d=$1
	mkdir -m 700 "$d/priv"; echo secret >"$d/priv/f"; chmod 644 "$d/priv/f"
	mkdir -m 711 "$d/search"; echo s >"$d/search/f"; chmod 644 "$d/search/f"
	echo t >"$d/search/hidden"; chmod 600 "$d/search/hidden"
	mkdir -m 755 "$d/pub"; echo p >"$d/pub/f"; chmod 644 "$d/pub/f"
	mkfifo -m 600 "$d/pub/fifo"; mkfifo -m 644 "$d/pub/fifo_r"
	mknod -m 600 "$d/pub/null" c 1 3
	for f in suid sgid sgidnox both suidt sgidnoxt suido root_w; do
		echo data >"$d/pub/$f"
	done
	chmod 4777 "$d/pub/suid"; chmod 2777 "$d/pub/sgid"
	chmod 2767 "$d/pub/sgidnox"; chmod 6777 "$d/pub/both"
	chmod 4777 "$d/pub/suidt"; chmod 2767 "$d/pub/sgidnoxt"
	chmod 4777 "$d/pub/suido"; chmod 4777 "$d/pub/root_w"
	mkdir -m 755 "$d/later"; echo l >"$d/later/f"; chmod 644 "$d/later/f"
	mkdir -m 777 "$d/own"; echo o >"$d/own/f"; chmod 600 "$d/own/f"
	chown "$NOBODY:$NOGROUP" "$d/own/f"
}

# As root: every cache warm.
warm() { # DIR
	local d=$1
	ls -lR "$d" >/dev/null
	find "$d" -exec stat {} + >/dev/null
	find "$d" -type f -exec cat {} + >/dev/null
}

# One line per operation: status and error message, the tree's name
# replaced by D.
t() {
	local out rc
	out=$("$@" 2>&1 >/dev/null)
	rc=$?
	out=${out##*: }
	echo "$* -> $rc${out:+ ($out)}" | sed "s|$D|D|g"
}

# As nobody, first: each access once, with root's caches warm.
first() {
	local d=$D
	t cat "$d/priv/f"
	t ls "$d/priv"
	t stat -c %a "$d/priv/f"
	t cat "$d/priv/nosuch"
	t cat "$d/search/f"
	t stat -c %a "$d/search/hidden"
	t cat "$d/search/hidden"
	t ls "$d/search"
	t cat "$d/pub/f"
	t dd if="$d/pub/fifo" iflag=nonblock count=0 status=none
	t dd of="$d/pub/fifo" oflag=nonblock count=0 status=none
	t dd if="$d/pub/fifo_r" iflag=nonblock count=0 status=none
	t dd if="$d/pub/null" count=0 status=none
	t sh -c "echo more >>'$d/pub/suid'"
	t sh -c "echo more >>'$d/pub/sgid'"
	t sh -c "echo more >>'$d/pub/sgidnox'"
	t sh -c "echo more >>'$d/pub/both'"
	t truncate -s 1 "$d/pub/suidt"
	t truncate -s 1 "$d/pub/sgidnoxt"
	t sh -c ": >'$d/pub/suido'"
	t cat "$d/later/f"
	t cat "$d/own/f"
	t chmod 4755 "$d/pub/suid"
}

# As root, between: modes and owners change.
change() {
	local d=$D
	chmod 700 "$d/later"
	chown root:root "$d/own/f"
	chmod 600 "$d/pub/f"
	chmod 000 "$d/search"
	echo more >>"$d/pub/root_w"   # root keeps the bits (CAP_FSETID)
}

# As nobody, again at once: nothing it learnt before may still be used.
again() {
	local d=$D
	t cat "$d/later/f"
	t ls "$d/later"
	t cat "$d/own/f"
	t cat "$d/pub/f"
	t cat "$d/search/f"
	t sh -c "echo x >>'$d/own/f'"
}

# As root, last: what became of the mode bits.
modes() {
	local d=$D
	for f in suid sgid sgidnox both suidt sgidnoxt suido root_w f; do
		stat -c "$f %A %U" "$d/pub/$f"
	done
	stat -c "own/f %A %U" "$d/own/f"
	cat "$d/pub/suid" "$d/pub/suidt" | tr '\n' ' '
	echo
}

as_nobody() {
	setpriv --reuid="$NOBODY" --regid="$NOGROUP" --clear-groups "$@"
}

export -f t first again
run() { # DIR OUT
	export D=$1
	setup "$D"
	warm "$D"
	as_nobody bash -c first >"$2" 2>&1
	change
	as_nobody bash -c again >>"$2" 2>&1
	modes >>"$2" 2>&1
}

mkdir "$MNT/t"
run "$TMPFS" "$WORK/tmpfs.out"
run "$MNT/t" "$WORK/uvfs.out"
cat "$WORK/uvfs.out"
diff -u "$WORK/tmpfs.out" "$WORK/uvfs.out" ||
	fail "the mount and tmpfs differ (- tmpfs, + uvfs)"
# the transcript must show refusals and successes both (no test that
# cannot fail: an empty or one-sided run is an error)
grep -q -- '-> 0$' "$WORK/uvfs.out" || fail "nothing succeeded"
grep -q 'Permission denied' "$WORK/uvfs.out" || fail "nothing was refused"
grep -q '^suid -rwxrwxrwx' "$WORK/uvfs.out" || fail "setuid was not cleared"

note "the same with a second mount below the root (crossing a mount point)"
mkdir "$MNT/m"
"$UVFS" -m "$MNT" mount -t memfs none "$MNT/m" || fail "mount"
mkdir "$MNT/m/t" "$WORK/tmpfs/u"
run "$WORK/tmpfs/u" "$WORK/tmpfs2.out"
run "$MNT/m/t" "$WORK/uvfs2.out"
sed -i 's|D|X|g' "$WORK/tmpfs2.out" "$WORK/uvfs2.out"
diff -u "$WORK/tmpfs2.out" "$WORK/uvfs2.out" ||
	fail "below a mount: the mount and tmpfs differ (- tmpfs, + uvfs)"

umount "$TMPFS"
"$UVFS" -m "$MNT" umount -f "$MNT/m" >/dev/null || fail "umount"
stop_daemon
echo PASS
