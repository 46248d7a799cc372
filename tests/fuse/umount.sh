#!/usr/bin/env bash
# The unmount stories through the FUSE mount: busy with a shell's working
# directory and an open file (both listed), forced (within a second, EIO,
# clean close, the covered directory shows again), lazy (gone at once, the
# open file keeps reading), revoke (one file's descriptors only), and a
# normal unmount that succeeds once nothing holds the mount (the kernel's
# cached entries do not count, nor their FORGETs late in coming, nor
# what busy attempts saw below while files were open there).
. "$(dirname "$0")/lib.sh"

start_daemon
cd "$WORK"
M=$MNT/m
mkdir "$M"
echo covered >"$M/marker"

note "busy: a working directory and an open file"
expect 0 "$UVFS" mount -t memfs -o size=16m none "$M"
[ ! -e "$M/marker" ] || fail "the mount does not cover $M"
mkdir "$M/dir"
echo "hello" >"$M/file"
(cd "$M/dir" && exec sleep 300) &
SHELL_PID=$!
BG_PIDS+=($SHELL_PID)
holder_start f "$M/file"
F_PID=$(holder_pid f)
sleep 0.2
expect_msg 1 "uvfs: cannot unmount $M: target is busy" "$UVFS" umount "$M"
echo "$OUT"
case $OUT in *"pid $SHELL_PID "*) ;; *) fail "the shell is not listed" ;; esac
case $OUT in *"pid $F_PID "*) ;; *) fail "the open file is not listed" ;; esac
expect_msg 1 "(2 holders)" "$UVFS" umount "$M"
# still mounted and working
[ "$(cat "$M/file")" = hello ] || fail "the mount broke"
expect 0 "$UVFS" holders "$M"
case $OUT in *"$M/file"*) ;; *) fail "holders lacks the file: $OUT" ;; esac
expect 0 "$UVFS" holders --json "$M"
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["holders"]' "$OUT" ||
	fail "holders --json: $OUT"

note "the working directory goes away: only the file holds it"
kill "$SHELL_PID"
wait "$SHELL_PID" 2>/dev/null
expect_msg 1 "(1 holder)" "$UVFS" umount "$M"

note "forced: within a second; EIO, then a clean close"
t0=$(ms_now)
expect 0 "$UVFS" umount -f "$M"
t1=$(ms_now)
[ $((t1 - t0)) -lt 1000 ] || fail "umount -f took $((t1 - t0)) ms"
holder_cmd f read
[ "$REPLY_LINE" = "error EIO" ] || fail "read after umount -f: $REPLY_LINE"
holder_cmd f close
[ "$REPLY_LINE" = "closed" ] || fail "close after umount -f: $REPLY_LINE"
[ "$(cat "$M/marker")" = covered ] || fail "$M does not show what it covered"
expect 0 "$UVFS" -m "$MNT" mounts
case $OUT in *" $M "*) fail "still listed: $OUT" ;; esac
alive

note "lazy: gone at once, the open file keeps reading"
expect 0 "$UVFS" mount -t memfs none "$M"
echo "lazy data" >"$M/file"
holder_start l "$M/file"
expect 0 "$UVFS" umount -l "$M"
[ "$(cat "$M/marker")" = covered ] || fail "$M does not show what it covered"
expect 0 "$UVFS" -m "$MNT" mounts
case $OUT in *" $M "*) fail "still listed after umount -l: $OUT" ;; esac
holder_cmd l read
[ "$REPLY_LINE" = "data lazy data" ] || fail "read after umount -l: $REPLY_LINE"
holder_cmd l close
[ "$REPLY_LINE" = "closed" ] || fail "close after umount -l: $REPLY_LINE"

note "revoke: one file's descriptors only"
expect 0 "$UVFS" mount -t memfs none "$M"
echo "file a" >"$M/a"
echo "file b" >"$M/b"
holder_start a "$M/a"
holder_start b "$M/b"
holder_cmd a read
[ "$REPLY_LINE" = "data file a" ] || fail "read a: $REPLY_LINE"
expect 0 "$UVFS" revoke "$M/a"
holder_cmd a read
[ "$REPLY_LINE" = "error EIO" ] || fail "read a after revoke: $REPLY_LINE"
holder_cmd b read
[ "$REPLY_LINE" = "data file b" ] || fail "read b after revoke of a: $REPLY_LINE"
[ "$(cat "$M/a")" = "file a" ] || fail "a cannot be opened afresh"
holder_cmd a close
[ "$REPLY_LINE" = "closed" ] || fail "close a: $REPLY_LINE"
holder_cmd b close

note "normal unmount once nothing holds it (cached entries do not count)"
mkdir -p "$M/x/y/z"
touch "$M/x/y/z/f"
ls -lR "$M" >/dev/null
find "$M" >/dev/null
expect 0 "$UVFS" umount "$M"
[ "$(cat "$M/marker")" = covered ] || fail "$M does not show what it covered"

note "busy below (a working directory, an open file), then free: unmounted"
# The busy attempts must not leave the kernel's entries behind: an
# invalidation while a descriptor or a working directory held entries
# below unhashed the mount point's over them, and once they were let go
# they stayed cached under it, holding their nodes: every later unmount
# was busy ("kernel reference"), until memory pressure.
expect 0 "$UVFS" mount -t memfs none "$M"
mkdir "$M/d"
echo g >"$M/d/g"
(cd "$M/d" && exec sleep 300) &
SHELL_PID=$!
BG_PIDS+=($SHELL_PID)
holder_start g "$M/d/g"
sleep 0.2
expect_msg 1 "target is busy" "$UVFS" umount "$M"
expect_msg 1 "target is busy" "$UVFS" umount "$M"
kill "$SHELL_PID"
wait "$SHELL_PID" 2>/dev/null
holder_cmd g close
[ "$REPLY_LINE" = "closed" ] || fail "close g: $REPLY_LINE"
expect 0 "$UVFS" umount "$M"
[ "$(cat "$M/marker")" = covered ] || fail "$M does not show what it covered"

