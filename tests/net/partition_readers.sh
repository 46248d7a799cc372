#!/usr/bin/env bash
# A partition with readers (liveness, fail-fast, heal).  A 9p mount of
# uvfs-hostfs across a veth pair with a deadline of DEADLINE ms; a file
# held open by a process; readers stat names in a loop.  Cut the link:
#   - `uvfs servers --json` leaves "running" (unreachable / reconnecting)
#     within the deadline (+ SLACK_MS);
#   - while it is not running, a new call fails at once (< FAST_MS), not
#     after a deadline (the default is fail-fast; -o hard would wait);
#   - no caller is left in D state past deadline + 1 s.
# Heal it:
#   - the mount answers again within 1 s (+ SLACK_MS) of the heal;
#   - the held descriptor reads on, the right bytes;
#   - the server is "running" again, and the counters say what happened
#     (losses >= 1).
. "$(dirname "$0")/lib.sh"

DEADLINE=${UVFS_NET_DEADLINE:-3000}
SLACK_MS=${UVFS_NET_SLACK_MS:-500}
FAST_MS=500

net_setup
start_daemon
EXPORT=$WORK/export
mkdir "$EXPORT"
for k in 1 2 3; do printf 'held-%d-data' "$k" >"$EXPORT/h$k"; done
echo hello >"$EXPORT/f"
net_start_hostfs "$EXPORT"
R=$MNT/r
mkdir "$R"
expect 0 "$UVFS" mount -t 9p -o "timeout=$DEADLINE" "$NET_SOURCE" "$R"
[ "$(server_field state "$R")" = running ] ||
	fail "before the cut: state $(server_field state "$R")"
holder_start h1 "$R/h1"
holder_cmd h1 read
[ "$REPLY_LINE" = "data held-1-data" ] || fail "h1 before the cut: $REPLY_LINE"

# readers: stat new names in a loop, each call timed
readers=()
for k in 1 2 3; do
	python3 - "$R" "$k" >"$WORK/reader$k.out" 2>&1 <<'PY' &
import os, sys, time
d, k = sys.argv[1], sys.argv[2]
i = 0
while True:
    t = time.monotonic()
    try:
        os.stat(os.path.join(d, "r%s-%d" % (k, i)))
        r = "ok"
    except OSError as e:
        r = e.strerror
    print("%.3f %d %s" % (time.monotonic(), int((time.monotonic() - t) * 1000), r), flush=True)
    i += 1
    time.sleep(0.02)
PY
	readers+=($!)
	BG_PIDS+=($!)
done
sleep 0.3

note "cut the link"
net_cut
t_cut=$(ms_now)
state=running
while :; do
	state=$(server_field state "$R")
	[ "$state" != running ] && [ -n "$state" ] && break
	[ $(($(ms_now) - t_cut)) -gt $((DEADLINE + SLACK_MS)) ] && break
	sleep 0.05
done
t_seen=$(ms_now)
note "state '$state' $((t_seen - t_cut)) ms after the cut"
case $state in
unreachable|reconnecting) ;;
*) fail "$((t_seen - t_cut)) ms after the cut (deadline $DEADLINE ms) the server is still '$state'" ;;
esac

note "calls fail fast while unreachable"
for k in 1 2 3; do
	t0=$(ms_now)
	stat "$R/fast$k" >/dev/null 2>&1 && fail "a stat over the cut link succeeded"
	dt=$(($(ms_now) - t0))
	[ $dt -lt $FAST_MS ] ||
		fail "a stat while unreachable took $dt ms (fail-fast: < $FAST_MS)"
done
holder_cmd h1 read
case $REPLY_LINE in
error*) ;;
data*) note "h1 read during the cut: from the cache ($REPLY_LINE)" ;;
*) fail "h1 during the cut: $REPLY_LINE" ;;
esac

# nobody stays in D state beyond deadline + 1 s
sleep $(( (DEADLINE + 1000) / 1000 )).$(( (DEADLINE + 1000) % 1000 / 100 ))
d=$(dstate_pids "${readers[@]}" "$(holder_pid h1)")
[ -z "$d" ] || fail "in D state $((DEADLINE + 1000)) ms into the cut: $d"

note "heal the link"
net_heal
t_heal=$(ms_now)
back=
while [ $(($(ms_now) - t_heal)) -lt 10000 ]; do
	if [ "$(cat "$R/f" 2>/dev/null)" = hello ]; then
		back=$(($(ms_now) - t_heal))
		break
	fi
	sleep 0.02
done
[ -n "$back" ] || fail "the mount is not back 10 s after the heal"
note "back $back ms after the heal"
[ "$back" -le $((1000 + SLACK_MS)) ] ||
	fail "the mount came back $back ms after the heal (want within 1 s)"
holder_cmd h1 read
[ "$REPLY_LINE" = "data held-1-data" ] ||
	fail "the held file after the heal: $REPLY_LINE"
for k in 2 3; do
	[ "$(cat "$R/h$k")" = "held-$k-data" ] || fail "h$k after the heal"
done
for _ in $(seq 50); do
	[ "$(server_field state "$R")" = running ] && break
	sleep 0.05
done
[ "$(server_field state "$R")" = running ] ||
	fail "after the heal: state $(server_field state "$R")"
losses=$(server_field losses "$R")
[ "${losses:-0}" -ge 1 ] || fail "servers --json counts no loss: $(net_servers_json)"
expect 0 "$UVFS" -m "$MNT" servers
echo "$OUT"
for p in "${readers[@]}"; do kill "$p" 2>/dev/null; done
holder_cmd h1 close
expect 0 "$UVFS" umount "$R"
alive
stop_daemon
echo PASS
