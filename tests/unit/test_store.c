/* test_store.c - unit tests for xvmstored: wire helpers, permissions, the tree and transaction views, dispatch. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "store/daemon.h"
#include "store/perms.h"
#include "store/tree.h"
#include "xvm/store_proto.h"

static void test_split(void)
{
	const char *argv[4], *tail;
	uint32_t tl;

	CHECK(store_split("a\0bc\0", 5, argv, 4, NULL, NULL) == 2);
	CHECK(!strcmp(argv[0], "a") && !strcmp(argv[1], "bc"));
	CHECK(store_split("a\0bc", 4, argv, 4, NULL, NULL) == -EINVAL); /* missing NUL */
	CHECK(store_split("a\0b\0c\0", 6, argv, 2, NULL, NULL) == -E2BIG);
	CHECK(store_split("/p\0val\0ue", 9, argv, 1, &tail, &tl) == 1);
	CHECK(!strcmp(argv[0], "/p") && tl == 6 && !memcmp(tail, "val\0ue", 6));
	CHECK(store_split("/p", 2, argv, 1, &tail, &tl) == 0); /* no path at all */
	CHECK(store_split("", 0, argv, 4, NULL, NULL) == 0);
}

static void test_paths(void)
{
	char out[64], big[3200];

	CHECK(store_path_check("/", false) == 0);
	CHECK(store_path_check("/a/b-c_d/9", false) == 0);
	CHECK(store_path_check("rel/x", false) == 0);
	CHECK(store_path_check("", false) == -EINVAL);
	CHECK(store_path_check("/a//b", false) == -EINVAL);
	CHECK(store_path_check("/a/", false) == -EINVAL);
	CHECK(store_path_check("/a b", false) == -EINVAL);
	CHECK(store_path_check("/a@b", true) == -EINVAL);
	CHECK(store_path_check("@releaseDomain", false) == -EINVAL);
	CHECK(store_path_check("@releaseDomain", true) == 0);
	CHECK(store_path_check("@", true) == -EINVAL);
	memset(big, 'a', sizeof(big));
	big[0] = '/';
	big[XENSTORE_ABS_PATH_MAX] = '\0';
	CHECK(store_path_check(big, false) == 0);
	big[XENSTORE_ABS_PATH_MAX] = 'a';
	big[XENSTORE_ABS_PATH_MAX + 1] = '\0';
	CHECK(store_path_check(big, false) == -EINVAL);
	CHECK(store_path_canon("x/y", 7, out, sizeof(out)) == 0 &&
	      !strcmp(out, "/local/domain/7/x/y"));
	CHECK(store_path_canon("/abs", 7, out, sizeof(out)) == 0 && !strcmp(out, "/abs"));
	CHECK(store_path_canon("x/y", 7, out, 8) == -EINVAL);
}

static void test_names_errors(void)
{
	CHECK(!strcmp(store_op_name(XS_READ), "READ"));
	CHECK(!strcmp(store_op_name(XS_DIRECTORY_PART), "DIRECTORY_PART"));
	CHECK(!strcmp(store_op_name(XS_TYPE_COUNT + 5), "UNKNOWN"));
	CHECK(store_op_from_name("write") == XS_WRITE);
	CHECK(store_op_from_name("nonsense") == -EINVAL);
	CHECK(!strcmp(store_err_string(EACCES), "EACCES"));
	CHECK(!strcmp(store_err_string(ENOTTY), "EINVAL")); /* not in Xen's list */
	CHECK(store_err_parse("EAGAIN", 7) == EAGAIN);
	CHECK(store_err_parse("E2BIG", 5) == E2BIG);
	CHECK(store_err_parse("EWHAT", 5) == EINVAL);
	struct xsd_sockmsg h = { XS_READ, 1, 0, 4096 };
	CHECK(store_hdr_check(&h) == 0);
	h.len = 4097;
	CHECK(store_hdr_check(&h) == -EMSGSIZE);
}

