#!/usr/bin/env bash
# verify.sh UNIT_TEST UNIT_INSTALLED SRCDIR - the systemd unit
# (systemd/uvfsd@.service.in) passes `systemd-analyze verify` as an
# instance (uvfsd@mnt-uvfs.service), naming this build's uvfsd, with the
# man pages it cites found, and `systemd-analyze security` finds it no
# more exposed than 8.0, its restart policy is what its comments say
# (StartLimit*= against the longest failing start), the instance maps
# to the right mount point and table for names systemd escapes (\x2d,
# \x20: as systemd-analyze's debug dump of the loaded unit shows the
# command lines); the installed unit is the same but for the path of
# uvfsd.  Exit 0 pass, 1 fail, 77 skip (no systemd-analyze).
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

# ---- restarts (the unit's comments say why): a crash comes back, a
# usage error (exit 2) does not, and one that fails at every start stops
# within StartLimitBurst= starts however long each takes to fail: they
# fit in StartLimitIntervalSec=.  The keys of the unit file, by section
# (StartLimit*= belong to [Unit]), times in seconds.
key() { # SECTION KEY
	python3 - "$test_unit" "$1" "$2" <<-'PY'
	import re, sys
	sec, val = None, None
	for line in open(sys.argv[1]):
	    line = line.strip()
	    if line.startswith("["):
	        sec = line
	    elif sec == "[%s]" % sys.argv[2] and line.startswith(sys.argv[3] + "="):
	        val = line.split("=", 1)[1]
	if val is None:
	    sys.exit(1)
	m = re.fullmatch(r"(\d+)\s*(s|sec|min|)", val)
	print(int(m[1]) * (60 if m[2] == "min" else 1) if m else val)
	PY
}
restart=$(key Service Restart) && [ "$restart" = on-failure ] ||
	fail "Restart=$restart, not on-failure"
rsec=$(key Service RestartSec) && [ "$rsec" -ge 1 ] && [ "$rsec" -le 10 ] ||
	fail "RestartSec=$rsec: a crash should come back within seconds"
tstart=$(key Service TimeoutStartSec) && [ "$tstart" -ge 1 ] ||
	fail "TimeoutStartSec= not set in [Service]: $tstart"
interval=$(key Unit StartLimitIntervalSec) ||
	fail "StartLimitIntervalSec= not set in [Unit]"
burst=$(key Unit StartLimitBurst) || fail "StartLimitBurst= not set in [Unit]"
[ "$burst" -ge 3 ] || fail "StartLimitBurst=$burst: a crash now and then must come back"
[ $((burst * (tstart + rsec))) -lt "$interval" ] ||
	fail "$burst starts of up to ${tstart} s, ${rsec} s apart, do not fit in StartLimitIntervalSec=$interval s: one failing slowly restarts forever"
prevent=$(key Service RestartPreventExitStatus) &&
	grep -qw 2 <<<"$prevent" ||
	fail "RestartPreventExitStatus=$prevent: a usage error (exit 2) restarts"

# ---- the instance: the unit as systemd loads it (its debug dump, with
# %i and %f put in) for mount points whose names escape to \x2d ('-'
# stands for '/') and \x20: the mount point is the path itself, the
# table and the options file are named after the escaped instance (one
# file in /var/lib/uvfs; %I, unescaped, would be srv/a-b), and /srv/a-b
# and /srv/a/b (srv-a\x2db, srv-a-b) have tables of their own
loaded() { # MOUNTPOINT -> words of each command, "== KIND" before each
	local inst
	inst=$(systemd-escape --path "$1") || return 1
	cp "$test_unit" "$tmp/uvfsd@$inst.service"
	(cd "$tmp" && MANPATH=$src/man SYSTEMD_LOG_LEVEL=debug \
		systemd-analyze verify "$tmp/uvfsd@$inst.service" 2>&1) |
	python3 -c '
import sys
def words(s):   # as systemd quotes them: "..." with \\ \" \$ \` inside
    out, w, q, i = [], None, False, 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            i += 1
            c = s[i]
        elif c == "\"":
            q = not q
            w = w or ""
            i += 1
            continue
        elif c.isspace() and not q:
            if w is not None:
                out.append(w)
            w = None
            i += 1
            continue
        w = (w or "") + c
        i += 1
    if w is not None:
        out.append(w)
    return out
kind = None
for line in sys.stdin:
    t = line.strip()
    if t.startswith("-> Exec"):
        kind = t[3:].rstrip(":")
    elif t.startswith("Command Line: ") and kind:
        print("==", kind)
        for w in words(t[len("Command Line: "):]):
            print(w)
    elif t.startswith("EnvironmentFile: "):
        print("== EnvironmentFile")
        print(t[len("EnvironmentFile: "):])
'
	rm -f "$tmp/uvfsd@$inst.service"
}
command -v systemd-escape >/dev/null || fail "systemd-escape is not installed"
mtabs=
for mp in "/srv/a-b c" /srv/a-b /srv/a/b; do
	inst=$(systemd-escape --path "$mp")
	out=$(loaded "$mp")
	grep -q "^== ExecStart$" <<<"$out" ||
		fail "no command lines in systemd-analyze's dump of uvfsd@$inst.service"
	start=$(sed -n '/^== ExecStart$/,/^==/p' <<<"$out" | grep -v '^==')
	want=$(printf '%s\n' -f "$mp" --mtab "/var/lib/uvfs/$inst.mtab" '$UVFSD_OPTS')
	[ "$(tail -n +2 <<<"$start")" = "$want" ] ||
		fail "$mp (uvfsd@$inst): ExecStart runs $(tr '\n' ' ' <<<"$start")"
	grep -qxF -- "$mp" <<<"$(sed -n '/^== ExecStartPre$/,/^==/p' <<<"$out")" ||
		fail "$mp (uvfsd@$inst): ExecStartPre= not on $mp: $out"
	grep -qxF -- "-/etc/default/uvfsd-$inst" <<<"$out" ||
		fail "$mp (uvfsd@$inst): EnvironmentFile= not uvfsd-$inst: $out"
	echo "uvfsd@$inst: -f '$mp' --mtab '/var/lib/uvfs/$inst.mtab'"
	mtabs+="/var/lib/uvfs/$inst.mtab"$'\n'
done
[ "$(sort -u <<<"$mtabs" | grep -c .)" = 3 ] ||
	fail "mount points share a mount table: $mtabs"

# the installed one differs only in where uvfsd is
diff <(sed 's|^ExecStart=[^ ]*/uvfsd |ExecStart=UVFSD |' "$test_unit") \
     <(sed 's|^ExecStart=[^ ]*/uvfsd |ExecStart=UVFSD |' "$inst_unit") ||
	fail "the installed unit differs from the verified one"
echo PASS
