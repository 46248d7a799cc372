#!/usr/bin/env bash
# POSIX through the kernel on 9P mounts, with real programs (docs/9p-client.md,
# "Hard links", "Deep paths", "O_DIRECT"), on a type "hostfs" mount and,
# when diod is installed, a type "diod" mount:
#  - echo data > a; ln a b; rm a; cat b; ln b c; append to b, chmod b,
#    stat b once the attribute cache has expired; rename the survivor;
#  - a tree 42 directories deep of 255-byte names (a path of 10 KiB below
#    the mount): files made, written, read, listed, renamed, removed there
#    by programs that cd step by step (the kernel limits one path argument
#    to PATH_MAX, not the depth);
#  - dd with oflag=direct / iflag=direct writes and reads back.
. "$(dirname "$0")/lib.sh"

need_hostfs
start_daemon
cd "$WORK" || fail "cd $WORK"

check_links() {
	local d=$1
	cd "$d" || fail "cd $d"
	echo data >a
	ln a b || fail "$d: ln a b"
	rm a || fail "$d: rm a"
	[ "$(cat b)" = data ] || fail "$d: cat b after rm a"
	ln b c || fail "$d: ln b c"
	echo more >>b || fail "$d: append to b"
	chmod 600 b || fail "$d: chmod b"
	sleep 1.2       # past the attribute cache (actimeo=1000)
	[ "$(stat -c %a:%h:%s b)" = 600:2:10 ] ||
		fail "$d: stat b: $(stat -c %a:%h:%s b 2>&1)"
	[ "$(cat c)" = "$(printf 'data\nmore')" ] || fail "$d: cat c"
	mkdir sub
	mv b sub/b2 || fail "$d: mv b"
	rm c
	[ "$(cat sub/b2)" = "$(printf 'data\nmore')" ] || fail "$d: cat sub/b2"
	ln sub/b2 again || fail "$d: ln sub/b2 again"
	[ "$(stat -c %h again)" = 2 ] || fail "$d: links of again"
	rm -r sub again
	cd "$WORK" || fail "cd $WORK"
}

check_deep() {
	local d=$1 name i
	cd "$d" || fail "cd $d"
	for i in $(seq 42); do
		name=$(printf "%03d%0252d" "$i" 0)
		mkdir "$name" || fail "$d: mkdir at depth $i"
		cd "$name" || fail "$d: cd at depth $i"
	done
	echo deep >f || fail "$d: create at depth 42"
	echo er >>f
	[ "$(cat f)" = "$(printf 'deep\ner')" ] || fail "$d: read at depth 42"
	mv f g || fail "$d: rename at depth 42"
	ls | grep -qx g || fail "$d: listing at depth 42: $(ls)"
	[ "$(stat -c %s g)" = 8 ] || fail "$d: stat at depth 42"
	rm g || fail "$d: remove at depth 42"
	cd "$d" || fail "cd $d"
	rm -rf "$(printf "%03d%0252d" 1 0)" || fail "$d: rm -rf of the deep tree"
	[ -z "$(ls -A)" ] || fail "$d: left after rm -rf: $(ls -A)"
	cd "$WORK" || fail "cd $WORK"
}

check_direct() {
	local d=$1
	head -c 1048576 /dev/urandom >"$WORK/direct.src"
	dd if="$WORK/direct.src" of="$d/direct" bs=65536 oflag=direct \
		status=none || fail "$d: dd oflag=direct"
	dd if="$d/direct" of="$WORK/direct.back" bs=65536 iflag=direct \
		status=none || fail "$d: dd iflag=direct"
	cmp -s "$WORK/direct.src" "$WORK/direct.back" ||
		fail "$d: O_DIRECT data differ"
	cmp -s "$WORK/direct.src" "$d/direct" || fail "$d: data differ"
	rm "$d/direct"
}

mkdir "$WORK/export" "$MNT/h"
expect 0 "$UVFS" mount -t hostfs -o "server=$HOSTFS" "$WORK/export" "$MNT/h"
note "hostfs: hard links"
check_links "$MNT/h"
note "hostfs: deep paths"
check_deep "$MNT/h"
note "hostfs: O_DIRECT"
check_direct "$MNT/h"
expect_umount "$MNT/h"

DIOD=$(command -v diod || echo /usr/sbin/diod)
if [ -x "$DIOD" ]; then
	mkdir "$WORK/dexport" "$MNT/d"
	chmod 0777 "$WORK/dexport"
	expect 0 "$UVFS" mount -t diod "$WORK/dexport" "$MNT/d"
	note "diod: hard links"
	check_links "$MNT/d"
	note "diod: O_DIRECT"
	check_direct "$MNT/d"
	# diod keeps each fid's path whole, and fails past PATH_MAX
	# (docs/9p-client.md, "What 9P2000.L cannot express")
	expect_umount "$MNT/d"
else
	skip_part "diod is not installed"
fi
stop_daemon
echo PASS
