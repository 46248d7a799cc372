#!/usr/bin/env bash
# uvfs-delayproxy (bench/delayproxy.c), the netem stand-in of the network
# tests and benchmarks, and a 9p mount through it.  On 127.0.0.1 only:
#   - a ping-pong through -u 20000 -d 10000 takes at least 30 ms a round
#     (and not wildly more: < 30 ms + 200 ms of slack);
#   - 8 MiB sent while replies flow back arrive whole and in order;
#   - a reset from the target reaches the client as a reset (not an end
#     of file): a killed connection stays a killed connection;
#   - -s FILE -f 9p|rpc counts the messages each way, whatever the
#     chunks they come in (frames split, frames together, RPC records of
#     several fragments), the requests by kind (9P type, RPC procedure),
#     the bytes, and the client's turns (one per send after an answer
#     came back; messages sent together while the answers are still on
#     their way, one);
#   - bad arguments exit 2 with a message;
#   - a "9p" mount of uvfs-hostfs through a +5 ms proxy reads and writes
#     the right bytes, each round trip paying the delay.
. "$(dirname "$0")/../fuse/lib.sh"

PROXY=${UVFS_DELAYPROXY:-}
[ -n "$PROXY" ] && [ -x "$PROXY" ] || skip "UVFS_DELAYPROXY not set to the built uvfs-delayproxy"
HOSTFS=${UVFS_HOSTFS:-}
[ -n "$HOSTFS" ] && [ -x "$HOSTFS" ] || skip "UVFS_HOSTFS not set to the built uvfs-hostfs"

note "bad arguments"
expect_msg 2 "usage" "$PROXY" 127.0.0.1:0
expect_msg 2 "usage" "$PROXY" -u x 127.0.0.1:0 127.0.0.1:1
expect_msg 2 "expected ADDR:PORT" "$PROXY" 127.0.0.1:0 noport
expect_msg 2 "nohost" "$PROXY" 127.0.0.1:0 nohost:1
expect_msg 2 "usage" "$PROXY" -f 9p 127.0.0.1:0 127.0.0.1:1
expect_msg 2 "usage" "$PROXY" -s "$WORK/c" -f nfs 127.0.0.1:0 127.0.0.1:1

note "delay, order, integrity, resets"
python3 - "$PROXY" <<'PY' || fail "the proxy does not behave"
import socket, struct, subprocess, sys, threading, time
proxy = sys.argv[1]
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(8)
tport = ls.getsockname()[1]
mode = {"m": "echo"}

def target():
    while True:
        c, _ = ls.accept()
        if mode["m"] == "reset":
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.recv(10)
            c.close()
            continue
        def echo(c=c):
            while True:
                b = c.recv(65536)
                if not b:
                    break
                c.sendall(b)
            c.close()
        threading.Thread(target=echo, daemon=True).start()
threading.Thread(target=target, daemon=True).start()

p = subprocess.Popen([proxy, "-u", "20000", "-d", "10000", "127.0.0.1:0",
                      "127.0.0.1:%d" % tport], stdout=subprocess.PIPE, text=True)