note "suspend and resume"
expect 0 "$UVFS" mount -t memfs none "$M"
echo "quiet" >"$M/q"
cat "$M/q" >/dev/null
expect 0 "$UVFS" suspend "$M"
expect 0 "$UVFS" -m "$MNT" mounts
case $OUT in *suspended*) ;; *) fail "not listed as suspended: $OUT" ;; esac
(echo more >>"$M/q"; echo done >"$WORK/writer.done") &
WPID=$!
BG_PIDS+=($WPID)
sleep 0.5
[ -e "$WORK/writer.done" ] && fail "a write went through a suspended mount"
expect 0 "$UVFS" resume "$M"
for _ in $(seq 100); do [ -e "$WORK/writer.done" ] && break; sleep 0.05; done
[ -e "$WORK/writer.done" ] || fail "the write did not finish after resume"
[ "$(cat "$M/q")" = "quiet
more" ] || fail "contents after resume: $(cat "$M/q")"
expect 0 "$UVFS" umount "$M"

# Two mounts on one target: the upper one unmounted took the lower one's
# device from the control server's table too, so a forced unmount of the
# lower one left the kernel's page cache answering its open file.
note "a forced unmount of a mount another one covered and left: EIO"
expect 0 "$UVFS" mount -t memfs none "$M"
echo "lower" >"$M/low"
holder_start s "$M/low"
holder_cmd s read
[ "$REPLY_LINE" = "data lower" ] || fail "read low: $REPLY_LINE"
expect 0 "$UVFS" mount -t memfs none "$M"
[ ! -e "$M/low" ] || fail "the upper mount does not cover the lower one"
expect_umount "$M"
[ "$(cat "$M/low")" = lower ] || fail "the lower mount is not back"
expect 0 "$UVFS" umount -f "$M"
holder_cmd s read
[ "$REPLY_LINE" = "error EIO" ] || fail "read after umount -f of the lower mount: $REPLY_LINE"
holder_cmd s close

# A revoke of a file in a suspended mount waits for the resume (its walk
# enters the file system); a forced unmount meanwhile must still answer
# within its deadline, and end that wait.  It queued behind the revoke
# (both held the control server's lock), for as long as the suspension.
note "a forced unmount while a revoke waits on the suspended mount"
expect 0 "$UVFS" mount -t memfs none "$M"
echo "held" >"$M/r"
expect 0 "$UVFS" suspend "$M"
"$UVFS" revoke "$M/r" >"$WORK/revoke.out" 2>&1 &
RPID=$!
BG_PIDS+=($RPID)
sleep 0.5
running_child "$RPID" || fail "the revoke did not wait on the suspended mount: $(cat "$WORK/revoke.out")"
expect_within 5 0 "$UVFS" umount -f "$M"
wait_child "$RPID" 5
[ $? = 255 ] && fail "the revoke still waits after the forced unmount"
[ "$(cat "$M/marker")" = covered ] || fail "$M does not show what it covered"

stop_daemon

# A normal unmount waits up to about a second for the kernel's FORGETs
# after it told the kernel to drop its entries, when only the kernel's
# references (nodes) hold the mount; 30 ms otherwise.  The FORGETs come
# when a FUSE worker reads them: here the only worker (max_threads=1)
# waits in another, suspended mount, and is let go 0.2 s into the
# unmount.  The nodes carry the id of the context that looked them up
# (the front end's), and the longer wait was taken only for nodes of no
# context: it never was, and such an unmount answered busy, naming the
# kernel's references.
note "a normal unmount waits for FORGETs a busy worker reads late"
start_daemon -o max_threads=1
cd "$WORK"
mkdir -p "$MNT/a" "$MNT/b"
expect 0 "$UVFS" mount -t memfs none "$MNT/a"
expect 0 "$UVFS" mount -t memfs none "$MNT/b"
mkdir "$MNT/b/d"
for i in 1 2 3 4 5 6 7 8; do echo "$i" >"$MNT/b/d/f$i"; done
ls -lR "$MNT/b" >/dev/null              # the kernel's entries, its nodes
echo data >"$MNT/a/f"
exec 7<"$MNT/a/f"
expect 0 "$UVFS" suspend "$MNT/a"
# the one worker waits in /a: a read holds no directory of the kernel's
# (a lookup would hold /a's, and the kernel's invalidation of /b would
# wait for it)
cat <&7 >/dev/null &
SPID=$!
BG_PIDS+=($SPID)
exec 7<&-
sleep 0.3
running_child "$SPID" || fail "the read did not wait in the suspended mount"
OUT=$(python3 - "$CTL/uvfsd.sock" <<'PY'
import socket, sys, time
def conn():
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    return s
def answer(s):                           # the daemon closes after it
    buf = b""
    while True:
        d = s.recv(65536)
        if not d:
            return buf.decode(errors="replace") or "eof"
        buf += d
u, r = conn(), conn()
u.sendall(b"umount /b\n")
time.sleep(0.2)
r.sendall(b"resume /a\n")
print(answer(u).splitlines()[0])
print(answer(r).splitlines()[0])
PY
)
[ "$OUT" = "ok
ok" ] || fail "the unmount did not wait for the late FORGETs: $OUT"
wait_child "$SPID" 5
[ $? = 255 ] && fail "the read still waits after the resume"
"$UVFS" -m "$MNT" mounts -n -o path | grep -qx /b && fail "/b still mounted"
expect 0 "$UVFS" umount "$MNT/a"
stop_daemon
echo PASS
