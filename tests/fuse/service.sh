#!/usr/bin/env bash
# uvfsd as a system service:
#   - `mount -t fuse.uvfsd SOURCE MOUNTPOINT -o ...` through mount.fuse3
#     (mount(8)'s generic options such as nosuid,nodev reach the kernel,
#     the root comes from SOURCE), and an /etc/fstab line mounted with
#     `mount MOUNTPOINT` against a temporary fstab (mount -T);
#   - `uvfs shutdown` stops that daemon only, and returns once it is gone;
#   - --mtab: the inner mounts come back after a restart (a source that
#     starts with '#', or is '-', as it was); a table uvfsd cannot read is
#     left as it is; a table another user could write is refused, and the
#     rewrite makes a file of its own;
#   - readiness: READY=1 on $NOTIFY_SOCKET once it serves;
#   - a file server's recovery is logged ("restarted as PID"), on stderr
#     in the foreground, to syslog once forked (a /dev/log of the test's
#     own, in its mount namespace), within the watcher's period of the
#     recovery, also when a look of the watcher falls during it (a
#     restarted server that takes 2.5 s to start);
#   - after a crash the dead mount is named and fusermount3 -u given.
# mount(8) runs mount.fuse3 with a fixed PATH, and it runs "uvfsd" from
# there: the test runs in a mount namespace of its own, where this build's
# uvfsd is bound over /usr/local/sbin (nothing outside sees it; the
# namespace goes with the test's processes).
if [ -z "${UVFS_SERVICE_NS:-}" ]; then
	[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
	command -v unshare >/dev/null ||
		{ echo "SKIP: unshare (util-linux) is not installed"; exit 77; }
	UVFS_SERVICE_NS=1 exec unshare -m --propagation private bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

command -v mount.fuse3 >/dev/null || skip "mount.fuse3 (fuse3) is not installed"
[ -d /usr/local/sbin ] || skip "no /usr/local/sbin to bind uvfsd over"
mkdir "$WORK/bin"
ln -s "$UVFSD" "$WORK/bin/uvfsd"
mount --bind "$WORK/bin" /usr/local/sbin || fail "bind over /usr/local/sbin"
cd "$WORK"

daemon_of() { # MOUNTPOINT -> the pid of the uvfsd serving it
	"$UVFS" -m "$1" stats >/dev/null 2>&1 || return 1
	pgrep -f "uvfsd .*$1( |$)" | head -1
}
wait_gone() { # MOUNTPOINT
	for _ in $(seq 100); do mounted "$1" || return 0; sleep 0.1; done
	fail "$1 still mounted"
}
# The bounds of a file server's restart (docs/recovery.md, docs/fuse.md):
# the supervisor sees the death at once (pidfd) and spawns the next server
# after 10 ms; the attempt gives the new server the mount's timeout= to
# answer (TIMEOUT_MS, set on the mounts below), then re-walks the open
# files; the watcher, which looks every second, logs the restart once it
# is recovered.  So: the recovery within the server's start-up plus one
# timeout=, and the message within the watcher's period after that (plus
# a second for a loaded machine).
TIMEOUT_MS=5000
LOG_MS=$(bound_ms 2000)
recovered() { # UVFSD-MOUNTPOINT: its hostfs server restarted once, running
	"$UVFS" -m "$1" servers --json 2>/dev/null | python3 -c '
import json, sys
s = json.load(sys.stdin)["servers"][0]
sys.exit(str(s["restarts"]) != "1" or s["state"] != "running")'
}

note "mount -t fuse.uvfsd SOURCE MOUNTPOINT -o ..."
M1=$WORK/m1
mkdir "$M1" "$WORK/export"
echo exported >"$WORK/export/file"
mount -t fuse.uvfsd "hostfs:$WORK/export" "$M1" \
	-o allow_other,nosuid,nodev,noatime,_netdev,x-test.option=1 ||
	fail "mount -t fuse.uvfsd failed"
mounted "$M1" || fail "not mounted"
[ "$(cat "$M1/file")" = exported ] || fail "the root is not hostfs:$WORK/export"
opts=$(awk -v m="$M1" '$5 == m { print $6 }' /proc/self/mountinfo)
case ,$opts, in *,nosuid,*) ;; *) fail "nosuid did not reach the kernel: $opts" ;; esac
case ,$opts, in *,nodev,*) ;; *) fail "nodev did not reach the kernel: $opts" ;; esac
expect_msg 2 "unknown mount option 'bogus'" \
	mount -t fuse.uvfsd none "$WORK/export" -o bogus
