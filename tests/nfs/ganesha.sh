#!/usr/bin/env bash
# ganesha.sh - a real NFS server for the tests: nfs-ganesha (VFS FSAL) in a
# network namespace of its own, reached over a veth pair.
#
#   ganesha.sh start [DIR]     start a server exporting DIR (default: a new
#                              empty directory); prints shell assignments:
#                                UVFS_NFS_STATE=...  (give it to stop)
#                                UVFS_NFS_HOST=10.a.b.2
#                                UVFS_NFS_EXPORT=/export
#                                UVFS_NFS_SOURCE=nfs://10.a.b.2/export
#                                UVFS_NFS_DIR=...    (the exported directory)
#                                UVFS_NFS_SQUASH_SOURCE, UVFS_NFS_SQUASH_DIR
#                                (a second export, of a new directory,
#                                that squashes root: Root_Squash)
#   ganesha.sh start-in NETNS HOST [DIR]
#                              the same inside the existing network
#                              namespace NETNS, answering at HOST (one of
#                              its addresses; the caller made the link, as
#                              tests/net/lib.sh does); prints the same
#   ganesha.sh stop STATE      stop it and remove everything start made
#                              (after start-in: not the namespace)
#   ganesha.sh kill STATE      kill ganesha only (SIGKILL; rpcbind and the
#                              network stay), for restart tests
#   ganesha.sh restart STATE   start ganesha again after kill (same export,
#                              same address; NFSv3 file handles survive)
#   ganesha.sh freeze STATE / thaw STATE
#                              stop / continue ganesha (SIGSTOP, SIGCONT):
#                              the connection stays up, the kernel takes
#                              the requests, none is answered meanwhile
#   ganesha.sh partition STATE / heal STATE
#                              drop / accept again every packet on the
#                              server's side of the link (iptables inside
#                              the namespace)
#   ganesha.sh run [DIR] -- CMD ARGS...
#                              start, run CMD with the UVFS_NFS_* variables
#                              in its environment, stop (always, even when
#                              CMD fails or the script is interrupted);
#                              exits with CMD's status
#
# Traffic stays on the veth pair between this host's network namespace and
# the server's: the host end is 10.a.b.1/30, the server 10.a.b.2/30, with
# a and b picked so no other interface of the host has that subnet.  In the
# server's namespace a private mount namespace gets its own tmpfs on /run,
# so its rpcbind is separate from any the host runs; ganesha registers NFS
# v3, v4 and MOUNT v3 with it (TCP only).
#
# Exit status: 0, 1 on failure (with the server's log), 77 (skip, with a
# message) when not root or when ip, unshare, rpcbind or ganesha.nfsd are
# missing.
set -u

skip() {
	echo "ganesha.sh: SKIP: $*" >&2
	exit 77
}
die() {
	echo "ganesha.sh: $*" >&2
	exit 1
}

