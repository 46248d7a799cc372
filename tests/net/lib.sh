# lib.sh - sourced by the network-fault tests (tests/net/*.sh): uvfsd
# (tests/fuse/lib.sh) mounting, over TCP, a file server on a "second host"
# (tests/net/netns.sh: a network namespace and a veth pair, a link that
# can be cut and healed).  Exit codes: 0 pass, 1 fail, 77 skip.  On exit
# (trap), whatever happened: the link healed, what runs in the namespace
# killed, the namespace and the veth pair deleted, then uvfsd stopped and
# the mounts and the work directory removed.
#
# Helpers (and netns.sh's: net_setup, nsx, net_cut, net_heal,
# wait_stopped):
#   net_start_hostfs DIR [ARGS] uvfs-hostfs --listen tcp:NET_SRV_IP:PORT in
#                              the namespace; sets SRV_PID, NET_SOURCE
#   net_start_diod DIR         diod likewise (skips without diod); NET_OPTS
#                              holds the aname= a mount needs
#   dstate_pids PID...         those of the pids in state D
#   net_servers_json           `uvfs servers --json`
#   server_field FIELD [MNT]   FIELD of MNT's server (else the first) in it
# Environment: UVFSD, UVFS, UVFS_HOSTFS (meson sets them); UVFS_NET_PORT.

. "$(dirname "${BASH_SOURCE[0]}")/../fuse/lib.sh"

. "$(dirname "${BASH_SOURCE[0]}")/netns.sh"
HOSTFS=${UVFS_HOSTFS:-}
[ -n "$HOSTFS" ] && [ -x "$HOSTFS" ] ||
	skip "UVFS_HOSTFS not set to the built uvfs-hostfs"

# The exit trap: the network's cleanup, then lib.sh's (uvfsd, mounts,
# the work directory), which exits with the test's status.
net_exit() {
	local rc=$?
	disown -a 2>/dev/null  # no "Killed" job reports for what is killed
	net_cleanup
	(exit $rc)
	cleanup
}
trap net_exit EXIT

# Waits until something listens on NET_SRV_IP:NET_PORT (5 s).
net_wait_listen() {
	local i
	for i in $(seq 250); do
		python3 - "$NET_SRV_IP" "$NET_PORT" 2>/dev/null <<'PY' && return 0
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=0.2)
s.close()
PY
		[ -n "$SRV_PID" ] && ! kill -0 "$SRV_PID" 2>/dev/null &&
			fail "the server exited at startup: $(cat "$WORK/server.log")"
		sleep 0.02
	done
	fail "nothing listens on $NET_SRV_IP:$NET_PORT"
}

# net_start_hostfs DIR [uvfs-hostfs options]
net_start_hostfs() {
	local dir=$1
	shift
	ip netns exec "$NET_NS" "$HOSTFS" --listen "tcp:$NET_SRV_IP:$NET_PORT" "$@" "$dir" \
		>>"$WORK/server.log" 2>&1 7<&- &
	SRV_PID=$!
	BG_PIDS+=("$SRV_PID")
	net_wait_listen
	NET_SOURCE=tcp:$NET_SRV_IP:$NET_PORT
	NET_OPTS=
}

# net_start_diod DIR: diod, one export; mounts need aname=DIR (NET_OPTS).
net_start_diod() {
	local dir=$1 diod
	diod=$(command -v diod || echo /usr/sbin/diod)
	[ -x "$diod" ] || skip "diod is not installed (apt-get install diod)"
	ip netns exec "$NET_NS" "$diod" -f -n -e "$dir" -l "$NET_SRV_IP:$NET_PORT" \
		-L "$WORK/diod.log" >>"$WORK/server.log" 2>&1 7<&- &
	SRV_PID=$!
	BG_PIDS+=("$SRV_PID")
	net_wait_listen
	NET_SOURCE=tcp:$NET_SRV_IP:$NET_PORT
	NET_OPTS=aname=$dir
}

# Pids in state D among those given.
dstate_pids() {
	local p st
	for p in "$@"; do
		st=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | cut -c1)
		[ "$st" = D ] && echo "$p"
	done
}

net_servers_json() { "$UVFS" -m "$MNT" servers --json; }

# server_field FIELD [MOUNTPOINT]: the field of the server of that mount
# (else the first) in `uvfs servers --json`; empty if absent.
server_field() {
	net_servers_json 2>/dev/null | python3 -c '
import json, sys
field = sys.argv[1]
mp = sys.argv[2] if len(sys.argv) > 2 else ""
try:
    s = json.load(sys.stdin)["servers"]   # docs/json.md
except Exception:
    sys.exit(0)
for e in s:
    if not mp or any(mp == v for v in e.values() if isinstance(v, str)):
        v = e.get(field, "")
        print(v if v is not None else "")
        break
' "$@"
}
