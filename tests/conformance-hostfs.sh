#!/usr/bin/env bash
# conformance-hostfs.sh CONFORMANCE-BINARY HOSTFS-BINARY
#
# Runs the conformance body through the 9P client driver against our own
# server: starts uvfs-hostfs on a Unix socket exporting a fresh temporary
# directory, runs `CONFORMANCE-BINARY 9p unix:SOCK`, stops the server.
# Exit status: the binary's (0 pass, 1 fail); 77 (skip) if the server
# binary is missing.
#
# Tests left out (UVFS_TEST_SKIP, comma-separated; set it to "" to run
# them all) and why:
#  - test_rename_exchange: 9P2000.L has no RENAME_EXCHANGE.
#  - test_xattr_large: the export is on /tmp, whose ext4 keeps an
#    attribute's value in one block (about 4 KiB: ENOSPC above), not the
#    64 KiB the test sets (test_9pclient sets 60000 bytes on /dev/shm).
#
# Extended attributes otherwise pass: 9P2000.L cannot carry an empty value
# (a zero-size Txattrcreate removes), so the driver answers EOPNOTSUPP for
# one, which test_xattr expects there; only the user., trusted. and
# security. namespaces pass.
set -u
bin=${1:?usage: conformance-hostfs.sh CONFORMANCE-BINARY HOSTFS-BINARY}
server=${2:?usage: conformance-hostfs.sh CONFORMANCE-BINARY HOSTFS-BINARY}
if [ ! -x "$server" ]; then
	echo "conformance-hostfs: SKIP: $server not built"
	exit 77
fi

tmp=$(mktemp -d /tmp/uvfs-hostfs.XXXXXX)
mkdir "$tmp/export"
chmod 0777 "$tmp/export"
sock="$tmp/sock"
"$server" --listen "unix:$sock" "$tmp/export" 2>"$tmp/server.log" &
pid=$!
cleanup() {
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

for _ in $(seq 100); do
	[ -S "$sock" ] && break
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "conformance-hostfs: the server exited:"; cat "$tmp/server.log"
		exit 1
	fi
	sleep 0.05
done
if [ ! -S "$sock" ]; then
	echo "conformance-hostfs: the server did not create $sock"
	exit 1
fi

export UVFS_TEST_SKIP=${UVFS_TEST_SKIP-"test_rename_exchange,test_xattr_large"}
echo "conformance-hostfs: server pid $pid, export $tmp/export, skipping: $UVFS_TEST_SKIP"
"$bin" 9p "unix:$sock" "aname=$tmp/export"
status=$?
if ! kill -0 "$pid" 2>/dev/null; then
	echo "conformance-hostfs: the server died"; cat "$tmp/server.log"
	status=1
fi
exit $status
