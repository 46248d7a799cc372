/*
 * service.c - uvfsd as a system service (service.h).
 *
 * Owns three things, each with the daemon's lifetime:
 *   - the syslog thread (service_log_to_syslog): reads the pipe that
 *     stdout and stderr became after the fork, one syslog record a line;
 *     ends when every writer is gone (the process exits);
 *   - the watcher thread (service_watch_start/stop) and what it remembers
 *     of each file server (struct seen) and of the mount table it last
 *     wrote, and the table's lines that were not mounted at start (struct
 *     kept, filled by the replay before the thread starts); only that
 *     thread touches them once it runs, and the stop after joining it;
 *   - nothing for readiness: service_notify opens, sends and closes.
 */
#define _GNU_SOURCE
#include "service.h"

#include <uvfs/9p.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* ---- readiness --------------------------------------------------------- */

int service_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	int fd, err = 0;

	if (!path || !*path)
		return 0;
	if ((path[0] != '/' && path[0] != '@') ||
	    strlen(path) >= sizeof(sa.sun_path))
		return -EINVAL;
	strcpy(sa.sun_path, path);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';  /* an abstract socket */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
			  strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL,
		   (struct sockaddr *)&sa, len) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* ---- the file servers' binaries -------------------------------------- */

void service_find_servers(void)
{
	char self[PATH_MAX], path[PATH_MAX + 64], real[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (getenv("UVFS_HOSTFS") || n <= 0)
		return;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';         /* the directory uvfsd is in */
	/* the build tree's, BUILD/servers/hostfs beside BUILD/daemon (a
	 * build directory has meson-private): found from where this uvfsd
	 * is, so that no path of the build machine is in the binary */
	snprintf(path, sizeof(path), "%s/../meson-private", self);
	if (access(path, F_OK) == 0)
		snprintf(path, sizeof(path),
			 "%s/../servers/hostfs/uvfs-hostfs", self);
	if (access(path, F_OK) != 0 || access(path, X_OK) != 0)
		snprintf(path, sizeof(path), "%s", UVFS_HOSTFS_INSTALL_PATH);
	if (access(path, X_OK) == 0)
		setenv("UVFS_HOSTFS", realpath(path, real) ? real : path, 0);
}

/* ---- syslog ------------------------------------------------------------ */

static void *syslog_main(void *arg)
{
	FILE *in = arg;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	while ((n = getline(&line, &cap, in)) > 0) {
		if (line[n - 1] == '\n')
			line[n - 1] = '\0';
		if (!*line)
			continue;
		/* our own prefix is syslog's ident already */
		const char *msg = strncmp(line, "uvfsd: ", 7) == 0 ? line + 7
								   : line;
		int prio = strstr(msg, "cannot") || strstr(msg, "error") ||
			   strstr(msg, "dead") || strstr(msg, "failed") ?
			   LOG_ERR : LOG_NOTICE;
		syslog(prio, "%s", msg);
	}
	free(line);
	fclose(in);
	return NULL;
}

void service_log_to_syslog(void)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int p[2];
	pthread_t t;
	FILE *in;

	if (null >= 0) {
		dup2(null, 0);
		if (null > 2)
			close(null);
	}
	openlog("uvfsd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	if (pipe2(p, O_CLOEXEC) < 0 || !(in = fdopen(p[0], "r"))) {
		null = open("/dev/null", O_RDWR | O_CLOEXEC);
		dup2(null, 1);
		dup2(null, 2);
		return;
	}
	dup2(p[1], 1);
	dup2(p[1], 2);
	close(p[1]);
	setvbuf(stderr, NULL, _IOLBF, 0);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (pthread_create(&t, NULL, syslog_main, in)) {
		fclose(in);
		return;
	}
	pthread_detach(t);
}

/* ---- the mount table file ---------------------------------------------- */

/* fstab's escapes: space, tab, newline, backslash as \ooo; an empty
 * field as "-".  Also '#' (a line that starts with one is a comment: a
 * source "#x" was skipped at the next start, its mount lost) and a field
 * that is "-" itself (\055: read back, "-" is the empty field). */
static void put_field(FILE *f, const char *s)
{
	if (!*s) {
		fputs("-", f);
		return;
	}
	if (strcmp(s, "-") == 0) {
		fputs("\\055", f);
		return;
	}
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= ' ' || c == '\\' || c == '#' || c == 0x7f)
			fprintf(f, "\\%03o", c);
		else
			fputc(c, f);
	}
}

static void unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
				      (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/* mkdir -p inside the namespace. */
static int mkdirs(struct uvfs_ctx *ctx, const char *path)
{
	char buf[PATH_MAX];
	int err = 0;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		err = uvfs_mkdir(ctx, buf, 0755);
		if (err == -EEXIST)
			err = 0;
		*p = c;
		if (err || !c)
			break;
	}
	return err;
}

