#!/usr/bin/env bash
# The command line's output, for people and for scripts (docs/json.md):
#   - each error names its cause, in umount(8)'s words where it has some:
#     not mounted, not suspended, already suspended, unknown option
#     'bogus', size: not a number, unknown file system type, cannot revoke
#     a mount root;
#   - `uvfs mount --help` lists every type with its options (the drivers'
#     own descriptions), `--version` for uvfs and uvfsd;
#   - holders: one line per process with a count of its open files, uvfsd
#     itself left out (of the FUSE root's too: its own contexts, marked
#     as its own, only with -v), the kernel's references only with -v; control
#     bytes in names and process names (another user's) shown as '?';
#   - `uvfs mounts`: a tree, -o columns, --raw, -n, -t and -S filters;
#     `uvfs mountpoint` answers as mountpoint(1) (0, or 32 for no);
#   - every --json output is one document that python3's json parses, with
#     "uvfs_json": 1, typed fields (a numeric-looking source stays a
#     string, counters are numbers) and valid UTF-8 (a non-UTF-8 byte in a
#     path comes out as the text \xff);
#   - an answer of more than 8 MiB (no daemon gives one) is refused with
#     a message, exit 3, rather than read into memory without end.
. "$(dirname "$0")/lib.sh"

start_daemon
cd "$WORK"
mkdir "$MNT/m" "$MNT/n" "$MNT/plain"

# json_check PYTHON-EXPR: $OUT parsed as d; the expression must hold.
json_check() {
	python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["uvfs_json"] == 1, d
ok = eval(sys.argv[2])
sys.exit(0 if ok else 1)' "$OUT" "$1" || fail "json: $1: $OUT"
}

note "versions"
expect_msg 0 "uvfs 0." "$UVFS" --version
expect_msg 0 "uvfsd 0." "$UVFSD" --version

note "mount --help: each type and its options, from the drivers"
expect 0 "$UVFS" mount --help
for w in "deadline=MS" "-t memfs" "size=BYTES" "-t 9p" "aname=PATH" \
	 "-t hostfs" "server=PATH" "-t diod" "noreconnect"; do
	case $OUT in *"$w"*) ;; *) fail "mount --help lacks '$w': $OUT" ;; esac
done

note "errors that name the cause"
expect_msg 1 "uvfs: cannot mount none (memfs) on $MNT/m: unknown option 'bogus'" \
	"$UVFS" mount -t memfs -o bogus=1 none "$MNT/m"
expect_msg 1 "uvfs: cannot mount none (memfs) on $MNT/m: size: not a number" \
	"$UVFS" mount -t memfs -o size=big none "$MNT/m"
expect_msg 1 "uvfs: cannot mount none (memfs) on $MNT/m: ro: takes no value" \
	"$UVFS" mount -t memfs -o ro=yes none "$MNT/m"
expect_msg 1 "uvfs: cannot mount x (9p) on $MNT/m: unknown option 'size'" \
	"$UVFS" mount -t 9p -o size=1m x "$MNT/m"
expect_msg 1 "uvfs: cannot mount none (nosuchfs) on $MNT/m: unknown file system type 'nosuchfs'" \
	"$UVFS" mount -t nosuchfs none "$MNT/m"
expect_msg 1 "uvfs: cannot unmount $MNT/plain: not mounted" \
	"$UVFS" umount "$MNT/plain"
expect_msg 1 "uvfs: cannot suspend $MNT/plain: not mounted" \
	"$UVFS" suspend "$MNT/plain"
expect_msg 1 "uvfs: cannot resume $MNT/plain: not mounted" \
	"$UVFS" resume "$MNT/plain"
expect 0 "$UVFS" mount -t memfs -o size=1m 12345 "$MNT/m"
expect_msg 1 "uvfs: cannot resume $MNT/m: not suspended" \
	"$UVFS" resume "$MNT/m"
expect 0 "$UVFS" suspend "$MNT/m"
expect_msg 1 "uvfs: cannot suspend $MNT/m: already suspended" \
	"$UVFS" suspend "$MNT/m"
expect 0 "$UVFS" resume "$MNT/m"
expect_msg 1 "uvfs: cannot revoke $MNT/m: cannot revoke a mount root" \
	"$UVFS" revoke "$MNT/m"
expect_msg 2 "uvfs mounts: unknown column 'bogus'" \
	"$UVFS" -m "$MNT" mounts -o bogus
# a subcommand's option errors name it, a missing argument is said so
expect_msg 2 "uvfs umount: invalid option -- 'x'" \
	"$UVFS" umount -x "$MNT/m"
expect_msg 2 "uvfs mounts: unrecognized option '--bogus'" \
	"$UVFS" -m "$MNT" mounts --bogus