# a usage error says what is wrong and where the help is, not the help
expect_msg 2 "Try 'uvfsd --help' for more information." \
	"$UVFSD" --bogus "$WORK/export"
[ "$(wc -l <<<"$OUT")" -le 3 ] ||
	fail "uvfsd --bogus printed $(wc -l <<<"$OUT") lines: $OUT"
expect 0 "$UVFS" shutdown "$M1"
mounted "$M1" && fail "uvfs shutdown returned before the mount was gone"

note "an fstab line, mounted by its mount point"
M2=$WORK/m2
mkdir "$M2"
printf '# a test fstab\nmemfs %s fuse.uvfsd allow_other,nosuid,mtab=%s 0 0\n' \
	"$M2" "$WORK/m2.mtab" >"$WORK/fstab"
mount -T "$WORK/fstab" "$M2" || fail "mount -T fstab $M2 failed"
mounted "$M2" || fail "$M2 not mounted from the fstab line"
mkdir "$M2/inner" "$M2/inner 2" "$M2/hash" "$M2/dash"
expect 0 "$UVFS" mount -t memfs -o size=1m src1 "$M2/inner"
expect 0 "$UVFS" mount -t memfs "a source" "$M2/inner 2"
# a source that starts with '#' (a line of it read as a comment) and one
# that is "-" (the table's word for none)
expect 0 "$UVFS" mount -t memfs "#hash" "$M2/hash"
expect 0 "$UVFS" mount -t memfs - "$M2/dash"
expect 0 "$UVFS" -m "$M2" mounts -n -o path,source --raw
grep -qx '/dash -' <<<"$OUT" || fail "a source '-' is not '-': $OUT"
echo "gone after restart" >"$M2/inner/file"
for _ in $(seq 50); do
	grep -q 'a\\040source /inner\\0402 memfs' "$WORK/m2.mtab" 2>/dev/null && break
	sleep 0.1
done
grep -q '^src1 /inner memfs size=1m$' "$WORK/m2.mtab" ||
	fail "mount table: $(cat "$WORK/m2.mtab" 2>&1)"

note "uvfs shutdown; the mount table brings the inner mounts back"
expect 0 "$UVFS" shutdown "$M2"
wait_gone "$M2"
mount -T "$WORK/fstab" "$M2" || fail "mount -T fstab $M2 (again) failed"
expect 0 "$UVFS" -m "$M2" mounts -n -o path,source,fstype,options --raw
grep -qx '/inner src1 memfs size=1m' <<<"$OUT" || fail "not back: $OUT"
grep -qx '/inner\\x202 a\\x20source memfs ' <<<"$OUT" || fail "not back: $OUT"
grep -qx '/hash #hash memfs ' <<<"$OUT" || fail "a source '#hash' not back: $OUT"
grep -qx '/dash - memfs ' <<<"$OUT" || fail "a source '-' not back as '-': $OUT"
[ -e "$M2/inner/file" ] && fail "a memfs kept its files across a restart?"
expect 0 "$UVFS" shutdown "$M2"
wait_gone "$M2"

note "the table keeps the lines it could not mount, and a mount made just before the stop"
# (a line on the namespace root too: it cannot be mounted there, and is
# kept as uvfsd says; the root's own mount was taken for a mount at its
# target, and the line dropped at the first rewrite)
printf 'none /gone nosuchtype -\nnot a line\nonroot / memfs -\n' >>"$WORK/m2.mtab"
mount -T "$WORK/fstab" "$M2" || fail "mount -T fstab $M2 (a third time) failed"
mkdir "$M2/late"
expect 0 "$UVFS" mount -t memfs late "$M2/late"
expect 0 "$UVFS" shutdown "$M2"
wait_gone "$M2"
for want in 'none /gone nosuchtype -' 'not a line' 'late /late memfs -' \
	    'src1 /inner memfs size=1m' 'onroot / memfs -'; do
	grep -qxF "$want" "$WORK/m2.mtab" ||
		fail "'$want' is not in the table after the stop: $(cat "$WORK/m2.mtab")"