static void test_perms(void)
{
	struct store_perm p[3], *q;
	char buf[16], *text;
	uint32_t n;

	CHECK(perm_parse("r5", &p[0]) == 0 && p[0].dom == 5 && p[0].mode == STORE_PERM_READ);
	CHECK(perm_parse("b0", &p[1]) == 0 && p[1].mode == 3);
	CHECK(perm_parse("n12", &p[2]) == 0 && p[2].mode == 0 && p[2].dom == 12);
	CHECK(perm_parse("x1", &p[0]) == -EINVAL);
	CHECK(perm_parse("r", &p[0]) == -EINVAL);
	CHECK(perm_parse("r70000", &p[0]) == -EINVAL);
	perm_format(&p[1], buf, sizeof(buf));
	CHECK(!strcmp(buf, "b0"));
	/* owner 5 with default read; dom 7 write-only; dom 9 nothing */
	struct store_perm node[] = { { 5, STORE_PERM_READ }, { 7, STORE_PERM_WRITE }, { 9, 0 } };
	CHECK(perm_access(node, 3, 5) == 3);                /* owner: everything */
	CHECK(perm_access(node, 3, 7) == STORE_PERM_WRITE); /* listed */
	CHECK(perm_access(node, 3, 9) == 0);
	CHECK(perm_access(node, 3, 1) == STORE_PERM_READ);  /* default = entry 0 */
	CHECK(perms_to_text(node, 3, &text) == 0 && !strcmp(text, "r5 w7 n9"));
	CHECK(perms_from_text(text, &q, &n) == 0 && n == 3 && q[1].dom == 7 && q[1].mode == 2);
	free(text);
	free(q);
	CHECK(perms_from_text("", &q, &n) == -EINVAL);
	CHECK(perms_from_text("r1 zz", &q, &n) == -EINVAL);
}

static void test_tree(void)
{
	struct smap base = { 0 }, ovl = { 0 }, ovl2 = { 0 };
	uint64_t gen = 0;
	struct sview v = { &base, NULL, &gen, NULL }, t = { &base, &ovl, &gen, NULL };
	struct sview t2 = { &base, &ovl2, &gen, NULL };
	struct snode *n;

	CHECK(tree_init_root(&v) == 0);
	CHECK(sv_create(&v, "/a/b/c", false, 0, &n) == 0 && !strcmp(n->path, "/a/b/c"));
	CHECK(sv_set_value(&v, n, "xyz", 3) == 0);
	CHECK(base.count == 4);
	CHECK(sv_create(&v, "/a/a", false, 0, &n) == 0);
	n = sv_get(&v, "/a");
	CHECK(n && n->nkids == 2 && !strcmp(n->kids[0], "a") && !strcmp(n->kids[1], "b"));
	CHECK(!strcmp(sv_nearest(&v, "/a/b/zz/yy")->path, "/a/b"));
	CHECK(path_depth("/") == 0 && path_depth("/a/b") == 2);

	/* transaction: private writes, isolation, then commit */
	n = sv_get(&t, "/a/b/c");
	CHECK(n && n->vlen == 3);
	CHECK(sv_set_value(&t, n, "new", 3) == 0);
	CHECK(sv_create(&t, "/a/t/u", false, 0, &n) == 0);
	CHECK(!strcmp(sv_get(&v, "/a/b/c")->value, "xyz")); /* base untouched */
	CHECK(sv_get(&v, "/a/t") == NULL);
	CHECK(sv_remove(&t, sv_get(&t, "/a/a"), NULL, NULL) == 0);
	CHECK(sv_get(&t, "/a/a") == NULL && sv_get(&v, "/a/a") != NULL);
	/* a second transaction touching /a/b/c conflicts once the first commits */
	CHECK(sv_get(&t2, "/a/b/c") != NULL);
	CHECK(tree_validate_overlay(&base, &ovl) == 0);
	CHECK(tree_apply_overlay(&v, &ovl) == 0);
	CHECK(!strcmp(sv_get(&v, "/a/b/c")->value, "new"));
	CHECK(sv_get(&v, "/a/t/u") != NULL && sv_get(&v, "/a/a") == NULL);
	CHECK(tree_validate_overlay(&base, &ovl2) == -EAGAIN);
	smap_free_overlay(&ovl);
	smap_free_overlay(&ovl2);

	/* rm then re-create in one transaction: the old children stay gone */
	t.ovl = &ovl;
	CHECK(sv_remove(&t, sv_get(&t, "/a/b"), NULL, NULL) == 0);
	CHECK(sv_create(&t, "/a/b/new", false, 0, &n) == 0);
	CHECK(sv_get(&t, "/a/b/c") == NULL);
	n = sv_get(&t, "/a/b");
	CHECK(n && n->nkids == 1 && !strcmp(n->kids[0], "new"));
	CHECK(tree_validate_overlay(&base, &ovl) == 0 && tree_apply_overlay(&v, &ovl) == 0);
	CHECK(sv_get(&v, "/a/b/c") == NULL && sv_get(&v, "/a/b/new") != NULL);
	n = sv_get(&v, "/a/b");
	CHECK(n && n->nkids == 1);
	smap_free_overlay(&ovl);
	smap_free_base(&base);
}

