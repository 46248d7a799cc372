/*
 * vnode_if.c - the vnode operations, from one table (the shape of NetBSD's
 * vnode_if.src / vnode_if.c).
 *
 * Each operation is three things, written next to each other below:
 *
 *   struct vop_NAME_args   its arguments, the vnodes among them;
 *   vi_NAME()              its driver call: runs inside the gate with every
 *                          declared vnode alive, so each one's priv is the
 *                          driver's loaded object;
 *   VOP_DESC(NAME, dead, vnodes...)
 *                          its descriptor: the answer of the dead operation
 *                          and the offsets of the vnodes it touches.
 *
 * and vop_NAME(), the entry point of core.h, only packs the arguments and
 * calls vop_call().  vop_call() is the one wrapper: it refuses vnodes of two
 * superblocks (-EXDEV), enters the first vnode's gate, then checks *every*
 * declared vnode for death and answers the dead operation (-EIO) when one
 * is dead or the gate was killed: an operation that waited at a closed gate
 * while a revoke or a forced unmount finished finds its vnode dead when it
 * gets in (the ERESTARTVOP rule).  Nothing that hands a vnode's priv to
 * the driver does it anywhere else, so no operation can forget a check.
 * A vnode is declared when its priv goes to the driver; a vnode an
 * operation only marks afterwards (unlink's child, rename's victim: their
 * VN_UNLINKED flag, outside the gate) is not.
 *
 * Open files: vop_open attaches the new file (with its driver handle) to
 * the vnode inside the gate, and vn_file_detach takes it off inside the
 * gate, so a revoke or a forced unmount, which reclaims only after the gate
 * drained, either finds the file attached and releases its handle itself,
 * or never sees it: every handle is released exactly once, while the
 * driver object is loaded.  The one operation that does not refuse a dead
 * vnode is that release.
 *
 * The descriptors are constant and vop_call is inlined into each entry
 * point, so the compiler unrolls the death checks (one or two loads of the
 * vnode's state) and calls the driver directly: the fast path costs what
 * the hand-written wrappers did (bench/bench_gate, "vop").
 */
#include "core.h"
#include "lock.h"

#include <dirent.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#define VOP_MAXVP 2
#define VOP_ARGS_MAX 64         /* the largest args struct (VOP_DESC checks) */

struct vop_desc {
	const char *name;
	long dead;                          /* the dead operation's answer */
	unsigned nvp;                       /* declared vnodes */
	unsigned size;                      /* of the args */
	unsigned short vp_off[VOP_MAXVP];   /* their offsets in the args; the
					       first one's gate is entered */
	long (*call)(struct uvfs_sb *sb, void *args);
};

