/* persist.c - xvmstored's durable copy of the tree: SQLite in WAL mode, one commit per loop turn.
 *
 * Why SQLite/WAL: an append-only log that SQLite checkpoints for us (our
 * "journal with compaction" without writing one), crash safety we can rely
 * on after kill -9 or power loss with synchronous=FULL, and a file the
 * operator can inspect with sqlite3(1). Each loop turn's changes go into
 * one transaction; its COMMIT is the group commit every reply waits for. */
#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "store/daemon.h"
#include "xvm/log.h"

#define APP_ID 0x78766d73 /* "xvms" */

struct persist {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *put, *del, *dom_add, *dom_del;
	bool open_tx;
	bool failed;
};

static int db_err(struct persist *p, const char *what)
{
	log_err("xvmstored: %s: %s: %s", p->path, what, sqlite3_errmsg(p->db));
	return -EIO;
}

static int exec(struct persist *p, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(p->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_err("xvmstored: %s: %s: %s", p->path, sql, msg ? msg : "error");
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

static int query_int(struct persist *p, const char *sql, long long *out)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(p->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_err(p, "cannot read the database");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : db_err(p, "cannot read the database");
}

/* refuse files that are not ours or fail SQLite's structural check */
static int check_file(struct persist *p)
{
	long long app = 0, tables = 0;
	sqlite3_stmt *st;
	int rc = 0;

	if (query_int(p, "PRAGMA application_id", &app) ||
	    query_int(p, "SELECT count(*) FROM sqlite_master", &tables))
		return -EIO;
	if (tables && app != APP_ID) {
		log_err("xvmstored: %s: not an xvmstored database (refusing to "
			"start; move it away to start empty)", p->path);
		return -EIO;
	}
	if (sqlite3_prepare_v2(p->db, "PRAGMA quick_check", -1, &st, NULL) != SQLITE_OK)
		return db_err(p, "corrupt data file");
	if (sqlite3_step(st) != SQLITE_ROW ||
	    strcmp((const char *)sqlite3_column_text(st, 0), "ok")) {
		log_err("xvmstored: %s: corrupt data file: %s (refusing to start)",
			p->path, sqlite3_column_text(st, 0) ?
			(const char *)sqlite3_column_text(st, 0) : sqlite3_errmsg(p->db));
		rc = -EIO;
	}
	sqlite3_finalize(st);
	return rc;
}

static int prepare(struct persist *p)
{
	static const char *const sql[] = {
		"INSERT OR REPLACE INTO nodes(path, value, perms) VALUES (?, ?, ?)",
		"DELETE FROM nodes WHERE path = ?",
		"INSERT OR IGNORE INTO domains(id) VALUES (?)",
		"DELETE FROM domains WHERE id = ?",
	};
	sqlite3_stmt **st[] = { &p->put, &p->del, &p->dom_add, &p->dom_del };

	for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++)
		if (sqlite3_prepare_v2(p->db, sql[i], -1, st[i], NULL) != SQLITE_OK)
			return db_err(p, "cannot prepare statements");
	return 0;
}

int persist_open(const char *path, struct persist **out)
{
	struct persist *p = calloc(1, sizeof(*p));
	int rc = -EIO;

	if (!p || !(p->path = strdup(path))) {
		free(p);
		return -ENOMEM;
	}
	if (sqlite3_open_v2(path, &p->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
			    NULL) != SQLITE_OK) {
		db_err(p, "cannot open");
		goto fail;
	}
	sqlite3_extended_result_codes(p->db, 1);
	if (check_file(p) ||
	    exec(p, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;") ||
	    exec(p, "PRAGMA application_id=2021027187;"
		    "CREATE TABLE IF NOT EXISTS nodes(path TEXT PRIMARY KEY, "
		    "value BLOB NOT NULL, perms TEXT NOT NULL) WITHOUT ROWID;"
		    "CREATE TABLE IF NOT EXISTS domains(id INTEGER PRIMARY KEY);") ||
	    prepare(p))
		goto fail;
	*out = p;
	return 0;
fail:
	persist_close(p);
	return rc;
}

void persist_close(struct persist *p)
{
	if (!p)
		return;
	sqlite3_finalize(p->put);
	sqlite3_finalize(p->del);
	sqlite3_finalize(p->dom_add);
	sqlite3_finalize(p->dom_del);
	sqlite3_close(p->db);
	free(p->path);
	free(p);
}

static int load_row(struct persist *p, struct store *s, struct tree_loader *ld,
		    sqlite3_stmt *st)
{
	const char *path = (const char *)sqlite3_column_text(st, 0);
	const void *val = sqlite3_column_blob(st, 1);
	uint32_t vlen = (uint32_t)sqlite3_column_bytes(st, 1);
	const char *ptext = (const char *)sqlite3_column_text(st, 2);
	struct store_perm *perms;
	uint32_t np;
	int rc;

	if (!path || !ptext || store_path_check(path, false) || path[0] != '/' ||
	    vlen > STORE_PAYLOAD_MAX) {
		log_err("xvmstored: %s: corrupt data file: bad node '%s'", p->path,
			path ? path : "(null)");
		return -EIO;
	}
	if (perms_from_text(ptext, &perms, &np)) {
		log_err("xvmstored: %s: corrupt data file: bad permissions '%s' on %s",
			p->path, ptext, path);
		return -EIO;
	}
	rc = tree_load_node(&s->view, ld, path, val ? val : "", vlen, perms, np);
	free(perms);
	if (rc == -ENOENT || rc == -EEXIST) {
		log_err("xvmstored: %s: corrupt data file: node %s %s", p->path, path,
			rc == -ENOENT ? "has no parent" : "appears twice");
		return -EIO;
	}
	return rc;
}

int persist_load(struct persist *p, struct store *s)
{
	struct tree_loader ld = { 0 };
	sqlite3_stmt *st;
	int rc = 0, step;

	if (sqlite3_prepare_v2(p->db, "SELECT path, value, perms FROM nodes ORDER BY path",
			       -1, &st, NULL) != SQLITE_OK)
		return db_err(p, "cannot read nodes");
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW)
		rc = load_row(p, s, &ld, st);
	if (!rc && step != SQLITE_DONE)
		rc = db_err(p, "cannot read nodes");
	sqlite3_finalize(st);
	free(ld.stack);
	if (rc)
		return rc;
	if (sqlite3_prepare_v2(p->db, "SELECT id FROM domains", -1, &st, NULL) != SQLITE_OK)
		return db_err(p, "cannot read domains");
	while (!rc && sqlite3_step(st) == SQLITE_ROW) {
		struct store_dom *d = store_domain(s, (uint32_t)sqlite3_column_int64(st, 0));

		if (!d)
			rc = -ENOMEM;
		else
			d->introduced = true;
	}
	sqlite3_finalize(st);
	return rc;
}

static void begin(struct persist *p)
{
	if (p->open_tx || p->failed)
		return;
	if (exec(p, "BEGIN"))
		p->failed = true;
	else
		p->open_tx = true;
}

static void step_reset(struct persist *p, sqlite3_stmt *st)
{
	if (sqlite3_step(st) != SQLITE_DONE) {
		db_err(p, "cannot write");
		p->failed = true;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

void persist_store(struct persist *p, const struct snode *n)
{
	char *perms;

	if (!p)
		return;
	begin(p);
	if (p->failed)
		return;
	if (perms_to_text(n->perms, n->nperms, &perms)) {
		p->failed = true;
		return;
	}
	sqlite3_bind_text(p->put, 1, n->path, -1, SQLITE_STATIC);
	sqlite3_bind_blob(p->put, 2, n->value, (int)n->vlen, SQLITE_STATIC);
	sqlite3_bind_text(p->put, 3, perms, -1, SQLITE_STATIC);
	step_reset(p, p->put);
	free(perms);
}

void persist_remove(struct persist *p, const char *path)
{
	if (!p)
		return;
	begin(p);
	if (p->failed)
		return;
	sqlite3_bind_text(p->del, 1, path, -1, SQLITE_STATIC);
	step_reset(p, p->del);
}

void persist_domain(struct persist *p, uint32_t id, bool present)
{
	sqlite3_stmt *st;

	if (!p)
		return;
	st = present ? p->dom_add : p->dom_del;
	begin(p);
	if (p->failed)
		return;
	sqlite3_bind_int64(st, 1, id);
	step_reset(p, st);
}

int persist_commit(struct persist *p)
{
	if (!p)
		return 0;
	if (p->failed)
		return -EIO;
	if (!p->open_tx)
		return 0;
	p->open_tx = false;
	if (exec(p, "COMMIT")) {
		p->failed = true;
		return -EIO;
	}
	return 0;
}
