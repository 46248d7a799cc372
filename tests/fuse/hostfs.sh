#!/usr/bin/env bash
# A supervised file server under the FUSE mount: `uvfs mount -t hostfs`
# spawns uvfs-hostfs; `uvfs servers` lists it; kill -9 it while a process
# reads a file through the mount: the read goes on after the restart with
# the right data; SIGSTOP it: `uvfs umount -f` still returns within a
# second and the blocked reader gets an error, not a hang.  A "9p" mount
# of a uvfs-hostfs run on its own (--listen): `uvfs servers` lists it
# (pid 0); killed and started again, a file held open through the mount
# reads on.
. "$(dirname "$0")/lib.sh"

need_hostfs

start_daemon
cd "$WORK"
EXPORT=$WORK/export
mkdir "$EXPORT"
# written on the host, so the kernel's page cache of the FUSE mount is cold
python3 -c '
import sys
with open(sys.argv[1], "wb") as f:
    for i in range(8 * 1024):
        f.write(("%08d" % i).encode() * 128)
' "$EXPORT/big"
SUM=$(sha256sum <"$EXPORT/big" | cut -d" " -f1)
H=$MNT/h
mkdir "$H"

note "mount -t hostfs spawns the server"
expect 0 "$UVFS" mount -t hostfs -o "server=$HOSTFS,timeout=5000,restarts=20" \
	"$EXPORT" "$H"
server_pid() { "$UVFS" -m "$MNT" servers --json |
	python3 -c 'import json,sys; s=json.load(sys.stdin)["servers"]; print(s[0]["pid"] if s else 0)'; }
expect 0 "$UVFS" -m "$MNT" servers
echo "$OUT"
case $OUT in *running*"$EXPORT"*) ;; *) fail "servers: $OUT" ;; esac
P1=$(server_pid)
[ "$P1" -gt 0 ] || fail "no server pid"

note "kill -9 the server in the middle of a read"
mkfifo "$WORK/go"
python3 - "$H/big" "$WORK/go" "$SUM" >"$WORK/reader.out" 2>&1 <<'PY' &
import hashlib, os, sys
path, go, want = sys.argv[1:4]
fd = os.open(path, os.O_RDONLY)
h = hashlib.sha256()
h.update(os.read(fd, 1 << 20))      # the first MiB before the kill
print("started", flush=True)
open(go).read()                     # wait for the kill
while True:
    b = os.read(fd, 1 << 16)
    if not b:
        break
    h.update(b)
os.close(fd)
print("ok" if h.hexdigest() == want else "mismatch", flush=True)
PY
READER=$!
BG_PIDS+=($READER)
for _ in $(seq 100); do grep -q started "$WORK/reader.out" && break; sleep 0.05; done
grep -q started "$WORK/reader.out" || fail "the reader did not start: $(cat "$WORK/reader.out")"
kill -9 "$P1"
echo go >"$WORK/go"
wait "$READER" || fail "the reader failed: $(cat "$WORK/reader.out")"
grep -q '^ok$' "$WORK/reader.out" || fail "the reader: $(cat "$WORK/reader.out")"
P2=$(server_pid)
[ "$P2" -gt 0 ] && [ "$P2" != "$P1" ] || fail "no new server ($P1 -> $P2)"
expect 0 "$UVFS" -m "$MNT" servers --json
case $OUT in *'"restarts": "1"'*|*'"restarts":"1"'*|*'"restarts": 1'*) ;;
*) note "servers after the restart: $OUT" ;; esac
[ "$(head -c 8 "$H/big")" = 00000000 ] || fail "the mount does not read after the restart"

note "a restart drops the kernel's caches of the mount"
printf short >"$EXPORT/small"
t0=$(ms_now)
[ "$(stat -c %s "$H/small")" = 5 ] || fail "small: wrong size"
printf '%0100d' 0 >"$EXPORT/small"  # behind uvfs's back
kill -9 "$P2"
for _ in $(seq 100); do
	P3=$(server_pid)
	[ "$P3" -gt 0 ] && [ "$P3" != "$P2" ] && break
	sleep 0.02
done
size=$(stat -c %s "$H/small")
t1=$(ms_now)
# the kernel would keep the old size for its 1 s attribute timeout
if [ $((t1 - t0)) -lt 900 ]; then
	[ "$size" = 100 ] || fail "after the restart the kernel still says $size bytes"
else
	note "restart took $((t1 - t0)) ms: cache check inconclusive"
fi
P2=$(server_pid)

note "SIGSTOP the server: a forced unmount still returns within a second"
echo later >"$EXPORT/cold"          # not yet seen through the mount
kill -STOP "$P2"
wait_stopped "$P2"
(cat "$H/cold" >/dev/null 2>&1; echo "rc=$?" >"$WORK/blocked.out") &
BLOCKED=$!
BG_PIDS+=($BLOCKED)
sleep 0.3
[ ! -s "$WORK/blocked.out" ] || note "the reader did not block: $(cat "$WORK/blocked.out")"
t0=$(ms_now)
expect 0 "$UVFS" umount -f "$H"
t1=$(ms_now)
note "umount -f took $((t1 - t0)) ms"
[ $((t1 - t0)) -lt "$(bound_ms 1000)" ] || fail "umount -f took $((t1 - t0)) ms"
for _ in $(seq 40); do [ -s "$WORK/blocked.out" ] && break; sleep 0.05; done
[ -s "$WORK/blocked.out" ] || fail "the blocked reader still hangs after the forced unmount"
grep -q "rc=0" "$WORK/blocked.out" && note "the blocked read had finished"
kill -CONT "$P2" 2>/dev/null
mountpoint -q "$H" 2>/dev/null && fail "$H is still a mount point"
alive

note "a 9p mount of a server of its own reconnects"
SOCK=$WORK/hostfs.sock
start_listener() {
	# (not holding the test's descriptor 7 on the mount open)
	"$HOSTFS" --listen "unix:$SOCK" "$EXPORT" 7<&- &
	NP=$!
	BG_PIDS+=($NP)
	for _ in $(seq 100); do
		python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])' \
			"$SOCK" 2>/dev/null && return
		sleep 0.05
	done
	fail "uvfs-hostfs --listen did not come up"
}
start_listener
N=$MNT/n
mkdir "$N"
expect 0 "$UVFS" mount -t 9p -o timeout=5000 "unix:$SOCK" "$N"
expect 0 "$UVFS" -m "$MNT" servers
echo "$OUT"
case $OUT in *running*"unix:$SOCK"*) ;; *) fail "servers: $OUT" ;; esac
[ "$(server_pid)" = 0 ] || fail "a 9p mount's server pid is $(server_pid), not 0"
echo held >"$N/net"
exec 7<"$N/net"
kill -9 "$NP"
wait "$NP" 2>/dev/null
start_listener
[ "$(cat <&7)" = held ] || fail "the file held open does not read after the reconnect"
exec 7<&-
[ "$(cat "$N/net")" = held ] || fail "$N/net does not read after the reconnect"
expect 0 "$UVFS" -m "$MNT" servers --json
case $OUT in *'"restarts": "1"'*|*'"restarts":"1"'*|*'"restarts": 1'*) ;;
*) fail "servers after the reconnect: $OUT" ;; esac
expect 0 "$UVFS" umount "$N"
kill -9 "$NP"
alive
stop_daemon
echo PASS
