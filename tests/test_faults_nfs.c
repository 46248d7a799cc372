/*
 * test_faults_nfs.c - the fault loop's "nfs" workload (docs/faults.md):
 * the "nfs" type (lib/nfs on lib/remote's session) mounted against a
 * real nfs-ganesha, which tests/nfs/ganesha.sh starts in a network
 * namespace of its own and names in UVFS_NFS_SOURCE and UVFS_NFS_DIR.
 * Included by test_faults.c (built so when libnfs is installed); not a
 * program of its own.
 *
 * The server is another program: what fails is this side, the client.
 * The driver's and the session's calls go through the table (their
 * allocations, the sockets to the portmapper, MOUNT and NFS, the polls,
 * sends and receives of the session's reader, the threads); libnfs's XDR
 * routines allocate with plain malloc (a decoded READDIRPLUS reply's
 * names, a READLINK's target) and are not failed.
 *
 * Each run mounts a directory of its own (UVFS_NFS_DIR/faults-PID-N,
 * made and removed by the harness on the server's disk, never failed),
 * so that a run finds none of the files an earlier one left (and the
 * name is new to ganesha, which keeps what it saw of the export's
 * directory and would answer an old name with the removed directory's
 * handle).  It runs the file steps of the other workloads with an fsync
 * after each write (run.behind: NFS writes go behind, and a WRITE that
 * fails is the next fsync's error, not the write's), then what is NFS's
 * own:
 *
 *  - the connection lost (the harness shuts this client's sockets to
 *    the server down) with a file open: the reconnect, the check of the
 *    open file (mount.c's rebuild) and a READ sent again;
 *  - silly rename: a file unlinked while open lives on under a ".nfs"
 *    name (a listing shows it), reads on, and its last close removes it
 *    (sent, not waited for: the RMDIR of its directory waits for it);
 *    a rename over another open file does the same to the victim;
 *  - a large write and read: 3 MiB written in one call (three WRITEs of
 *    wtmax behind, in flight together), fsync (their answers and a
 *    COMMIT), read back in one call (READs sent at once) and in 256 KiB
 *    calls (the second starts a read-ahead window);
 *  - close after writes (the core's flush: the COMMIT waited for);
 *  - a forced unmount with a write in flight (nconn_cancel): the handle
 *    answers EIO, close works.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <uvfs/nfs.h>

/* Once mounted: ENOMEM; EIO (a request lost with its connection that
 * may have been applied: not sent again on a soft mount; a write
 * behind's latched error; a dead session); ETIMEDOUT (a call that waited
 * for a reconnect and did not see it within its deadline: docs/nfs.md,
 * "hard / soft" and "Replay"); EAGAIN (a thread: uvfs_new, the mount's
 * reader and supervisor). */
static const int nfs_allowed[] = { ENOMEM, EIO, ETIMEDOUT, EAGAIN, 0 };
/* mounting: the transport's error too (the portmapper's, MOUNT's or the
 * NFS connection's socket failed) */
static const int nfs_mount_allowed[] = { ECONNRESET, 0 };

static const char *nfs_source, *nfs_dir, *nfs_host;
static unsigned nfs_runs;

#define BIG (3u << 20)
static unsigned char *big_w, *big_r;

/* A write of many WRITEs: a count short of the dry run's is a write
 * that failed part way, as write(2) has it (the bytes sent, the error
 * left for the next call; wb.c's nw_write), and stops the workload as an
 * allowed errno does. */
static bool step_write(struct run *r, const char *what, long v)
{
	if (!r->record && r->i < r->nref && v > 0 && v < r->ref[r->i]) {
		r->i++;
		r->stopped = true;
		return false;
	}
	return step(r, what, v);
}

