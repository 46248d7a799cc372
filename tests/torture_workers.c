/*
 * torture_workers.c - the worker threads: each owns its descriptors and
 * working directory and makes random calls on the tree under the mounts
 * (open, read, write, rename, link, readdir, fallocate, copy_file_range,
 * chdir...), each result checked against what the contract allows; the
 * names readdir returns checked, and a pattern written to the thread's
 * private file read back.
 * Included by torture.c (it uses that file's operation table, counters
 * and randomness); not a program of its own.
 */

/* ---- workers ----------------------------------------------------------- */

struct ofd {
	int fd;         /* -1: free */
	bool dir, wr;
	bool append;    /* O_APPEND (no copy_file_range into it: EBADF) */
};

struct worker {
	pthread_t thread;
	int id;
	struct uvfs_ctx *ctx;
	uint64_t rng;
	struct ofd fds[NFDS];
	int nfd_max;    /* holders keep descriptors and cwds; walkers not */
	struct counts c;
	_Atomic(const char *) doing;    /* for the watchdog */
};

static struct worker workers[NWORKERS];

static struct ofd *any_fd(struct worker *w)
{
	unsigned start = rnd(&w->rng, NFDS), i;

	for (i = 0; i < NFDS; i++)
		if (w->fds[(start + i) % NFDS].fd >= 0)
			return &w->fds[(start + i) % NFDS];
	return NULL;
}

static void close_fd(struct worker *w, struct ofd *o)
{
	atomic_store(&w->doing, "close");
	check(&w->c, w->id, OP_CLOSE, uvfs_close(w->ctx, o->fd), ok_close,
	      "fd");
	o->fd = -1;
}

static void keep_fd(struct worker *w, int fd, bool dir, bool wr)
{
	int i, n = 0;

	for (i = 0; i < NFDS; i++)
		n += w->fds[i].fd >= 0;
	if (n >= w->nfd_max) {
		struct ofd tmp = { fd, dir, wr, false };

		/* a walker: one call on it, then close */
		if (dir) {
			struct uvfs_dirent de[4];

			check(&w->c, w->id, OP_READDIR,
			      uvfs_readdir(w->ctx, fd, de, 4), ok_readdir,
			      "fd");
		} else {
			char b[64];

			check(&w->c, w->id, OP_READ,
			      uvfs_read(w->ctx, fd, b, sizeof(b)), ok_read,
			      "fd");
		}
		close_fd(w, &tmp);
		return;
	}
	for (i = 0; i < NFDS; i++)
		if (w->fds[i].fd < 0)
			break;
	if (i == NFDS) {
		i = (int)rnd(&w->rng, NFDS);
		close_fd(w, &w->fds[i]);
	}
	w->fds[i].fd = fd;
	w->fds[i].dir = dir;
	w->fds[i].wr = wr;
	w->fds[i].append = false;
}

/* Names readdir may return: the pool, the private files, "." and "..";
 * on nfs also the ".nfsXXXX" names of files removed while open (silly
 * rename: gone at their last close). */
static void check_names(struct worker *w, const struct uvfs_dirent *de,
			long n, const char *dir)
{
	long i;

	for (i = 0; i < n; i++) {
		const char *s = de[i].name;
		bool ok = strcmp(s, ".") == 0 || strcmp(s, "..") == 0 ||
			  (s[0] == 'd' && s[1] >= '0' && s[1] <= '2' &&
			   !s[2]) ||
			  (s[0] == 'f' && s[1] >= '0' && s[1] <= '3' &&
			   !s[2]) ||
			  (s[0] == 'p' && s[1] >= '0' &&
			   s[1] < '0' + NWORKERS && !s[2]) ||
			  (strcmp(fs_type, "nfs") == 0 &&
			   strncmp(s, ".nfs", 4) == 0);

		if (!ok)
			report("thread %d: readdir(%s) returned \"%.40s\"",
			       w->id, dir, s);
	}
}