/* The lines of the table that were not mounted at start, kept in every
 * table written since, as they were written: a server down at boot, a
 * type not loaded, is tried again at the next start instead of being
 * forgotten at the first rewrite.  A failed mount's line goes once a
 * mount at its target is seen (mtab_text); a line that is not SOURCE
 * TARGET TYPE [OPTIONS] (target NULL) stays.  Filled by the replay before
 * the watcher starts, used by the watcher (and by the start and the stop,
 * under w.lock) after. */
struct kept {
	char *raw;              /* the line, without its newline */
	char *target;           /* unescaped; NULL: an unreadable line */
};
static struct {
	struct kept *v;
	size_t n;
	bool unread;            /* the table could not be read (all of it):
				 * not to be rewritten (service_watch_start) */
} kept;

static void kept_add(const char *raw, const char *target)
{
	struct kept *v = realloc(kept.v, (kept.n + 1) * sizeof(*v));
	struct kept k = { strdup(raw), target ? strdup(target) : NULL };

	if (v)
		kept.v = v;
	if (!v || !k.raw || (target && !k.target)) {
		free(k.raw);
		free(k.target);
		fprintf(stderr, "uvfsd: out of memory: the next rewrite of "
			"the mount table drops a line it could not mount\n");
		return;
	}
	kept.v[kept.n++] = k;
}

/* Is st (of what, path) the daemon's or root's, and no one else's to
 * write?  => 0, or -EPERM with the reason printed. */
static int mtab_owned(const char *path, const char *what,
		      const struct stat *st, bool dir)
{
	const char *bad = NULL;

	if (S_ISLNK(st->st_mode))
		bad = "a symlink";
	else if (dir ? !S_ISDIR(st->st_mode) : !S_ISREG(st->st_mode))
		bad = dir ? "not a directory" : "not a regular file";
	else if (st->st_uid != geteuid() && st->st_uid != 0)
		bad = "owned by another user";
	else if (st->st_mode & 022)
		bad = "writable by others";
	if (!bad)
		return 0;
	fprintf(stderr, "uvfsd: refusing the mount table %s: %s is %s "
		"(uid %u, mode %04o); whoever can write the table has its "
		"mounts made with this daemon's rights, so it and its "
		"directory must be owned by uid %u or root and writable by "
		"no one else\n", path, what, bad, (unsigned)st->st_uid,
		(unsigned)(st->st_mode & 07777), (unsigned)geteuid());
	return -EPERM;
}

int service_mtab_check(const char *path)
{
	char dir[PATH_MAX];
	struct stat st;
	const char *slash = strrchr(path, '/');
	int err;

	if (!slash || (size_t)(slash - path) >= sizeof(dir))
		return 0;       /* absolute (args.c); too long: open fails */
	if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (lstat(dir, &st) == 0)
		err = mtab_owned(path, "its directory", &st, true);
	else
		err = errno == ENOENT ? 0 : -errno;
	if (err)
		return err;
	if (lstat(path, &st) == 0)
		return mtab_owned(path, "the file", &st, false);
	return errno == ENOENT ? 0 : -errno;
}

int service_mtab_replay(struct uvfs *u, const char *path)
{
	FILE *f = fopen(path, "re");
	struct uvfs_ctx *ctx;
	char *line = NULL;
	size_t cap = 0;
	int n = 0, lineno = 0;

	if (!f) {
		if (errno == ENOENT)
			return 0;
		kept.unread = true;
		return -errno;
	}
	if (uvfs_ctx_new(u, NULL, &ctx)) {
		fclose(f);
		kept.unread = true;
		return -ENOMEM;
	}
	uvfs_ctx_set_label(ctx, "mount table");
	while (getline(&line, &cap, f) > 0) {
		char *fld[4] = { NULL, NULL, NULL, NULL }, *save = NULL;
		char *raw = strdup(line);
		int k = 0;
		lineno++;
		if (raw)
			raw[strcspn(raw, "\n")] = '\0';
		for (char *t = strtok_r(line, " \t\n", &save); t && k < 4;
		     t = strtok_r(NULL, " \t\n", &save))
			fld[k++] = t;
		if (k == 0 || fld[0][0] == '#') {
			free(raw);
			continue;
		}
		if (k < 3 || fld[1][0] != '/') {
			fprintf(stderr, "uvfsd: %s:%d: not SOURCE TARGET "
				"TYPE [OPTIONS]; skipped (kept in the "
				"table)\n", path, lineno);
			if (raw)
				kept_add(raw, NULL);
			free(raw);
			continue;
		}
		/* "-" is the empty field, "\055" a "-" (put_field) */
		const char *opts = k > 3 && strcmp(fld[3], "-") ? fld[3] : "";
		const char *src = strcmp(fld[0], "-") ? fld[0] : "";
		for (int i = 0; i < k; i++)
			unescape(fld[i]);
		int err = mkdirs(ctx, fld[1]);
		if (!err)
			err = uvfs_mount(ctx, fld[2], src, fld[1], opts);
		if (err) {
			fprintf(stderr, "uvfsd: %s:%d: cannot mount %s (%s) "
				"on %s: %s (kept in the table)\n", path,
				lineno, src, fld[2], fld[1], strerror(-err));
			if (raw)
				kept_add(raw, fld[1]);
		} else {
			n++;
		}
		free(raw);
	}
	int err = ferror(f) ? -EIO : 0;
	free(line);
	fclose(f);
	uvfs_ctx_free(ctx);
	if (err) {              /* what was made stays; the rest is unread */
		kept.unread = true;
		return err;
	}
	return n;
}

