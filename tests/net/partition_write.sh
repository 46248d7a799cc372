#!/usr/bin/env bash
# "Failed" means "did not happen" (fencing), and write-back's contract
# (docs/9p-client.md, "Bulk I/O"; docs/nfs.md, "Writes behind and
# COMMIT": writes go behind by default, as on Linux's v9fs and NFS).  A
# mount of a server on the other side of a veth pair (UVFS_NET_SERVER:
# uvfs-hostfs by default, diod, or nfs: nfs-ganesha, tests/net/lib.sh);
# each cycle:
#   mount; open an empty file through FUSE; cut the link; pwrite 25 bytes
#   (every third cycle 1 MiB: more than a cut link's socket takes, so
#   the write blocks); every second cycle an fsync after it (it waits on
#   the cut link); wait until the request is queued in the client's
#   socket (its Send-Q shows it) and the caller waits in FUSE; `uvfs
#   umount -f`; the writer must be told: either the write itself failed,
#   or it was accepted (written behind) and then its fsync, or else its
#   close, fails (the error is never lost silently); a write still
#   blocked when the unmount came fails (or returns the bytes sent before
#   it blocked, never all of them: they were not sent); a write after the
#   forced unmount fails at once; no socket towards the server may be
#   left holding queued bytes (an abortive close leaves none; a graceful
#   one keeps retransmitting); heal the link.
# With NET_OPTS=wbwindow=0 (9p) every write waits, and the write itself
# fails; UVFS_NET_OPTS adds mount options (nfs: `hard`, whose callers
# wait for the server with no deadline: the forced unmount must release
# them all the same).
# After UVFS_NET_CYCLES (100) cycles, with the link up for longer than
# TCP's retransmission backoff of the cycles, every file on the server
# must still be empty, and the server must still run (diod used to die of
# SIGPIPE on the reset connection).
# NFS: a write goes as UNSTABLE WRITEs behind, and fsync and close wait
# for them and a COMMIT.  The promise checked is the same: the WRITEs go
# after the cut, none is answered, and none may land.  (A WRITE answered
# before a cut is applied on the server even when the COMMIT after it
# then fails: NFS's close and fsync errors say "not known to be on
# stable storage", not "not written".  No cycle writes before its cut.)
. "$(dirname "$0")/lib.sh"

CYCLES=${UVFS_NET_CYCLES:-100}
BIG=$((1 << 20))
SERVER=${UVFS_NET_SERVER:-hostfs}
command -v ss >/dev/null || skip "no ss (apt-get install iproute2)"

net_setup
start_daemon
EXPORT=$WORK/export
mkdir "$EXPORT"
chmod 0777 "$EXPORT"
net_start "$SERVER" "$EXPORT"
note "server: $SERVER at $NET_SOURCE"
W=$MNT/w
mkdir "$W"
OPTS=timeout=2000${NET_OPTS:+,$NET_OPTS}${UVFS_NET_OPTS:+,$UVFS_NET_OPTS}

coproc WRITER { exec python3 -u "$(dirname "$0")/writer.py"; }
BG_PIDS+=("$WRITER_PID")
wcmd() { # CMD [TIMEOUT] -> $WREPLY
	echo "$1" >&"${WRITER[1]}"
	read -r -t "${2:-20}" -u "${WRITER[0]}" WREPLY ||
		fail "the writer did not answer '$1'"
}

# Bytes queued (Send-Q) in this side's sockets towards the server.
sendq() {
	ss -Htn dst "$NET_SRV_IP" 2>/dev/null |
		awk -v p=":$NET_PORT" '$5 ~ p"$" { s += $3 } END { print s + 0 }'
}