done

# A table uvfsd cannot read (here: mode 000, and uvfsd without the
# capabilities that let root read anything) is left as it is: the
# watcher rewrote it at once with the mounts made, none, and its lines
# were gone for good.
note "a table it cannot read is left as it is"
if command -v setpriv >/dev/null; then
	M5=$WORK/m5
	mkdir "$M5"
	printf 'keep1 /k1 memfs size=1m\nkeep2 /k2 memfs -\n' >"$WORK/m5.mtab"
	chmod 000 "$WORK/m5.mtab"
	cp -p "$WORK/m5.mtab" "$WORK/m5.mtab.orig"
	setpriv --bounding-set=-dac_override,-dac_read_search \
		"$UVFSD" -f "$M5" --socket "$CTL/m5.sock" \
		--mtab "$WORK/m5.mtab" >"$WORK/m5.log" 2>&1 &
	M5_PID=$!
	BG_PIDS+=($M5_PID)
	for _ in $(seq 100); do
		"$UVFS" -m "$M5" stats >/dev/null 2>&1 && break
		running_child "$M5_PID" || fail "uvfsd without DAC capabilities: $(cat "$WORK/m5.log")"
		sleep 0.1
	done
	grep -q "cannot read the mount table $WORK/m5.mtab" "$WORK/m5.log" ||
		fail "no word of the unreadable table: $(cat "$WORK/m5.log")"
	mkdir "$M5/late" && expect 0 "$UVFS" mount -t memfs late "$M5/late"
	sleep 1.5                       # the watcher's period, and more
	cmp -s "$WORK/m5.mtab" "$WORK/m5.mtab.orig" ||
		fail "the unreadable table was rewritten: $(cat "$WORK/m5.mtab")"
	[ ! -e "$WORK/m5.mtab.new" ] || fail "a m5.mtab.new left"
	expect 0 "$UVFS" shutdown "$M5"
	wait_gone "$M5"
	cmp -s "$WORK/m5.mtab" "$WORK/m5.mtab.orig" ||
		fail "the unreadable table was rewritten at the stop: $(cat "$WORK/m5.mtab")"
else
	skip_part "setpriv (util-linux) is not installed"
fi

# The table's lines are mounted with uvfsd's rights, and a hostfs line's
# server= is a program it runs: a table another user could write (one
# in a directory like /tmp) made root's uvfsd run his program as root at
# start.  And the rewrite opened TABLE.new wherever a symlink there led.
note "a table someone else could write is refused"
M6=$WORK/m6
mkdir "$M6"
P=$WORK/pub
mkdir -m 1777 "$P"
printf '#!/bin/sh\ntouch "%s/ran"\n' "$P" >"$P/evil"
chmod 755 "$P/evil"
line="/ /x hostfs server=$P/evil"
refused_table() { # TABLE REASON
	expect_msg 1 "refusing the mount table $1: $2" \
		timeout 20 "$UVFSD" "$M6" -f --socket "$CTL/m6.sock" --mtab "$1"
	mounted "$M6" && fail "$M6 mounted with the table $1"
	[ ! -e "$P/ran" ] || fail "the server= of the table $1 was run"
}
echo "$line" >"$P/m.mtab"
refused_table "$P/m.mtab" "its directory is writable by others"
mkdir -m 755 "$WORK/t6"
echo "$line" >"$WORK/t6/a.mtab"
chmod 666 "$WORK/t6/a.mtab"
refused_table "$WORK/t6/a.mtab" "the file is writable by others"
echo "$line" >"$WORK/t6/b.mtab"
chown 65534 "$WORK/t6/b.mtab"
refused_table "$WORK/t6/b.mtab" "the file is owned by another user"
ln -s "$WORK/t6/a.mtab" "$WORK/t6/l.mtab"
refused_table "$WORK/t6/l.mtab" "the file is a symlink"
mkdir -m 755 "$WORK/t7"
chown 65534 "$WORK/t7"
refused_table "$WORK/t7/m.mtab" "its directory is owned by another user"

