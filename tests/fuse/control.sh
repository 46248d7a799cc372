#!/usr/bin/env bash
# The control socket holds against its users: a client that dribbles its
# request a byte at a time is cut off at the request deadline; 40 such
# clients do not lock out the owner; a stranger is refused at once; the
# socket's directory must be the daemon's own (0700) or uvfsd refuses to
# start, leaving nothing behind; a mount onto the namespace root, by any
# path that leads there, is refused with a clear error, and so are its
# unmount and a mount on a path longer than the mount table keeps; the
# command line talks to a mount's socket only if its daemon runs as the
# mount's owner.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || skip "python3 is not installed"

# A client speaking the protocol: client.py SOCK MODE [ARG]
cat >"$WORK/client.py" <<'PY'
import socket, sys, time
sock, mode = sys.argv[1], sys.argv[2]
def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock)
    return s
def reply(s):
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            return out.decode(errors="replace")
        out += b
if mode == "ask":                       # one request, print the reply
    s = conn()
    s.sendall(sys.argv[3].encode() + b"\n")
    print(reply(s), end="")
elif mode == "long":                    # a line of N bytes, newline included
    s = conn()
    n = int(sys.argv[3])
    try:
        s.sendall(b"mounts " + b"x" * (n - 8) + b"\n")
    except OSError:
        pass
    print(reply(s).splitlines()[0])
elif mode == "dribble":                 # "mounts\n", a byte a second
    import select
    s = conn()
    t0 = time.monotonic()
    r = None
    for c in b"mounts\n":
        try:
            s.send(bytes([c]))
        except OSError:
            break
        # the daemon's answer ends the dribbling
        if select.select([s], [], [], 1.0)[0]:
            break
    t = time.monotonic() - t0
    try:
        r = reply(s)
    except OSError as e:
        r = "oserror " + str(e)
    print("%.1f %s" % (t, r.splitlines()[0] if r else "eof"))
elif mode == "hold":                    # N connections sending a byte now and then
    n = int(sys.argv[3])
    ss = [conn() for _ in range(n)]
    print("connected", flush=True)
    end = time.monotonic() + float(sys.argv[4])
    while time.monotonic() < end:
        for s in ss:
            try:
                s.send(b"m")
            except OSError:
                pass
        time.sleep(0.3)
PY

start_daemon
SOCK=$CTL/uvfsd.sock
[ -S "$SOCK" ] || fail "no socket at $SOCK"

note "a client that sends a byte a second is cut off"
OUT=$(python3 "$WORK/client.py" "$SOCK" dribble)
echo "$OUT"
case $OUT in *"error 110 "*) ;; *) fail "dribbler: $OUT" ;; esac
secs=${OUT%% *}
# the whole request gets 5 s, not each read (the line takes 7 s to send,
# which a per-read limit would have answered); slack for a loaded machine
python3 -c "import sys; t=float(sys.argv[1]); sys.exit(0 if 4.5 <= t < 9 else 1)" "$secs" ||
	fail "the dribbler was cut off after $secs s, not at the 5 s deadline"

note "request lines: 16 KiB with the newline is read, a byte more refused"
OUT=$(python3 "$WORK/client.py" "$SOCK" long 16384)
[ "$OUT" = "error 22 malformed%20request" ] || fail "16384 bytes: $OUT"
OUT=$(python3 "$WORK/client.py" "$SOCK" long 16385)
[ "$OUT" = "error 7 request%20too%20long" ] || fail "16385 bytes: $OUT"
OUT=$(python3 "$WORK/client.py" "$SOCK" long 40000)
[ "$OUT" = "error 7 request%20too%20long" ] || fail "40000 bytes: $OUT"
alive

