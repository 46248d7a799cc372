#!/usr/bin/env bash
# Naming a mount by its id (uvfs umount, suspend, resume, holders --id N).
# A suspended mount covered by a later mount on the same path, which no
# path names any more (its open files waited at its gate for as long as
# uvfsd ran): resumed by its id (a process waiting on one of its open
# files carries on), listed, suspended again and force-unmounted by its
# id (the process gets EIO).  A stale id names nothing, never a later
# mount; bad ids are usage errors.
. "$(dirname "$0")/lib.sh"

start_daemon
cd "$WORK"
M=$MNT/m
mkdir "$M"
echo covered >"$M/marker"

# id_at NSPATH: the id of the newest mount listed at that namespace path
id_at() {
	"$UVFS" -m "$MNT" mounts --raw -n -o ID,PATH |
		awk -v p="$1" '$2 == p && $1 > id { id = $1 } END { print id }'
}

# still_waits NAME: the holder NAME's request still waits 0.5 s
# after it was sent (no reply yet)
still_waits() {
	local fd line
	eval "fd=\$H_OUT_$1"
	if read -r -t 0.5 -u "$fd" line; then
		fail "the holder's request did not wait on the suspended mount: $line"
	fi
}

note "A suspended, B mounted over it: the path names B"
expect 0 "$UVFS" mount -t memfs none "$M"
echo a >"$M/f"
A=$(id_at /m)
[ -n "$A" ] || fail "no id listed for /m"
holder_start h "$M/f"
expect 0 "$UVFS" suspend "$M"
expect_within 5 0 "$UVFS" mount -t memfs none "$M"
B=$(id_at /m)
echo "A id $A, B id $B"
[ "$B" -gt "$A" ] || fail "B's id $B is not above A's $A"
expect_msg 1 "not suspended" "$UVFS" resume "$M"

note "resumed by its id: the waiting process carries on"
eval "echo fsync >&\$H_IN_h"
still_waits h
expect_within 5 0 "$UVFS" -m "$MNT" resume --id "$A"
holder_read h REPLY_LINE
[ "$REPLY_LINE" = synced ] || fail "the waiting fsync: $REPLY_LINE"
expect_msg 1 "not suspended" "$UVFS" -m "$MNT" resume --id="$A"

note "its holders and a busy unmount, by its id"
expect 0 "$UVFS" -m "$MNT" holders --id "$A"
echo "$OUT"
grep -q "pid $(holder_pid h) (python3)" <<<"$OUT" || fail "holders --id $A: $OUT"
expect 0 "$UVFS" -m "$MNT" holders --id "$A" --json
python3 -c 'import json,sys; json.loads(sys.stdin.read())' <<<"$OUT" ||
	fail "holders --json: $OUT"
expect_msg 1 "target is busy" "$UVFS" -m "$MNT" umount --id "$A"

note "suspended again by its id; a forced unmount by its id ends the wait"
expect_within 5 0 "$UVFS" -m "$MNT" suspend --id "$A"
expect_msg 1 "already suspended" "$UVFS" -m "$MNT" suspend --id "$A"
eval "echo fsync >&\$H_IN_h"
still_waits h
expect_within 5 0 "$UVFS" -m "$MNT" umount -f --id "$A"
holder_read h REPLY_LINE
[ "$REPLY_LINE" = "error EIO" ] || fail "the waiting fsync after the forced unmount: $REPLY_LINE"
holder_cmd h close
[ "$REPLY_LINE" = closed ] || fail "close: $REPLY_LINE"
expect 0 "$UVFS" -m "$MNT" mounts --raw -n -o ID,PATH
case $OUT in *" /m"*) fail "A or B still listed: $OUT" ;; esac
[ "$(cat "$M/marker")" = covered ] || fail "$M does not show what it covered"

note "a stale id names nothing, never a later mount"
expect 0 "$UVFS" mount -t memfs none "$M"
C=$(id_at /m)
[ "$C" -gt "$B" ] || fail "C's id $C is not above B's $B"
expect_msg 1 "no mount has this id" "$UVFS" -m "$MNT" umount -f --id "$A"
expect_msg 1 "no mount has this id" "$UVFS" -m "$MNT" resume --id "$B"
expect_msg 1 "no mount has this id" "$UVFS" -m "$MNT" holders --id "$A"
[ "$(id_at /m)" = "$C" ] || fail "C is gone"
expect_msg 2 "--id takes a mount id" "$UVFS" -m "$MNT" umount --id 0
expect_msg 2 "--id takes a mount id" "$UVFS" -m "$MNT" suspend --id x1
expect_msg 2 "usage" "$UVFS" -m "$MNT" umount --id "$C" "$M"
expect 0 "$UVFS" -m "$MNT" umount --id "$C"
[ -z "$(id_at /m)" ] || fail "C still listed"
alive
echo PASS
