#!/usr/bin/env bash
# A lookup that crosses into a mount waits in that mount, and is listed
# there.  The kernel asks uvfsd to look "h" up in the namespace root (its
# entry was dropped when the mount was made on it); the lookup enters the
# hostfs mounted there, whose root's attributes are asked of the server
# (actimeo=0: nothing kept), and the server is SIGSTOPped.  The waiting
# request must be listed by `uvfs holders` of the hostfs mount (its
# server, its type), not of the namespace root's file system: it used to
# be attributed to the directory the lookup started in (the request's
# node), so the mount whose server held it did not show it.
. "$(dirname "$0")/lib.sh"

need_hostfs

start_daemon
cd "$WORK"
EXPORT=$WORK/export
mkdir -p "$EXPORT"
H=$MNT/h
mkdir "$H"
expect 0 "$UVFS" mount -t hostfs -o "server=$HOSTFS,timeout=60000,actimeo=0" "$EXPORT" "$H"
P=$("$UVFS" -m "$MNT" servers --json |
	python3 -c 'import json,sys; s=json.load(sys.stdin)["servers"]; print(s[0]["pid"] if s else 0)')
[ "$P" -gt 0 ] || fail "no server pid"
STOPPED=$P
cont() { [ -n "${STOPPED:-}" ] && kill -CONT "$STOPPED" 2>/dev/null; STOPPED=; }
trap 'rc=$?; cont; (exit $rc); cleanup' EXIT

note "the server stopped, a stat of the mount point waits in the mount"
kill -STOP "$P"
wait_stopped "$P"
STAT=$(command -v stat)
"$STAT" "$H" >"$WORK/stat.out" 2>&1 &
SP=$!
BG_PIDS+=($SP)

# requests_of TARGET: "op on_server server_pid host fstype" of the stat's
# request among `uvfs holders TARGET --json`, or "none"
requests_of() {
	"$UVFS" holders "$1" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
mine = [r for r in d["requests"] if r["pid"] == int(sys.argv[1])]
print("none" if not mine else " ".join(str(mine[0][k]) for k in
      ("op", "on_server", "server_pid", "host", "fstype")))
' "$SP"
}
for _ in $(seq 200); do
	R=$(requests_of "$H") || fail "holders --json: $R"
	[ "$R" != none ] && break
	kill -0 "$SP" 2>/dev/null || break
	sleep 0.05
done
note "request: $R"
kill -0 "$SP" 2>/dev/null || fail "the stat did not wait: $(cat "$WORK/stat.out")"
[ "$R" != none ] || fail "the waiting stat is not listed under $H"
read -r op on_server spid host fstype <<<"$R"
[ "$on_server" = True ] || fail "not shown as waiting on a server: $R"
[ "$spid" = "$P" ] || fail "server pid $spid, not $P: $R"
[ "$host" = "$H" ] || fail "mount '$host', not $H: $R"
[ "$fstype" = hostfs ] || fail "type '$fstype', not hostfs: $R"
note "(operation: $op)"

note "SIGCONT: the stat finishes"
cont
for _ in $(seq 200); do kill -0 "$SP" 2>/dev/null || break; sleep 0.05; done
kill -0 "$SP" 2>/dev/null && fail "the stat still hangs after SIGCONT"
wait "$SP" || fail "stat failed after SIGCONT: $(cat "$WORK/stat.out")"
expect_umount "$H"
alive
stop_daemon
echo PASS