note "the table is rewritten through a file of its own"
echo victim >"$WORK/victim"
ln -s "$WORK/victim" "$WORK/t6/ok.mtab.new"
"$UVFSD" -f "$M6" --socket "$CTL/m6.sock" --mtab "$WORK/t6/ok.mtab" \
	>"$WORK/m6.log" 2>&1 &
M6_PID=$!
BG_PIDS+=($M6_PID)
until_ms 10000 "$UVFS" -m "$M6" stats >/dev/null 2>&1 ||
	fail "uvfsd with a table of its own: $(cat "$WORK/m6.log")"
mkdir "$M6/in" && expect 0 "$UVFS" mount -t memfs six "$M6/in"
until_ms 5000 grep -q '^six /in memfs' "$WORK/t6/ok.mtab" ||
	fail "the table was not written: $(cat "$WORK/m6.log")"
[ "$(cat "$WORK/victim")" = victim ] ||
	fail "the table was written through the symlink TABLE.new: $(cat "$WORK/victim")"
[ -f "$WORK/t6/ok.mtab" ] && [ ! -L "$WORK/t6/ok.mtab" ] ||
	fail "the table is not a file of its own"
expect 0 "$UVFS" shutdown "$M6"
wait_gone "$M6"

note "readiness on NOTIFY_SOCKET"
M3=$WORK/m3
mkdir "$M3"
python3 - "$WORK/notify.sock" >"$WORK/notify.out" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
print(s.recv(4096).decode(), flush=True)
PY
BG_PIDS+=($!)
NOTIFY_PY=$!
for _ in $(seq 50); do [ -S "$WORK/notify.sock" ] && break; sleep 0.1; done
NOTIFY_SOCKET=$WORK/notify.sock "$UVFSD" -f "$M3" >"$WORK/m3.log" 2>&1 &
M3_PID=$!
BG_PIDS+=($M3_PID)
wait "$NOTIFY_PY" || fail "no readiness message"
grep -q '^READY=1$' "$WORK/notify.out" || fail "readiness: $(cat "$WORK/notify.out")"
grep -q "^MAINPID=$M3_PID$" "$WORK/notify.out" ||
	fail "readiness without MAINPID=$M3_PID: $(cat "$WORK/notify.out")"
mounted "$M3" || fail "READY=1 before the mount was there"

note "a file server's recovery is logged"
if [ -n "${UVFS_HOSTFS:-}" ] && [ -x "$UVFS_HOSTFS" ]; then
	# the server again, its restart 2.5 s late: the watcher looks
	# during the recovery, and must tell the restart once it is done
	SLOW_MS=2500
	cat >"$WORK/slow-hostfs" <<-EOF
	#!/bin/sh
	[ -e "$WORK/slow-hostfs.started" ] && sleep $((SLOW_MS / 1000)).$((SLOW_MS % 1000))
	: >"$WORK/slow-hostfs.started"
	exec "$UVFS_HOSTFS" "\$@"
	EOF
	chmod +x "$WORK/slow-hostfs"
	mkdir "$M3/h"
	expect 0 "$UVFS" mount -t hostfs \
		-o "server=$WORK/slow-hostfs,timeout=$TIMEOUT_MS" \
		"$WORK/export" "$M3/h"
	exec 7<"$M3/h/file"
	spid=$("$UVFS" -m "$M3" servers --json |
	       python3 -c 'import json,sys; print(json.load(sys.stdin)["servers"][0]["pid"])')
	[ "$spid" -gt 0 ] || fail "no server pid"
	t0=$(ms_now)
	kill -9 "$spid"
	until_ms $((SLOW_MS + $(bound_ms $TIMEOUT_MS))) recovered "$M3" ||
		fail "not recovered in $(($(ms_now) - t0)) ms: $("$UVFS" -m "$M3" servers)"
	t1=$(ms_now)
	note "recovered in $((t1 - t0)) ms"
	until_ms "$LOG_MS" grep -q "server .*restarted as" "$WORK/m3.log" ||
		fail "no recovery logged $(($(ms_now) - t1)) ms after it: $(cat "$WORK/m3.log"; "$UVFS" -m "$M3" servers)"
	grep "hostfs $WORK/export on $M3/h" "$WORK/m3.log" ||
		fail "no recovery logged: $(cat "$WORK/m3.log"; "$UVFS" -m "$M3" servers)"
	grep -q "restarted as [0-9]*, restart 1, open files reopened in [0-9]* ms" \
		"$WORK/m3.log" || fail "recovery message: $(cat "$WORK/m3.log")"
	exec 7<&-