behind=0
blocked=0
synced=0
worst=0
t_start=$(ms_now)
for i in $(seq "$CYCLES"); do
	expect 0 "$UVFS" mount -t "$NET_TYPE" -o "$OPTS" "$NET_SOURCE" "$W"
	: >"$W/f$i" || fail "cycle $i: create"
	wcmd "open $W/f$i"
	[ "$WREPLY" = open ] || fail "cycle $i: open: $WREPLY"
	net_cut
	size=25
	[ $((i % 3)) = 0 ] && size=$BIG
	echo "write $size" >&"${WRITER[1]}"
	# every second cycle an fsync after the write: it waits on the cut
	# link until the forced unmount releases it
	sync=$((i % 2 == 0))
	[ $sync = 1 ] && echo fsync >&"${WRITER[1]}"
	# the write's request is out (queued in the socket) before the unmount
	for _ in $(seq 200); do
		[ "$(sendq)" -gt 0 ] && break
		sleep 0.01
	done
	q0=$(sendq)
	[ "$q0" -gt 0 ] || note "cycle $i: no request queued seen (Send-Q 0)"
	# and the fsync waits in the kernel for its FUSE request's answer
	if [ $sync = 1 ]; then
		for _ in $(seq 200); do
			[ "$(cat "/proc/$WRITER_PID/wchan" 2>/dev/null)" = request_wait_answer ] && break
			sleep 0.01
		done
		[ "$(cat "/proc/$WRITER_PID/wchan" 2>/dev/null)" = request_wait_answer ] ||
			note "cycle $i: the fsync not seen waiting (wchan $(cat "/proc/$WRITER_PID/wchan" 2>/dev/null))"
	fi
	# a write still blocked (its data not all in the socket: a large
	# one), waiting for its FUSE request, when the unmount comes: no
	# answer from the writer before and after a look at where it waits
	# (a write that returned in between has answered before its fsync)
	inwrite=0
	read -r -t 0 -u "${WRITER[0]}" ||
		[ "$(cat "/proc/$WRITER_PID/wchan" 2>/dev/null)" != request_wait_answer ] ||
		read -r -t 0 -u "${WRITER[0]}" ||
		inwrite=1
	t0=$(ms_now)
	expect 0 "$UVFS" umount -f "$W"
	t1=$(ms_now)
	read -r -t 10 -u "${WRITER[0]}" WREPLY ||
		fail "cycle $i: the writer still blocks 10 s after umount -f"
	wrote=$WREPLY
	case $inwrite/$wrote in
	*/error*) blocked=$((blocked + inwrite)) ;;
	1/"wrote $size") fail "cycle $i: a write blocked on the cut link, then umount -f: '$wrote', expected an error (or fewer bytes: those sent before it blocked)" ;;
	*/"wrote "[1-9]*)
		behind=$((behind + 1))
		blocked=$((blocked + inwrite)) ;;
	*) fail "cycle $i: the write over a cut link, then umount -f: '$wrote', expected an error or bytes accepted" ;;
	esac
	if [ $sync = 1 ]; then
		read -r -t 10 -u "${WRITER[0]}" WREPLY ||
			fail "cycle $i: the fsync still blocks 10 s after umount -f"
		case $wrote/$WREPLY in
		error*/*|*/fsync-error*) ;;
		*) fail "cycle $i: a write accepted behind, its fsync over a cut link, then umount -f: '$WREPLY', expected an error" ;;
		esac
		synced=$((synced + 1))
	fi
	left=$(sendq)
	[ "$left" = 0 ] ||
		fail "cycle $i: after umount -f a socket still holds $left bytes for the server (not closed abortively: they would be delivered at the heal)"
	# nothing written after the forced unmount is accepted
	wcmd "write 25"
	case $WREPLY in
	error*) ;;
	*) fail "cycle $i: a write after umount -f: '$WREPLY', expected an error" ;;
	esac
	wcmd close
	case $sync/$wrote in
	0/"wrote "*)
		# accepted behind, then lost: close must say so
		case $WREPLY in
		close-error*) ;;
		*) fail "cycle $i: a write accepted behind and lost to umount -f, then close: '$WREPLY', expected an error" ;;
		esac ;;
	esac
	net_heal
	[ $((t1 - t0)) -gt "$worst" ] && worst=$((t1 - t0))
	[ $((t1 - t0)) -lt 2000 ] ||
		fail "cycle $i: umount -f took $((t1 - t0)) ms"
done
t_end=$(ms_now)
note "$CYCLES cycles in $((t_end - t_start)) ms; $behind writes accepted behind (their fsync or close failed), $blocked blocked when the unmount came, $synced fsyncs failed; umount -f took $worst ms at most"
# Anything still retransmitted would land within TCP's backoff
sleep 3
for i in $(seq "$CYCLES"); do
	s=$(stat -c %s "$EXPORT/f$i") || fail "f$i missing on the server"
	[ "$s" = 0 ] ||
		fail "f$i holds $s bytes on the server: a write reported failed landed later"
done
kill -0 "$SRV_PID" 2>/dev/null || fail "the server ($SERVER) died: $(tail -5 "$WORK/server.log")"
# and it still serves
expect 0 "$UVFS" mount -t "$NET_TYPE" -o "$OPTS" "$NET_SOURCE" "$W"
[ -e "$W/f1" ] || fail "the server does not serve after the cycles"
expect 0 "$UVFS" umount "$W"
alive
stop_daemon
echo PASS
