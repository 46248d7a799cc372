#!/usr/bin/env bash
# fallocate, SEEK_DATA/SEEK_HOLE and copy_file_range through the mount (a
# memfs root), compared with tmpfs: every mode, error, data map and copy
# answer (fileops.py ops); fallocate(1) -l, -n (KEEP_SIZE), -p, -d, -z, -c; cp --sparse=always
# of a sparse file keeping its holes (st_blocks, du, the SEEK_DATA map);
# copy_file_range keeping holes (memfs; tmpfs fills them); the same calls
# as a user other than root (set-id bits cleared, a read-only file).
. "$(dirname "$0")/lib.sh"

need_nobody
PY=$HERE/fileops.py
command -v fallocate >/dev/null || skip "fallocate(1) is not installed"

start_daemon_and_tmpfs

note "every call, as root"
mkdir "$TMPFS/r" "$MNT/r"
both ops python3 "$PY" ops @D@/r
grep -c -- '-> ' "$WORK/ops.uvfs" | sed 's/^/calls compared: /'

note "fallocate(1)"
# size, blocks and data map after each, one file through all of them
prog() { # DIR
	local f=$1/fa
	{
		fallocate -l 1M "$f" && stat -c '-l 1M: %s %b' "$f"
		fallocate -n -o 1M -l 256K "$f" && stat -c '-n: %s %b' "$f"
		dd if=/dev/urandom of="$f" bs=4096 count=8 seek=4 conv=notrunc \
			status=none
		stat -c 'dd: %s %b' "$f"
		fallocate -p -o 20480 -l 8192 "$f" && stat -c '-p: %s %b' "$f"
		fallocate -p -o 100 -l 10 "$f" && stat -c '-p small: %s %b' "$f"
		python3 "$PY" map "$f"
		# -d: punches the zero-filled pages (finds them by SEEK_DATA)
		dd if=/dev/zero of="$f" bs=4096 count=2 seek=40 conv=notrunc \
			status=none
		fallocate -d "$f" && stat -c '-d: %s %b' "$f"
		python3 "$PY" map "$f"
		fallocate -z -l 4096 "$f" 2>&1 | sed 's/^fallocate: [^:]*:/fallocate -z:/'
		fallocate -c -l 4096 "$f" 2>&1 | sed 's/^fallocate: [^:]*:/fallocate -c:/'
		du -k "$f" | cut -f1
	} 2>&1
}
both fallocate prog @D@
cat "$WORK/fallocate.uvfs"

note "cp --sparse=always keeps the holes"
sparse() { # DIR
	local f=$1/sparse
	truncate -s 10M "$f"
	printf 'first' | dd of="$f" bs=1 seek=4096 conv=notrunc status=none
	head -c 70000 /dev/zero | tr '\0' 'm' |
		dd of="$f" bs=4096 seek=1000 conv=notrunc status=none
	printf 'last' | dd of="$f" bs=1 seek=$((10 * 1048576 - 4)) \
		conv=notrunc status=none
	# a page of zeros written: cp --sparse=always makes it a hole
	head -c 4096 /dev/zero | dd of="$f" bs=4096 seek=2000 conv=notrunc \
		status=none
	cp --sparse=always "$f" "$1/copy"
	stat -c 'src %s %b' "$f"
	stat -c 'cp %s %b' "$1/copy"
	du -k "$1/copy" | cut -f1
	python3 "$PY" map "$f"
	python3 "$PY" map "$1/copy"
	cmp "$f" "$1/copy" && echo same
}
both sparse sparse @D@
cat "$WORK/sparse.uvfs"
# and from the mount to tmpfs and back
cp --sparse=always "$MNT/sparse" "$TMPFS/back"
cp --sparse=always "$TMPFS/sparse" "$MNT/fwd"
[ "$(stat -c %b "$TMPFS/back")" = "$(stat -c %b "$TMPFS/copy")" ] ||
	fail "cp --sparse=always from the mount to tmpfs: $(stat -c %b "$TMPFS/back") blocks, want $(stat -c %b "$TMPFS/copy")"
[ "$(stat -c %b "$MNT/fwd")" = "$(stat -c %b "$MNT/copy")" ] ||
	fail "cp --sparse=always from tmpfs to the mount: $(stat -c %b "$MNT/fwd") blocks"
cmp "$MNT/fwd" "$TMPFS/back" || fail "the sparse copies differ"