need_tools() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, rpcbind)"
	command -v ip >/dev/null || skip "ip (iproute2) is not installed"
	command -v unshare >/dev/null || skip "unshare (util-linux) is not installed"
	ganesha=$(command -v ganesha.nfsd || echo /usr/bin/ganesha.nfsd)
	[ -x "$ganesha" ] || skip "nfs-ganesha is not installed (apt-get install nfs-ganesha nfs-ganesha-vfs)"
	rpcbind=$(command -v rpcbind || echo /usr/sbin/rpcbind)
	[ -x "$rpcbind" ] || skip "rpcbind is not installed"
	fsal=$(ls /usr/lib/*/ganesha/libfsalvfs.so /usr/lib/ganesha/libfsalvfs.so 2>/dev/null | head -1)
	[ -n "$fsal" ] || skip "the ganesha VFS FSAL is not installed (apt-get install nfs-ganesha-vfs)"
	ip netns list >/dev/null 2>&1 || skip "ip netns does not work here"
}

# A 10.a.b.0/30 subnet that no interface of this host uses.
pick_subnet() {
	local a b try
	for try in $(seq 50); do
		a=$((200 + RANDOM % 50))
		b=$((RANDOM % 64 * 4))
		if ! ip -o -4 addr show | grep -q " 10\.$a\.$b\."; then
			echo "$a.$b"
			return 0
		fi
	done
	return 1
}

# Writes ganesha's configuration into the state directory.
write_conf() {
	local st=$1 dir=$2
	cat >"$st/ganesha.conf" <<EOF
NFS_CORE_PARAM {
	Protocols = 3, 4;
	Enable_UDP = false;
	Enable_NLM = false;
	Enable_RQUOTA = false;
	Mount_Path_Pseudo = true;
}
NFSV4 {
	Graceless = true;
	RecoveryBackend = fs;
	RecoveryRoot = "$st/recovery";
}
NFS_KRB5 { Active_krb5 = false; }
EXPORT_DEFAULTS {
	Access_Type = RW;
	Squash = No_Root_Squash;
	SecType = sys;
}
EXPORT {
	Export_Id = 1;
	Path = "$dir";
	Pseudo = /export;
	Access_Type = RW;
	Squash = No_Root_Squash;
	SecType = sys;
	Protocols = 3, 4;
	Transports = TCP;
	FSAL { Name = VFS; }
}
EXPORT {
	Export_Id = 2;
	Path = "$st/squash";
	Pseudo = /squash;
	Access_Type = RW;
	Squash = Root_Squash;
	SecType = sys;
	Protocols = 3, 4;
	Transports = TCP;
	FSAL { Name = VFS; }
}
LOG {
	Default_Log_Level = EVENT;
}
EOF
}

# Starts ganesha inside the server's namespaces (rpcbind already there).
start_ganesha() {
	local st=$1
	# nsenter into rpcbind's mount namespace: ganesha must register
	# through that rpcbind's socket on the private /run.
	local rpid
	rpid=$(cat "$st/rpcbind.pid")
	rm -f "$st/ganesha.pid"
	nsenter -t "$rpid" -m -n -- "$ganesha" -F -f "$st/ganesha.conf" \
		-L "$st/ganesha.log" -p "$st/ganesha.pid" -N NIV_EVENT \
		</dev/null >>"$st/ganesha.out" 2>&1 &
	echo $! >"$st/ganesha.pid.own"
	wait_ready "$st"
}

# Waits until ganesha answers on NFS (TCP 2049) and MOUNT is registered.
wait_ready() {
	local st=$1 host gp i
	host=$(cat "$st/host")
	gp=$(cat "$st/ganesha.pid.own")
	for i in $(seq 300); do
		kill -0 "$gp" 2>/dev/null || {
			echo "ganesha.sh: ganesha exited:" >&2
			tail -20 "$st/ganesha.log" "$st/ganesha.out" >&2 2>/dev/null
			return 1
		}
		# a NULL call to NFS v3 and MOUNT v3, over TCP, answered
		if timeout 2 rpcinfo -t "$host" 100003 3 >/dev/null 2>&1 &&
			timeout 2 rpcinfo -t "$host" 100005 3 >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	echo "ganesha.sh: ganesha did not come up in 30 s" >&2
	tail -20 "$st/ganesha.log" >&2 2>/dev/null
	return 1
}

# new_state DIR: a state directory (echoed) with the exports' directories:
# DIR, or a new empty one, and the squashing export's.
new_state() {
	local dir=$1 st
	st=$(mktemp -d /tmp/uvfs-ganesha.XXXXXX) || die "cannot make a state directory"
	chmod 0755 "$st"
	mkdir "$st/recovery"
	# the second export squashes root (per-caller credentials, test_nfs)
	mkdir "$st/squash"
	chmod 0777 "$st/squash"
	if [ -z "$dir" ]; then
		dir="$st/export"
		mkdir "$dir"
		chmod 0777 "$dir"
	fi
	[ -d "$dir" ] || { rm -rf "$st"; die "$dir: not a directory"; }
	dir=$(cd "$dir" && pwd -P)
	echo "$dir" >"$st/dir"
	echo "$st"
}

# start_servers STATE: rpcbind, then ganesha, in the namespace named in
# STATE/netns (which exists), ganesha answering at STATE/host.  On a
# failure, what start made is undone (do_stop) and the script exits.
start_servers() {
	local st=$1 ns
	ns=$(cat "$st/netns")
	write_conf "$st" "$(cat "$st/dir")"
	# rpcbind in the namespace, in a private mount namespace with its own
	# /run; it stays in the foreground (-f) so its pid is its own.
	ip netns exec "$ns" unshare -m --propagation private -- sh -c '
		mount -t tmpfs -o mode=0755 tmpfs /run &&
		mkdir -p /run/rpcbind &&
		exec "$0" -f -w' "$rpcbind" </dev/null >"$st/rpcbind.out" 2>&1 &
	echo $! >"$st/rpcbind.pid.own"
	# the pid we got is the shell's until exec: the same process
	cp "$st/rpcbind.pid.own" "$st/rpcbind.pid"
	local i
	for i in $(seq 100); do
		ip netns exec "$ns" rpcinfo -p 127.0.0.1 >/dev/null 2>&1 && break
		kill -0 "$(cat "$st/rpcbind.pid")" 2>/dev/null || break
		sleep 0.05
	done
	if ! ip netns exec "$ns" rpcinfo -p 127.0.0.1 >/dev/null 2>&1; then
		cat "$st/rpcbind.out" >&2
		do_stop "$st"
		die "rpcbind did not start in the namespace"
	fi
	if ! start_ganesha "$st"; then
		do_stop "$st"
		die "ganesha did not start"
	fi
}

# The assignments start and start-in print.
print_vars() {
	local st=$1 host
	host=$(cat "$st/host")
	echo "UVFS_NFS_STATE=$st"
	echo "UVFS_NFS_HOST=$host"
	echo "UVFS_NFS_EXPORT=/export"
	echo "UVFS_NFS_SOURCE=nfs://$host/export"
	echo "UVFS_NFS_DIR=$(cat "$st/dir")"
	echo "UVFS_NFS_SQUASH_SOURCE=nfs://$host/squash"
	echo "UVFS_NFS_SQUASH_DIR=$st/squash"
}

start_tools() {
	need_tools
	command -v nsenter >/dev/null || skip "nsenter (util-linux) is not installed"
	command -v rpcinfo >/dev/null || skip "rpcinfo (rpcbind) is not installed"
}

do_start() {
	local dir=${1:-} st sub ns hv nv
	start_tools
	st=$(new_state "$dir") || exit 1
	sub=$(pick_subnet) || { rm -rf "$st"; die "no free 10.x.y.0/30 subnet"; }
	ns="uvfs-nfs-$$-$RANDOM"
	hv="un${$}h$((RANDOM % 100))"
	nv="un${$}n$((RANDOM % 100))"
	echo "$ns" >"$st/netns"
	echo "$hv" >"$st/veth"
	echo "10.$sub.2" >"$st/host"
	# From here on, a failure undoes what was made.
	ip netns add "$ns" || { rm -rf "$st"; die "ip netns add failed"; }
	: >"$st/netns.own"
	if ! ip link add "$hv" type veth peer name "$nv" ||
		! ip link set "$nv" netns "$ns" ||
		! ip addr add "10.$sub.1/30" dev "$hv" ||
		! ip link set "$hv" up ||
		! ip -n "$ns" addr add "10.$sub.2/30" dev "$nv" ||
		! ip -n "$ns" link set "$nv" up ||
		! ip -n "$ns" link set lo up; then
		do_stop "$st"
		die "cannot set up the veth pair"
	fi
	start_servers "$st"
	print_vars "$st"
}

# start-in: the namespace and its link are the caller's (tests/net/lib.sh);
# stop leaves them.
do_start_in() {
	local ns=${1:?usage: ganesha.sh start-in NETNS HOST [DIR]}
	local host=${2:?usage: ganesha.sh start-in NETNS HOST [DIR]} st
	start_tools
	ip netns exec "$ns" true 2>/dev/null || die "no network namespace $ns"
	st=$(new_state "${3:-}") || exit 1
	echo "$ns" >"$st/netns"
	echo "$host" >"$st/host"
	start_servers "$st"
	print_vars "$st"
}

kill_pidfile() {
	local f=$1 sig=${2:-TERM} p i
	[ -s "$f" ] || return 0
	p=$(cat "$f")
	kill -"$sig" "$p" 2>/dev/null || return 0
	for i in $(seq 100); do
		kill -0 "$p" 2>/dev/null || return 0
		sleep 0.05
	done
	kill -KILL "$p" 2>/dev/null
	sleep 0.1
}

do_stop() {
	local st=${1:?usage: ganesha.sh stop STATE}
	[ -d "$st" ] && [ -f "$st/netns" ] || die "$st: not a ganesha.sh state directory"
	kill_pidfile "$st/ganesha.pid.own" TERM
	kill_pidfile "$st/rpcbind.pid.own" TERM
	[ -f "$st/netns.own" ] && ip netns del "$(cat "$st/netns")" 2>/dev/null
	[ -f "$st/veth" ] && ip link del "$(cat "$st/veth")" 2>/dev/null
	rm -rf "$st"
	return 0
}

do_kill() {
	local st=${1:?usage: ganesha.sh kill STATE}
	kill_pidfile "$st/ganesha.pid.own" KILL
}

do_restart() {
	local st=${1:?usage: ganesha.sh restart STATE}
	need_tools
	kill_pidfile "$st/ganesha.pid.own" KILL
	start_ganesha "$st"
}

do_freeze() {
	local st=${1:?usage: ganesha.sh freeze STATE}
	[ -s "$st/ganesha.pid.own" ] || die "$st: no ganesha running"
	kill -STOP "$(cat "$st/ganesha.pid.own")"
}

do_thaw() {
	local st=${1:?usage: ganesha.sh thaw STATE}
	[ -s "$st/ganesha.pid.own" ] || die "$st: no ganesha running"
	kill -CONT "$(cat "$st/ganesha.pid.own")"
}

do_partition() {
	local st=${1:?usage: ganesha.sh partition STATE}
	command -v iptables >/dev/null || skip "iptables is not installed"
	ip netns exec "$(cat "$st/netns")" iptables -I INPUT -j DROP &&
		ip netns exec "$(cat "$st/netns")" iptables -I OUTPUT -j DROP
}

do_heal() {
	local st=${1:?usage: ganesha.sh heal STATE}
	ip netns exec "$(cat "$st/netns")" iptables -F INPUT
	ip netns exec "$(cat "$st/netns")" iptables -F OUTPUT
}

do_run() {
	local dir="" out st status
	if [ "${1:-}" != "--" ]; then
		dir=${1:-}
		shift
	fi
	[ "${1:-}" = "--" ] || die "usage: ganesha.sh run [DIR] -- CMD ARGS..."
	shift
	[ $# -gt 0 ] || die "usage: ganesha.sh run [DIR] -- CMD ARGS..."
	out=$(do_start "$dir")
	status=$?
	[ $status -eq 0 ] || exit $status
	eval "$out"
	export UVFS_NFS_STATE UVFS_NFS_HOST UVFS_NFS_EXPORT UVFS_NFS_SOURCE UVFS_NFS_DIR
	export UVFS_NFS_SQUASH_SOURCE UVFS_NFS_SQUASH_DIR
	st=$UVFS_NFS_STATE
	trap 'do_stop "$st"' EXIT
	trap 'exit 130' INT TERM
	"$@"
	status=$?
	if [ $status -ne 0 ] && [ $status -ne 77 ] && [ -s "$st/ganesha.log" ]; then
		echo "--- ganesha log (tail)"
		tail -20 "$st/ganesha.log"
	fi
	exit $status
}

cmd=${1:-}
shift || true
case $cmd in
start) do_start "$@" ;;
start-in) do_start_in "$@" ;;
stop) do_stop "$@" ;;
kill) do_kill "$@" ;;
restart) do_restart "$@" ;;
freeze) do_freeze "$@" ;;
thaw) do_thaw "$@" ;;
partition) do_partition "$@" ;;
heal) do_heal "$@" ;;
run) do_run "$@" ;;
*) die "usage: ganesha.sh start [DIR] | start-in NETNS HOST [DIR] | stop STATE | kill STATE | restart STATE | partition STATE | heal STATE | run [DIR] -- CMD..." ;;
esac
