/*
 * fsopt.c - mount options checked against the drivers' descriptions.
 *
 * Owns no object: it reads the type list (u->types, under u->types_lock)
 * and the static tables of struct uvfs_fsopt the drivers point at
 * (include/uvfs/fs.h).  uvfs_mount() runs the check before the driver's
 * mount(), so a bad option fails the same way for every type and the
 * reason can be named (uvfs_mount_options_check); a type without a table
 * is not checked.  The core's own options ("ro", "rw", "deadline=MS") are
 * parsed for real in mount.c; they are described here too.
 */
#include "core.h"

const struct uvfs_fsopt uvfs_core_fsopts[] = {
	{ "ro", UVFS_FSOPT_FLAG, "read-only" },
	{ "rw", UVFS_FSOPT_FLAG, "read-write (the default)" },
	{ "deadline", UVFS_FSOPT_NUMBER,
	  "MS: a forced unmount returns within it (1..3600000; "
	  "default: the instance's, 1000)" },
	{ NULL, 0, NULL },
};

static const struct uvfs_fsopt *opt_find(const struct uvfs_fsopt *t,
					 const char *name, size_t len)
{
	for (; t && t->name; t++)
		if (strlen(t->name) == len && memcmp(t->name, name, len) == 0)
			return t;
	return NULL;
}

static bool all_digits(const char *s, const char *set)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!strchr(set, *s))
			return false;
	return true;
}

/* One "name[=value]" against its description.  => 0 or -EINVAL + why. */
static int opt_check(const struct uvfs_fsopt *o, const char *tok,
		     const char *val, char *why, size_t size)
{
	int n = (int)strcspn(tok, "=");
	char num[64];
	size_t len;

	switch (o->kind) {
	case UVFS_FSOPT_FLAG:
		if (val) {
			snprintf(why, size, "%.*s: takes no value", n, tok);
			return -EINVAL;
		}
		return 0;
	case UVFS_FSOPT_STRING:
		break;
	case UVFS_FSOPT_NUMBER:
	case UVFS_FSOPT_OCTAL:
	case UVFS_FSOPT_SIZE:
		if (!val)
			break;
		len = strlen(val);
		if (len >= sizeof(num))
			len = sizeof(num) - 1;
		memcpy(num, val, len);
		num[len] = '\0';
		if (o->kind == UVFS_FSOPT_SIZE && len > 1 &&
		    strchr("kKmMgGtT", num[len - 1]))
			num[len - 1] = '\0';
		if (!all_digits(num, o->kind == UVFS_FSOPT_OCTAL ? "01234567"
				     : "0123456789")) {
			snprintf(why, size, "%.*s: not a%s number", n, tok,
				 o->kind == UVFS_FSOPT_OCTAL ? "n octal" : "");
			return -EINVAL;
		}
		return 0;
	}
	if (!val || !*val) {
		snprintf(why, size, "%.*s: needs a value", n, tok);
		return -EINVAL;
	}
	return 0;
}

int uvfs_mount_options_check(struct uvfs *u, const char *type,
			     const char *options, char *why, size_t size)
{
	const struct uvfs_fsopt *table = NULL;
	char dummy[1];
	bool found = false;
	int err = 0;

	if (!why || !size) {
		why = dummy;
		size = sizeof(dummy);
	}
	why[0] = '\0';
	if (!u || !type)
		return -EINVAL;
	pthread_mutex_lock(&u->types_lock);
	struct fstype *t;
	cds_list_for_each_entry(t, &u->types, link)
		if (strcmp(t->ops->name, type) == 0 && !t->dying) {
			found = true;
			table = t->ops->options;
			break;
		}
	pthread_mutex_unlock(&u->types_lock);
	if (!found) {
		snprintf(why, size, "unknown file system type '%s'", type);
		return -ENODEV;
	}
	const char *p = options ? options : "";
	while (*p && !err) {
		size_t len = strcspn(p, ",");
		char *tok = strndup(p, len);
		if (!tok)
			return -ENOMEM;
		p += len + (p[len] == ',');
		if (!*tok) {
			free(tok);
			continue;
		}
		char *eq = strchr(tok, '=');
		size_t nlen = eq ? (size_t)(eq - tok) : strlen(tok);
		const struct uvfs_fsopt *o = opt_find(uvfs_core_fsopts, tok,
						      nlen);
		if (!o && table)
			o = opt_find(table, tok, nlen);
		if (o)
			err = opt_check(o, tok, eq ? eq + 1 : NULL, why, size);
		else if (table) {
			snprintf(why, size, "unknown option '%.*s'", (int)nlen,
				 tok);
			err = -EINVAL;
		}
		free(tok);
	}
	return err;
}

int uvfs_fstype_each(struct uvfs *u,
		     int (*fn)(void *arg, const struct uvfs_fstype_ops *ops),
		     void *arg)
{
	struct fstype *t;
	int r = 0;

	pthread_mutex_lock(&u->types_lock);
	cds_list_for_each_entry(t, &u->types, link) {
		if (t->dying)
			continue;
		r = fn(arg, t->ops);
		if (r)
			break;
	}
	pthread_mutex_unlock(&u->types_lock);
	return r;
}