note "40 slow clients do not lock out the owner"
python3 "$WORK/client.py" "$SOCK" hold 40 6 >"$WORK/hold.out" 2>&1 &
HOLD=$!
BG_PIDS+=($HOLD)
for _ in $(seq 100); do grep -q connected "$WORK/hold.out" && break; sleep 0.05; done
grep -q connected "$WORK/hold.out" || fail "the slow clients did not connect: $(cat "$WORK/hold.out")"
t0=$(ms_now)
expect 0 "$UVFS" -m "$MNT" mounts
expect 0 "$UVFS" -m "$MNT" stats
t1=$(ms_now)
note "two requests with 40 slow clients connected: $((t1 - t0)) ms"
[ $((t1 - t0)) -lt 3000 ] || fail "the owner waited $((t1 - t0)) ms"
kill "$HOLD" 2>/dev/null
wait "$HOLD" 2>/dev/null
alive

note "a stranger is refused at once"
if command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
	chmod 711 "$CTL"
	chmod 666 "$SOCK"
	t0=$(ms_now)
	# the refusal says who may: the daemon's uid and root (it said "only
	# root changes mounts", wrong for a user's daemon and a listing)
	expect_msg 1 "permission denied (only root may use this uvfsd's socket)" \
		setpriv --reuid=nobody --regid=nogroup \
		--clear-groups "$UVFS" -m "$MNT" mounts
	t1=$(ms_now)
	chmod 600 "$SOCK"
	chmod 700 "$CTL"
	[ $((t1 - t0)) -lt 2000 ] || fail "the stranger waited $((t1 - t0)) ms"
fi

note "mounts onto the namespace root"
mkdir "$MNT/x"
ln -s / "$MNT/toroot"
ln -s ../.. "$MNT/x/up"
expect_msg 1 "namespace root" "$UVFS" mount -t memfs none "$MNT"
for t in / // /x/.. /x/../.. /toroot /x/up; do
	OUT=$(python3 "$WORK/client.py" "$SOCK" ask "mount memfs none $t %")
	case $OUT in "error 16 "*namespace%20root*) ;;
	*) fail "mount on $t: $OUT" ;; esac
done
expect 0 "$UVFS" -m "$MNT" mounts --json
python3 -c 'import json,sys; m=json.loads(sys.argv[1])["mounts"]; sys.exit(0 if len(m) == 1 else 1)' "$OUT" ||
	fail "a mount was made: $OUT"
# an ordinary directory still works
expect 0 "$UVFS" mount -t memfs none "$MNT/x"
expect 0 "$UVFS" umount "$MNT/x"
alive

note "unmounting the namespace root: a clear error, not uvfsd's own holders"
for f in "" -f -l; do
	expect_msg 1 "namespace root" "$UVFS" umount $f "$MNT"
	case $OUT in *"(uvfsd)"*|*busy*) fail "umount $f of the root: $OUT" ;; esac
done
OUT=$(python3 "$WORK/client.py" "$SOCK" ask "umount -f /x/..")
case $OUT in "error 16 "*namespace%20root*) ;; *) fail "umount -f /x/..: $OUT" ;; esac

note "a mount on a path longer than the mount table keeps is refused"
# uvfs_mount_info.target (the listing, the --mtab file) keeps 1023 bytes:
# a longer one was listed cut short and replayed at the next start on the
# shortened path
long=/$(printf 'a%.0s' $(seq 250))
long=$long$long$long$long/$(printf 'b%.0s' $(seq 30))
mkdir -p "$MNT$long"
expect_msg 1 "longer than" "$UVFS" mount -t memfs none "$MNT$long"
expect 0 "$UVFS" -m "$MNT" mounts --json
python3 -c 'import json,sys; m=json.loads(sys.argv[1])["mounts"]; sys.exit(0 if len(m) == 1 else 1)' "$OUT" ||
	fail "a mount was made: $OUT"
# one that fits still mounts, and is listed whole
fits=${long:0:1000}
mkdir -p "$MNT$fits"
expect 0 "$UVFS" mount -t memfs none "$MNT$fits"
expect 0 "$UVFS" -m "$MNT" mounts --raw -o TARGET -n
case $OUT in *"$MNT$fits"*) ;; *) fail "$fits not listed whole: $OUT" ;; esac
expect 0 "$UVFS" umount "$MNT$fits"
alive

