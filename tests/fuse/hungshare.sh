#!/usr/bin/env bash
# A file server that stops answering holds at most its mount's share of
# uvfsd's workers (fuse/loop.c): uvfsd with 8 workers, 2 a mount
# (max_threads=8, mount_threads=2), a hostfs mount with a long deadline
# and its server SIGSTOPped, 12 processes (another user's) stat names on
# it and wait; meanwhile
#  - the rest of the namespace answers at once (a stat, a read and a
#    create on memfs: within 2 s; before, they waited for the server, as
#    every worker did);
#  - a stat queued behind the mount's share ends at its signal (SIGTERM:
#    the kernel's INTERRUPT is answered EINTR, the request never ran);
#    one being served waits for the server, as before;
#  - uvfs holders names the two served requests, uvfs stats counts the
#    ten queued (fuse_queued).
# After SIGCONT every stat ends; then the same with the server stopped
# again and uvfsd stopped while requests are queued: it exits cleanly.
. "$(dirname "$0")/lib.sh"

need_hostfs
need_nobody

start_daemon -o max_threads=8,mount_threads=2
cd "$WORK"
EXPORT=$WORK/export
mkdir -p "$EXPORT"
chmod 0755 "$EXPORT"
H=$MNT/h
mkdir "$H"
echo memfs >"$MNT/file"
expect 0 "$UVFS" mount -t hostfs -o "server=$HOSTFS,timeout=60000" "$EXPORT" "$H"
ls "$H" >/dev/null || fail "ls through the mount"
P=$("$UVFS" -m "$MNT" servers --json |
	python3 -c 'import json,sys; s=json.load(sys.stdin)["servers"]; print(s[0]["pid"] if s else 0)')
[ "$P" -gt 0 ] || fail "no server pid"
STOPPED=$P
cont() { [ -n "${STOPPED:-}" ] && kill -CONT "$STOPPED" 2>/dev/null; STOPPED=; }
trap 'rc=$?; cont; (exit $rc); cleanup' EXIT

note "the server stopped, 12 stats of another user wait on it"
kill -STOP "$P"
wait_stopped "$P"
STAT=$(command -v stat)
for i in $(seq 12); do
	as_nobody "$STAT" "$H/cold$i" >"$WORK/stat$i.out" 2>&1 &
	BG_PIDS+=($!)
done
sleep 1

note "the rest of the namespace answers at once"
t0=$(ms_now)
expect_within 10 0 cat "$MNT/file"
expect_within 10 0 stat "$MNT/file"
expect_within 10 0 touch "$MNT/new"
t=$(( $(ms_now) - t0 ))
[ "$t" -lt "$(bound_ms 2000)" ] ||
	fail "memfs calls took $t ms while a file server hung"

note "two requests served, the others queued"
"$UVFS" holders "$H" --json >"$WORK/h.json" ||
	fail "holders: $(cat "$WORK/h.json")"
n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["requests"]))' "$WORK/h.json")
[ "$n" = 2 ] || fail "holders lists $n requests, expected the mount's share (2): $(cat "$WORK/h.json")"

"$UVFS" -m "$MNT" stats --json >"$WORK/s.json" || fail "stats: $(cat "$WORK/s.json")"
q=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["stats"]["fuse_queued"])' "$WORK/s.json")
[ "$q" = 10 ] || fail "stats says $q requests queued, expected 10: $(cat "$WORK/s.json")"

note "a queued stat ends at its signal"
as_nobody "$STAT" "$H/queued" >"$WORK/q.out" 2>&1 &
QP=$!
BG_PIDS+=($QP)
sleep 0.5
running_child "$QP" || fail "the queued stat did not wait: $(cat "$WORK/q.out")"
kill -TERM "$QP"
wait_child "$QP" 5
[ "$CHILD_STATUS" != "still running after 5 s" ] ||
	fail "a queued request did not end at its signal"

note "SIGCONT: every stat ends"
cont
for i in $(seq 12); do
	wait_child "${BG_PIDS[$((i - 1))]}" 20
	[ "$CHILD_STATUS" = "exit 1" ] ||
		fail "stat $i: $CHILD_STATUS: $(cat "$WORK/stat$i.out")"
	grep -q "No such file" "$WORK/stat$i.out" ||
		fail "stat $i: $(cat "$WORK/stat$i.out")"
done

note "uvfsd stops while requests are queued"
STOPPED=$P
kill -STOP "$P"
wait_stopped "$P"
for i in $(seq 6); do
	as_nobody "$STAT" "$H/late$i" >/dev/null 2>&1 &
	BG_PIDS+=($!)
done
sleep 0.5
kill -TERM "$DAEMON_PID"
wait_daemon
cont
echo "PASS"
