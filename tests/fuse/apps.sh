#!/usr/bin/env bash
# sqlite3 transactions (fcntl locks, fsync, journal and WAL files) and git
# (init, add, commit, log, fsck; mmap of pack and index files) on the mount.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || skip "sqlite3 is not installed (apt-get install sqlite3)"
command -v git >/dev/null || skip "git is not installed (apt-get install git)"

start_daemon
cd "$WORK"
D=$MNT/work
mkdir -p "$D"
expect 0 "$UVFS" mount -t memfs -o size=256m none "$D"

note "sqlite3: transactions, rollback, journal modes"
DB=$D/test.db
sqlite3 "$DB" <<'SQL' || fail "sqlite3 create"
CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);
BEGIN;
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000)
INSERT INTO t(v) SELECT hex(randomblob(40)) FROM c;
COMMIT;
BEGIN;
DELETE FROM t WHERE id > 100;
ROLLBACK;
SQL
[ "$(sqlite3 "$DB" 'SELECT count(*) FROM t')" = 5000 ] || fail "rollback lost rows"
for i in $(seq 20); do
	echo "BEGIN; UPDATE t SET v = 'w$i' WHERE id % 20 = $((i % 20)); INSERT INTO t(v) VALUES ('n$i'); COMMIT;"
done | sqlite3 "$DB" || fail "sqlite3 updates"
[ "$(sqlite3 "$DB" 'SELECT count(*) FROM t')" = 5020 ] || fail "row count after updates"
[ "$(sqlite3 "$DB" 'PRAGMA integrity_check')" = ok ] || fail "integrity_check"
[ "$(sqlite3 "$DB" 'PRAGMA journal_mode=WAL')" = wal ] || fail "WAL mode"
# two writers at once (locking through the kernel's fcntl locks)
for w in 1 2; do
	(for i in $(seq 50); do
		sqlite3 -cmd '.timeout 10000' "$DB" "INSERT INTO t(v) VALUES ('p$w-$i')" || exit 1
	done) &
	eval "W$w=\$!"
done
wait "$W1" || fail "writer 1"
wait "$W2" || fail "writer 2"
[ "$(sqlite3 "$DB" 'SELECT count(*) FROM t')" = 5120 ] || fail "rows after concurrent writers"
sqlite3 "$DB" 'PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE' >/dev/null || fail checkpoint
[ "$(sqlite3 "$DB" 'PRAGMA integrity_check')" = ok ] || fail "integrity_check after WAL"
sqlite3 "$DB" 'VACUUM' || fail VACUUM
cp "$DB" "$WORK/copy.db" && [ "$(sqlite3 "$WORK/copy.db" 'SELECT count(*) FROM t')" = 5120 ] ||
	fail "the database copied out"

note "git: init, commit, log, branches, fsck, gc"
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.org
export GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.org
export HOME=$WORK GIT_CONFIG_NOSYSTEM=1
R=$D/repo
git init -q "$R" || fail "git init"
cd "$R"
for i in $(seq 10); do
	mkdir -p "d$((i % 3))"
	seq "$i" 1000 >"d$((i % 3))/f$i"
	git add -A && git commit -q -m "commit $i" || fail "git commit $i"
done
[ "$(git log --oneline | wc -l)" = 10 ] || fail "git log"
git checkout -q -b side HEAD~3 || fail "git checkout -b"
echo side >side.txt && git add side.txt && git commit -q -m side || fail "commit on a branch"
git checkout -q - && git merge -q --no-edit side || fail "git merge"
git mv d1 renamed && git commit -q -m rename || fail "git mv"
git gc -q || fail "git gc"
git fsck --strict 2>&1 | grep -v '^Checking' && fail "git fsck complains"
git fsck --strict >/dev/null 2>&1 || fail "git fsck"
git status --porcelain | grep . && fail "the work tree is dirty"
git clone -q "$R" "$WORK/clone" || fail "git clone out of the mount"
diff -r -x .git "$R" "$WORK/clone" || fail "the clone differs"
cd "$WORK"

stop_daemon
echo PASS