note "another user's mount that names this daemon's socket is not obeyed"
# fusermount lets any user choose his mount's source and subtype, so
# nobody can make a fuse.uvfsd mount whose source is this daemon's
# socket: made here as fusermount3 makes it for him (owner user_id= his
# uid), with no one answering it (uvfs resolves paths lexically).  Root's
# `uvfs umount -f` of a path inside it went to this daemon, and there
# unmounted root's own mount of the same namespace path.
mkdir "$MNT/victim"
expect 0 "$UVFS" mount -t memfs none "$MNT/victim"
EVIL=$WORK/evil
mkdir "$EVIL"
python3 - "$EVIL" "$SOCK" <<'PY' || fail "cannot make the other user's mount"
import os, subprocess, sys
fd = os.open("/dev/fuse", os.O_RDWR)
subprocess.check_call(["mount", "-i", "-t", "fuse.uvfsd", "-o",
    "nosuid,nodev,fd=%d,rootmode=40000,user_id=65534,group_id=65534" % fd,
    sys.argv[2], sys.argv[1]], pass_fds=(fd,))
PY
mounted "$EVIL" || fail "the other user's mount is not there"
for args in "umount -f $EVIL/victim" "suspend $EVIL/victim" "holders $EVIL/victim" \
	    "-m $EVIL mounts" "revoke $EVIL/victim/x"; do
	expect_msg 3 "refusing the socket $SOCK named by the mount $EVIL: it is served by uid 0, and the mount belongs to uid 65534" \
		"$UVFS" $args
done
expect 0 "$UVFS" -m "$MNT" mounts --raw -o TARGET -n
case $OUT in *"$MNT/victim"*) ;; *) fail "the victim was unmounted: $OUT" ;; esac
expect 0 "$UVFS" -m "$MNT" mountpoint "$MNT/victim"
# naming the socket is the caller's own choice
expect 0 "$UVFS" -S "$SOCK" mounts
umount -l "$EVIL"
expect 0 "$UVFS" umount "$MNT/victim"
alive
stop_daemon

# uvfsd must fail to start, with a message, status 1, and leave no mount
# and no socket behind.
refused() { # MESSAGE SOCKET
	local msg=$1 sock=$2
	expect_msg 1 "$msg" "$UVFSD" "$MNT" -f --socket "$sock"
	mounted "$MNT" && fail "$MNT mounted after a refused start"
	[ ! -e "$sock" ] || fail "$sock left behind"
}

note "socket directories someone else could write in"
H=$WORK/hostile
mkdir -m 777 "$H"
refused "refusing the socket directory" "$H/s.sock"
chmod 1777 "$H"
refused "refusing the socket directory" "$H/s.sock"
if id nobody >/dev/null 2>&1; then
	chown nobody "$H"
	chmod 700 "$H"
	refused "owned by uid 0 with mode 0700, and it is a directory owned by uid $(id -u nobody)" "$H/s.sock"
fi
mkdir -m 700 "$WORK/real"
ln -s "$WORK/real" "$WORK/link"
refused "a symlink" "$WORK/link/s.sock"
# a directory of ours that only others could read: tightened, then used
mkdir -m 755 "$WORK/loose"
start_daemon --socket "$WORK/loose/s.sock"
[ "$(stat -c %a "$WORK/loose")" = 700 ] || fail "loose: $(stat -c %a "$WORK/loose")"
stop_daemon

note "a non-root uvfsd whose /tmp directory another user made first"
TD=/tmp/uvfs-$(id -u nobody 2>/dev/null)
if id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null &&
   [ ! -e "$TD" ] && setpriv --reuid=nobody --regid=nogroup --clear-groups \
	test -x "$UVFSD"; then
	mkdir -m 777 "$TD"
	CLEANUP_PATHS+=("$TD")
	NMNT=$WORK/nmnt
	mkdir -m 777 "$NMNT"
	expect_msg 1 "refusing the socket directory $TD" env -u XDG_RUNTIME_DIR \
		setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$UVFSD" "$NMNT" -f
	rmdir "$TD"
	mounted "$NMNT" && fail "$NMNT mounted"
else
	skip_part "non-root uvfsd: no user nobody, or $TD exists, or uvfsd not reachable by nobody"
fi
echo PASS