/* Writes a pattern to this thread's private file on a random mount and
 * reads it back: nobody else touches that name, so the data must match
 * unless the mount went away under it (EIO). */
static void verify(struct worker *w)
{
	char p[32], pat[700], back[700];
	uint64_t tag = rnd_next(&w->rng);
	struct counts *c = &w->c;
	size_t i;
	long r;
	int fd;

	snprintf(p, sizeof(p), "/m%u/p%d", rnd(&w->rng, NMOUNTS), w->id);
	for (i = 0; i < sizeof(pat); i++)
		pat[i] = (char)((tag >> (i % 8 * 8)) + i);
	atomic_store(&w->doing, "verify");
	fd = (int)check(c, w->id, OP_OPEN,
			uvfs_open(w->ctx, p, O_CREAT | O_RDWR | O_TRUNC,
				  0600), ok_open, p);
	if (fd < 0)
		return;
	r = check(c, w->id, OP_PWRITE,
		  uvfs_pwrite(w->ctx, fd, pat, sizeof(pat), 100), ok_fdio, p);
	if (r >= 0 && r != (long)sizeof(pat))
		report("thread %d: pwrite(%s) wrote %ld of %zu", w->id, p, r,
		       sizeof(pat));
	if (r == (long)sizeof(pat)) {
		memset(back, 0, sizeof(back));
		r = check(c, w->id, OP_VERIFY,
			  uvfs_pread(w->ctx, fd, back, sizeof(back), 100),
			  ok_fdio, p);
		if (r >= 0 && (r != (long)sizeof(pat) ||
			       memcmp(back, pat, sizeof(pat)) != 0))
			report("thread %d: %s read back %ld bytes that differ",
			       w->id, p, r);
		r = check(c, w->id, OP_PREAD,
			  uvfs_pread(w->ctx, fd, back, 100, 0), ok_fdio, p);
		for (i = 0; r == 100 && i < 100; i++)
			if (back[i]) {
				report("thread %d: %s: the hole is not zero",
				       w->id, p);
				break;
			}
	}
	close_fd(w, &(struct ofd){ fd, false, true, false });
}

