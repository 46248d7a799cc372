# netns.sh - the network of the network tests and of bench/bench_net:
# a "second host" made of a network namespace and a veth pair, a link that
# can be cut and healed.  Sourced; the sourcing script defines skip MSG
# (exit 77) and fail MSG (exit 1), and calls net_cleanup on exit (trap),
# whatever happened.
#
#   - namespace uvfs-net-PID (the server's host), with its own hosts file
#     (/etc/netns/NS/hosts: `ip netns exec` binds it over /etc/hosts);
#   - a veth pair uvnPIDh (this side, the root namespace) / uvnPIDs (in the
#     namespace), addresses in a private /30 of 10.213.0.0/16 chosen from
#     the pid: NET_HOST_IP (.1 of the /30), NET_SRV_IP (.2);
#   - the cut: iptables DROP rules on the far side, inside the namespace,
#     on its veth end, in both directions (INPUT and OUTPUT).  Nothing in
#     the root namespace's firewall is touched.
# Only loopback and these addresses carry traffic.
#
#   net_setup        make the namespace and the link (skips without
#                    `ip netns` or a working iptables in the namespace)
#   nsx CMD...       run CMD in the namespace
#   net_cut/net_heal the partition, on and off
#   net_cleanup      kill what runs in the namespace, delete it and the
#                    veth pair (its rules go with it)

command -v ip >/dev/null || skip "no ip (apt-get install iproute2)"
command -v iptables >/dev/null || skip "no iptables (apt-get install iptables)"
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"

NET_NS=uvfs-net-$$
NET_VH=uvn$$h
NET_VS=uvn$$s
# a /30 from the pid: 10.213.X.Y, Y a multiple of 4
_net_blk=$(( ($$ % 16384) * 4 ))
NET_HOST_IP=10.213.$((_net_blk / 256)).$((_net_blk % 256 + 1))
NET_SRV_IP=10.213.$((_net_blk / 256)).$((_net_blk % 256 + 2))
NET_PORT=${UVFS_NET_PORT:-5640}
NET_MADE=0
NET_MADE_ETC=0
NET_CUT=0
SRV_PID=
NET_SOURCE=

nsx() { ip netns exec "$NET_NS" "$@"; }

net_cleanup() {
	[ "$NET_MADE" = 1 ] || return 0
	# heal first: what still talks to the server can finish or fail
	net_heal 2>/dev/null
	local p
	for p in $(ip netns pids "$NET_NS" 2>/dev/null); do
		kill -CONT "$p" 2>/dev/null
		kill -9 "$p" 2>/dev/null
	done
	ip netns del "$NET_NS" 2>/dev/null
	ip link del "$NET_VH" 2>/dev/null
	rm -rf "/etc/netns/$NET_NS"
	[ "$NET_MADE_ETC" = 1 ] && rmdir /etc/netns 2>/dev/null
	NET_MADE=0
}

net_setup() {
	ip netns add "$NET_NS" 2>/dev/null ||
		skip "cannot create a network namespace (ip netns add)"
	NET_MADE=1
	# `ip netns exec` binds /etc/netns/NS/* over /etc/*: the server's
	# host resolves the client's address from its own hosts file (diod
	# looks its peers up; no name server is configured, none is asked)
	[ -d /etc/netns ] || NET_MADE_ETC=1
	mkdir -p "/etc/netns/$NET_NS" || fail "mkdir /etc/netns/$NET_NS"
	printf '127.0.0.1 localhost\n%s uvfs-net-client\n%s uvfs-net-server\n' \
		"$NET_HOST_IP" "$NET_SRV_IP" >"/etc/netns/$NET_NS/hosts"
	: >"/etc/netns/$NET_NS/resolv.conf"
	nsx iptables -L -n >/dev/null 2>&1 ||
		skip "iptables does not work in a network namespace"
	ip link add "$NET_VH" type veth peer name "$NET_VS" netns "$NET_NS" ||
		fail "cannot create a veth pair"
	ip addr add "$NET_HOST_IP/30" dev "$NET_VH" || fail "ip addr add"
	ip link set "$NET_VH" up || fail "ip link set up"
	nsx ip link set lo up || fail "lo up in the namespace"
	nsx ip addr add "$NET_SRV_IP/30" dev "$NET_VS" || fail "ip addr add (ns)"
	nsx ip link set "$NET_VS" up || fail "ip link set up (ns)"
	# no IPv6 duplicate address detection or router solicitations on it
	sysctl -qw "net.ipv6.conf.$NET_VH.disable_ipv6=1" 2>/dev/null
	local i
	for i in $(seq 100); do
		[ "$(cat "/sys/class/net/$NET_VH/operstate" 2>/dev/null)" = up ] &&
			break
		sleep 0.02
	done
}

# The partition: the far side drops everything on its veth end.
net_cut() {
	[ "$NET_CUT" = 1 ] && return 0
	nsx iptables -w -I INPUT -i "$NET_VS" -j DROP || fail "iptables (cut in)"
	nsx iptables -w -I OUTPUT -o "$NET_VS" -j DROP || fail "iptables (cut out)"
	NET_CUT=1
}

net_heal() {
	[ "$NET_CUT" = 1 ] || return 0
	nsx iptables -w -D INPUT -i "$NET_VS" -j DROP
	nsx iptables -w -D OUTPUT -o "$NET_VS" -j DROP
	NET_CUT=0
}