/* The table of the namespace now, as text (malloc'ed), or NULL. */
static char *mtab_text(struct uvfs *u)
{
	struct uvfs_mount_info *mi;
	size_t n, len = 0;
	char *buf = NULL;
	FILE *f;

	if (uvfs_mount_list(u, &mi, &n))
		return NULL;
	f = open_memstream(&buf, &len);
	if (!f) {
		free(mi);
		return NULL;
	}
	fprintf(f, "# uvfsd's mount table: SOURCE TARGET TYPE OPTIONS\n"
		"# (rewritten by uvfsd as mounts come and go)\n");
	for (size_t i = 0; i < n; i++) {
		if (mi[i].parent_id == 0)       /* the namespace root */
			continue;
		put_field(f, mi[i].source);
		fputc(' ', f);
		put_field(f, mi[i].target);
		fputc(' ', f);
		put_field(f, mi[i].type);
		fputc(' ', f);
		put_field(f, mi[i].options);
		fputc('\n', f);
	}
	for (size_t j = 0; j < kept.n; ) {
		struct kept *k = &kept.v[j];
		bool seen = false;

		/* (not the namespace root's own mount: nothing is ever
		 * mounted on "/", a line there stays as the replay said) */
		for (size_t i = 0; k->target && i < n && !seen; i++)
			seen = mi[i].parent_id != 0 &&
			       strcmp(mi[i].target, k->target) == 0;
		if (seen) {     /* mounted there since: the line goes */
			free(k->raw);
			free(k->target);
			kept.v[j] = kept.v[--kept.n];
			continue;
		}
		fprintf(f, "%s\n", k->raw);
		j++;
	}
	free(mi);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

static int mtab_write(const char *path, const char *text)
{
	char tmp[PATH_MAX];
	int fd, err = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.new", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	/* a new file of our own: never through a name planted there */
	if (unlink(tmp) < 0 && errno != ENOENT)
		return -errno;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0644);
	if (fd < 0)
		return -errno;
	size_t len = strlen(text);
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) < 0)
		err = errno ? -errno : -EIO;
	if (close(fd) < 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

/* ---- the watcher ------------------------------------------------------- */

#define SEEN_MAX 256

struct seen {                   /* watcher thread only */
	uint64_t id;            /* the mount; 0: free slot */
	unsigned long restarts; /* restarts told (a restart counts from its
				 * spawn, but is told once recovered) */
	unsigned long losses;
	int dead, recovering;
	pid_t pid;
};

static struct {
	struct uvfs *u;
	const char *fuse_mnt, *mtab;
	pthread_mutex_t lock;   /* start and stop (main and signal threads) */
	pthread_t thread;       /* lock */
	atomic_bool stop;       /* the thread's cue */
	bool running;           /* lock: started, not joined */
	bool ended;             /* lock: stopped once; no start after it */
	struct seen seen[SEEN_MAX];
	char *written;          /* the mount table last written */
} w = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void host_of(const char *ns, char *out, size_t size)
{
	if (strcmp(w.fuse_mnt, "/") == 0)
		snprintf(out, size, "%s", ns);
	else
		snprintf(out, size, "%s%s", w.fuse_mnt,
			 strcmp(ns, "/") ? ns : "");
}

static void watch_servers(void)
{
	struct uvfs_mount_info *mi;
	struct uvfs_9p_server_info si;
	bool live[SEEN_MAX] = { false };
	size_t n;

	if (uvfs_mount_list(w.u, &mi, &n))
		return;
	for (size_t i = 0; i < n; i++) {
		if (uvfs_9p_server_info(w.u, mi[i].target, &si) != 0)
			continue;
		struct seen *s = NULL, *free_slot = NULL;
		for (int k = 0; k < SEEN_MAX && !s; k++) {
			if (w.seen[k].id == mi[i].id)
				s = &w.seen[k];
			else if (!w.seen[k].id && !free_slot)
				free_slot = &w.seen[k];
		}
		if (!s) {               /* new: from a fresh mount's counts,
					 * so a loss before the first look
					 * is told too */
			if (!free_slot)
				continue;
			s = free_slot;
			*s = (struct seen){ .id = mi[i].id, .pid = si.pid };
		}
		live[s - w.seen] = true;
		char host[PATH_MAX + 1024];
		host_of(mi[i].target, host, sizeof(host));
		if (si.losses > s->losses && !s->recovering)
			fprintf(stderr, "uvfsd: %s %s on %s: server %d lost; "
				"recovering\n", mi[i].type, mi[i].source, host,
				(int)s->pid);
		if (si.restarts > s->restarts && !si.recovering && !si.dead)
			fprintf(stderr, "uvfsd: %s %s on %s: server %s%d, "
				"restart %lu, open files reopened in %llu ms"
				"%s\n", mi[i].type, mi[i].source, host,
				si.pid ? "restarted as " : "reconnected, pid ",
				(int)si.pid, si.restarts,
				(unsigned long long)(si.last_recovery_ns /
						     1000000),
				si.stale_fids ? " (some files changed: "
						"ESTALE)" : "");
		if (si.dead && !s->dead)
			fprintf(stderr, "uvfsd: %s %s on %s: server dead "
				"after %lu restarts; the mount answers EIO "
				"until unmounted\n", mi[i].type, mi[i].source,
				host, si.restarts);
		/* a look during a recovery sees its restart counted
		 * already: it stays untold until a look sees it done */
		*s = (struct seen){ mi[i].id,
				    si.recovering && !si.dead ? s->restarts :
				    si.restarts,
				    si.losses, si.dead, si.recovering,
				    si.pid };
	}
	free(mi);
	for (int k = 0; k < SEEN_MAX; k++)
		if (!live[k])
			w.seen[k].id = 0;
}

static void watch_mtab(void)
{
	char *text = mtab_text(w.u);
	int err;

	if (!text || (w.written && strcmp(text, w.written) == 0)) {
		free(text);
		return;
	}
	err = mtab_write(w.mtab, text);
	if (err) {
		fprintf(stderr, "uvfsd: cannot write the mount table %s: %s\n",
			w.mtab, strerror(-err));
		free(text);
		return;
	}
	free(w.written);
	w.written = text;
}

static void *watch_main(void *arg)
{
	(void)arg;
	while (!atomic_load(&w.stop)) {
		watch_servers();
		if (w.mtab)
			watch_mtab();
		for (int i = 0; i < 10 && !atomic_load(&w.stop); i++) {
			struct timespec ts = { 0, 100 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

/* A stop that came first (a signal during start-up) wins: the watcher is
 * then never started, so nothing outlives the instance it watches. */
int service_watch_start(struct uvfs *u, const char *fuse_mnt,
			const char *mtab)
{
	int err = 0;

	pthread_mutex_lock(&w.lock);
	if (w.ended || w.running)
		goto out;
	/* a table the replay could not read (a permission, an I/O error)
	 * is left as it is: a rewrite would replace its lines with the
	 * mounts made, and they would be lost */
	if (mtab && kept.unread) {
		fprintf(stderr, "uvfsd: the mount table %s could not be read; "
			"it is left as it is, and mounts are not kept in it "
			"until uvfsd is started again\n", mtab);
		mtab = NULL;
	}
	w.u = u;
	w.fuse_mnt = fuse_mnt;
	w.mtab = mtab;
	atomic_store(&w.stop, false);
	if (mtab)
		watch_mtab();           /* at once: the replayed table */
	err = -pthread_create(&w.thread, NULL, watch_main, NULL);
	if (!err)
		w.running = true;
out:
	pthread_mutex_unlock(&w.lock);
	return err;
}

void service_watch_stop(void)
{
	pthread_mutex_lock(&w.lock);
	w.ended = true;
	if (w.running) {
		atomic_store(&w.stop, true);
		pthread_join(w.thread, NULL);
		w.running = false;
		/* a last look, before the shutdown unmounts: a mount made
		 * since the watcher's last look (it looks once a second) is
		 * in the table the next start reads */
		if (w.mtab)
			watch_mtab();
		free(w.written);
		w.written = NULL;
	}
	pthread_mutex_unlock(&w.lock);
}
