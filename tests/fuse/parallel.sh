#!/usr/bin/env bash
# Parallel directory operations: the kernel must not serialise lookups of
# one directory behind a lookup that waits (FUSE_PARALLEL_DIROPS, which
# uvfsd adds to libfuse's INIT reply), and uvfsd must be safe with many
# lookups, readdirs, creates and unlinks in one directory at once (run
# under ThreadSanitizer too, in the "concurrency" suite).
. "$(dirname "$0")/lib.sh"

start_daemon
D=$MNT/d
mkdir "$D" "$D/m"
expect 0 "$UVFS" mount -t memfs none "$D/m"

note "a lookup in a directory while another one waits on a suspended mount"
expect 0 "$UVFS" suspend "$D/m"
(stat "$D/m" >/dev/null 2>&1; echo done >"$WORK/m.out") &
BG_PIDS+=($!)
sleep 0.3
[ -s "$WORK/m.out" ] && fail "the lookup into the suspended mount did not wait"
(stat "$D/other" >/dev/null 2>&1; echo "rc=$?" >"$WORK/other.out") &
OTHER=$!
BG_PIDS+=($OTHER)
t0=$(ms_now)
for _ in $(seq 60); do [ -s "$WORK/other.out" ] && break; sleep 0.05; done
t1=$(ms_now)
# resume before judging: a serialised lookup would hang until then
expect 0 "$UVFS" resume "$D/m"
for _ in $(seq 100); do [ -s "$WORK/m.out" ] && break; sleep 0.05; done
[ -s "$WORK/m.out" ] || fail "the lookup into the resumed mount still waits"
[ -s "$WORK/other.out" ] && [ $((t1 - t0)) -lt 3000 ] ||
	fail "a lookup of another name waited behind the suspended one (FUSE_PARALLEL_DIROPS not in effect)"
grep -q "rc=1" "$WORK/other.out" || fail "stat of a missing name: $(cat "$WORK/other.out")"
note "the other lookup answered in $((t1 - t0)) ms"
# (forced: the kernel may still be giving back the stat's nodes on a
# loaded machine; the unmount is not what is tested here)
expect 0 "$UVFS" umount -f "$D/m"

# A listing of the directory holding the mount point must not enter the
# mounted file system, as on Linux (ls of /mnt with a frozen or hung file
# system below).  The kernel lists with READDIRPLUS, whose entries come
# with their attributes; uvfsd's lookup of the mount point's name went
# into the suspended mount for them and waited there: ls hung, killable
# by nothing, until the resume.
note "ls of the directory that holds a suspended mount answers"
expect 0 "$UVFS" mount -t memfs none "$D/m"
: >"$D/sibling"
expect 0 "$UVFS" suspend "$D/m"
expect_within 5 0 ls "$D"
[ "$OUT" = "$(printf 'm\nsibling')" ] || fail "ls $D: $OUT"
expect_within 5 0 ls -l "$D/sibling"
expect 0 "$UVFS" resume "$D/m"
expect_within 5 0 ls -ld "$D/m"
expect 0 "$UVFS" umount -f "$D/m"
rm "$D/sibling"

note "lookups, readdirs, creates and unlinks in one directory at once"
P=$D/p
mkdir "$P"
for i in $(seq 200); do : >"$P/f$i"; done
end=$(($(date +%s) + 4))
worker() { # KIND
	local n=0
	while [ "$(date +%s)" -lt "$end" ]; do
		case $1 in
		stat) stat "$P/f$((RANDOM % 200 + 1))" "$P/none$RANDOM" >/dev/null 2>&1 ;;
		ls) ls -f "$P" >/dev/null || { echo "ls failed"; return 1; } ;;
		# readdirplus; a name unlinked meanwhile may be missing, as on
		# any file system, nothing else
		lsl) if ls -l "$P" 2>&1 >/dev/null |
			grep -v "No such file or directory" | grep .; then
			echo "ls -l failed"; return 1
		fi ;;
		churn) : >"$P/c$((RANDOM % 50))"; rm -f "$P/c$((RANDOM % 50))" ;;
		esac
		n=$((n + 1))
	done
	echo "$1 $n"
}
pids=()
for k in stat stat stat ls lsl churn churn; do
	worker "$k" >>"$WORK/workers.out" 2>&1 &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a worker failed: $(cat "$WORK/workers.out")"; done
cat "$WORK/workers.out"
grep -q failed "$WORK/workers.out" && fail "$(cat "$WORK/workers.out")"
[ "$(ls "$P" | grep -c '^f')" = 200 ] || fail "files lost: $(ls "$P" | grep -c '^f')"
alive
stop_daemon
echo PASS