expect_msg 2 "uvfs: option '-m' needs an argument (the uvfsd mount point)" \
	"$UVFS" -m
expect_msg 2 "uvfs: option '--socket' needs an argument (the control socket)" \
	"$UVFS" --socket
alive

note "mounts: a tree, columns, raw, filters"
mkdir "$MNT/m/sub"
expect 0 "$UVFS" mount -t memfs "a src" "$MNT/m/sub"
bad=$(printf 'bad\377name')
mkdir "$MNT/n/$bad"
expect 0 "$UVFS" mount -t memfs "$(printf 'src\376')" "$MNT/n/$bad"
expect 0 "$UVFS" -m "$MNT" mounts
echo "$OUT"
head -1 <<<"$OUT" | grep -q '^TARGET  *SOURCE  *FSTYPE  *STATE  *OPTIONS$' ||
	fail "mounts: heading: $OUT"
grep -q "^├─$MNT/m  *12345  *memfs  *active  *size=1m$" <<<"$OUT" ||
	fail "mounts: $MNT/m not a child of the root: $OUT"
grep -q "^│ └─$MNT/m/sub  *a src  *memfs" <<<"$OUT" ||
	fail "mounts: $MNT/m/sub not under $MNT/m: $OUT"
expect 0 "$UVFS" -m "$MNT" mounts --ascii
grep -q "^| \`-$MNT/m/sub " <<<"$OUT" || fail "mounts --ascii: $OUT"
expect 0 "$UVFS" -m "$MNT" mounts --raw -n -o target,source,id
grep -q "^$MNT/m/sub a\\\\x20src [0-9][0-9]*$" <<<"$OUT" ||
	fail "mounts --raw -n: $OUT"
head -1 <<<"$OUT" | grep -q TARGET && fail "mounts -n printed a heading"
expect 0 "$UVFS" -m "$MNT" mounts -t memfs -S 12345 -n -o target
[ "$OUT" = "$MNT/m" ] || fail "mounts -S 12345: $OUT"
expect 0 "$UVFS" -m "$MNT" mounts -t 9p -n
[ -z "$OUT" ] || fail "mounts -t 9p: $OUT"

note "mountpoint: the namespace's mounts, which the kernel does not see"
expect_msg 0 "$MNT/m/sub is a mountpoint" "$UVFS" mountpoint "$MNT/m/sub"
expect_msg 32 "$MNT/plain is not a mountpoint" "$UVFS" mountpoint "$MNT/plain"
expect 0 "$UVFS" mountpoint -q "$MNT/m"
[ -z "$OUT" ] || fail "mountpoint -q printed: $OUT"
expect 32 "$UVFS" mountpoint -q "$WORK"
expect_msg 1 "No such file or directory" "$UVFS" mountpoint "$MNT/nonexistent"

note "mounts --json: one document, typed, valid UTF-8"
expect 0 "$UVFS" -m "$MNT" mounts --json
json_check 'd["command"] == "mounts" and len(d["mounts"]) == 4'
json_check '[m for m in d["mounts"] if m["path"] == "/m"][0]["source"] == "12345"'
json_check 'all(isinstance(m["id"], int) and isinstance(m["refs"], int) for m in d["mounts"])'
json_check '"/n/bad\\xffname" in [m["path"] for m in d["mounts"]]'
json_check '"src\\xfe" in [m["source"] for m in d["mounts"]]'
expect 0 "$UVFS" -m "$MNT" mounts --json -o target,fstype
json_check 'sorted(d["mounts"][0]) == ["fstype", "target"]'

note "stats and servers --json: one document each"
expect 0 "$UVFS" -m "$MNT" stats --json
json_check 'd["command"] == "stats" and d["stats"]["mounts"] >= 4'
json_check 'all(isinstance(v, int) for v in d["stats"].values())'
json_check 'all(isinstance(x["operations"], int) for x in d["inflight"])'
expect 0 "$UVFS" -m "$MNT" servers --json
json_check 'd["command"] == "servers" and d["servers"] == []'

