#!/usr/bin/env bash
# Many processes work in a mount (create, write, read, rename, unlink,
# readdir, stat) while it is force-unmounted and mounted again, revoked,
# suspended and resumed, lazily unmounted: the daemon must keep serving,
# its lookup-count bookkeeping must hold (the diagnostic build aborts on a
# FORGET of more than was looked up), and it must shut down clean.
. "$(dirname "$0")/lib.sh"

SECONDS_TO_RUN=${UVFS_FUSE_STRESS_SECONDS:-8}
start_daemon
cd "$WORK"
M=$MNT/m
mkdir "$M"

worker() { # N
	local n=$1 i=0
	while [ ! -e "$WORK/stop" ]; do
		i=$((i + 1))
		{
		mkdir -p "$M/w$n/d$((i % 5))"
		echo "data $n $i" >"$M/w$n/d$((i % 5))/f$i"
		cat "$M/w$n/d$((i % 5))/f$i"
		mv "$M/w$n/d$((i % 5))/f$i" "$M/w$n/g$i"
		ls -la "$M/w$n" "$M"
		stat "$M/w$n/g$i"
		ln -s "g$i" "$M/w$n/s$i"
		readlink "$M/w$n/s$i"
		rm -f "$M/w$n/g$i" "$M/w$n/s$i"
		find "$M/w$n"
		(cd "$M/w$n" && pwd -P)
		} >/dev/null 2>&1
	done
}

for n in 1 2 3 4 5 6; do
	worker "$n" &
	BG_PIDS+=($!)
done

end=$((SECONDS + SECONDS_TO_RUN))
rounds=0
while [ $SECONDS -lt $end ]; do
	rounds=$((rounds + 1))
	"$UVFS" mount -t memfs none "$M" || fail "mount in round $rounds"
	sleep 0.2
	"$UVFS" revoke "$M/w1" >/dev/null 2>&1
	"$UVFS" suspend "$M" || fail "suspend in round $rounds"
	sleep 0.05
	"$UVFS" resume "$M" || fail "resume in round $rounds"
	sleep 0.2
	"$UVFS" holders "$M" >/dev/null || fail "holders in round $rounds"
	case $((rounds % 3)) in
	0) "$UVFS" umount -l "$M" || fail "umount -l in round $rounds" ;;
	*) "$UVFS" umount -f "$M" || fail "umount -f in round $rounds" ;;
	esac
	alive
done
touch "$WORK/stop"
for p in "${BG_PIDS[@]}"; do wait "$p"; done
BG_PIDS=()
echo "$rounds rounds"
"$UVFS" -m "$MNT" stats
stop_daemon
echo PASS
