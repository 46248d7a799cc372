#!/usr/bin/env bash
# Holders name the operations waiting on a file server.  A hostfs mount
# (uvfs-hostfs spawned by uvfsd, a long deadline so nothing fails while the
# test looks); the server is SIGSTOPped; a process stats a name not seen
# before (a real lookup, which waits on the server).  Then:
#  - a normal `uvfs umount` says busy and names the waiting operation:
#    the stat process, the operation (lookup), "waiting ... on the server";
#  - `uvfs holders --json` lists it under "requests" (parsed with Python's
#    json): pid, comm, op, waiting_ms growing, on_server, the server's pid,
#    blocks;
#  - a memfs mount elsewhere lists no request (the request is attributed
#    to the mount it entered, not to every mount).
# After SIGCONT the stat finishes, the request is gone from the list and
# the normal unmount succeeds.
. "$(dirname "$0")/lib.sh"

need_hostfs

start_daemon
cd "$WORK"
EXPORT=$WORK/export
mkdir -p "$EXPORT/dir"
H=$MNT/h
M=$MNT/m
mkdir "$H" "$M"
# 60 s: the stat must still be waiting when the test looks, however
# loaded the machine is
expect 0 "$UVFS" mount -t hostfs -o "server=$HOSTFS,timeout=60000" "$EXPORT" "$H"
expect 0 "$UVFS" mount -t memfs none "$M"
ls "$H/dir" >/dev/null || fail "ls through the mount"
P=$("$UVFS" -m "$MNT" servers --json |
	python3 -c 'import json,sys; s=json.load(sys.stdin)["servers"]; print(s[0]["pid"] if s else 0)')
[ "$P" -gt 0 ] || fail "no server pid"
# written on the host after the listing: never looked up through the mount
echo data >"$EXPORT/dir/cold"
STOPPED=$P
cont() { [ -n "${STOPPED:-}" ] && kill -CONT "$STOPPED" 2>/dev/null; STOPPED=; }
# the server must not stay stopped whatever happens (lib.sh's cleanup
# then stops uvfsd, which stops the server)
trap 'rc=$?; cont; (exit $rc); cleanup' EXIT

note "the server stopped, a stat waits on it"
# The stat starts in the directory, entered before the server stops: by
# a path from the root, a loaded machine lets the kernel's entries of
# "h" and "dir" expire first, and their revalidation is then what waits
# (the one of "h" a lookup in the namespace root that crosses into the
# mount, not this mount's lookup of "cold").
# (only builtins and absolute paths there: nothing else looks in it)
STAT=$(command -v stat)
mkfifo "$WORK/go"
( cd "$H/dir" || exit 1
  : >"$WORK/ready"
  read -r _ <"$WORK/go"
  exec "$STAT" cold ) >"$WORK/stat.out" 2>&1 &
SP=$!
BG_PIDS+=($SP)
for _ in $(seq 600); do [ -e "$WORK/ready" ] && break; sleep 0.05; done
[ -e "$WORK/ready" ] || fail "the stat's shell did not enter $H/dir"
kill -STOP "$P"
wait_stopped "$P"
echo go >"$WORK/go"

# requests_of TARGET: `uvfs holders --json` of $H, checked by Python: prints
# "pid op waiting_ms on_server server_pid blocks" of the stat's request,
# or "none".
requests_of() {
	"$UVFS" holders "$1" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["uvfs_json"] == 1 and d["command"] == "holders", d
pid = int(sys.argv[1])
mine = [r for r in d["requests"] if r["pid"] == pid]
for r in d["requests"]:
    assert isinstance(r["waiting_ms"], int) and isinstance(r["on_server"], bool), r
if not mine:
    print("none")
else:
    r = mine[0]
    print(r["op"], r["waiting_ms"], r["on_server"], r["server_pid"], r["blocks"], r["comm"], r["host"], r["fstype"])
' "$SP"
}
# until the request shows (the stat has to start and reach the server)
for _ in $(seq 100); do
	R=$(requests_of "$H") || fail "holders --json: $R"
	[ "$R" != none ] && break
	sleep 0.05
done
note "request: $R"
[ "$R" != none ] || fail "no request listed; the stat: $(kill -0 "$SP" 2>/dev/null && echo still running || cat "$WORK/stat.out"); servers: $("$UVFS" -m "$MNT" servers 2>&1)"
read -r op ms on_server spid blocks comm host fstype <<<"$R"
# the lookup of "cold"; or, when the kernel's attributes of "dir" expired
# before the stat (1 s: a loaded machine), the GETATTR of "dir" that the
# kernel's permission check sends first: both wait on the server here
case $op in
lookup|getattr) ;;
*) fail "the waiting operation is '$op', not lookup (or getattr): $R" ;;
esac
[ "$on_server" = True ] || fail "not shown as waiting on a server: $R"
[ "$spid" = "$P" ] || fail "server pid $spid, not $P: $R"
[ "$blocks" = True ] || fail "not marked as blocking: $R"
[ "$comm" = stat ] || fail "comm '$comm', not stat: $R"
[ "$host" = "$H" ] || fail "mount '$host', not $H: $R"
[ "$fstype" = hostfs ] || fail "type '$fstype', not hostfs: $R"
kill -0 "$SP" 2>/dev/null || fail "the stat did not wait: $(cat "$WORK/stat.out")"

note "the wait grows"
sleep 0.3
R2=$(requests_of "$H")
read -r _ ms2 _ <<<"$R2"
[ "$ms2" -ge $((ms + 200)) ] || fail "waited $ms ms, then $ms2 ms 300 ms later"

note "a normal unmount is busy and names the waiting operation"
expect 1 "$UVFS" umount "$H"
echo "$OUT"
case $OUT in
*"cannot unmount $H: target is busy"*) ;;
*) fail "umount: $OUT" ;;
esac
echo "$OUT" | grep -q "pid $SP (stat): $op waiting [0-9.]* s on the server of $H (hostfs, server pid $P" ||
	fail "the busy message does not name the waiting $op: $OUT"
# holders (text) says the same
expect 0 "$UVFS" holders "$H"
echo "$OUT" | grep -q "pid $SP (stat): $op waiting" || fail "holders: $OUT"

note "another mount is not held by it"
R3=$(requests_of "$M")
[ "$R3" = none ] || fail "the memfs mount lists the request: $R3"

note "SIGCONT: the stat finishes, the request leaves, the unmount works"
cont
for _ in $(seq 200); do kill -0 "$SP" 2>/dev/null || break; sleep 0.05; done
kill -0 "$SP" 2>/dev/null && fail "the stat still hangs after SIGCONT"
wait "$SP" || fail "stat failed after SIGCONT: $(cat "$WORK/stat.out")"
R4=$(requests_of "$H")
[ "$R4" = none ] || fail "the request is still listed: $R4"
expect_umount "$H"
expect_umount "$M"
alive
stop_daemon
echo PASS