note "holders: one line per process, a count, uvfsd left out"
mkdir "$MNT/m/d"
for i in $(seq 40); do echo "$i" >"$MNT/m/f$i"; done
(cd "$MNT/m/d" && exec python3 -c '
import os, sys, time
fs = [open(os.path.join("..", "f%d" % i)) for i in range(1, 41)]
print("open", flush=True)
time.sleep(300)') >"$WORK/opener.out" &
OPENER=$!
BG_PIDS+=($OPENER)
for _ in $(seq 100); do
	grep -q open "$WORK/opener.out" 2>/dev/null && break
	sleep 0.1
done
grep -q open "$WORK/opener.out" || fail "the opener did not start"
expect_msg 1 "uvfs: cannot unmount $MNT/m: target is busy (2 holders)" \
	"$UVFS" umount "$MNT/m"
echo "$OUT"
grep -q "^  pid $OPENER (python3): cwd $MNT/m/d, 40 open files ($MNT/m/f" <<<"$OUT" ||
	fail "the opener is not one line with a count: $OUT"
grep -q "^  mount $MNT/m/sub$" <<<"$OUT" || fail "the child mount: $OUT"
[ "$(wc -l <<<"$OUT")" -eq 3 ] || fail "more than the holders: $OUT"
grep -q "pid $DAEMON_PID " <<<"$OUT" && fail "uvfsd listed itself: $OUT"
grep -q "kernel reference" <<<"$OUT" && fail "kernel references without -v: $OUT"
expect_msg 1 "target is busy" "$UVFS" umount -v "$MNT/m"
[ "$(grep -c "^  pid $OPENER (python3): fd " <<<"$OUT")" -eq 40 ] ||
	fail "umount -v does not list every file: $OUT"
expect 0 "$UVFS" holders "$MNT/m"
grep -q "40 open files" <<<"$OUT" || fail "holders: $OUT"
expect 0 "$UVFS" holders --json "$MNT/m"
json_check 'd["command"] == "holders" and d["target"] == "/m"'
json_check '[p for p in d["processes"] if p["pid"] == '"$OPENER"'][0]["cwd"] == "'"$MNT"'/m/d"'
json_check 'len([p for p in d["processes"] if p["pid"] == '"$OPENER"'][0]["files"]) == 40'
json_check 'all(isinstance(f["fd"], int) for p in d["processes"] for f in p["files"])'
json_check 'all(p["pid"] != '"$DAEMON_PID"' for p in d["processes"])'
json_check 'all(h["fd"] is None or h["fd"] >= 0 for h in d["holders"])'
kill "$OPENER"
wait "$OPENER" 2>/dev/null
cd "$WORK"

expect 0 "$UVFS" umount "$MNT/n/$bad"
expect 0 "$UVFS" umount "$MNT/m/sub"
# Once the opener is gone only the kernel's cached entries may hold the
# mount (entries looked up under a directory that was in use when an
# earlier umount invalidated it stay cached): the busy message must then
# name them, since they are what blocks.  A forced unmount clears them.
if ! "$UVFS" umount "$MNT/m" >"$WORK/umount.out" 2>&1; then
	cat "$WORK/umount.out"
	grep -q "^  kernel reference $MNT/m" "$WORK/umount.out" ||
		fail "busy, and not for the kernel's references: $(cat "$WORK/umount.out")"
	grep -q "^  pid " "$WORK/umount.out" && fail "a dead process listed"
	expect 0 "$UVFS" umount -f "$MNT/m"
fi
"$UVFS" -m "$MNT" mounts -n -o path | grep -qx /m && fail "$MNT/m still mounted"
alive

note "holders of the FUSE root: uvfsd's own contexts only with -v, marked"
# Every context of uvfsd (its FUSE request pool, the control server's) has
# its working directory and root at the namespace root, and the kernel
# holds the root's node as long as it is mounted: none of it is anything a
# user can end, and fuser(1) would not name it.  Left out, a process
# working there is listed alone; -v shows them, said to be uvfsd's own.
(cd "$MNT" && exec sleep 300) &
SLEEPER=$!
BG_PIDS+=($SLEEPER)
for _ in $(seq 50); do
	[ "$(readlink /proc/$SLEEPER/cwd)" = "$MNT" ] && break
	sleep 0.1
done
expect 0 "$UVFS" holders "$MNT"
echo "$OUT"
grep -qx "  pid $SLEEPER (sleep): cwd $MNT" <<<"$OUT" ||
	fail "holders of the root lacks the process there: $OUT"
grep -Eq "^  (cwd|root|file|node|kernel reference) " <<<"$OUT" &&
	fail "holders of the root lists uvfsd's own: $OUT"
grep -q "uvfsd" <<<"$OUT" && fail "holders of the root names uvfsd: $OUT"
expect 0 "$UVFS" holders -v "$MNT"
grep -qx "  cwd $MNT (uvfsd's own context [0-9]*)" <<<"$OUT" &&
	grep -qx "  root $MNT (uvfsd's own context [0-9]*)" <<<"$OUT" &&
	grep -qx "  kernel reference $MNT (uvfsd's own: the FUSE mount's root)" <<<"$OUT" ||
	fail "holders -v of the root: uvfsd's own not shown as such: $OUT"
grep -qx "  pid $SLEEPER (sleep): cwd $MNT" <<<"$OUT" ||
	fail "holders -v of the root lacks the process: $OUT"
expect 0 "$UVFS" holders --json "$MNT"
json_check '[p["pid"] for p in d["processes"]] == ['"$SLEEPER"']'
json_check 'all(h["own"] is False for h in d["holders"])'
json_check 'not [h for h in d["holders"] if h["kind"] in ("cwd", "root") or h["path"] == "/"]'
expect 0 "$UVFS" holders -v --json "$MNT"
json_check 'all(isinstance(h["own"], bool) for h in d["holders"])'
json_check 'any(h["own"] and h["kind"] == "cwd" and h["label"] == "uvfsd" for h in d["holders"])'
json_check 'all(h["own"] == (h["kind"] in ("cwd", "root") or h["path"] == "/") for h in d["holders"])'
kill "$SLEEPER"
wait "$SLEEPER" 2>/dev/null
cd "$WORK"
# the process gone: what is left is the kernel's references below the
# root, its child mounts, or nothing; no line for uvfsd still
expect 0 "$UVFS" holders "$MNT"
grep -Eqvx "  mount $MNT/.*|  kernel reference $MNT/.*|nothing holds $MNT" <<<"$OUT" &&
	fail "holders of the root, with no process there: $OUT"

note "control bytes in names and process names: '?' for people"
# Another user chooses both: a file name that forges a holder line and
# clears the screen, held by a process whose comm does the same.
NPY=
if command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
	NOBODY=$(id -u nobody)
	NOGROUP=$(id -g nobody)
	for p in python3 /usr/bin/python3 /usr/local/bin/python3; do
		if as_nobody "$p" -c 'import os' 2>/dev/null; then
			NPY=$p
			break
		fi
	done
fi
if [ -n "$NPY" ]; then
	mkdir "$MNT/v"
	expect 0 "$UVFS" mount -t memfs none "$MNT/v"
	chmod 777 "$MNT/v"
	evil=$(printf 'f\n  pid 1 (init): cwd \033[2J')
	setpriv --reuid="$NOBODY" --regid="$NOGROUP" --groups="$NOGROUP" "$NPY" -c '
import ctypes, os, sys, time
ctypes.CDLL(None).prctl(15, b"ev\x1b[2Jil", 0, 0, 0)
f = open(os.path.join(sys.argv[1], sys.argv[2]), "w")
print("open", flush=True)
time.sleep(300)' "$MNT/v" "$evil" >"$WORK/evil.out" 2>&1 &
	EVIL=$!
	BG_PIDS+=($EVIL)
	for _ in $(seq 100); do
		grep -q open "$WORK/evil.out" 2>/dev/null && break
		sleep 0.1
	done
	grep -q open "$WORK/evil.out" || fail "the holder did not start: $(cat "$WORK/evil.out")"
	mnl=$(printf 'm\nfake\033[2J')
	mkdir "$MNT/$mnl"
	expect 0 "$UVFS" mount -t memfs none "$MNT/$mnl"
	for cmd in "holders $MNT/v" "umount $MNT/v" "-m $MNT mounts"; do
		"$UVFS" $cmd >"$WORK/vis.out" 2>&1
		cat -A "$WORK/vis.out"
		grep -q "$(printf '\033')" "$WORK/vis.out" &&
			fail "uvfs $cmd printed an escape byte"
	done
	expect 0 "$UVFS" holders "$MNT/v"
	[ "$OUT" = "  pid $EVIL (ev?[2Jil): 1 open file ($MNT/v/f?  pid 1 (init): cwd ?[2J)" ] ||
		fail "holders: $OUT"
	expect 0 "$UVFS" -m "$MNT" mounts -n -o TARGET
	[ "$(wc -l <<<"$OUT")" -eq 3 ] || fail "mounts: not one line each: $OUT"
	grep -qxF "  $MNT/m?fake?[2J" <<<"${OUT//[│└├─]/ }" || fail "mounts: $OUT"
	kill "$EVIL"
	wait "$EVIL" 2>/dev/null
	expect 0 "$UVFS" umount -f "$MNT/v"
	expect 0 "$UVFS" umount "$MNT/$mnl"
else
	skip_part "control bytes: no setpriv, no user nobody or no python3 it may run"
fi

note "an answer larger than the bound is refused, not read on and on"
# a stand-in for uvfsd on a socket of its own: "ok" and 16 MiB of
# records, more than uvfs takes (8 MiB)
BIG=$WORK/big.sock
python3 - "$BIG" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(1)
open(sys.argv[1] + ".ready", "w").close()
c, _ = s.accept()
c.recv(4096)
try:
    c.sendall(b"ok\n" + b"mount id=1 target=/x state=active\n" * 480000)
except OSError:
    pass
PY
BIG_PID=$!
BG_PIDS+=($BIG_PID)
until_ms 5000 test -e "$BIG.ready" || fail "the stand-in does not listen"
expect_msg 3 "larger than 8 MiB: refused" "$UVFS" -S "$BIG" mounts --raw
wait "$BIG_PID"
alive
stop_daemon
echo PASS
