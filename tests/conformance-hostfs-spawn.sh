#!/usr/bin/env bash
# conformance-hostfs-spawn.sh CONFORMANCE-BINARY HOSTFS-BINARY
#
# Runs the conformance body against file-system type "hostfs": the driver
# spawns HOSTFS-BINARY itself on a socketpair (server=), exporting a fresh
# temporary directory.  Exit status: the binary's; 77 (skip) if the server
# binary is missing.  Tests left out (UVFS_TEST_SKIP), for the reasons
# given in conformance-hostfs.sh: test_rename_exchange (not in 9P2000.L),
# test_xattr_large (the host's ext4 keeps about 4 KiB per value).
set -u
bin=${1:?usage: conformance-hostfs-spawn.sh CONFORMANCE-BINARY HOSTFS-BINARY}
server=${2:?usage: conformance-hostfs-spawn.sh CONFORMANCE-BINARY HOSTFS-BINARY}
if [ ! -x "$server" ]; then
	echo "conformance-hostfs-spawn: SKIP: $server not built"
	exit 77
fi
tmp=$(mktemp -d /tmp/uvfs-hostfs-spawn.XXXXXX)
mkdir "$tmp/export"
chmod 0777 "$tmp/export"
trap 'rm -rf "$tmp"' EXIT
export UVFS_TEST_SKIP=${UVFS_TEST_SKIP-"test_rename_exchange,test_xattr_large"}
"$bin" hostfs "$tmp/export" "server=$server"
