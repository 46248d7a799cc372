/*
 * embed.c - libuvfs embedded in a program: the README's example, whole.
 *
 * Makes a namespace whose root is a memfs, mounts a second memfs with a
 * 500 ms deadline, opens a file on it, and shows the three unmounts: a
 * normal one refused (the open file holds the mount, and the holder is
 * named), a forced one that returns within the deadline and leaves the
 * descriptor dead (EIO, but close works).
 *
 * With an argument, a file server's address, it also mounts that server
 * at /srv and prints its file "hello": a 9P2000.L server (unix:PATH, e.g.
 * the one examples/hello_9p serves) through the 9P client driver, or an
 * NFSv3 export (nfs://HOST/EXPORT) through the NFS client driver, which
 * libuvfs has when it was built with libnfs (<uvfs/nfs.h> installed).
 *
 * Build: cc embed.c $(pkg-config --cflags --libs uvfs) -o embed
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uvfs/9p.h>
#include <uvfs/uvfs.h>
/* the header is installed with the driver (in the source tree it is
 * always there: the build says EMBED_NO_NFS when the driver is not) */
#if __has_include(<uvfs/nfs.h>) && !defined(EMBED_NO_NFS)
#include <uvfs/nfs.h>
#define HAVE_NFS 1
#endif

#define CHECK(call)                                                     \
	do {                                                            \
		long rc_ = (call);                                      \
		if (rc_ < 0) {                                          \
			fprintf(stderr, "embed: %s: %s\n", #call,       \
				strerror((int)-rc_));                   \
			exit(1);                                        \
		}                                                       \
	} while (0)

/* Mounts the server at address on /srv (type "9p", or "nfs" for an
 * nfs:// address) and prints its file "hello". */
static void cat_hello(struct uvfs *u, struct uvfs_ctx *ctx,
		      const char *address)
{
	const char *type = "9p";
	char buf[256];
	ssize_t n;
	int fd;

	if (strncmp(address, "nfs://", 6) == 0) {
#ifdef HAVE_NFS
		type = "nfs";
		CHECK(uvfs_nfs_register(u));
#else
		fprintf(stderr, "embed: %s: this libuvfs has no NFS driver\n",
			address);
		exit(1);
#endif
	} else {
		CHECK(uvfs_9p_register(u));
	}
	CHECK(uvfs_mkdir(ctx, "/srv", 0755));
	CHECK(uvfs_mount(ctx, type, address, "/srv", "timeout=5000"));
	CHECK(fd = uvfs_open(ctx, "/srv/hello", O_RDONLY, 0));
	CHECK(n = uvfs_read(ctx, fd, buf, sizeof(buf) - 1));
	buf[n] = '\0';
	printf("%s %s: /srv/hello: %s", type, address, buf);
	CHECK(uvfs_close(ctx, fd));
	CHECK(uvfs_umount(ctx, "/srv", 0));
}

int main(int argc, char **argv)
{
	struct uvfs *u;
	struct uvfs_ctx *ctx;
	struct uvfs_holder *h;
	size_t n;
	char buf[1];
	int fd;

	CHECK(uvfs_new(NULL, &u));              /* "/" is a memfs */
	CHECK(uvfs_ctx_new(u, NULL, &ctx));     /* root credentials; cwd "/" */

	CHECK(uvfs_mkdir(ctx, "/mnt", 0755));
	CHECK(uvfs_mount(ctx, "memfs", "none", "/mnt",
			 "size=64m,deadline=500"));
	CHECK(fd = uvfs_open(ctx, "/mnt/hello", O_CREAT | O_RDWR, 0644));
	CHECK(uvfs_write(ctx, fd, "hi\n", 3));

	/* busy: the open file holds the mount, and says so */
	printf("umount: %s\n", strerror(-uvfs_umount(ctx, "/mnt", 0)));
	CHECK(uvfs_holders(ctx, "/mnt", &h, &n));
	for (size_t i = 0; i < n; i++)
		printf("  holder: %s fd %d %s\n",
		       uvfs_holder_kind_name(h[i].kind), h[i].fd, h[i].path);
	free(h);

	/* forced: returns within the 500 ms deadline; fd is dead */
	CHECK(uvfs_umount(ctx, "/mnt", UVFS_UMOUNT_FORCE));
	printf("umount -f: done\n");
	printf("read: %s\n", strerror((int)-uvfs_read(ctx, fd, buf, 1)));
	CHECK(uvfs_close(ctx, fd));
	printf("close: done\n");

	if (argc > 1)
		cat_hello(u, ctx, argv[1]);
	uvfs_ctx_free(ctx);
	uvfs_free(u);
	return 0;
}
