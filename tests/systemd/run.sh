#!/usr/bin/env bash
# run.sh UNIT UVFS - the unit's commands do what systemd would make of
# them, without systemd: the ExecStartPre= and ExecStart= lines of UNIT
# (this build's uvfsd@.service.test), with %i, %f and $UVFSD_OPTS put in
# as systemd does, run for an instance on a temporary mount point, in a
# mount namespace of the test's own (a tmpfs on /run/uvfs and on
# /var/lib/uvfs: nothing outside sees them):
#   - start: READY=1 on NOTIFY_SOCKET from the main process, the mount is
#     there with its default in-memory root, uvfs reaches it, options of
#     UVFSD_OPTS (EnvironmentFile=) reach uvfsd;
#   - stop (SIGTERM, KillMode=mixed): exit 0 within TimeoutStopSec=, the
#     FUSE mount gone, no process of it left (uvfsd, the uvfs-hostfs it
#     spawned), the inner mounts (memfs, hostfs) kept in
#     /var/lib/uvfs/INSTANCE.mtab and back at the next start;
#   - a crash (SIGKILL; Restart=on-failure): the next start's ExecStartPre
#     clears the dead mount, and it starts again with the inner mount back;
#   - restarts: a crash would be restarted, a clean stop (exit 0) and a
#     usage error (a bad UVFSD_OPTS: exit 2, RestartPreventExitStatus=)
#     would not (the start limits are verify.sh's).
# NoNewPrivileges=yes is applied (setpriv --no-new-privs); the seccomp
# filters of the unit are not (systemd-analyze verify checks them).
# Exit 0 pass, 1 fail, 77 skip (not root, no /dev/fuse, no unshare).
set -u
unit=$(realpath "${1:?usage: run.sh UNIT UVFS}")
uvfs=$(realpath "${2:?}")
if [ -z "${UVFS_UNIT_NS:-}" ]; then
	[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
	[ -c /dev/fuse ] || { echo "SKIP: no /dev/fuse"; exit 77; }
	command -v unshare >/dev/null ||
		{ echo "SKIP: unshare (util-linux) is not installed"; exit 77; }
	command -v systemd-escape >/dev/null ||
		{ echo "SKIP: systemd-escape is not installed"; exit 77; }
	UVFS_UNIT_NS=1 exec unshare -m --propagation private bash "$0" "$@"
fi

tmp=$(mktemp -d /tmp/uvfs-unit-run.XXXXXX) || exit 1
main=
cleanup() {
	[ -n "$main" ] && kill -9 "$main" 2>/dev/null
	[ -n "$tmp" ] && umount -l "$tmp/mnt" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

# the namespace's own state and socket directories (StateDirectory=uvfs):
# a tmpfs on each, or on its parent when it is not there (nothing made
# outside the namespace)
for d in /run/uvfs:0700 /var/lib/uvfs:0755; do
	mode=${d#*:} d=${d%:*}
	if [ -d "$d" ]; then
		mount -t tmpfs -o mode=$mode tmpfs "$d" || fail "tmpfs on $d"
	else
		mount -t tmpfs -o mode=0755 tmpfs "$(dirname "$d")" &&
			mkdir -m "$mode" "$d" || fail "tmpfs for $d"
	fi
done

mnt=$tmp/mnt                    # made by ExecStartPre's mkdir -p
inst=$(systemd-escape --path "$mnt")
[ "$(systemd-escape --unescape --path "$inst")" = "$mnt" ] ||
	fail "systemd-escape does not round-trip $mnt"

key() { sed -n "s/^$1=//p" "$unit"; }
[ "$(key Restart)" = on-failure ] || fail "Restart=$(key Restart)"
# would_restart STATUS: would systemd start it again after its main
# process ended so (a number: an exit status; SIGKILL, ...: a signal)?
# Restart=on-failure: after a signal or a non-zero exit, unless the
# status is one of RestartPreventExitStatus=.
would_restart() {
	local prevent
	prevent=" $(key RestartPreventExitStatus) "
	case $prevent in *" $1 "*) return 1 ;; esac
	[ "$1" != 0 ]
}
[ "$(key KillMode)" = mixed ] || fail "KillMode=$(key KillMode)"
stop_s=$(key TimeoutStopSec)
[ -n "$stop_s" ] || fail "no TimeoutStopSec="
# a command line as systemd runs it: %i (the instance, escaped: \x2d
# stays), %f, %% put in after the line is split into words, each one word;
# $VAR (a word of its own) split on whitespace; a leading "-": its
# failure is ignored
expand() {
	local l=$1 qi qf
	printf -v qi %q "$inst"
	printf -v qf %q "$mnt"
	l=${l//%i/"$qi"}
	l=${l//%f/"$qf"}
	l=${l//%%/%}
	printf '%s' "$l"
}
run_pre() {
	local l ignore
	while IFS= read -r l; do
		ignore=
		case $l in -*) ignore=1; l=${l#-} ;; esac
		eval "$(expand "$l")"
		rc=$?
		[ $rc = 0 ] || [ -n "$ignore" ] || fail "ExecStartPre=$l: exit $rc"
	done < <(key ExecStartPre)
}
mounted() { awk -v m="$mnt" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo; }

# start: the pre commands, then the main process with NOTIFY_SOCKET; wait
# for READY=1 from it (NotifyAccess=main)
start() {
	run_pre
	rm -f "$tmp/notify.sock" "$tmp/notify.out"
	python3 - "$tmp/notify.sock" >"$tmp/notify.out" <<-'PY' &
	import socket, sys
	s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
	s.bind(sys.argv[1])
	s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
	s.settimeout(30)
	while True:
	    msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
	    pid = int.from_bytes(anc[0][2][:4], "little") if anc else 0
	    print(pid, msg.decode().replace("\n", " "), flush=True)
	    if "READY=1" in msg.decode():
	        break
	PY
	local listener=$!
	for _ in $(seq 50); do [ -S "$tmp/notify.sock" ] && break; sleep 0.1; done
	# shellcheck disable=SC2034
	UVFSD_OPTS=$opts
	local nnp=
	[ "$(key NoNewPrivileges)" = yes ] && nnp="setpriv --no-new-privs"
	eval "NOTIFY_SOCKET=$tmp/notify.sock exec $nnp $(expand "$(key ExecStart)")" \
		>>"$tmp/uvfsd.log" 2>&1 &
	main=$!
	wait "$listener" || fail "no READY=1: $(cat "$tmp/notify.out" "$tmp/uvfsd.log")"
	grep -q "^$main .*READY=1" "$tmp/notify.out" ||
		fail "READY=1 not from the main process $main: $(cat "$tmp/notify.out")"
	mounted || fail "READY=1 but $mnt is not mounted"
}

echo "== a usage error (a bad UVFSD_OPTS): exit 2, not restarted"
run_pre
UVFSD_OPTS="--no-such-option"
eval "$(expand "$(key ExecStart)")" >"$tmp/usage.log" 2>&1
rc=$?
[ $rc = 2 ] || fail "uvfsd exited $rc for a bad option, not 2: $(cat "$tmp/usage.log")"
would_restart $rc && fail "a usage error would be restarted, at every start the same"
mounted && fail "mounted after a usage error"

echo "== start"
opts="-o allow_other"          # as /etc/default/uvfsd-INSTANCE would give
start
fstype=$(awk -v m="$mnt" '$5 == m { for (i = 7; i <= NF; i++) if ($i == "-") { print $(i + 1); exit } }' /proc/self/mountinfo)
[ "$fstype" = fuse.uvfsd ] || fail "mounted as '$fstype', not fuse.uvfsd"
grep -q "^[^ ]* [^ ]* [^ ]* [^ ]* $mnt .*allow_other" /proc/self/mountinfo ||
	fail "UVFSD_OPTS (-o allow_other) did not reach the mount"
"$uvfs" -m "$mnt" mounts -n -o fstype --raw >"$tmp/out" 2>&1 ||
	fail "uvfs -m $mnt mounts: $(cat "$tmp/out")"
[ "$(head -1 "$tmp/out")" = memfs ] || fail "the root is not memfs: $(cat "$tmp/out")"
mkdir "$mnt/inner" && "$uvfs" mount -t memfs -o size=1m kept "$mnt/inner" ||
	fail "uvfs mount"
echo data >"$mnt/inner/file" || fail "write to the inner mount"
# a file server it spawns (hostfs), which the stop must end too
mkdir "$tmp/export" "$mnt/h" && echo host >"$tmp/export/file" &&
	"$uvfs" mount -t hostfs -o timeout=5000 "$tmp/export" "$mnt/h" ||
	fail "uvfs mount -t hostfs"
[ "$(cat "$mnt/h/file")" = host ] || fail "the hostfs mount does not serve"
pgrep -f "uvfs-hostfs $tmp/export\$" >/dev/null ||
	fail "no uvfs-hostfs for $tmp/export running"
# uvfsd writes its table up to a second after a mount (its watcher's
# period; a stop within it loses the mount from the table)
in_table() {
	grep -q '^kept /inner memfs size=1m$' "/var/lib/uvfs/$inst.mtab" &&
		grep -q " /h hostfs " "/var/lib/uvfs/$inst.mtab"
}
for _ in $(seq 50); do in_table && break; sleep 0.1; done
in_table || fail "not in the mount table: $(cat "/var/lib/uvfs/$inst.mtab" 2>&1)"

echo "== stop (SIGTERM)"
kill -TERM "$main"
end=$((SECONDS + stop_s))
while kill -0 "$main" 2>/dev/null && [ $SECONDS -lt $end ]; do sleep 0.1; done
kill -0 "$main" 2>/dev/null && fail "uvfsd still runs ${stop_s} s after SIGTERM"
wait "$main"
rc=$?
main=
[ $rc = 0 ] || fail "uvfsd exited $rc after SIGTERM: $(cat "$tmp/uvfsd.log")"
would_restart $rc && fail "a clean stop would be restarted"
mounted && fail "$mnt still mounted after the stop"
pgrep -f "uvfsd -f $mnt( |$)" >/dev/null && fail "a uvfsd of $mnt is left"
# (systemd's KillMode=mixed would SIGKILL what is left: nothing should be)
pgrep -f "uvfs-hostfs $tmp/export\$" >/dev/null &&
	fail "uvfs-hostfs left running after the stop"
in_table || fail "mount table after the stop: $(cat "/var/lib/uvfs/$inst.mtab" 2>&1)"

echo "== start again: the inner mounts are back"
opts=
start
"$uvfs" mountpoint "$mnt/inner" >/dev/null || fail "$mnt/inner not mounted again"
[ "$(cat "$mnt/h/file")" = host ] || fail "the hostfs mount is not back"

echo "== a crash (SIGKILL), and the restart"
would_restart SIGKILL || fail "a crash would not be restarted"
kill -KILL "$main"
wait "$main" 2>/dev/null
main=
mounted || fail "no dead mount left by the crash (the test needs one)"
stat "$mnt" >/dev/null 2>&1 && fail "the crash's mount still answers"
start
stat "$mnt" >/dev/null || fail "$mnt does not answer after the restart"
"$uvfs" mountpoint "$mnt/inner" >/dev/null || fail "$mnt/inner not back"
kill -TERM "$main"
wait "$main" || fail "uvfsd exited $? after SIGTERM"
main=
mounted && fail "$mnt still mounted"
echo PASS