static void worker_step(struct worker *w)
{
	char p[128], q[128], buf[512];
	struct uvfs_dirent de[8];
	struct uvfs_ctx *x = w->ctx;
	struct counts *c = &w->c;
	struct stat st;
	struct ofd *o;
	long r;
	int i;

	switch (rnd(&w->rng, 22)) {
	case 20: case 21:
		verify(w);
		break;
	case 0: case 1: { /* create */
		int flags = O_CREAT | O_RDWR;

		rnd_path(&w->rng, p, sizeof(p), 'f');
		if (rnd(&w->rng, 4) == 0)
			flags |= O_EXCL;
		if (rnd(&w->rng, 4) == 0)
			flags |= O_TRUNC;
		if (rnd(&w->rng, 4) == 0)
			flags |= O_APPEND;
		atomic_store(&w->doing, "create");
		r = check(c, w->id, OP_CREATE, uvfs_open(x, p, flags, 0644),
			  ok_create, p);
		if (r >= 0) {
			keep_fd(w, (int)r, false, true);
			for (i = 0; i < NFDS; i++)
				if (w->fds[i].fd == (int)r)
					w->fds[i].append =
						(flags & O_APPEND) != 0;
		}
		break;
	}
	case 2: /* open, file or directory */
		rnd_path(&w->rng, p, sizeof(p), 0);
		atomic_store(&w->doing, "open");
		r = check(c, w->id, OP_OPEN, uvfs_open(x, p, O_RDONLY, 0),
			  ok_open, p);
		if (r >= 0) {
			bool dir = uvfs_fstat(x, (int)r, &st) == 0 &&
				   S_ISDIR(st.st_mode);

			keep_fd(w, (int)r, dir, false);
		}
		break;
	case 3: /* I/O on a descriptor */
	case 4:
		o = any_fd(w);
		if (!o)
			break;
		atomic_store(&w->doing, "fd io");
		switch (rnd(&w->rng, 10)) {
		case 7:
			if (o->wr)
				check(c, w->id, OP_FALLOCATE,
				      uvfs_fallocate(x, o->fd,
						     (int[]){ 0, 1, 3 }[rnd(&w->rng, 3)],
						     rnd(&w->rng, 65536),
						     1 + rnd(&w->rng, 8192)),
				      ok_fallocate, "fd");
			break;
		case 8:
			if (!o->dir)
				check(c, w->id, OP_SEEK_DATA,
				      uvfs_lseek(x, o->fd, rnd(&w->rng, 8192),
						 rnd(&w->rng, 2) ? SEEK_DATA
								 : SEEK_HOLE),
				      ok_seek_data, "fd");
			break;
		case 9: {
			struct ofd *to = any_fd(w);
			off_t oi = rnd(&w->rng, 8192), oo = rnd(&w->rng, 8192);

			if (!o->dir && to && to->wr && !to->append)
				check(c, w->id, OP_COPY,
				      uvfs_copy_file_range(x, o->fd, &oi,
							   to->fd, &oo,
							   rnd(&w->rng, 16384),
							   0),
				      ok_copy, "fd");
			break;
		}
		case 0:
			check(c, w->id, OP_READ,
			      uvfs_read(x, o->fd, buf, sizeof(buf)), ok_read,
			      "fd");
			break;
		case 1:
			if (o->wr)
				check(c, w->id, OP_WRITE,
				      uvfs_write(x, o->fd, "torture!", 8),
				      ok_fdio, "fd");
			break;
		case 2:
			check(c, w->id, OP_PREAD,
			      uvfs_pread(x, o->fd, buf, sizeof(buf),
					 rnd(&w->rng, 4096)), ok_read, "fd");
			break;
		case 3:
			if (o->wr)
				check(c, w->id, OP_PWRITE,
				      uvfs_pwrite(x, o->fd, buf, 100,
						  rnd(&w->rng, 65536)),
				      ok_fdio, "fd");
			break;
		case 4:
			if (!o->dir)
				check(c, w->id, OP_LSEEK,
				      uvfs_lseek(x, o->fd,
						 rnd(&w->rng, 1000), SEEK_SET),
				      ok_fdio, "fd");
			break;
		case 5:
			check(c, w->id, OP_FSTAT, uvfs_fstat(x, o->fd, &st),
			      ok_fdio, "fd");
			break;
		case 6:
			if (o->wr)
				check(c, w->id, OP_FTRUNCATE,
				      uvfs_ftruncate(x, o->fd,
						     rnd(&w->rng, 8192)),
				      ok_fdio, "fd");
			break;
		}
		break;
	case 5: /* close */
		o = any_fd(w);
		if (o)
			close_fd(w, o);
		break;
	case 6: case 7:
		rnd_path(&w->rng, p, sizeof(p), 'd');
		atomic_store(&w->doing, "mkdir");
		check(c, w->id, OP_MKDIR, uvfs_mkdir(x, p, 0755), ok_mkdir, p);
		break;
	case 8:
		rnd_path(&w->rng, p, sizeof(p), 'd');
		atomic_store(&w->doing, "rmdir");
		check(c, w->id, OP_RMDIR, uvfs_rmdir(x, p), ok_rmdir, p);
		break;
	case 9:
		rnd_path(&w->rng, p, sizeof(p), 'f');
		atomic_store(&w->doing, "unlink");
		check(c, w->id, OP_UNLINK, uvfs_unlink(x, p), ok_unlink, p);
		break;
	case 10: case 11: { /* rename, mostly within one mount */
		static const unsigned fl[] = { 0, 0, 0, RENAME_NOREPLACE,
					       RENAME_EXCHANGE };
		unsigned flags = fl[rnd(&w->rng, 5)];

		rnd_path(&w->rng, p, sizeof(p), 0);
		rnd_path(&w->rng, q, sizeof(q), 0);
		if (rnd(&w->rng, 4) != 0)
			q[2] = p[2]; /* same mount */
		atomic_store(&w->doing, "rename");
		r = uvfs_rename(x, p, q, flags);
		snprintf(buf, sizeof(buf), "%s, %s, %u", p, q, flags);
		check(c, w->id, OP_RENAME, r, ok_rename, buf);
		break;
	}
	case 12:
		rnd_path(&w->rng, p, sizeof(p), 'f');
		rnd_path(&w->rng, q, sizeof(q), 'f');
		q[2] = p[2];
		atomic_store(&w->doing, "link");
		snprintf(buf, sizeof(buf), "%s, %s", p, q);
		check(c, w->id, OP_LINK, uvfs_link(x, p, q), ok_link, buf);
		break;
	case 13: case 14:
		rnd_path(&w->rng, p, sizeof(p), 0);
		atomic_store(&w->doing, "stat");
		if (rnd(&w->rng, 2))
			check(c, w->id, OP_STAT, uvfs_stat(x, p, &st), ok_stat,
			      p);
		else
			check(c, w->id, OP_LSTAT, uvfs_lstat(x, p, &st),
			      ok_stat, p);
		break;
	case 15: case 16: { /* readdir */
		int fd;

		if (rnd(&w->rng, 3) == 0)
			snprintf(p, sizeof(p), "/m%u", rnd(&w->rng, NMOUNTS));
		else
			rnd_path(&w->rng, p, sizeof(p), 'd');
		atomic_store(&w->doing, "readdir");
		fd = (int)check(c, w->id, OP_OPEN,
				uvfs_open(x, p, O_RDONLY | O_DIRECTORY, 0),
				ok_open, p);
		if (fd < 0)
			break;
		for (i = 0; i < 64; i++) {
			r = check(c, w->id, OP_READDIR,
				  uvfs_readdir(x, fd, de, 8), ok_readdir, p);
			if (r <= 0)
				break;
			check_names(w, de, r, p);
		}
		check(c, w->id, OP_CLOSE, uvfs_close(x, fd), ok_close, p);
		break;
	}
	case 17: /* chdir somewhere, do something relative */
		if (w->nfd_max == 0)
			break;
		if (rnd(&w->rng, 2))
			rnd_path(&w->rng, p, sizeof(p), 'd');
		else
			snprintf(p, sizeof(p), "/m%u", rnd(&w->rng, NMOUNTS));
		atomic_store(&w->doing, "chdir");
		if (check(c, w->id, OP_CHDIR, uvfs_chdir(x, p), ok_stat, p) <
		    0)
			break;
		check(c, w->id, OP_RELSTAT, uvfs_stat(x, "f0", &st), ok_stat,
		      "f0 in cwd");
		r = check(c, w->id, OP_GETCWD,
			  uvfs_getcwd(x, buf, sizeof(buf)), ok_getcwd, p);
		if (r > 0 && (buf[0] != '/' || strlen(buf) + 1 != (size_t)r))
			report("thread %d: getcwd gave \"%s\" (%ld)", w->id,
			       buf, r);
		break;
	case 18: /* back to "/": cwds should not pin mounts for long */
		atomic_store(&w->doing, "chdir /");
		check(c, w->id, OP_CHDIR, uvfs_chdir(x, "/"), ok_none, "/");
		break;
	case 19: /* drop every descriptor now and then */
		if (rnd(&w->rng, 4) == 0)
			for (i = 0; i < NFDS; i++)
				if (w->fds[i].fd >= 0)
					close_fd(w, &w->fds[i]);
		break;
	}
	atomic_store(&w->doing, "idle");
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	int i;

	while (!atomic_load(&stop))
		worker_step(w);
	for (i = 0; i < NFDS; i++)
		if (w->fds[i].fd >= 0)
			close_fd(w, &w->fds[i]);
	check(&w->c, w->id, OP_CHDIR, uvfs_chdir(w->ctx, "/"), ok_none, "/");
	atomic_store(&w->doing, "done");
	atomic_fetch_sub(&running, 1);
	return NULL;
}
