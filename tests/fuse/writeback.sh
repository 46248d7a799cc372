#!/usr/bin/env bash
# uvfsd -o writeback: the kernel's writeback cache.
#
# What must hold with it, as without: every byte written reads back (also
# partial-page writes through a write-only descriptor, by a user who may
# not read the file; appends; a close by a writer who is not the owner,
# which makes the kernel send its cached mtime); and the forced-unmount
# promise, stated for dirty pages: a forced unmount drops the dirty pages
# of the files it kills, their error reaches fsync, nothing reaches
# the file system after the unmount returned, and it returns within the
# mount's deadline however many pages are dirty (1.5 GiB here; the same
# for a revoke), while uvfsd can still be stopped.  The last part uses a
# hostfs mount, whose files can be looked at on the host, and runs with
# more dirty pages than the kernel's FUSE default lets stay dirty (uvfsd
# gives the mount the system's limits: wb_limit, checked in sysfs here).
. "$(dirname "$0")/lib.sh"

need_hostfs
need_nobody_python

# bdi_of DIR: the MAJ:MIN of the mount at DIR (mountinfo).
bdi_of() { awk -v m="$1" '$5 == m { d = $3 } END { print d }' /proc/self/mountinfo; }
# bdi_is DIR FILE VALUE: /sys/class/bdi/<DIR's>/FILE is VALUE.
bdi_is() {
	local f
	f=/sys/class/bdi/$(bdi_of "$1")/$2
	[ "$(cat "$f")" = "$3" ] || fail "$f is $(cat "$f"), not $3"
}
BDI_SKIP=
ls /sys/class/bdi/*/strict_limit >/dev/null 2>&1 || BDI_SKIP=1

if [ -z "$BDI_SKIP" ]; then
	note "the dirty limits: wb_limit=fuse keeps the kernel's, SIZE a strict cap"
	start_daemon -o writeback,wb_limit=fuse
	bdi_is "$MNT" strict_limit 1
	bdi_is "$MNT" max_ratio 1
	stop_daemon
	start_daemon -o writeback,wb_limit=96m
	bdi_is "$MNT" strict_limit 1
	f=/sys/class/bdi/$(bdi_of "$MNT")/max_bytes
	# the kernel keeps a ratio of the system's dirty limit, which moves
	# with free memory: what reads back is close, either side
	b=$(cat "$f")
	[ "$b" -gt $((86 << 20)) ] && [ "$b" -lt $((106 << 20)) ] ||
		fail "$f is $b after wb_limit=96m"
	stop_daemon
fi

start_daemon -o writeback
cd "$WORK"
if [ -z "$BDI_SKIP" ]; then
	note "by default the system's dirty limits, as a disk's"
	bdi_is "$MNT" strict_limit 0
	bdi_is "$MNT" max_ratio 100
fi

note "data written through the cache reads back"
D=$MNT/wb
mkdir "$D"
chmod 1777 "$D"
python3 - "$D" <<'PY' || fail "write/read through the writeback cache"
import os, sys
d = sys.argv[1]
p = os.path.join(d, "f")
data = bytearray(os.urandom(3 * 4096 + 123))
with open(p, "wb") as f:
    f.write(data)
# partial pages through a write-only descriptor: the kernel reads the
# rest of each page first
fd = os.open(p, os.O_WRONLY)
for off in (1, 4095, 4097, 8190, 3 * 4096 + 100):
    os.pwrite(fd, b"XYZ", off)
    data[off:off + 3] = b"XYZ"
os.close(fd)
# appends: the kernel puts them at its own idea of the end
with open(p, "ab") as f:
    f.write(b"tail")
data += b"tail"
with open(p, "rb") as f:
    got = f.read()
assert got == bytes(data), "content differs"
assert os.stat(p).st_size == len(data), "size differs"
PY

note "a non-owner writes through a write-only descriptor and closes"
printf 'hello world\n' >"$D/shared"
chmod 0622 "$D/shared"
as_nobody "$NPY" - "$D/shared" <<'PY' ||
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
os.pwrite(fd, b"Y", 1)
os.fsync(fd)
os.close(fd)
try:
    open(sys.argv[1]).read()
except PermissionError:
    pass
else:
    raise SystemExit("nobody could read a 0622 file")
PY
	fail "nobody's write and close (the kernel's mtime) failed"
[ "$(cat "$D/shared")" = "hYllo world" ] || fail "shared: $(cat "$D/shared")"

# With the cache the kernel sends its own mtime with every truncation: a
# time the caller could not set by itself (not the owner).  It failed the
# truncation: EPERM for truncate(2) of a file open to everyone, EACCES for
# ftruncate(2) through a descriptor root opened (found by the
# differential test with -o writeback).
note "a non-owner truncates: by name, and through root's descriptor"
printf 'hello world\n' >"$D/open"
chmod 0666 "$D/open"
as_nobody "$NPY" - "$D/open" <<'PY' ||
import os, sys
os.truncate(sys.argv[1], 5)
PY
	fail "nobody's truncate(2) of a 0666 file failed"
[ "$(cat "$D/open")" = "hello" ] || fail "open: $(cat "$D/open")"
printf 'hello world\n' >"$D/rootfd"
"$NPY" - "$D/rootfd" "$NOBODY" "$NOGROUP" <<'PY' ||
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
os.setegid(int(sys.argv[3]))
os.seteuid(int(sys.argv[2]))
os.ftruncate(fd, 3)
os.seteuid(0)
os.setegid(0)
assert os.fstat(fd).st_size == 3, os.fstat(fd).st_size
PY
	fail "nobody's ftruncate(2) through root's descriptor failed"
[ "$(cat "$D/rootfd")" = "hel" ] || fail "rootfd: $(cat "$D/rootfd")"

# With the cache the kernel sends "now" (touch, utimensat(NULL)) as its
# own clock's time, an explicit time, which only the owner may set: a
# user who may write the file but does not own it got EPERM from touch,
# as tmpfs and uvfsd without the cache let him (found by the
# differential test with -o writeback).  Explicit times stay the owner's
# (the kernel's check), and "now" needs write permission.
note "a non-owner who may write touches the file; explicit times stay the owner's"
printf 'x\n' >"$D/touch"
chmod 0666 "$D/touch"
touch -d 2001-02-03 "$D/touch"
printf 'x\n' >"$D/notmine"
chmod 0644 "$D/notmine"
as_nobody "$NPY" - "$D/touch" "$D/notmine" <<'PY' ||
import errno, os, sys, time
p, ro = sys.argv[1], sys.argv[2]
t0 = time.time() - 60
os.utime(p)                                     # touch: now, both
st = os.stat(p)
assert st.st_mtime > t0 and st.st_atime > t0, (st.st_mtime, st.st_atime)
fd = os.open(p, os.O_WRONLY)
os.write(fd, b"y")
os.utime(fd)                                    # futimens(fd, NULL)
os.close(fd)
for want, call in ((errno.EPERM, lambda: os.utime(p, (1, 1))),
                   (errno.EACCES, lambda: os.utime(ro))):
    try:
        call()
    except OSError as e:
        assert e.errno == want, e
    else:
        raise SystemExit("nobody set a time he may not")
PY
	fail "nobody's touch of a 0666 file failed"
[ "$(stat -c %Y "$D/touch")" -gt "$(date -d 2001-02-04 +%s)" ] ||
	fail "touch: the mtime did not move: $(stat -c %y "$D/touch")"

# dirty_case NAME SIZE CMD...: a writer puts SIZE bytes into the page
# cache of $H/NAME (not written back yet, or not all of it: below its
# background threshold the kernel waits 30 s), CMD kills the file (forced
# unmount, revoke); then its pages must be gone with an error at fsync,
# and nothing may reach the host file afterwards.  With KILL_MS set, CMD
# must return within KILL_MS ms, and the file's attributes must be gone
# when it has (the writer's fstat: EIO).  With CLEAN set, the writer also
# holds CLEAN.0 .. CLEAN.7 open for reading, a page of each cached, and
# CMD must kill them too: those pages must be gone when CMD has returned
# (reads: EIO), though the writer's are not yet (eight of them: in
# whatever order the nodes come, one would come after the writer's).
KILL_MS=
CLEAN=
dirty_case() {
	local name=$1 size=$2 before at_kill after writer t0 ms
	local out=$WORK/writer.$name go=$WORK/go.$name
	shift 2
	: >"$H/$name"
	mkfifo "$go"
	# The writer alone holds the descriptor: a process that shares it (a
	# child that execs) would flush the pages at its own close.  Its
	# output file is its own case's: the redirection is made in the
	# child, which on a loaded machine may start after the loop below
	# has looked, and the last case's "written" must not be what it sees
	# (the file was killed before the writer opened it, which then
	# failed, and "echo go" waited for it forever).
	python3 - "$H/$name" "$go" "$size" "$CLEAN" >"$out" 2>&1 <<'PY' &
import errno, os, sys
path, go, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
fd = os.open(path, os.O_WRONLY)
# CLEAN.0 .. CLEAN.7, a page of each in the page cache
cfds = [os.open("%s.%d" % (sys.argv[4], i), os.O_RDONLY)
        for i in range(8)] if sys.argv[4] else []
for c in cfds:
    os.pread(c, 16, 0)
def clean():                    # EIO only if every one of them says so
    n = 0
    for c in cfds:
        try:
            os.pread(c, 16, 0)
        except OSError as e:
            if e.errno != errno.EIO:
                raise
            n += 1
    if n < len(cfds):
        raise SystemExit("%d of %d read from the cache" % (8 - n, 8))
    if cfds:
        raise OSError(errno.EIO, "all dead")
chunk = b"d" * (1 << 20)
left = size
while left > 0:                                     # into the page cache
    left -= os.write(fd, chunk[:min(left, len(chunk))])
print("written", flush=True)
open(go).read()                                     # the file is dead
for what, call in (("clean", clean),
                   ("fstat", lambda: os.fstat(fd)),
                   ("fsync", lambda: os.fsync(fd)),
                   ("close", lambda: os.close(fd))):
    try:
        call()
        print(what + " ok", flush=True)
    except OSError as e:
        print(what + " " + errno.errorcode[e.errno], flush=True)
PY
	writer=$!
	BG_PIDS+=($writer)
	# Every wait below has a bound, and a failure says what it waited
	# for and where the writer and the daemon wait.
	# 64 MiB through the cache of a sanitized daemon on a loaded
	# machine can take many seconds (the kernel throttles a writer at
	# the dirty limits): a minute before calling it stuck
	local end=$((SECONDS + 60))
	while ! grep -qs written "$out"; do
		if ! running_child "$writer"; then
			wait_child "$writer" 0
			fail "the writer ended ($CHILD_STATUS) before writing" \
			     "$size bytes: $(cat "$out")"
		fi
		[ $SECONDS -lt $end ] ||
			fail "the writer did not write $size bytes in 60 s:" \
			      "$(hang_report "$writer")"
		sleep 0.05
	done
	before=$(stat -c %s "$EXPORT/$name")
	# the file is killed: bounded (docs/fuse.md), a generous bound here
	# unless KILL_MS says
	t0=$(date +%s%N)
	expect_within 60 0 "$@"
	ms=$((($(date +%s%N) - t0) / 1000000))
	at_kill=$(stat -c %s "$EXPORT/$name")
	echo "$*: returned in $ms ms"
	[ -z "$KILL_MS" ] || [ "$ms" -le "$KILL_MS" ] ||
		fail "$*: returned in $ms ms with $size bytes dirty," \
		     "not within $KILL_MS ms"
	# the writer, blocked opening the fifo, is let go; if it is gone a
	# plain "echo go >fifo" would wait for a reader forever
	echo go >"$go" &
	local gopid=$!
	end=$((SECONDS + 30))
	while running_child "$gopid"; do
		running_child "$writer" || break
		[ $SECONDS -lt $end ] ||
			fail "the writer did not open $go in 30 s:" \
			      "$(hang_report "$writer")"
		sleep 0.05
	done
	if ! wait_child "$gopid" 2; then        # the writer is gone
		kill -9 "$gopid"
		wait "$gopid" 2>/dev/null
		wait_child "$writer" 0
		fail "the writer ended ($CHILD_STATUS) before it was let go:" \
		     "$(cat "$out")"
	fi
	# its fsync and close: the pages are dropped, nothing waits for them
	wait_child "$writer" 60
	case $? in
	0) ;;
	255) fail "the writer's fsync and close did not return in 60 s" \
		  "(it said: $(tr '\n' ' ' <"$out"));" \
		  "$(hang_report "$writer")" ;;
	*) fail "the writer ended ($CHILD_STATUS): $(cat "$out")" ;;
	esac
	sleep 1
	after=$(stat -c %s "$EXPORT/$name")
	echo "$*: host size $before before, $at_kill when it returned," \
		"$after after fsync, close and a second;" \
		"the writer: $(tr '\n' ' ' <"$out")"
	[ "$after" = "$at_kill" ] ||
		fail "$*: data reached the server after it returned"
	if [ -n "$KILL_MS" ]; then
		grep -q "fstat EIO" "$out" ||
			fail "$*: the dead file's attributes were still" \
			     "cached when it returned: $(cat "$out")"
	fi
	if [ -n "$CLEAN" ]; then
		grep -q "clean EIO" "$out" ||
			fail "$*: $CLEAN.*, dead and open only for" \
			     "reading, still read from the page cache:" \
			     "$(cat "$out")"
	fi
	if [ "$at_kill" -lt "$size" ]; then
		grep -q "fsync EIO" "$out" ||
			fail "$*: fsync did not report the lost pages"
	else
		note "the kernel had written the pages back before"
	fi
}

EXPORT=$WORK/export
mkdir "$EXPORT"
H=$MNT/h
mkdir "$H"
expect 0 "$UVFS" mount -t hostfs -o "server=$HOSTFS" "$EXPORT" "$H"

note "revoke with dirty pages: dropped, EIO at fsync, nothing lands"
dirty_case revoked $((16 << 10)) "$UVFS" revoke "$H/revoked"
# more than the kernel's FUSE default (1% of the dirty limit) lets stay
# dirty: what the system's limits allow is dropped all the same
note "revoke with 64 MiB of dirty pages"
dirty_case revoked_big $((64 << 20)) "$UVFS" revoke "$H/revoked_big"

note "forced unmount with dirty pages: dropped, EIO at fsync, nothing lands"
dirty_case dirty $((16 << 10)) "$UVFS" umount -f "$H"
mounted "$H" && fail "$H still mounted"

# Dropping a dirty page means writing it first, for the kernel (one WRITE
# per page, refused): the reply must not wait for that (docs/fuse.md,
# -o writeback, "What the reply waits for").  1.5 GiB is 393 216 pages,
# 5.3 s of refusals (the ASan build, idle; more under ThreadSanitizer);
# the bound is the mount's deadline (500 ms here) with a margin, which
# ThreadSanitizer's slower daemon and CLI double (the wait itself is the
# deadline, not work of the daemon's).
BIG=$((1536 << 20))
KILL_MS=2000
[ "$(bound_ms 1)" = 1 ] || KILL_MS=4000
note "forced unmount with 1.5 GiB of dirty pages: within the deadline"
expect 0 "$UVFS" mount -t hostfs -o "server=$HOSTFS,deadline=500" \
	"$EXPORT" "$H"
# files with no dirty page lose their pages first, within the wait: on a
# memfs mounted below (the kernel keeps its pages and attributes for an
# hour; a file server's attributes expire in a second, and a read then
# asks uvfsd first)
mkdir "$H/m"
expect 0 "$UVFS" mount -t memfs none "$H/m"
for i in 0 1 2 3 4 5 6 7; do
	head -c 8192 /dev/zero | tr '\0' c >"$H/m/clean.$i"
done
CLEAN=$H/m/clean
dirty_case dirty_big $BIG "$UVFS" umount -f "$H"
CLEAN=
mounted "$H" && fail "$H still mounted"
note "revoke with 1.5 GiB of dirty pages: within the deadline"
expect 0 "$UVFS" mount -t hostfs -o "server=$HOSTFS,deadline=500" \
	"$EXPORT" "$H"
dirty_case revoked_huge $BIG "$UVFS" revoke "$H/revoked_huge"
KILL_MS=
expect_within 60 0 "$UVFS" umount -f "$H"

# The dead pages may still be on their way out when the daemon is told
# to stop: it ends all the same, in bounded time (it waits for the file
# whose pages are being dropped, not for what is queued after it).
# 256 MiB take longer to drop than the deadline (100 ms here), and a
# shutdown that waits for them stays well within stop_daemon's 20 s.
BIG=$((256 << 20))
note "shutdown while the pages of a dead file are being dropped"
expect 0 "$UVFS" mount -t hostfs -o "server=$HOSTFS,deadline=100" \
	"$EXPORT" "$H"
: >"$H/last"
python3 - "$H/last" $BIG >"$WORK/writer.last" 2>&1 <<'PY' &
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY)
chunk, left = b"s" * (1 << 20), int(sys.argv[2])
while left > 0:
    left -= os.write(fd, chunk[:min(left, len(chunk))])
print("written", flush=True)
time.sleep(600)                         # holds the file until killed
PY
writer=$!
BG_PIDS+=($writer)
end=$((SECONDS + 60))
until grep -qs written "$WORK/writer.last"; do
	running_child "$writer" || fail "the writer ended: $(cat "$WORK/writer.last")"
	[ $SECONDS -lt $end ] || fail "the writer did not write in 60 s"
	sleep 0.05
done
t0=$(date +%s%N)
expect_within 60 0 "$UVFS" umount -f "$H"
echo "umount -f: $((($(date +%s%N) - t0) / 1000000)) ms"
t0=$(date +%s%N)
stop_daemon
echo "shutdown right after: $((($(date +%s%N) - t0) / 1000000)) ms"
kill -9 "$writer"
wait "$writer" 2>/dev/null
[ "$(stat -c %s "$EXPORT/last")" -lt "$BIG" ] ||
	note "the kernel had written the pages back before"

if [ -n "$BDI_SKIP" ]; then
	echo "SKIP: (dirty limits) this kernel has no /sys/class/bdi/*/strict_limit"
	exit 77
fi
echo "PASS"
