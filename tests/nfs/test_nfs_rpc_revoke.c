/*
 * test_nfs_rpc_revoke.c - test_nfs_rpc's tests of a revoked file's
 * writes behind: none is sent or committed after the revoke.  Included
 * by test_nfs_rpc.c (it uses the scripted server and attr_mount); not a
 * program of its own.
 */

/* The writes a revoked file sent behind and the server did not commit
 * (one answered, kept; one whose answer the server holds back, in
 * flight) are dropped at the revoke: the core tells the driver (its
 * revoke op) before it releases the files still open, as here.  None of
 * them is sent or committed later: not by that release (a last close's
 * COMMIT), nor by the fsync and close of a later open of the file, not
 * even after a new write verifier (which sends what is kept again).
 * Before, they stayed with the node: the release sent a COMMIT, and the
 * later fsync sent the WRITEs again and committed them. */
static void revoke_drops_writes_behind(void **state)
{
	const struct uvfs_fstype_ops *o = &uvfs_nfs_ops;
	struct nconn *nc = connect_to(5000);
	struct attr_mount m;
	struct stat st;
	void *h, *h2;
	char data[1000];
	off_t off = 0;

	(void)state;
	memset(data, 'r', sizeof(data));
	atomic_store(&mode, M_OK);
	attr_mount_new(&m, nc, 0, 500, true);
	pthread_mutex_lock(&disk_lock);
	memset(disk, 0, sizeof(disk));
	pthread_mutex_unlock(&disk_lock);
	atomic_store(&seen[NFS3_WRITE], 0);
	atomic_store(&seen[NFS3_COMMIT], 0);
	assert_int_equal(o->open(&m.sb, m.n, O_WRONLY, &h), 0);
	assert_int_equal(o->write(&m.sb, m.n, h, data, sizeof(data), &off),
			 (ssize_t)sizeof(data));
	assert_int_equal(o->getattr(&m.sb, m.n, &st), 0); /* answered */
	atomic_store(&hold_late, false);
	atomic_store(&hold_proc, NFS3_WRITE);
	assert_int_equal(o->write(&m.sb, m.n, h, data, sizeof(data), &off),
			 (ssize_t)sizeof(data));
	await_held();
	int w0 = atomic_load(&seen[NFS3_WRITE]);
	int c0 = atomic_load(&seen[NFS3_COMMIT]);
	assert_int_equal(w0, 2);
	/* the core's revoke: the driver told, then the open file released */
	if (o->revoke)
		o->revoke(&m.sb, m.n);
	o->release(&m.sb, m.n, h);
	atomic_store(&hold_go, true);   /* the held answer comes: dropped */
	usleep(200 * 1000);             /* a COMMIT sent would have come */
	/* the server restarted: a new verifier (what is kept goes again) */
	atomic_store(&verf_last, '7');
	assert_int_equal(o->open(&m.sb, m.n, O_WRONLY, &h2), 0);
	int rs = o->fsync(&m.sb, m.n, h2, 0);
	int rf = o->flush(&m.sb, m.n, h2);
	o->release(&m.sb, m.n, h2);
	usleep(200 * 1000);
	int w1 = atomic_load(&seen[NFS3_WRITE]);
	int c1 = atomic_load(&seen[NFS3_COMMIT]);
	printf("writes behind of a revoked file: %d WRITEs and %d COMMITs "
	       "after the revoke (the release, a later open's fsync %d and "
	       "close %d)\n", w1 - w0, c1 - c0, rs, rf);
	assert_int_equal(rs, 0);
	assert_int_equal(rf, 0);
	assert_int_equal(w1, w0);
	assert_int_equal(c1, c0);
	assert_null(m.n->wb_head);
	assert_int_equal(m.n->wb_out, 0);
	atomic_store(&verf_last, '1');
	attr_mount_free(&m, nc);
}
