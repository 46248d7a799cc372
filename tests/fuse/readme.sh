#!/usr/bin/env bash
# The README's lines work when copied.  readme.py turns its shell blocks
# into a script (and fails if a block is neither run here nor covered by
# another test: the list is in readme.py); the script runs them in README
# order, as typed, from a directory where build/ is this build, in a mount
# and PID namespace of the test's own: tmpfs over /mnt, /srv, /run, /tmp,
# /var/lib and /usr/local/sbin (where this build's uvfsd is linked, for
# mount.fuse3), a private copy of /etc/fstab.  So /mnt/uvfs, /srv/data,
# the daemons they start (uvfsd forks, diod, hello_9p) and the fstab line
# exist for this test only, and the kernel ends every process of the
# namespace when the test ends, whatever happened.  Each line must exit 0,
# but the busy unmounts and the read of a revoked file, which must fail;
# some outputs are checked (readme.py: OUTPUT).
# Root, /dev/fuse, unshare needed, else 77; the diod block is skipped
# without diod, the fstab block without mount.fuse3 (the test then exits
# 77 after the rest has passed).
if [ -z "${UVFS_README_NS:-}" ]; then
	[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
	[ -c /dev/fuse ] || { echo "SKIP: no /dev/fuse"; exit 77; }
	command -v unshare >/dev/null ||
		{ echo "SKIP: unshare (util-linux) is not installed"; exit 77; }
	UVFS_README_NS=1 exec unshare -m -p -f --mount-proc \
		--propagation private bash "$0" "$@"
fi
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
UVFSD=${UVFSD:-}
[ -n "$UVFSD" ] && [ -x "$UVFSD" ] || { echo "SKIP: UVFSD not set"; exit 77; }
BUILD=$(cd "$(dirname "$UVFSD")/.." && pwd)

# The source and build trees stay visible wherever they are (a clone
# under /tmp, say): a descriptor of each is kept across the tmpfs mounts
# below and bound back on its path once a tmpfs covered it.
covered() { # PATH: under one of the directories a tmpfs goes over?
	case $1/ in
	/mnt/* | /srv/* | /run/* | /tmp/* | /var/lib/* | /usr/local/sbin/*)
		return 0 ;;
	esac
	return 1
}
KEEP_PATHS=() KEEP_FDS=()
for p in "$SRC" "$BUILD"; do
	covered "$p" || continue
	fd=$((20 + ${#KEEP_FDS[@]}))
	eval "exec $fd<\"\$p\"" || fail "cannot open $p"
	KEEP_PATHS+=("$p") KEEP_FDS+=("$fd")
done
cover() { # DIR: a tmpfs of the namespace's own over it, the kept trees back
	local i
	mount -t tmpfs -o mode=755 readme "$1" || fail "tmpfs over $1"
	for i in "${!KEEP_PATHS[@]}"; do
		case ${KEEP_PATHS[$i]}/ in "$1"/*) ;; *) continue ;; esac
		mkdir -p "${KEEP_PATHS[$i]}" &&
			mount -c --bind "/proc/self/fd/${KEEP_FDS[$i]}" \
				"${KEEP_PATHS[$i]}" ||
			fail "cannot keep ${KEEP_PATHS[$i]} visible"
	done
}

# the namespace's own directories (mounted before anything is made in
# /tmp, which is one of them)
for d in /mnt /srv /run /tmp; do
	cover "$d"
done
chmod 1777 /tmp
if [ -d /usr/local/sbin ]; then
	cover /usr/local/sbin
	ln -s "$UVFSD" /usr/local/sbin/uvfsd
fi
WORK=$(mktemp -d /tmp/readme.XXXXXX)
cp /etc/fstab "$WORK/fstab" 2>/dev/null || : >"$WORK/fstab"
mount --bind "$WORK/fstab" /etc/fstab || fail "a private /etc/fstab"
TOP=$WORK/top
mkdir "$TOP"
ln -s "$BUILD" "$TOP/build"
python3 "$HERE/readme.py" "$SRC/README.md" "$WORK/readme-run.sh" ||
	fail "README blocks not checked (above)"

# What the generated script calls.
STEP_OUT=$WORK/step.out
SKIPPED=0
block() { echo "--- README line $1: $2"; }
skip_reason() { # FIRST: why the block cannot run here, or nothing
	case $1 in
	"mkdir -p /srv/export")
		[ -x /usr/sbin/diod ] || echo "diod is not installed" ;;
	"mkdir -p /mnt/uvfs2")
		command -v mount.fuse3 >/dev/null && [ -L /usr/local/sbin/uvfsd ] ||
			echo "no mount.fuse3, or no /usr/local/sbin to put uvfsd in" ;;
	esac
}
packages() { # the Debian packages the README installs
	local p
	for p in "$@"; do
		dpkg -s "$p" >/dev/null 2>&1 || fail "README package $p is not installed"
	done
	echo "README packages: all installed"
}
STEP_LINE=0 STEP_FAIL=0 STEP_WANT=
step() { STEP_LINE=$1 STEP_FAIL=$2 STEP_WANT=$3; }
check() { # RC of the line just run
	local rc=$1 out
	out=$(cat "$STEP_OUT")
	echo "README line $STEP_LINE: exit $rc"
	[ -n "$out" ] && sed 's/^/    /' <<<"$out"
	if [ "$STEP_FAIL" = 1 ]; then
		[ "$rc" != 0 ] || fail "README line $STEP_LINE succeeded; it must fail"
	else
		[ "$rc" = 0 ] || fail "README line $STEP_LINE exited $rc"
	fi
	[ -z "$STEP_WANT" ] || grep -qF -- "$STEP_WANT" <<<"$out" ||
		fail "README line $STEP_LINE: no '$STEP_WANT' in its output"
}
# Now: the package check (it reads /var/lib/dpkg), and the blocks that
# cannot run here left out with a SKIP line.
skip=
while IFS= read -r l; do
	case $l in
	"block "*)
		eval "set -- ${l#block }"
		skip=$(skip_reason "$2")
		if [ -n "$skip" ]; then
			echo "SKIP: (part) README line $1: $skip" >&2
			SKIPPED=$((SKIPPED + 1))
			continue
		fi ;;
	"packages "*) eval "$l" >&2; continue ;;
	esac
	[ -z "$skip" ] && printf '%s\n' "$l"
done <"$WORK/readme-run.sh" >"$WORK/filtered.sh"
cover /var/lib
cd "$TOP" || fail "cd $TOP"
# the script's lines run in this shell: descriptors, jobs and the cwd
# carry from line to line as in the newcomer's terminal
. "$WORK/filtered.sh"
cd /
# what the README left running goes with the namespace
echo "README: every line ran as expected"
[ "$SKIPPED" = 0 ] || exit 77
echo PASS
