/*
 * hello_9p.c - the smallest useful 9P2000.L file server: a read-only
 * directory holding one file, "hello", which reads "Hello, world!".
 *
 *   hello_9p unix:/tmp/hello.sock &
 *   uvfs mount -t 9p unix:/tmp/hello.sock /mnt/uvfs/hello
 *   cat /mnt/uvfs/hello/hello
 *
 * The file-server library (<uvfs/p9srv.h>) speaks the protocol: version,
 * framing, the fid table, flushes, a pool of workers.  The server fills a
 * table of operations; a missing one answers ENOSYS (EOPNOTSUPP for
 * xattrs).  A fid's priv is the number of the file it stands for.
 *
 * Build: cc hello_9p.c $(pkg-config --cflags --libs uvfs) -o hello_9p
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <uvfs/p9srv.h>

enum { ROOT = 1, HELLO = 2 };
static const char text[] = "Hello, world!\n";

static struct p9_qid qid_of(uintptr_t ino)
{
	return (struct p9_qid){ .type = ino == ROOT ? P9_QTDIR : P9_QTFILE,
				.path = ino };
}

static uintptr_t ino_of(const struct p9srv_fid *f)
{
	return (uintptr_t)f->priv;
}

static int hello_attach(struct p9srv_req *r, struct p9srv_fid *f,
			const struct p9_tattach *t, struct p9_qid *qid)
{
	(void)r, (void)t;
	f->priv = (void *)(uintptr_t)ROOT;
	*qid = qid_of(ROOT);
	return 0;
}

static int hello_walk(struct p9srv_req *r, struct p9srv_fid *f,
		      struct p9srv_fid *nf, uint16_t nwname,
		      const struct p9_str *wname, struct p9_qid *wqid,
		      uint16_t *nwqid)
{
	uintptr_t ino = ino_of(f);
	uint16_t i;

	(void)r;
	for (i = 0; i < nwname; i++) {
		if (ino == ROOT && p9_str_eq(wname[i], "hello"))
			ino = HELLO;
		else if (ino == ROOT && p9_str_eq(wname[i], ".."))
			ino = ROOT;
		else if (i == 0)
			return ino == ROOT ? -ENOENT : -ENOTDIR;
		else
			break;
		wqid[i] = qid_of(ino);
	}
	*nwqid = i;
	if (i == nwname)
		nf->priv = (void *)ino;
	return 0;
}

static int hello_getattr(struct p9srv_req *r, struct p9srv_fid *f,
			 uint64_t mask, struct p9_rgetattr *out)
{
	uintptr_t ino = ino_of(f);

	(void)r, (void)mask;
	out->valid = P9_GETATTR_BASIC;
	out->qid = qid_of(ino);
	out->mode = ino == ROOT ? S_IFDIR | 0555 : S_IFREG | 0444;
	out->nlink = ino == ROOT ? 2 : 1;
	out->size = ino == ROOT ? 0 : sizeof(text) - 1;
	out->blksize = 4096;
	return 0;
}

static int hello_lopen(struct p9srv_req *r, struct p9srv_fid *f,
		       uint32_t flags, struct p9_qid *qid, uint32_t *iounit)
{
	(void)r;
	if ((flags & O_ACCMODE) != O_RDONLY)
		return -EROFS;
	*qid = qid_of(ino_of(f));
	*iounit = 0;
	return 0;
}

static ssize_t hello_read(struct p9srv_req *r, struct p9srv_fid *f,
			  uint64_t offset, void *buf, uint32_t count)
{
	size_t len = sizeof(text) - 1;

	(void)r;
	if (ino_of(f) != HELLO)
		return -EISDIR;
	if (offset >= len)
		return 0;
	if (count > len - offset)
		count = (uint32_t)(len - offset);
	memcpy(buf, text + offset, count);
	return count;
}

/* Entries ".", ".." and "hello"; an entry's offset is the cookie of the
 * one after it. */
static int hello_readdir(struct p9srv_req *r, struct p9srv_fid *f,
			 uint64_t offset, struct p9_dirent_buf *b)
{
	static const char *const names[] = { ".", "..", "hello" };

	(void)r, (void)f;
	for (uint64_t i = offset; i < 3; i++) {
		uintptr_t ino = i == 2 ? HELLO : ROOT;
		struct p9_dirent d = { .qid = qid_of(ino), .offset = i + 1,
				       .type = ino == ROOT ? DT_DIR : DT_REG,
				       .name = p9_str(names[i]) };
		if (p9_dirent_put(b, &d) < 0)
			break;          /* full: the client asks again */
	}
	return 0;
}

static const struct p9srv_ops hello_ops = {
	.attach = hello_attach,   .walk = hello_walk,
	.getattr = hello_getattr, .lopen = hello_lopen,
	.read = hello_read,       .readdir = hello_readdir,
};

int main(int argc, char **argv)
{
	struct p9srv *srv;
	int err;

	if (argc != 2 || strncmp(argv[1], "unix:", 5) != 0) {
		fprintf(stderr, "usage: hello_9p unix:PATH\n");
		return 2;
	}
	err = p9srv_new(&hello_ops, NULL, NULL, &srv);
	if (err == 0)
		err = p9srv_serve_unix(srv, argv[1] + 5);  /* until killed */
	fprintf(stderr, "hello_9p: %s: %s\n", argv[1], strerror(-err));
	return 1;
}
