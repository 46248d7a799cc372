#!/usr/bin/env bash
# Real programs on the mount: cp -a, mv, ln, ln -s, rm -r, find, stat,
# chmod, touch, truncate, dd; tar create and extract, compared with the
# originals; a second file system mounted inside (cross-mount copies, no
# "file system loop" from repeated inode numbers).
. "$(dirname "$0")/lib.sh"

start_daemon
cd "$WORK"

# a source tree on the host
SRC=$WORK/src
make_src_tree "$SRC" 600 640 755 700 444 4755

# what a tree looks like: name type mode size links target mtime (no
# directory sizes: they are the file system's own)
describe() { # DIR
	(cd "$1" && find . -mindepth 1 -print0 | sort -z |
	 xargs -0 stat -c '%n|%F|%a|%s|%h|%N|%Y' |
	 awk -F'|' -v OFS='|' '$2 == "directory" { $4 = "-" } { print }')
}

note "cp -a into the mount"
cp -a "$SRC" "$MNT/copy" || fail "cp -a"
diff -r --no-dereference "$SRC" "$MNT/copy" || fail "contents differ after cp -a"
diff <(describe "$SRC") <(describe "$MNT/copy") || fail "metadata differs after cp -a"

note "stat, chmod, touch, truncate, dd, append"
C=$MNT/copy
[ "$(stat -c %a "$C/modes/f4755")" = 4755 ] || fail "set-user-ID lost"
chmod 604 "$C/hello.txt" && [ "$(stat -c %a "$C/hello.txt")" = 604 ] || fail chmod
[ "$(stat -c %h "$C/hello.txt")" = 2 ] || fail "hard link count"
touch -d "2010-01-01 00:00:00" "$C/empty"
[ "$(stat -c %Y "$C/empty")" = "$(date -d "2010-01-01 00:00:00" +%s)" ] || fail "touch -d"
before=$(stat -c %Y "$C/empty"); touch "$C/empty"
[ "$(stat -c %Y "$C/empty")" -gt "$before" ] || fail "touch (now)"
truncate -s 100000 "$C/empty" && [ "$(stat -c %s "$C/empty")" = 100000 ] || fail "truncate up"
truncate -s 10 "$C/empty" && [ "$(stat -c %s "$C/empty")" = 10 ] || fail "truncate down"
cmp -n 10 "$C/empty" /dev/zero || fail "truncated file is not zeros"
echo more >>"$C/hello.txt"
[ "$(cat "$C/hello.txt")" = "hello
more" ] || fail "append"
dd if=/dev/urandom of="$WORK/blk" bs=4096 count=10 status=none
dd if="$WORK/blk" of="$C/dd.bin" bs=4096 seek=3 status=none conv=notrunc
dd if="$C/dd.bin" of="$WORK/blk2" bs=4096 skip=3 status=none
cmp "$WORK/blk" "$WORK/blk2" || fail "dd with offsets"
[ "$(stat -c %s "$C/dd.bin")" = $((13 * 4096)) ] || fail "dd size"
stat -f "$C" >/dev/null || fail "stat -f"
df "$MNT" >/dev/null || fail "df"

note "mv, ln, ln -s, rm -r, find"
mv "$C/big.bin" "$C/dir/big.moved" || fail mv
[ ! -e "$C/big.bin" ] && cmp "$SRC/big.bin" "$C/dir/big.moved" || fail "mv contents"
mv "$C/dir/sub" "$C/sub2" || fail "mv dir"
mv -T "$C/sub2" "$C/dir/sub" || fail "mv -T back"
ln "$C/dir/big.moved" "$C/biglink" && [ "$(stat -c %h "$C/biglink")" = 2 ] || fail ln
ln -s "dir/big.moved" "$C/symlink" && cmp "$C/symlink" "$SRC/big.bin" || fail "ln -s"
[ "$(readlink "$C/symlink")" = dir/big.moved ] || fail readlink
ln -sfn hello.txt "$C/symlink" && [ "$(readlink "$C/symlink")" = hello.txt ] || fail "ln -sfn"
echo x >"$C/over"; mv -f "$C/hello.txt" "$C/over" || fail "mv over a file"
[ "$(head -1 "$C/over")" = hello ] || fail "mv over: contents"
n=$(find "$C" | wc -l)
[ "$n" -gt 15 ] || fail "find found $n entries"
[ "$(find "$C" -name 'f*' -type f | wc -l)" = 6 ] || fail "find -name"
[ "$(find "$C" -type l | wc -l)" = 3 ] || fail "find -type l"
rm -r "$C/dir" || fail "rm -r"
[ ! -e "$C/dir" ] || fail "rm -r left the directory"
mkdir -p "$C/a/b/c/d" && rmdir -p "$C/a/b/c/d" 2>/dev/null; [ ! -e "$C/a" ] || fail "rmdir -p"
rm -rf "$C" || fail "rm -rf"
[ -z "$(ls -A "$MNT")" ] || fail "the mount is not empty: $(ls -A "$MNT")"

note "tar: create from the mount, extract on the host"
cp -a "$SRC" "$MNT/t" || fail "cp -a"
(cd "$MNT" && tar cf "$WORK/from-mount.tar" t) || fail "tar c in the mount"
mkdir "$WORK/x" && (cd "$WORK/x" && tar xpf "$WORK/from-mount.tar") || fail "tar x on the host"
diff -r --no-dereference "$SRC" "$WORK/x/t" || fail "tar round trip: contents"
diff <(describe "$SRC") <(describe "$WORK/x/t") || fail "tar round trip: metadata"

note "tar: create on the host, extract in the mount"
(cd "$WORK" && tar cf "$WORK/from-host.tar" src) || fail "tar c on the host"
mkdir "$MNT/x" && (cd "$MNT/x" && tar xpf "$WORK/from-host.tar") || fail "tar x in the mount"
diff -r --no-dereference "$SRC" "$MNT/x/src" || fail "tar into the mount: contents"
diff <(describe "$SRC") <(describe "$MNT/x/src") || fail "tar into the mount: metadata"
(cd "$MNT/x" && tar df "$WORK/from-host.tar") || fail "tar d (compare)"

note "no extended attributes without -o xattr: EOPNOTSUPP, as the kernel says it"
python3 - "$MNT/x-attr" <<'PY' || fail "xattrs without -o xattr"
import errno, os, sys
open(sys.argv[1], "w").close()
for call in (lambda: os.setxattr(sys.argv[1], "user.a", b"1"),
             lambda: os.getxattr(sys.argv[1], "user.a"),
             lambda: os.listxattr(sys.argv[1])):
    try:
        call()
        sys.exit("an xattr call succeeded")
    except OSError as e:
        if e.errno != errno.EOPNOTSUPP:
            sys.exit("errno %d, not EOPNOTSUPP" % e.errno)
os.unlink(sys.argv[1])
PY

note "a file system mounted inside"
expect 0 "$UVFS" mount -t memfs none "$MNT/x"
cp -a "$SRC" "$MNT/x/inner" || fail "cp -a into the inner mount"
diff -r --no-dereference "$SRC" "$MNT/x/inner" || fail "inner mount contents"
find "$MNT" >/dev/null 2>"$WORK/find.err" || fail "find across mounts: $(cat "$WORK/find.err")"
mv "$MNT/t/hello.txt" "$MNT/x/moved.txt" || fail "mv across mounts"
[ "$(cat "$MNT/x/moved.txt")" = hello ] && [ ! -e "$MNT/t/hello.txt" ] || fail "mv across mounts: result"
ln "$MNT/t/empty" "$MNT/x/cross" 2>/dev/null && fail "a hard link across mounts"
# inode numbers do not collide across the two file systems
i1=$(stat -c %i "$MNT/t"); i2=$(stat -c %i "$MNT/x/inner")
[ "$(stat -c %i "$MNT/x")" != "$(stat -c %i "$MNT")" ] || fail "the inner root and / share an inode number"
rm -rf "$MNT/x/inner" "$MNT/x/moved.txt"
expect_umount "$MNT/x"
[ -d "$MNT/x/src" ] || fail "the covered tree is gone"

stop_daemon
echo PASS