else
	note "(skipped: UVFS_HOSTFS not set)"
fi

note "forked, it logs to syslog"
# /dev/log of this namespace only: /dev becomes a tmpfs holding the
# devices the test needs, bound from the real one, and a socket of ours
if [ -n "${UVFS_HOSTFS:-}" ] && [ -x "$UVFS_HOSTFS" ]; then
	mkdir "$WORK/realdev"
	mount --bind /dev "$WORK/realdev" || fail "bind /dev"
	mount -t tmpfs -o mode=755 tmpfs /dev || fail "tmpfs on /dev"
	for d in null zero fuse urandom random tty; do
		[ -e "$WORK/realdev/$d" ] || continue
		touch "/dev/$d" && mount --bind "$WORK/realdev/$d" "/dev/$d" ||
			fail "bind /dev/$d"
	done
	ln -s /proc/self/fd /dev/fd
	python3 - >"$WORK/syslog.out" <<'PY' &
import socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
s.settimeout(60)
while True:
    try:
        msg = s.recv(8192).decode(errors="replace")
    except socket.timeout:
        break
    print(msg, flush=True)
PY
	BG_PIDS+=($!)
	for _ in $(seq 50); do [ -S /dev/log ] && break; sleep 0.1; done
	M4=$WORK/m4
	mkdir "$M4"
	"$UVFSD" "$M4" || fail "uvfsd (forking) did not start"
	M4_PID=$(pgrep -f "^$UVFSD $M4\$" | head -1)
	BG_PIDS+=($M4_PID)
	mkdir "$M4/h"
	expect 0 "$UVFS" mount -t hostfs -o "timeout=$TIMEOUT_MS" \
		"$WORK/export" "$M4/h"
	exec 7<"$M4/h/file"
	spid=$("$UVFS" -m "$M4" servers --json |
	       python3 -c 'import json,sys; print(json.load(sys.stdin)["servers"][0]["pid"])')
	t0=$(ms_now)
	kill -9 "$spid"
	until_ms "$(bound_ms $TIMEOUT_MS)" recovered "$M4" ||
		fail "not recovered in $(($(ms_now) - t0)) ms: $("$UVFS" -m "$M4" servers)"
	t1=$(ms_now)
	until_ms "$LOG_MS" grep -q "restarted as" "$WORK/syslog.out" ||
		note "no recovery in syslog $(($(ms_now) - t1)) ms after it"
	exec 7<&-
	cat "$WORK/syslog.out"
	grep -q "uvfsd\[$M4_PID\]: hostfs $WORK/export on $M4/h: server restarted as" \
		"$WORK/syslog.out" || fail "no recovery in syslog: $(cat "$WORK/syslog.out")"
	expect 0 "$UVFS" shutdown "$M4"
	umount -l /dev || fail "umount /dev"
else
	note "(skipped: UVFS_HOSTFS not set)"
fi

note "after a crash: the dead mount is named, with fusermount3 -u"
# (no inner mount left: a server uvfsd spawned would outlive it)
"$UVFS" umount "$M3/h" 2>/dev/null
M3_SOCK=$(awk -v m="$M3" '$5 == m { for (i = 7; i <= NF; i++) if ($i == "-") { print $(i + 2); exit } }' /proc/self/mountinfo)
kill -9 "$M3_PID"
wait "$M3_PID" 2>/dev/null
rm -f "$M3_SOCK"         # what the crash left
expect_msg 1 "unmount it with fusermount3 -u $M3" "$UVFSD" -f "$M3"
fusermount3 -u "$M3" || umount -l "$M3"
mounted "$M3" && fail "$M3 still mounted"

echo PASS