#define VOP_NARGS_(a, b, n, ...) n
#define VOP_NARGS(...) VOP_NARGS_(__VA_ARGS__, 2, 1, 0)
#define VOP_OFF1(op, a) { offsetof(struct vop_##op##_args, a) }
#define VOP_OFF2(op, a, b) { offsetof(struct vop_##op##_args, a), \
			     offsetof(struct vop_##op##_args, b) }
#define VOP_OFFS_(n, op, ...) VOP_OFF##n(op, __VA_ARGS__)
#define VOP_OFFS(n, op, ...) VOP_OFFS_(n, op, __VA_ARGS__)

/* The descriptor of op: its dead answer and the vnodes it touches. */
#define VOP_DESC(op, deadval, ...)                                      \
	static long vi_##op(struct uvfs_sb *sb, struct vop_##op##_args *a); \
	static long vi_##op##_(struct uvfs_sb *sb, void *a)             \
	{                                                               \
		return vi_##op(sb, a);                                  \
	}                                                               \
	_Static_assert(sizeof(struct vop_##op##_args) <= VOP_ARGS_MAX,  \
		       "VOP_ARGS_MAX");                                 \
	_Static_assert(_Alignof(struct vop_##op##_args) <=              \
		       _Alignof(void *), "the slow path's copy's alignment"); \
	static const struct vop_desc vop_##op##_desc = {                \
		.name = #op,                                            \
		.dead = (deadval),                                      \
		.nvp = VOP_NARGS(__VA_ARGS__),                          \
		.size = sizeof(struct vop_##op##_args),                 \
		.vp_off = VOP_OFFS(VOP_NARGS(__VA_ARGS__), op, __VA_ARGS__), \
		.call = vi_##op##_,                                     \
	}

static inline struct vnode *vop_vp(const struct vop_desc *d, void *a,
				   unsigned i)
{
	return *(struct vnode **)((char *)a + d->vp_off[i]);
}

/* The mount this thread is inside (uvfs_thread_where): set around each
 * driver call, restored after (a driver call that enters another file
 * system's operation, or a nested call, gives it back). */
static __thread _Atomic unsigned long long t_where GATE_TLS_MODEL;

const _Atomic unsigned long long *uvfs_thread_where(void)
{
	return &t_where;
}

/* The driver's call, with t_where set around it. */
static inline __attribute__((always_inline)) long
vop_driver(const struct vop_desc *d, struct uvfs_sb *sb, void *a)
{
	unsigned long long was = atomic_load_explicit(&t_where,
						      memory_order_relaxed);
	long r;

	atomic_store_explicit(&t_where, (unsigned long long)sb->dev,
			      memory_order_relaxed);
	r = d->call(sb, a);
	atomic_store_explicit(&t_where, was, memory_order_relaxed);
	return r;
}

/* The one wrapper's general form (see the top of the file): enters the
 * gate by gate_enter, which may wait, then checks every declared vnode.
 * vop_call's fast path sends here whatever it does not handle itself: a
 * thread's first entry into this gate or a switch from another, a gate
 * not open. */
#ifndef UVFS_UNGATED
static __attribute__((noinline)) long
vop_call_slow(const struct vop_desc *d, void *a)
{
	struct uvfs_sb *sb = vop_vp(d, a, 0)->sb;
	struct gate_rec *gr;
	long r;
	int e;

	/* a vnode dead already is dead for good: its answer comes at once,
	 * not after a wait at a gate a suspend or another revoke holds
	 * (outside the gate, its sb's killed flag is looked at too) */
	for (unsigned i = 0; i < d->nvp; i++) {
		struct vnode *vp = vop_vp(d, a, i);
		if (vp && vn_dead(vp))
			return d->dead;
	}
	/* an operation that may fail may also give up its wait at a closed
	 * gate when its caller does (uvfs_intr_set): it never entered */
	e = d->dead < 0 ? gate_enter_intr(&sb->gate, &gr)
			: gate_enter(&sb->gate, &gr);
	if (e != 0)
		return e == GATE_NOMEM ? -ENOMEM
		       : e == GATE_INTR ? -EINTR : d->dead;
	for (unsigned i = 0; i < d->nvp; i++) {
		struct vnode *vp = vop_vp(d, a, i);
		if (vp && vn_dead_inside(vp)) {
			gate_leave(&sb->gate, gr);
			return d->dead;
		}
	}
	r = vop_driver(d, sb, a);
	gate_leave(&sb->gate, gr);
	return r;
}

/* vop_call's miss for an operation whose arguments fit in VOP_WORDS
 * words: they come in registers, so that the fast path needs no stack
 * frame for a copy of them (the frame's allocation and release are two
 * instructions on every call of a small operation, getattr's among
 * them).  The rest takes the copy (vop_call). */
#define VOP_WORDS 3
static __attribute__((noinline)) long
vop_call_miss(const struct vop_desc *d, struct gate_rec *gr, struct gate *g,
	      unsigned long w0, unsigned long w1, unsigned long w2)
{
	const unsigned long w[VOP_WORDS] = { w0, w1, w2 };
	union { char b[VOP_ARGS_MAX]; void *align; } cp;

	memcpy(cp.b, w, sizeof(w));
	gate_undo(gr, g);
	return vop_call_slow(d, cp.b);
}

/* gate_leave's slow half for the fast path: the result goes through
 * the call, so that it needs no register of its own across it. */
static __attribute__((noinline, cold)) long
vop_leave_slow(struct gate *g, long r)
{
	gate_exit_slow(g);
	return r;
}

#endif

/* The one wrapper (see the top of the file).  Its fast path is
 * gate_enter's, with the death checks after it: "count++; is the key the
 * gate (this thread's record, and open)?; are the vnodes alive?".  Once
 * the increment is made and the key seen open, a revoke or kill that has
 * not drained yet waits for this thread, and a vnode found dead is dead
 * for good.  So nothing is live across a call before the driver's, and
 * nothing of the gate's across the driver's: the fast path needs no
 * register, and for small arguments no stack, that the ungated build's
 * does not (bench/README.md, "bench_gate"). */
static inline __attribute__((always_inline)) long
vop_call(const struct vop_desc *d, void *a)
{
	struct uvfs_sb *sb = vop_vp(d, a, 0)->sb;
	long r;

	for (unsigned i = 1; i < d->nvp; i++) {
		struct vnode *vp = vop_vp(d, a, i);
		if (vp && vp->sb != sb)
			return -EXDEV;
	}
#ifdef UVFS_UNGATED
	for (unsigned i = 0; i < d->nvp; i++) {
		struct vnode *vp = vop_vp(d, a, i);
		if (vp && vn_dead_inside(vp))
			return d->dead;
	}
	r = vop_driver(d, sb, a);
	return r;
#else
	struct gate_rec *gr = gate_t_last;

	/* the slow path gets a copy of the args, so that they need not be
	 * in memory on the fast path (where their address would escape):
	 * in registers if they are small (vop_call_miss), else here */
	union { char b[VOP_ARGS_MAX]; void *align; } cp;
	gate_count_add(gr, 1);
	cmm_barrier();          /* gate_enter's: GATE_OPEN implies membarrier */
	if (__builtin_expect(!gate_rec_open(gr, &sb->gate), 0))
		goto slow;
	for (unsigned i = 0; i < d->nvp; i++) {
		struct vnode *vp = vop_vp(d, a, i);
		/* (the first is never NULL: its sb was read above) */
		if ((i == 0 || vp) && vn_dead_inside(vp)) {
			gate_leave(&sb->gate, gr);
			return d->dead;
		}
	}
	r = vop_driver(d, sb, a);
	/* The record again from the thread-local, rather than kept across
	 * the call in a register of its own: a thread's last record stays
	 * the one it entered by while it is inside (gate.c, rec_last).
	 * Then gate_leave's, unrolled, without its check: this call takes
	 * back the increment it made itself on the same record above.  A
	 * leave without its enter elsewhere is caught there (gate_leave)
	 * or by the next reading of the counts (gate.c, inside_locked). */
	gr = gate_t_last;
	UVFS_DIAG(gate_rec_gate(gr) == &sb->gate);
	gate_count_add(gr, -1);
	if (__builtin_expect(!gate_is_open(&sb->gate), 0))
		r = vop_leave_slow(&sb->gate, r);
	return r;
slow:
	if (d->size <= sizeof(long[VOP_WORDS])) {
		unsigned long w[VOP_WORDS] = { 0 };

		memcpy(w, a, d->size);
		return vop_call_miss(d, gr, &sb->gate, w[0], w[1], w[2]);
	}
	memcpy(cp.b, a, d->size);       /* first: nothing live across the
					   call but what is in memory */
	gate_undo(gr, &sb->gate);
	return vop_call_slow(d, cp.b);
#endif
}

#define VCALL(op, ...) \
	vop_call(&vop_##op##_desc, &(struct vop_##op##_args){ __VA_ARGS__ })

/* ---- answers no file can have ------------------------------------------
 *
 * A driver passes on what its server says, and a server can say what no
 * file can have (a bug, or a name its host allows and Linux does not).
 * Every front end would hand it on (the kernel fails a whole FUSE listing
 * for one such name, and takes a file of an unknown type for a bad
 * inode), so it stops here, once, for every driver: a file type none of
 * the seven is -EIO, as a malformed reply is; a listing leaves out the
 * entry whose name no file can have (it could not be looked up, so
 * nothing else can reach that file either) and says DT_UNKNOWN for a
 * d_type that is none of the seven (the name is good: a stat of it tells).
 * A NUL inside a name is the driver's to refuse: the core sees a name
 * only up to it.  docs/design.md, "Answers no file can have".
 */

/* One of the seven file types of Linux (mode's S_IFMT bits)? */
static bool type_ok(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFCHR:
	case S_IFBLK: case S_IFIFO: case S_IFSOCK:
		return true;
	default:
		return false;
	}
}

/* Can a file have this name in a listing?  Not empty, at most NAME_MAX
 * bytes, no '/'; "." and ".." are a listing's own. */
static bool listable(const char *name)
{
	size_t len = strnlen(name, NAME_MAX + 1);

	return len > 0 && len <= NAME_MAX && !memchr(name, '/', len);
}

static bool dtype_ok(unsigned char t)
{
	switch (t) {
	case DT_UNKNOWN: case DT_REG: case DT_DIR: case DT_LNK: case DT_CHR:
	case DT_BLK: case DT_FIFO: case DT_SOCK:
		return true;
	default:
		return false;
	}
}

int vop_driver_getattr(struct uvfs_sb *sb, void *priv, struct stat *st)
{
	int r = sb->ops->getattr(sb, priv, st);

	return r == 0 && !type_ok(st->st_mode) ? -EIO : r;
}

/* ---- attributes and permissions ---------------------------------------- */

struct vop_getattr_args {
	struct vnode *vp;
	struct stat *st;
};
VOP_DESC(getattr, -EIO, vp);
static long vi_getattr(struct uvfs_sb *sb, struct vop_getattr_args *a)
{
	int r = vop_driver_getattr(sb, a->vp->priv, a->st);

	if (r == 0)
		a->st->st_dev = sb->dev;
	return r;
}
int vop_getattr(struct vnode *vp, struct stat *st)
{
	return (int)VCALL(getattr, .vp = vp, .st = st);
}

struct vop_setattr_args {
	struct vnode *vp;
	const struct uvfs_setattr *sa;
};
VOP_DESC(setattr, -EIO, vp);
static long vi_setattr(struct uvfs_sb *sb, struct vop_setattr_args *a)
{
	return sb->ops->setattr ? sb->ops->setattr(sb, a->vp->priv, a->sa)
				: -ENOSYS;
}
int vop_setattr(struct vnode *vp, const struct uvfs_setattr *sa)
{
	return (int)VCALL(setattr, .vp = vp, .sa = sa);
}

/* The credentials of the operation in progress (fs.h): set where a call
 * on a context first meets the namespace (namei_at, fd_get), read by
 * drivers.  Per thread; a worker thread never has any. */
static _Thread_local struct {
	struct uvfs_cred cred;
	bool set;
} cred_now;     /* one thread-local: one address to find per call */

void cred_set_current(const struct uvfs_cred *cr)
{
	if (!cr) {
		cred_now.set = false;
		return;
	}
	unsigned n = cr->ngroups < UVFS_NGROUPS_MAX ? cr->ngroups
						     : UVFS_NGROUPS_MAX;

	/* the flag with the fields, before the groups: the thread-local's
	 * address found once on the usual path (no groups), where after the
	 * copy's call it would be found again (bench/README.md, "bench_stat") */
	cred_now.set = true;
	cred_now.cred.uid = cr->uid;
	cred_now.cred.gid = cr->gid;
	cred_now.cred.ngroups = n;
	for (unsigned i = 0; i < n; i++)
		cred_now.cred.groups[i] = cr->groups[i];
}

const struct uvfs_cred *uvfs_cred_current(void)
{
	return cred_now.set ? &cred_now.cred : NULL;
}

bool cred_in_group(const struct uvfs_cred *cr, gid_t gid)
{
	if (cr->gid == gid)
		return true;
	for (unsigned i = 0; i < cr->ngroups && i < UVFS_NGROUPS_MAX; i++)
		if (cr->groups[i] == gid)
			return true;
	return false;
}

struct vop_access_args {
	struct vnode *vp;
	int mask;
	const struct uvfs_cred *cr;
};
VOP_DESC(access, -EIO, vp);
static long vi_access(struct uvfs_sb *sb, struct vop_access_args *a)
{
	const struct uvfs_cred *cr = a->cr;
	int mask = a->mask;
	struct stat st;
	unsigned bits;
	int r;

	if (sb->ops->permission)        /* the driver's (a server's) check */
		return sb->ops->permission(sb, a->vp->priv, mask, cr);
	if ((sb->ops->flags & UVFS_FS_SERVER_PERMS) &&
	    !(cr->uid == 0 && (mask & X_OK)))
		return 0;               /* the server decides, at the op */
	r = vop_driver_getattr(sb, a->vp->priv, &st);
	if (r)
		return r;
	if (cr->uid == 0)
		bits = (mask & X_OK) && !S_ISDIR(st.st_mode) &&
		       !(st.st_mode & 0111) ? 0 : 7;
	else if (cr->uid == st.st_uid)
		bits = (st.st_mode >> 6) & 7;
	else if (cred_in_group(cr, st.st_gid))
		bits = (st.st_mode >> 3) & 7;
	else
		bits = st.st_mode & 7;
	return ((unsigned)mask & ~bits) ? -EACCES : 0;
}
int vop_access(struct vnode *vp, int mask, const struct uvfs_cred *cr)
{
	return (int)VCALL(access, .vp = vp, .mask = mask, .cr = cr);
}

struct vop_statfs_args {
	struct vnode *vp;
	struct statvfs *st;
};
VOP_DESC(statfs, -EIO, vp);
static long vi_statfs(struct uvfs_sb *sb, struct vop_statfs_args *a)
{
	struct statvfs *st = a->st;
	int r = 0;

	if (sb->ops->statfs) {
		r = sb->ops->statfs(sb, st);
	} else {
		memset(st, 0, sizeof(*st));
		st->f_bsize = st->f_frsize = 4096;
		st->f_namemax = NAME_MAX;
	}
	if (r == 0) {
		st->f_fsid = (unsigned long)sb->dev;
		if (sb->rdonly)
			st->f_flag |= ST_RDONLY;
	}
	return r;
}
int vop_statfs(struct vnode *vp, struct statvfs *st)
{
	return (int)VCALL(statfs, .vp = vp, .st = st);
}

/* ---- names ------------------------------------------------------------- */

struct vop_lookup_args {
	struct vnode *dvp;
	const char *name;
	struct vnode **out;
};
VOP_DESC(lookup, -EIO, dvp);
static long vi_lookup(struct uvfs_sb *sb, struct vop_lookup_args *a)
{
	struct uvfs_ident id = { 0 };
	int r = sb->ops->lookup(sb, a->dvp->priv, a->name, &id);

	if (r == 0 && id.type && !type_ok(id.type))
		r = -EIO;       /* no file has that type (0: not known) */
	else if (r == 0 && (id.type == S_IFDIR || id.type == S_IFLNK))
		r = vcache_get_typed(sb, &id, a->out);  /* exact classes */
	else if (r == 0)
		r = vcache_get_ident(sb, &id, a->out);
	return r;
}
int vop_lookup(struct vnode *dvp, const char *name, struct vnode **out)
{
	return vop_lookup_len(dvp, name, strlen(name), out);
}

int vop_lookup_len(struct vnode *dvp, const char *name, size_t len,
		   struct vnode **out)
{
	bool dotdot = name[0] == '.' && name[1] == '.' && name[2] == '\0';
	unsigned long seq = 0;
	int r;

	/* ".." is never cached: a rename moves it */
	if (!dotdot) {
		if (ncache_lookup(dvp, name, len, out))
			return 0;
		/* a directory removed through this mount: before the driver
		 * is asked, whose handle of it may be stale (and a stale
		 * handle is retried: docs/design.md, "Stale handles") */
		if (vn_unlinked(dvp))
			return -ENOENT;
		seq = ncache_seq(dvp);
	}
	r = (int)VCALL(lookup, .dvp = dvp, .name = name, .out = out);
	if (r == 0 && !dotdot)
		ncache_add(dvp, name, *out, seq);
	return r;
}

struct vop_create_args {
	struct vnode *dvp;
	const char *name;
	mode_t mode;
	dev_t rdev;
	const char *target;
	const struct uvfs_cred *cred;
	struct vnode **out;
};
VOP_DESC(create, -EIO, dvp);
static long vi_create(struct uvfs_sb *sb, struct vop_create_args *a)
{
	struct uvfs_ident id = { 0 };
	int r;

	if (!sb->ops->create)
		return -ENOSYS;
	r = sb->ops->create(sb, a->dvp->priv, a->name, a->mode, a->rdev,
			    a->target, a->cred, &id);
	if (r == 0 && a->out) {
		/* the type is the one asked for, whatever the driver said */
		id.type = a->mode & S_IFMT;
		r = vcache_get_created(sb, &id, a->out);
		/* made, but its vnode not loaded: never -ESTALE, which a
		 * caller takes for a create that did not happen (the
		 * exclusive create's lookup then finds the file and says
		 * -EEXIST; a kernel retries the open and finds it too) */
		if (r == -ESTALE)
			r = -EIO;
	}
	return r;
}
int vop_create(struct vnode *dvp, const char *name, mode_t mode, dev_t rdev,
	       const char *target, const struct uvfs_cred *cred,
	       struct vnode **out)
{
	if (vn_unlinked(dvp))
		return -ENOENT;
	unsigned long seq = ncache_seq(dvp);
	int r = (int)VCALL(create, .dvp = dvp, .name = name, .mode = mode,
			   .rdev = rdev, .target = target, .cred = cred,
			   .out = out);

	if (r == 0 && out)
		ncache_add(dvp, name, *out, seq);
	return r;
}

struct vop_link_args {
	struct vnode *dvp;
	struct vnode *vp;
	const char *name;
};
VOP_DESC(link, -EIO, dvp, vp);
static long vi_link(struct uvfs_sb *sb, struct vop_link_args *a)
{
	return sb->ops->link ? sb->ops->link(sb, a->dvp->priv, a->name,
					     a->vp->priv)
			     : -ENOSYS;
}
int vop_link(struct vnode *dvp, const char *name, struct vnode *vp)
{
	if (vn_unlinked(dvp))
		return -ENOENT;
	return (int)VCALL(link, .dvp = dvp, .vp = vp, .name = name);
}

struct vop_unlink_args {
	struct vnode *dvp;
	const char *name;
	int isdir;
};
VOP_DESC(unlink, -EIO, dvp);
static long vi_unlink(struct uvfs_sb *sb, struct vop_unlink_args *a)
{
	return sb->ops->unlink ? sb->ops->unlink(sb, a->dvp->priv, a->name,
						 a->isdir)
			       : -ENOSYS;
}
int vop_unlink(struct vnode *dvp, const char *name, int isdir,
	       struct vnode *child)
{
	int r = (int)VCALL(unlink, .dvp = dvp, .name = name, .isdir = isdir);

	if (r == 0)
		ncache_remove(dvp, name);
	if (r == 0 && child)
		vn_mark_unlinked(child);
	return r;
}

struct vop_rename_args {
	struct vnode *odvp;
	struct vnode *ndvp;
	const char *oname, *nname;
	unsigned flags;
};
VOP_DESC(rename, -EIO, odvp, ndvp);
static long vi_rename(struct uvfs_sb *sb, struct vop_rename_args *a)
{
	return sb->ops->rename ? sb->ops->rename(sb, a->odvp->priv, a->oname,
						 a->ndvp->priv, a->nname,
						 a->flags)
			       : -ENOSYS;
}
int vop_rename(struct vnode *odvp, const char *oname, struct vnode *ndvp,
	       const char *nname, unsigned flags, struct vnode *victim)
{
	if (vn_unlinked(odvp) || vn_unlinked(ndvp))
		return -ENOENT;
	int r = (int)VCALL(rename, .odvp = odvp, .ndvp = ndvp, .oname = oname,
			   .nname = nname, .flags = flags);

	if (r == 0) {
		ncache_remove(odvp, oname);
		ncache_remove(ndvp, nname);
	}
	if (r == 0 && victim)
		vn_mark_unlinked(victim);
	return r;
}

struct vop_readlink_args {
	struct vnode *vp;
	char *buf;
	size_t size;
};
VOP_DESC(readlink, -EIO, vp);
static long vi_readlink(struct uvfs_sb *sb, struct vop_readlink_args *a)
{
	return sb->ops->readlink ? sb->ops->readlink(sb, a->vp->priv, a->buf,
						     a->size)
				 : -EINVAL;
}
ssize_t vop_readlink(struct vnode *vp, char *buf, size_t size)
{
	return VCALL(readlink, .vp = vp, .buf = buf, .size = size);
}

/* ---- extended attributes ----------------------------------------------- */

struct vop_getxattr_args {
	struct vnode *vp;
	const char *name;
	void *value;
	size_t size;
};
VOP_DESC(getxattr, -EIO, vp);
static long vi_getxattr(struct uvfs_sb *sb, struct vop_getxattr_args *a)
{
	return sb->ops->getxattr ? sb->ops->getxattr(sb, a->vp->priv, a->name,
						     a->value, a->size)
				 : -EOPNOTSUPP;
}
ssize_t vop_getxattr(struct vnode *vp, const char *name, void *value,
		     size_t size)
{
	return VCALL(getxattr, .vp = vp, .name = name, .value = value,
		     .size = size);
}

struct vop_setxattr_args {
	struct vnode *vp;
	const char *name;
	const void *value;
	size_t size;
	int flags;
};
VOP_DESC(setxattr, -EIO, vp);
static long vi_setxattr(struct uvfs_sb *sb, struct vop_setxattr_args *a)
{
	return sb->ops->setxattr ? sb->ops->setxattr(sb, a->vp->priv, a->name,
						     a->value, a->size,
						     a->flags)
				 : -EOPNOTSUPP;
}
int vop_setxattr(struct vnode *vp, const char *name, const void *value,
		 size_t size, int flags)
{
	return (int)VCALL(setxattr, .vp = vp, .name = name, .value = value,
			  .size = size, .flags = flags);
}

struct vop_listxattr_args {
	struct vnode *vp;
	char *list;
	size_t size;
};
VOP_DESC(listxattr, -EIO, vp);
static long vi_listxattr(struct uvfs_sb *sb, struct vop_listxattr_args *a)
{
	return sb->ops->listxattr ? sb->ops->listxattr(sb, a->vp->priv,
						       a->list, a->size)
				  : -EOPNOTSUPP;
}
ssize_t vop_listxattr(struct vnode *vp, char *list, size_t size)
{
	return VCALL(listxattr, .vp = vp, .list = list, .size = size);
}

struct vop_removexattr_args {
	struct vnode *vp;
	const char *name;
};
VOP_DESC(removexattr, -EIO, vp);
static long vi_removexattr(struct uvfs_sb *sb,
			   struct vop_removexattr_args *a)
{
	return sb->ops->removexattr ? sb->ops->removexattr(sb, a->vp->priv,
							   a->name)
				    : -EOPNOTSUPP;
}
int vop_removexattr(struct vnode *vp, const char *name)
{
	return (int)VCALL(removexattr, .vp = vp, .name = name);
}

/* ---- open files -------------------------------------------------------- */

struct vop_open_args {
	struct vnode *vp;
	int flags;
	struct file *f;
};
VOP_DESC(open, -EIO, vp);
static long vi_open(struct uvfs_sb *sb, struct vop_open_args *a)
{
	struct vnode *vp = a->vp;
	struct file *f = a->f;
	void *fh = NULL;
	int r = sb->ops->open ? sb->ops->open(sb, vp->priv, a->flags, &fh)
			      : 0;

	if (r)
		return r;
	/* Inside the gate: a reclaim of vp (after the drain) finds f
	 * attached and releases fh. */
	vn_lock(vp);
	__atomic_store_n(&f->fh, fh, __ATOMIC_RELEASE);     /* file_fh */
	cds_hlist_add_head(&f->vlink, &vp->files);
	f->attached = true;
	vn_unlock(vp);
	return 0;
}
int vop_open(struct vnode *vp, int flags, struct file *f)
{
	return (int)VCALL(open, .vp = vp, .flags = flags, .f = f);
}

/* The release of a file's driver handle, at its last reference.  Inside
 * the gate, a file still attached has its handle and its vnode's driver
 * object loaded (a reclaim waits for the drain), dead vnode or not: the
 * release goes to the driver here.  On a killed gate the handle is the
 * reclaim's: the file is left on the vnode as an orphan, and vn_unload
 * releases the handle and frees the file.  => true if f was orphaned (the
 * caller must not free it). */
bool vn_file_detach(struct vnode *vp, struct file *f)
{
	struct uvfs_sb *sb = vp->sb;
	struct gate_rec *gr;
	void *fh;

	if (gate_enter(&sb->gate, &gr) != 0) {
		/* killed (or, rarer, no memory for this thread's record):
		 * the reclaim of vp, which comes at the latest at its last
		 * release, releases the handle and frees f */
		bool orphan;

		vn_lock(vp);
		orphan = f->attached;
		if (orphan)
			f->orphan = true;
		vn_unlock(vp);
		return orphan;
	}
	vn_lock(vp);
	if (!f->attached) {
		vn_unlock(vp);
		gate_exit(gr);
		return false;
	}
	fh = file_detach_locked(f);
	vn_unlock(vp);
	if (fh && sb->ops->release)
		sb->ops->release(sb, vp->priv, fh);
	gate_exit(gr);
	return false;
}

struct vop_read_args {
	struct vnode *vp;
	void *fh;
	void *buf;
	size_t n;
	off_t off;
};
VOP_DESC(read, -EIO, vp);
static long vi_read(struct uvfs_sb *sb, struct vop_read_args *a)
{
	return sb->ops->read ? sb->ops->read(sb, a->vp->priv, a->fh, a->buf,
					     a->n, a->off)
			     : -ENOSYS;
}
ssize_t vop_read(struct vnode *vp, void *fh, void *buf, size_t n, off_t off)
{
	return VCALL(read, .vp = vp, .fh = fh, .buf = buf, .n = n,
		     .off = off);
}

struct vop_write_args {
	struct vnode *vp;
	void *fh;
	const void *buf;
	size_t n;
	off_t *off;
};
VOP_DESC(write, -EIO, vp);
static long vi_write(struct uvfs_sb *sb, struct vop_write_args *a)
{
	return sb->ops->write ? sb->ops->write(sb, a->vp->priv, a->fh, a->buf,
					       a->n, a->off)
			      : -ENOSYS;
}
ssize_t vop_write(struct vnode *vp, void *fh, const void *buf, size_t n,
		  off_t *off)
{
	return VCALL(write, .vp = vp, .fh = fh, .buf = buf, .n = n,
		     .off = off);
}

struct vop_fsync_args {
	struct vnode *vp;
	void *fh;
	int datasync;
};
VOP_DESC(fsync, -EIO, vp);
static long vi_fsync(struct uvfs_sb *sb, struct vop_fsync_args *a)
{
	return sb->ops->fsync ? sb->ops->fsync(sb, a->vp->priv, a->fh,
					       a->datasync)
			      : 0;
}
int vop_fsync(struct vnode *vp, void *fh, int datasync)
{
	return (int)VCALL(fsync, .vp = vp, .fh = fh, .datasync = datasync);
}

struct vop_flush_args {
	struct vnode *vp;
	void *fh;
};
/* dead: 1, which no driver answers: file_flush tells a file written
 * since its last flush (-EIO: what was written behind may be lost) from
 * one that was not (0: nothing to lose, a dead file closes cleanly) */
VOP_DESC(flush, 1, vp);
static long vi_flush(struct uvfs_sb *sb, struct vop_flush_args *a)
{
	return sb->ops->flush ? sb->ops->flush(sb, a->vp->priv, a->fh) : 0;
}
int vop_flush(struct vnode *vp, void *fh)
{
	return (int)VCALL(flush, .vp = vp, .fh = fh);
}

struct vop_lock_args {
	struct vnode *vp;
	void *fh;
	int cmd;
	struct uvfs_lock *lk;
	struct file *via;
};
VOP_DESC(lock, -EIO, vp);
static long vi_lock(struct uvfs_sb *sb, struct vop_lock_args *a)
{
	return lock_try(sb, a->vp, a->fh, a->cmd, a->lk, a->via);
}
int vop_lock(struct vnode *vp, void *fh, int cmd, struct uvfs_lock *lk,
	     struct file *via)
{
	return (int)VCALL(lock, .vp = vp, .fh = fh, .cmd = cmd, .lk = lk,
			  .via = via);
}

struct vop_readdir_args {
	struct vnode *vp;
	void *fh;
	uint64_t cookie;
	uvfs_filldir_t fill;
	void *arg;
};
VOP_DESC(readdir, -EIO, vp);
/* Between the driver and the caller's fill: what no file can have does
 * not get through (above, "Answers no file can have").  A left-out entry
 * is consumed: a caller that stops at a later one resumes at its previous
 * entry's next, and the driver hands it (and leaves it out) again. */
static int readdir_check(void *arg, const char *name, uint64_t ino,
			 unsigned char type, uint64_t next)
{
	const struct vop_readdir_args *a = arg;

	if (!listable(name))
		return 0;
	return a->fill(a->arg, name, ino, dtype_ok(type) ? type : DT_UNKNOWN,
		       next);
}
static long vi_readdir(struct uvfs_sb *sb, struct vop_readdir_args *a)
{
	return sb->ops->readdir ? sb->ops->readdir(sb, a->vp->priv, a->fh,
						   a->cookie, readdir_check,
						   a)
				: -ENOTDIR;
}
int vop_readdir(struct vnode *vp, void *fh, uint64_t cookie,
		uvfs_filldir_t fill, void *arg)
{
	return (int)VCALL(readdir, .vp = vp, .fh = fh, .cookie = cookie,
			  .fill = fill, .arg = arg);
}

/* ---- the Linux file calls (fileops.c) ---------------------------------- */

struct vop_fallocate_args {
	struct vnode *vp;
	void *fh;
	int mode;
	off_t off, len;
};
VOP_DESC(fallocate, -EIO, vp);
static long vi_fallocate(struct uvfs_sb *sb, struct vop_fallocate_args *a)
{
	return sb->ops->fallocate ? sb->ops->fallocate(sb, a->vp->priv, a->fh,
						       a->mode, a->off, a->len)
				  : -EOPNOTSUPP;
}
int vop_fallocate(struct vnode *vp, void *fh, int mode, off_t off, off_t len)
{
	return (int)VCALL(fallocate, .vp = vp, .fh = fh, .mode = mode,
			  .off = off, .len = len);
}

struct vop_seek_data_args {
	struct vnode *vp;
	void *fh;
	off_t off;
	int whence;
};
VOP_DESC(seek_data, -EIO, vp);
static long vi_seek_data(struct uvfs_sb *sb, struct vop_seek_data_args *a)
{
	struct stat st;
	int r;

	if (sb->ops->seek_data)
		return sb->ops->seek_data(sb, a->vp->priv, a->fh, a->off,
					  a->whence);
	/* no holes: one data extent up to the size (Linux generic) */
	r = vop_driver_getattr(sb, a->vp->priv, &st);
	if (r)
		return r;
	if (a->off >= st.st_size)
		return -ENXIO;
	return a->whence == SEEK_DATA ? a->off : st.st_size;
}
off_t vop_seek_data(struct vnode *vp, void *fh, off_t off, int whence)
{
	return VCALL(seek_data, .vp = vp, .fh = fh, .off = off,
		     .whence = whence);
}

struct vop_copy_range_args {
	struct vnode *src;
	struct vnode *dst;
	void *src_fh, *dst_fh;
	off_t off_in, off_out;
	size_t len;
};
/* src and dst of two superblocks: -EXDEV from vop_call */
VOP_DESC(copy_range, -EIO, src, dst);
static long vi_copy_range(struct uvfs_sb *sb, struct vop_copy_range_args *a)
{
	return sb->ops->copy_range ?
		sb->ops->copy_range(sb, a->src->priv, a->src_fh, a->off_in,
				    a->dst->priv, a->dst_fh, a->off_out,
				    a->len)
		: -EOPNOTSUPP;
}
ssize_t vop_copy_range(struct vnode *src, void *src_fh, off_t off_in,
		       struct vnode *dst, void *dst_fh, off_t off_out,
		       size_t len)
{
	return VCALL(copy_range, .src = src, .dst = dst, .src_fh = src_fh,
		     .dst_fh = dst_fh, .off_in = off_in, .off_out = off_out,
		     .len = len);
}
