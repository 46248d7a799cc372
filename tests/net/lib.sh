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
#   net_start_nfs DIR          nfs-ganesha and its own rpcbind in the
#                              namespace (tests/nfs/ganesha.sh start-in;
#                              skips without them), exporting DIR; sets
#                              SRV_PID (ganesha), NET_SOURCE (nfs://IP/export),
#                              NET_TYPE nfs, NET_PORT 2049
#   net_start SERVER DIR       one of the above by name (hostfs, diod, nfs)
#   net_nfs_mount DIR MNT OPTS the namespace, uvfsd, net_start_nfs DIR and
#                              an nfs mount of it at MNT
#   dstate_pids PID...         those of the pids in state D
#   net_servers_json           `uvfs servers --json`
#   server_field FIELD [MNT]   FIELD of MNT's server (else the first) in it
# Environment: UVFSD, UVFS, UVFS_HOSTFS (meson sets them); UVFS_NET_PORT.

. "$(dirname "${BASH_SOURCE[0]}")/../fuse/lib.sh"

. "$(dirname "${BASH_SOURCE[0]}")/netns.sh"
HOSTFS=${UVFS_HOSTFS:-}
[ -n "$HOSTFS" ] && [ -x "$HOSTFS" ] ||
	skip "UVFS_HOSTFS not set to the built uvfs-hostfs"

GANESHA=$(dirname "${BASH_SOURCE[0]}")/../nfs/ganesha.sh
NFS_STATE=               # net_start_nfs's server (ganesha.sh's state)
NET_TYPE=9p              # the type of the mounts of the server started

# The exit trap: the network's cleanup (and an NFS server's state
# directory), then lib.sh's (uvfsd, mounts, the work directory), which
# exits with the test's status.
net_exit() {
	local rc=$?
	disown -a 2>/dev/null  # no "Killed" job reports for what is killed
	net_cleanup
	# ganesha and its rpcbind went with the namespace: its state directory
	[ -n "$NFS_STATE" ] && "$GANESHA" stop "$NFS_STATE" >/dev/null 2>&1
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

# net_start_nfs DIR: ganesha exporting DIR as /export, with rpcbind, in
# the namespace (its rpcbind in a mount namespace of its own, with a
# private /run: ganesha.sh).  The mounts' port: 2049 (the driver asks the
# portmapper, which gives ganesha's).
net_start_nfs() {
	local dir=$1 out rc
	"$UVFS" mount --help 2>&1 | grep -q -- "-t nfs" ||
		skip "uvfs was built without the nfs type (libnfs)"
	out=$("$GANESHA" start-in "$NET_NS" "$NET_SRV_IP" "$dir" 2>"$WORK/ganesha.err")
	rc=$?
	[ $rc = 77 ] && skip "no NFS server here: $(cat "$WORK/ganesha.err")"
	[ $rc = 0 ] || fail "ganesha.sh start-in: $(cat "$WORK/ganesha.err")"
	eval "$out"
	NFS_STATE=$UVFS_NFS_STATE
	SRV_PID=$(cat "$NFS_STATE/ganesha.pid.own")
	NET_PORT=2049
	NET_SOURCE=$UVFS_NFS_SOURCE
	NET_TYPE=nfs
	NET_OPTS=
}

# net_start SERVER DIR: the server of that kind (hostfs, diod or nfs).
net_start() {
	case $1 in
	hostfs) net_start_hostfs "$2" ;;
	diod) net_start_diod "$2" ;;
	nfs) net_start_nfs "$2" ;;
	*) fail "UVFS_NET_SERVER: hostfs, diod or nfs, not $1" ;;
	esac
}

# net_nfs_mount DIR MOUNTPOINT OPTS: what the tests that otherwise mount
# a spawned uvfs-hostfs (no network) need for their nfs variant: the
# namespace, uvfsd, ganesha exporting DIR, an nfs mount at MOUNTPOINT.
net_nfs_mount() {
	net_setup
	start_daemon
	net_start_nfs "$1"
	mkdir -p "$2"
	expect 0 "$UVFS" mount -t nfs -o "$3" "$NET_SOURCE" "$2"
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