#define STEP_WRITE(r, expr) do {                                        \
		if (!step_write((r), #expr, (long)(expr)))              \
			goto stop;                                      \
	} while (0)

/* The network drops this client's connections to the NFS server (the
 * harness's own calls: libc): each socket of this process connected to
 * the server's port 2049 is shut down.  The session sees its link end,
 * the supervisor connects again and rebuilds (a GETATTR of the root and
 * of each open file), and the idempotent call made next is sent again on
 * the new connection (docs/nfs.md, "Replay"): the steps after it see no
 * difference. */
static void nfs_cut(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	struct in_addr host;

	if (!d || inet_pton(AF_INET, nfs_host, &host) != 1) {
		perror("nfs_cut");
		exit(1);
	}
	while ((e = readdir(d))) {
		struct sockaddr_in a;
		socklen_t al = sizeof(a);
		int fd = atoi(e->d_name);
		if (e->d_name[0] == '.' || fd == dirfd(d))
			continue;
		if (getpeername(fd, (struct sockaddr *)&a, &al) == 0 &&
		    a.sin_family == AF_INET && ntohs(a.sin_port) == 2049 &&
		    a.sin_addr.s_addr == host.s_addr)
			shutdown(fd, SHUT_RDWR);
	}
	closedir(d);
}

/* How many entries a listing of path has. */
static long count_entries(struct uvfs_ctx *c, const char *path)
{
	struct uvfs_dirent ents[16];
	long n = 0, k;
	int dfd = uvfs_open(c, path, O_RDONLY | O_DIRECTORY, 0);

	if (dfd < 0)
		return dfd;
	while ((k = uvfs_readdir(c, dfd, ents, 16)) > 0)
		n += k;
	uvfs_close(c, dfd);
	return k < 0 ? k : n;
}

static bool nfs_steps(struct run *r, struct uvfs_ctx *c)
{
	struct stat st;
	char buf[64];
	int fd = -1, fd2 = -1;

	/* silly rename: unlinked while open, then closed */
	STEP(r, uvfs_mkdir(c, "/m/sd", 0755));
	STEP(r, fd = uvfs_open(c, "/m/sd/s", O_CREAT | O_RDWR, 0644));
	STEP(r, uvfs_write(c, fd, "silly", 5));
	STEP(r, uvfs_fsync(c, fd));
	/* the connection lost with a file open: a reconnect, the check of
	 * the open file, a READ sent again */
	nfs_cut();
	STEP(r, uvfs_pread(c, fd, buf, sizeof(buf), 0));
	STEP(r, uvfs_unlink(c, "/m/sd/s"));
	STEP(r, uvfs_stat(c, "/m/sd/s", &st));
	STEP(r, count_entries(c, "/m/sd"));     /* the ".nfs" name */
	STEP(r, uvfs_fstat(c, fd, &st));
	STEP(r, st.st_nlink);
	STEP(r, uvfs_pread(c, fd, buf, sizeof(buf), 0));
	STEP(r, memcmp(buf, "silly", 5));
	STEP(r, uvfs_close(c, fd));
	fd = -1;
	/* a rename over an open file */
	STEP(r, fd = uvfs_open(c, "/m/sd/t", O_CREAT | O_RDWR, 0644));
	STEP(r, fd2 = uvfs_open(c, "/m/sd/u", O_CREAT | O_RDWR, 0644));
	STEP(r, uvfs_close(c, fd2));
	fd2 = -1;
	STEP(r, uvfs_rename(c, "/m/sd/u", "/m/sd/t", 0));
	STEP(r, uvfs_fstat(c, fd, &st));
	STEP(r, st.st_nlink);
	STEP(r, uvfs_close(c, fd));
	fd = -1;
	STEP(r, uvfs_unlink(c, "/m/sd/t"));
	STEP(r, uvfs_rmdir(c, "/m/sd"));
	/* a large write and read: many requests at once */
	STEP(r, fd = uvfs_open(c, "/m/big", O_CREAT | O_RDWR, 0644));
	STEP_WRITE(r, uvfs_pwrite(c, fd, big_w, BIG, 0));
	STEP(r, uvfs_fsync(c, fd));
	STEP(r, uvfs_pread(c, fd, big_r, BIG, 0));
	STEP(r, memcmp(big_r, big_w, BIG));
	memset(big_r, 0, BIG);
	for (unsigned off = 0; off < BIG; off += 256u << 10)
		STEP(r, uvfs_pread(c, fd, big_r + off, 256u << 10, off));
	STEP(r, memcmp(big_r, big_w, BIG));
	/* close after writes: the flush waits for a COMMIT */
	STEP(r, uvfs_pwrite(c, fd, big_w, 65536, BIG));
	STEP(r, uvfs_close(c, fd));
	fd = -1;
	STEP(r, uvfs_stat(c, "/m/big", &st));
	STEP(r, st.st_size);
	STEP(r, uvfs_unlink(c, "/m/big"));
	return true;
stop:
	r->also = NULL;
	/* descriptors left open are the cleanup's (uvfs_ctx_free) */
	return false;
}

static void run_nfs(struct run *r)
{
	struct uvfs *u = NULL;
	struct uvfs_ctx *c = NULL;
	char src[1024], dir[1024], buf[16];
	int fd = -1;

	/* a directory of its own on the server (the harness's: libc) */
	snprintf(dir, sizeof(dir), "%s/faults-%d-%u", nfs_dir, (int)getpid(),
		 ++nfs_runs);
	if (mkdir(dir, 0777) != 0 || chmod(dir, 0777) != 0) {
		perror(dir);
		exit(1);
	}
	snprintf(src, sizeof(src), "%s/faults-%d-%u", nfs_source,
		 (int)getpid(), nfs_runs);
	r->behind = true;
	STEP(r, uvfs_new(NULL, &u));
	STEP(r, uvfs_ctx_new(u, NULL, &c));
	STEP(r, uvfs_nfs_register(u));
	STEP(r, uvfs_mkdir(c, "/m", 0755));
	r->also = nfs_mount_allowed;
	STEP(r, uvfs_mount(c, "nfs", src, "/m", "timeout=3000"));
	r->also = NULL;
	if (!file_steps(r, c) || !nfs_steps(r, c))
		goto stop;
	STEP(r, uvfs_umount(c, "/m", 0));
	/* a forced unmount with a write in flight */
	r->also = nfs_mount_allowed;
	STEP(r, uvfs_mount(c, "nfs", src, "/m", "timeout=3000"));
	r->also = NULL;
	STEP(r, fd = uvfs_open(c, "/m/f", O_CREAT | O_RDWR, 0644));
	STEP(r, uvfs_pwrite(c, fd, big_w, 65536, 0));
	STEP(r, uvfs_umount(c, "/m", UVFS_UMOUNT_FORCE));
	STEP(r, uvfs_read(c, fd, buf, sizeof(buf)));
	STEP(r, uvfs_close(c, fd));
	STEP(r, uvfs_settle(u, 10000));
stop:
	r->also = NULL;
	cleanup(r, u, c);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	rmdir(dir);
}

/* Whether the nfs workload can run: the server's names from ganesha.sh. */
static bool nfs_ready(void)
{
	nfs_source = getenv("UVFS_NFS_SOURCE");
	nfs_dir = getenv("UVFS_NFS_DIR");
	nfs_host = getenv("UVFS_NFS_HOST");
	if (!nfs_source || !*nfs_source || !nfs_dir || !*nfs_dir ||
	    !nfs_host || !*nfs_host)
		return false;
	big_w = malloc(BIG);
	big_r = malloc(BIG);
	if (!big_w || !big_r) {
		perror("malloc");
		exit(1);
	}
	for (unsigned i = 0; i < BIG; i++)
		big_w[i] = (unsigned char)(i * 7 + i / 4096);
	return true;
}