note "copy_file_range: the same bytes, the holes filled as on tmpfs"
both cfr python3 "$PY" copy @D@/sparse @D@/cfr
cmp "$MNT/sparse" "$MNT/cfr" || fail "copy_file_range copy differs"
[ "$(stat -c %b "$MNT/cfr")" = "$(stat -c %b "$TMPFS/cfr")" ] ||
	fail "copy_file_range on the mount: $(stat -c %b "$MNT/cfr") blocks, on tmpfs $(stat -c %b "$TMPFS/cfr")"
[ "$(python3 "$PY" map "$MNT/cfr")" = "$(python3 "$PY" map "$TMPFS/cfr")" ] ||
	fail "copy_file_range on the mount: the data map is not tmpfs's"
echo "blocks: source $(stat -c %b "$MNT/sparse"), copy on the mount $(stat -c %b "$MNT/cfr"), copy on tmpfs $(stat -c %b "$TMPFS/cfr")"
# across the kernel's file systems, tmpfs to the mount and back: EXDEV,
# the kernel's answer (as from one tmpfs to another)
mkdir "$TMPFS/t2"
mount -t tmpfs tmpfs "$TMPFS/t2" || fail "a second tmpfs"
for c in "$TMPFS/sparse $MNT/x1" "$MNT/sparse $TMPFS/x2" \
	 "$TMPFS/sparse $TMPFS/t2/x3"; do
	# shellcheck disable=SC2086
	r=$(python3 "$PY" copy $c)
	[ "$r" = EXDEV ] || fail "copy_file_range $c: $r, want EXDEV"
done
umount "$TMPFS/t2"
# between two file systems of the mount (memfs in memfs): the daemon
# copies through read and write
mkdir "$MNT/inner"
"$UVFS" mount -t memfs none "$MNT/inner" ||
	fail "uvfs mount memfs"
python3 "$PY" copy "$MNT/sparse" "$MNT/inner/c" >/dev/null ||
	fail "copy_file_range between two memfs instances"
cmp "$MNT/sparse" "$MNT/inner/c" || fail "the copy into the inner memfs differs"
"$UVFS" umount "$MNT/inner" || fail "uvfs umount"

note "as nobody"
as_nobody() {
	setpriv --reuid="$NOBODY" --regid="$NOGROUP" --groups="$NOGROUP" "$@"
}
# a python3 that nobody may run (root's may be a pyenv shim under /root)
NPY=
for p in python3 /usr/bin/python3 /usr/local/bin/python3; do
	if as_nobody "$p" -c 'import os' 2>/dev/null; then NPY=$p; break; fi
done
[ -n "$NPY" ] || skip "no python3 that user nobody can run"
for d in "$TMPFS" "$MNT"; do
	mkdir "$d/u"
	chmod 755 "$d/u"
	printf '0123456789abcdef' >"$d/u/src"
	: >"$d/u/su1"
	: >"$d/u/su2"
	chmod 06777 "$d/u/su1" "$d/u/su2"
	: >"$d/u/sg1"
	: >"$d/u/sg2"
	chmod 02766 "$d/u/sg1" "$d/u/sg2"
	printf 'ro' >"$d/u/ro"
	chmod 644 "$d/u/src" "$d/u/ro"
done
both user as_nobody "$NPY" "$PY" user @D@/u
cat "$WORK/user.uvfs"
both user-fallocate as_nobody fallocate -l 8192 @D@/u/su2
both user-after stat -c '%s %b %a' @D@/u/su1 @D@/u/su2 @D@/u/sg1 @D@/u/sg2 @D@/u/ro

note "with the writeback cache (-o writeback): nothing written is missed"
# the kernel holds the data (and the size) until it writes them back, and
# asks LSEEK without writing back first: uvfsd lets it answer from its own
# size (no holes, but the data is found), as tmpfs finds it
stop_daemon
start_daemon -o writeback
wb() { # DIR: a write and the data map before any fsync or close
	python3 - "$1/wb" <<'PYEOF'
import os, sys
fd = os.open(sys.argv[1], os.O_CREAT | os.O_RDWR, 0o644)
os.pwrite(fd, b"x" * 100, 8192)
d = os.lseek(fd, 0, os.SEEK_DATA)
h = os.lseek(fd, d, os.SEEK_HOLE)
print("data at or before 8192:", d <= 8192, "hole at the size:", h == 8292)
os.close(fd)
PYEOF
	# and after the close, fallocate and copy_file_range see all of it
	fallocate -p -o 0 -l 4096 "$1/wb" && python3 "$PY" copy "$1/wb" "$1/wb2"
	cmp "$1/wb" "$1/wb2" && echo same
}
both writeback wb @D@
cat "$WORK/writeback.uvfs"
