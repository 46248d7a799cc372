/*
 * session_i.h - what the two halves of a session share (private to
 * lib/remote: session.h is the contract).  session.c owns the tags, the
 * read role and the reader thread, the waits, cancels and probes, loss
 * and kill; session_send.c owns the sending half: the timed locks
 * (serial_busy, wbusy), the writing of whole messages, and the tail a
 * nowait message leaves.
 */
#ifndef UVFS_REMOTE_SESSION_I_H
#define UVFS_REMOTE_SESSION_I_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "session.h"

/* Takes *busy (one of c's timed locks) by the deadline (NULL: now or
 * not at all): 0, -ETIMEDOUT (-EAGAIN without a deadline), or -EIO once
 * the connection is dead.  *gen (if not NULL): the session it was taken
 * in. */
int rs_tlock_take(struct rs_session *c, bool *busy, const struct timespec *dl,
		  uint64_t *gen);
void rs_tlock_give(struct rs_session *c, bool *busy);

/* Writes one whole message of session gen by the deadline, after the
 * parked tail if there is one (which goes first, by the same deadline).
 * 0; -ETIMEDOUT if nothing of it was written (the caller may give up
 * cleanly); -EIO if the connection is dead, died here (a message or a
 * tail cut in the middle loses the framing: the session is lost), or is
 * in another session now.
 * keep (not NULL: RS_NOWAIT) never waits: -EAGAIN (nothing of buf
 * written) where it would wait for another writer or for room in the
 * link; a message the link took a part of is 0 (sent), its end parked
 * as the session's tail: keep->buf is buf (sys_malloc'd) and keep->tag
 * its call's tag, and keep->buf is set NULL when the session took buf. */
int rs_send_msg(struct rs_session *c, const void *buf, size_t len,
		const struct timespec *dl, uint64_t gen, struct rs_tail *keep);

/* => c->lock held.  If the parked tail carries rq (NULL: any call's),
 * takes it over and writes it by dl, c->lock dropped meanwhile: the
 * waiter of a call whose message's end nobody else may send.  0 (no
 * such tail, or all of it went), or the link failed under it (-EIO) or
 * dl passed first (-ETIMEDOUT): the session is lost (rs_lost) then. */
int rs_tail_flush_locked(struct rs_session *c, const struct rs_req *rq,
			 const struct timespec *dl);

/* => c->lock held, the session lost (sgen moved) or dead.  Frees a
 * parked tail and gives wbusy back: nothing of it goes out, on this link
 * (cut) or a later one. */
void rs_tail_drop_locked(struct rs_session *c);

#endif /* UVFS_REMOTE_SESSION_I_H */
