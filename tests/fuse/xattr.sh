#!/usr/bin/env bash
# Extended attributes through the mount, compared with tmpfs: every call
# and its error as root (xattr.py ops) and as a user other than root
# (xattr.py user: read and write permission, trusted.* and security.*,
# sticky directories); cp --preserve=xattr and tar --xattrs both ways, the
# trees' attributes compared with what the same program left on a tmpfs;
# POSIX ACLs answer EOPNOTSUPP; attributes on a second file system mounted
# inside.
. "$(dirname "$0")/lib.sh"

need_nobody
PY=$HERE/xattr.py

start_daemon_and_tmpfs -o xattr
python3 -c "import os; open('$TMPFS/p', 'w').close(); os.setxattr('$TMPFS/p', 'user.p', b'')" 2>/dev/null ||
	skip "this kernel's tmpfs has no user.* attributes (Linux >= 6.6)"
rm "$TMPFS/p"

note "every call, as root"
mkdir "$TMPFS/r" "$MNT/r"
both ops python3 "$PY" ops @D@/r
grep -c -- '-> ' "$WORK/ops.uvfs" | sed 's/^/calls compared: /'

note "as nobody"
need_nobody_python
mkdir "$TMPFS/u" "$MNT/u"
chmod 755 "$TMPFS/u" "$MNT/u"
python3 "$PY" setup "$TMPFS/u" "$NOBODY" || fail "setup on tmpfs"
python3 "$PY" setup "$MNT/u" "$NOBODY" || fail "setup on the mount"
both user as_nobody "$NPY" -c "$(cat "$PY")" user @D@/u
grep -c -- '-> ' "$WORK/user.uvfs" | sed 's/^/calls compared: /'
# and root sees what nobody did
both user-after python3 "$PY" dump @D@/u

note "POSIX ACLs are not supported"
touch "$MNT/acl"
python3 "$PY" acl "$MNT/acl" >"$WORK/acl.out" 2>&1
[ "$(cat "$WORK/acl.out")" = "get acl -> ENOTSUP
set acl -> ENOTSUP" ] || fail "ACLs: $(cat "$WORK/acl.out")"

# a tree with attributes of every namespace on files, directories and a
# symlink (trusted.* only there: user.* is for files and directories)
make_tree() { # DIR
	local d=$1
	mkdir -p "$d/dir/sub" "$d/empty"
	echo hello >"$d/hello"
	head -c 100000 /dev/urandom >"$d/dir/sub/data"
	: >"$d/noattrs"
	ln -s hello "$d/link"
	python3 - "$d" <<'EOF'
import os, sys
d = sys.argv[1]
big = os.urandom(65536)
for p, attrs in [
        ("hello", [("user.mime", b"text/plain"), ("user.empty", b""),
                   ("trusted.t", b"\x00\x01\x02"), ("security.s", b"sec")]),
        ("dir", [("user.dir", b"d")]),
        ("dir/sub/data", [("user.big", big), ("user.second", b"2")]),
        ("empty", [("trusted.only", b"t")])]:
    for n, v in attrs:
        os.setxattr(os.path.join(d, p), n, v)
os.setxattr(os.path.join(d, "link"), "trusted.link", b"l",
            follow_symlinks=False)
EOF
}

note "cp --preserve=xattr into the mount and back"
make_tree "$TMPFS/src"
python3 "$PY" dump "$TMPFS/src" >"$WORK/src.dump"
grep -q user.big "$WORK/src.dump" || fail "the source tree has no attributes"
both cp-in cp -r --preserve=xattr "$TMPFS/src" @D@/cp
both cp-in-dump python3 "$PY" dump @D@/cp
cp -r --preserve=xattr "$MNT/cp" "$TMPFS/cp-back" || fail "cp out of the mount"
python3 "$PY" dump "$TMPFS/cp-back" >"$WORK/cp-back.dump"
diff -u "$WORK/cp-in-dump.tmpfs" "$WORK/cp-back.dump" || fail "cp out of the mount: attributes differ"
both cp-a cp -a "$TMPFS/src" @D@/cpa
both cp-a-dump python3 "$PY" dump @D@/cpa

note "tar --xattrs: created on the host, extracted in the mount"
TAR=(tar --xattrs "--xattrs-include=*")
(cd "$TMPFS" && "${TAR[@]}" -cf "$WORK/host.tar" src) || fail "tar c on tmpfs"
mkdir "$TMPFS/tx" "$MNT/tx"
both tar-x sh -c "cd @D@/tx && ${TAR[*]@Q} -xpf '$WORK/host.tar'"
python3 "$PY" dump "$MNT/tx/src" >"$WORK/tx.dump"
diff -u "$WORK/src.dump" "$WORK/tx.dump" || fail "tar x into the mount: attributes differ from the source"

note "tar --xattrs: created in the mount, extracted on the host"
(cd "$MNT/tx" && "${TAR[@]}" -cf "$WORK/mount.tar" src) || fail "tar c in the mount"
mkdir "$TMPFS/tx2"
(cd "$TMPFS/tx2" && "${TAR[@]}" -xpf "$WORK/mount.tar") || fail "tar x on tmpfs"
python3 "$PY" dump "$TMPFS/tx2/src" >"$WORK/tx2.dump"
diff -u "$WORK/src.dump" "$WORK/tx2.dump" || fail "tar from the mount: attributes differ from the source"
diff -r --no-dereference "$TMPFS/src" "$TMPFS/tx2/src" || fail "tar from the mount: contents differ"

note "a memfs mounted inside"
mkdir "$MNT/inner"
expect 0 "$UVFS" mount -t memfs none "$MNT/inner"
cp -a "$TMPFS/src" "$MNT/inner/src" || fail "cp -a into the inner mount"
python3 "$PY" dump "$MNT/inner/src" >"$WORK/inner.dump"
diff -u "$WORK/src.dump" "$WORK/inner.dump" || fail "inner mount: attributes differ"
rm -rf "$MNT/inner/src"
inner_attr() { python3 -c "import os; print(os.listxattr('$MNT/inner'))"; }
python3 -c "import os; os.setxattr('$MNT/inner', 'user.root', b'r')"
[ "$(inner_attr)" = "['user.root']" ] || fail "the inner root: $(inner_attr)"
expect 0 "$UVFS" umount "$MNT/inner"
[ "$(inner_attr)" = "[]" ] || fail "the covered directory has the inner root's attributes: $(inner_attr)"

alive
umount "$TMPFS"
stop_daemon
echo PASS
