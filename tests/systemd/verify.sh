#!/usr/bin/env bash
# verify.sh UNIT_TEST UNIT_INSTALLED SRCDIR - the systemd unit
# (systemd/uvfsd@.service.in) passes `systemd-analyze verify` as an
# instance (uvfsd@mnt-uvfs.service), naming this build's uvfsd, with the
# man pages it cites found, and `systemd-analyze security` finds it no
# more exposed than 8.0; the installed unit is the same but for the path
# of uvfsd.  Exit 0 pass, 1 fail, 77 skip (no systemd-analyze).
set -u
test_unit=${1:?usage: verify.sh UNIT_TEST UNIT_INSTALLED SRCDIR}
inst_unit=${2:?}
src=${3:?}
command -v systemd-analyze >/dev/null ||
	{ echo "SKIP: systemd-analyze is not installed"; exit 77; }
tmp=$(mktemp -d /tmp/uvfs-unit.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cp "$test_unit" "$tmp/uvfsd@mnt-uvfs.service"
out=$(cd "$tmp" && MANPATH=$src/man SYSTEMD_LOG_LEVEL=notice \
      systemd-analyze verify "$tmp/uvfsd@mnt-uvfs.service" 2>&1)
rc=$?
echo "$out"
[ $rc -eq 0 ] || fail "systemd-analyze verify exited $rc"
grep -q 'uvfsd@' <<<"$out" && fail "warnings about the unit"
grep -q '^Type=notify$' "$test_unit" || fail "not Type=notify"
# the mounts of the table on a server are made at start: with the network
grep -q '^After=.*network-online.target' "$test_unit" &&
	grep -q '^Wants=.*network-online.target' "$test_unit" ||
	fail "not ordered after network-online.target"
grep -q '^ExecStart=.*/uvfsd -f %f --mtab /var/lib/uvfs/%i.mtab' "$test_unit" ||
	fail "ExecStart: $(grep ExecStart= "$test_unit")"
# no more exposed than it must be (the unit's comment says what stays):
# 9.6 of 10 with no restriction at all, 8.0 with them
out=$(cd "$tmp" && systemd-analyze security --offline=true --threshold=80 \
      "$tmp/uvfsd@mnt-uvfs.service" 2>&1) ||
	fail "exposure above 8.0: $(tail -1 <<<"$out")"
echo "$(tail -1 <<<"$out")"
# the installed one differs only in where uvfsd is
diff <(sed 's|^ExecStart=[^ ]*/uvfsd |ExecStart=UVFSD |' "$test_unit") \
     <(sed 's|^ExecStart=[^ ]*/uvfsd |ExecStart=UVFSD |' "$inst_unit") ||
	fail "the installed unit differs from the verified one"
echo PASS