try:
    pport = int(p.stdout.readline().split()[1])
    s = socket.create_connection(("127.0.0.1", pport))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    rtts = []
    for i in range(10):
        t = time.monotonic()
        s.sendall(b"x" * 64)
        got = 0
        while got < 64:
            got += len(s.recv(64))
        rtts.append((time.monotonic() - t) * 1000)
    lo, hi = min(rtts), sorted(rtts)[len(rtts) // 2]
    print("round trips: min %.1f ms, median %.1f ms" % (lo, hi))
    if lo < 30.0:
        sys.exit("a round trip of %.1f ms: the 30 ms of delay are missing" % lo)
    if hi > 230.0:
        sys.exit("median round trip %.1f ms: far more than the 30 ms asked" % hi)
    # bulk, in order, while the echo flows back
    data = b"".join(struct.pack("<I", i) for i in range(2 << 20))
    back = bytearray()
    def reader():
        while len(back) < len(data):
            b = s.recv(1 << 16)
            if not b:
                break
            back.extend(b)
    t = threading.Thread(target=reader)
    t.start()
    s.sendall(data)
    t.join(60)
    if bytes(back) != data:
        sys.exit("bulk: %d of %d bytes back, %s" % (len(back), len(data),
                 "in order" if data.startswith(bytes(back)) else "WRONG"))
    s.close()
    # a reset from the target is a reset at the client
    mode["m"] = "reset"
    s = socket.create_connection(("127.0.0.1", pport))
    s.sendall(b"hello")
    s.settimeout(10)
    try:
        b = s.recv(10)
        sys.exit("after the target's reset the client read %r, not a reset" % b)
    except ConnectionResetError:
        print("reset passed on")
finally:
    p.kill()
PY

note "message counts (-s FILE -f 9p|rpc)"
python3 - "$PROXY" "$WORK" <<'PY' || fail "the proxy's counts are wrong"
import socket, struct, subprocess, sys, threading, time
proxy, work = sys.argv[1], sys.argv[2]
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(8)
tport = ls.getsockname()[1]
def target():
    while True:
        c, _ = ls.accept()
        def echo(c=c):
            while True:
                b = c.recv(65536)
                if not b:
                    break
                c.sendall(b)
            c.close()
        threading.Thread(target=echo, daemon=True).start()
threading.Thread(target=target, daemon=True).start()

def p9(n):          # a 9P frame: size[4] (itself included), n bytes
    return struct.pack("<I", 4 + n) + b"m" * n
def frag(n, last):  # an RPC record fragment
    return struct.pack(">I", n | (0x80000000 if last else 0)) + b"r" * n

def run(kind, chunks, want, turns, kinds, delay="0", gap=0.05):
    path = "%s/counts.%s" % (work, kind)
    p = subprocess.Popen([proxy, "-u", delay, "-s", path, "-f", kind,
                          "127.0.0.1:0", "127.0.0.1:%d" % tport],
                         stdout=subprocess.PIPE, text=True)
    try:
        pport = int(p.stdout.readline().split()[1])
        s = socket.create_connection(("127.0.0.1", pport))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        total = sum(len(c) for c in chunks)
        for c in chunks:
            s.sendall(c)
            time.sleep(gap)         # the echo comes back meanwhile
        got = 0
        s.settimeout(10)
        while got < total:
            got += len(s.recv(65536))
        with open(path, "rb") as f:
            raw = f.read(56 + 8 * 256)
        magic, conns, up, down, upb, downb, tn = struct.unpack("<7Q", raw[:56])
        kd = struct.unpack("<256Q", raw[56:])
        got_kinds = {k: v for k, v in enumerate(kd) if v}
        print("%s: conns %d, messages %d up, %d down, bytes %d/%d, turns %d, "
              "kinds %s" % (kind, conns, up, down, upb, downb, tn, got_kinds))
        turns_ok = turns if isinstance(turns, tuple) else (turns,)
        if (conns, up, down, upb, downb) != (1, want, want, total, total) or \
                tn not in turns_ok:
            sys.exit("%s: expected 1 connection, %d messages and %d bytes "
                     "each way, turns %s" % (kind, want, total, turns_ok))
        if got_kinds != kinds:
            sys.exit("%s: requests by kind %s, expected %s" %
                     (kind, got_kinds, kinds))
        s.close()
    finally:
        p.kill()

big = p9(100000)     # more than one read of the proxy's
# the kind: 9P's type byte (here "m", 109; an empty frame has none).
# Five sends, each after the echo of the one before: five turns; six
# when the echo of the last send's first part comes back before the
# proxy has read the rest of it (95 000 bytes take more than one of its
# reads: a slow machine lets the answer in between, and the client then
# did send after an answer)
run("9p", [p9(7) + p9(11) + p9(0), p9(20)[:3], p9(20)[3:], big[:5000],
           big[5000:]], 5, (5, 6), {109: 4})
# an RPC call's procedure (the low byte of its sixth word: 7, WRITE),
# in a record of two fragments
body = struct.pack(">6I", 1, 0, 2, 100003, 3, 7) + b"args"
call = (struct.pack(">I", 10) + body[:10] +
        struct.pack(">I", (len(body) - 10) | 0x80000000) + body[10:])
run("rpc", [frag(8, False) + frag(4, True), frag(12, True)[:2],
            frag(12, True)[2:] + frag(0, False), frag(0, True), call[:16],
            call[16:]], 4, 6, {7: 1})
# three requests sent together, their answers 0.3 s away: one turn
run("9p", [p9(1), p9(2), p9(3)], 3, 1, {109: 3}, delay="300000", gap=0)
PY

note "a 9p mount through a +5 ms proxy"
start_daemon
EXPORT=$WORK/export
mkdir "$EXPORT"
printf 'through the proxy' >"$EXPORT/f"
SOCKPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$HOSTFS" --listen "tcp:127.0.0.1:$SOCKPORT" "$EXPORT" >"$WORK/hostfs.log" 2>&1 &
BG_PIDS+=($!)
"$PROXY" -u 5000 -d 5000 127.0.0.1:0 "127.0.0.1:$SOCKPORT" >"$WORK/proxy.out" 2>&1 &
BG_PIDS+=($!)
for _ in $(seq 100); do
	PPORT=$(awk '/^port/ { print $2 }' "$WORK/proxy.out")
	[ -n "$PPORT" ] && break
	sleep 0.02
done
[ -n "$PPORT" ] || fail "the proxy did not start: $(cat "$WORK/proxy.out")"
P=$MNT/p
mkdir "$P"
mounted_9p=
for _ in $(seq 100); do       # until uvfs-hostfs listens
	if "$UVFS" mount -t 9p -o timeout=5000 "tcp:127.0.0.1:$PPORT" "$P" \
		>"$WORK/mount.out" 2>&1; then
		mounted_9p=1
		break
	fi
	sleep 0.05
done
[ -n "$mounted_9p" ] || fail "cannot mount through the proxy: $(cat "$WORK/mount.out")"
[ "$(cat "$P/f")" = "through the proxy" ] || fail "read through the proxy"
echo written >"$P/g" || fail "write through the proxy"
[ "$(cat "$EXPORT/g")" = written ] || fail "the write did not reach the server"
t0=$(ms_now)
stat "$P/missing-name" >/dev/null 2>&1
dt=$(($(ms_now) - t0))
note "a lookup through the proxy: $dt ms"
[ $dt -ge 10 ] || fail "a lookup through a +5 ms each way proxy took $dt ms (< 10)"
expect 0 "$UVFS" umount "$P"
alive
stop_daemon
echo PASS