/* the replies queued on c, as a sequence of (type, payload) */
static const struct xsd_sockmsg *reply_at(struct store_conn *c, size_t *off, const char **data)
{
	static struct xsd_sockmsg h;

	if (*off + STORE_HDR_LEN > c->out_len)
		return NULL;
	memcpy(&h, c->out + *off, sizeof(h)); /* replies are not aligned */
	*data = (const char *)(c->out + *off + STORE_HDR_LEN);
	*off += STORE_HDR_LEN + h.len;
	return &h;
}

static void send_msg(struct store *s, struct store_conn *c, uint32_t type, uint32_t tx,
		     const char *payload, uint32_t len)
{
	uint8_t buf[STORE_HDR_LEN + STORE_PAYLOAD_MAX];
	struct xsd_sockmsg h = { type, 42, tx, len };

	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), payload, len);
	CHECK(store_feed(s, c, buf, sizeof(h) + len) == 0);
}

static void test_dispatch(void)
{
	struct store s;
	struct store_conn *c;
	const struct xsd_sockmsg *h;
	const char *d;
	size_t off = 0;

	CHECK(store_init(&s, ":memory:") == 0);
	c = store_conn_detached(&s, true, 0);
	CHECK(c != NULL);
	send_msg(&s, c, XS_WRITE, 0, "/x\0hello", 8);
	send_msg(&s, c, XS_READ, 0, "/x", 3);
	send_msg(&s, c, XS_READ, 0, "/nope", 6);
	send_msg(&s, c, 77, 0, "", 0);
	send_msg(&s, c, XS_READ, 999, "/x", 3);
	h = reply_at(c, &off, &d);
	CHECK(h && h->type == XS_WRITE && h->req_id == 42 && h->len == 3 && !strcmp(d, "OK"));
	h = reply_at(c, &off, &d);
	CHECK(h && h->type == XS_READ && h->len == 5 && !memcmp(d, "hello", 5));
	h = reply_at(c, &off, &d);
	CHECK(h && h->type == XS_ERROR && !strcmp(d, "ENOENT"));
	h = reply_at(c, &off, &d);
	CHECK(h && h->type == XS_ERROR && !strcmp(d, "ENOSYS"));
	h = reply_at(c, &off, &d);
	CHECK(h && h->type == XS_ERROR && !strcmp(d, "ENOENT")); /* unknown tx */
	/* an oversized header drops the connection */
	struct xsd_sockmsg big = { XS_READ, 1, 0, 5000 };
	CHECK(store_feed(&s, c, &big, sizeof(big)) == -EPROTO && c->dead);
	store_fini(&s);
}

int main(void)
{
	test_split();
	test_paths();
	test_names_errors();
	test_perms();
	test_tree();
	test_dispatch();
	return check_report("test_store");
}
