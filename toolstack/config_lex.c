/* config_lex.c - xl.cfg lexer and recursive-descent parser: text -> settings.
 *
 * Grammar (Xen's libxlu grammar, written out):
 *   file      := { stmt-end | key ('=' | '+=') value stmt-end } [key op value]
 *   stmt-end  := NEWLINE | ';'
 *   value     := STRING | NUMBER | '[' {NL} [ value {NL} { ',' {NL} value {NL} } [',' {NL}] ] ']'
 * Keys are [a-z][a-z0-9_]*. NUMBER is a bare word starting with a digit
 * ([0-9][0-9A-Za-z_.]*), kept as a string and checked by the key that uses
 * it. Strings use '..' or ".." with the escapes \" \' \\ \a \b \f \n \r \t \v
 * \xHH \ooo, and may not span lines. '#' comments run to the end of the line.
 * Lines and columns are 1-based; a column counts bytes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "toolstack/config_int.h"

enum tok_type {
	T_EOF, T_NEWLINE, T_KEY, T_ATOM, T_STRING,
	T_EQ, T_ADD, T_LBRACK, T_RBRACK, T_COMMA, T_SEMI,
};

struct tok {
	enum tok_type type;
	char *text; /* T_KEY, T_ATOM, T_STRING: malloc'd */
	int line, col;
	bool verbatim;
};

struct lexer {
	const char *src;
	size_t len, pos;
	int line, col;
	const char *source;
	struct xlcfg_error *err;
	int err_line; /* the line of the last error */
};

void cfg_msg_clean(char *msg, size_t cap)
{
	char tmp[XLCFG_ERR_MAX];
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)msg; *p && n + 5 < sizeof(tmp); p++) {
		if (*p == '\n' || *p == '\t') {
			tmp[n++] = '\\';
			tmp[n++] = *p == '\n' ? 'n' : 't';
		} else if (*p < 0x20 || *p == 0x7f) {
			n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, "\\x%02x", *p);
		} else {
			tmp[n++] = (char)*p;
		}
	}
	tmp[n] = 0;
	snprintf(msg, cap, "%s", tmp);
}

int cfg_errf(struct xlcfg_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	cfg_msg_clean(err->msg, sizeof(err->msg));
	return -EINVAL;
}

static int lex_errf(struct lexer *lx, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int lex_errf(struct lexer *lx, int line, int col, const char *fmt, ...)
{
	char what[XLCFG_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	lx->err_line = line;
	return cfg_errf(lx->err, "%s:%d:%d: %.400s", lx->source, line, col, what);
}

static int peekc(const struct lexer *lx, size_t ahead)
{
	return lx->pos + ahead < lx->len ? (unsigned char)lx->src[lx->pos + ahead] : -1;
}

static void advance(struct lexer *lx, size_t n)
{
	while (n-- && lx->pos < lx->len) {
		if (lx->src[lx->pos++] == '\n') {
			lx->line++;
			lx->col = 1;
		} else {
			lx->col++;
		}
	}
}

/* How a byte is shown in messages: 'x' or \xHH. */
static void show_char(int c, char buf[8])
{
	if (c > 0x20 && c < 0x7f)
		snprintf(buf, 8, "'%c'", c);
	else
		snprintf(buf, 8, "\\x%02x", (unsigned)c & 0xff);
}

static int is_lower(int c) { return c >= 'a' && c <= 'z'; }
static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_alpha(int c) { return is_lower(c) || (c >= 'A' && c <= 'Z'); }
static int is_word(int c) { return is_alpha(c) || is_digit(c) || c == '_'; }

static int hexval(int c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* One escape after a backslash at lx->pos (the backslash already consumed).
 * Stores the byte in *out. */
static int lex_escape(struct lexer *lx, char *out)
{
	int line = lx->line, col = lx->col - 1, c = peekc(lx, 0), v, n;
	static const char simple[] = "\"\"''\\\\a\ab\bf\fn\nr\rt\tv\v";

	for (const char *p = simple; *p; p += 2)
		if (c == p[0]) {
			*out = p[1];
			advance(lx, 1);
			return 0;
		}
	if (c == 'x') {
		int h1 = hexval(peekc(lx, 1)), h2 = hexval(peekc(lx, 2));

		if (h1 < 0 || h2 < 0)
			return lex_errf(lx, line, col, "\\x needs two hex digits");
		v = h1 * 16 + h2;
		advance(lx, 3);
	} else if (c >= '0' && c <= '7') {
		for (v = 0, n = 0; n < 3 && peekc(lx, 0) >= '0' && peekc(lx, 0) <= '7'; n++) {
			v = v * 8 + (peekc(lx, 0) - '0');
			advance(lx, 1);
		}
		if (v > 0xff)
			return lex_errf(lx, line, col, "octal escape out of range");
	} else if (c > 0x20 && c < 0x7f) {
		return lex_errf(lx, line, col, "unknown escape '\\%c' in string", c);
	} else {
		return lex_errf(lx, line, col, "unknown escape in string");
	}
	if (v == 0)
		return lex_errf(lx, line, col, "NUL character in string");
	*out = (char)v;
	return 0;
}

static int lex_string(struct lexer *lx, struct tok *t)
{
	int q = peekc(lx, 0);
	size_t n = 0;
	char *buf;
	int r;

	/* the unescaped text is never longer than the quoted text */
	while (lx->pos + n + 1 < lx->len && lx->src[lx->pos + n + 1] != '\n')
		n++;
	buf = malloc(n + 1);
	if (!buf)
		return -ENOMEM;
	advance(lx, 1);
	t->verbatim = true;
	n = 0;
	for (;;) {
		int c = peekc(lx, 0);

		if (c < 0 || c == '\n') {
			free(buf);
			return lex_errf(lx, t->line, t->col, "unterminated string");
		}
		advance(lx, 1);
		if (c == q)
			break;
		if (c == '\\') {
			t->verbatim = false;
			r = lex_escape(lx, &buf[n]);
			if (r) {
				free(buf);
				return r;
			}
			n++;
		} else if (c == 0) {
			free(buf);
			return lex_errf(lx, lx->line, lx->col - 1, "NUL character in string");
		} else {
			buf[n++] = (char)c;
		}
	}
	buf[n] = 0;
	t->type = T_STRING;
	t->text = buf;
	return 0;
}

static int lex_word(struct lexer *lx, struct tok *t, bool key)
{
	size_t n = 0;

	while (peekc(lx, n) >= 0 && (is_word(peekc(lx, n)) || (!key && peekc(lx, n) == '.')))
		n++;
	t->text = strndup(lx->src + lx->pos, n);
	if (!t->text)
		return -ENOMEM;
	if (key) {
		for (size_t i = 0; i < n; i++)
			if (!is_lower(t->text[i]) && !is_digit(t->text[i]) && t->text[i] != '_') {
				int r = lex_errf(lx, t->line, t->col,
						 "invalid key '%s' (keys are lower-case letters, digits and '_')",
						 t->text);
				free(t->text);
				t->text = NULL;
				return r;
			}
	}
	t->type = key ? T_KEY : T_ATOM;
	t->verbatim = true;
	advance(lx, n);
	return 0;
}

/* The next token into *t. Returns 0, -EINVAL (err set) or -ENOMEM. */
static int lex_next(struct lexer *lx, struct tok *t)
{
	int c;

	for (;;) {
		c = peekc(lx, 0);
		if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
			advance(lx, 1);
		} else if (c == '#') {
			while (peekc(lx, 0) >= 0 && peekc(lx, 0) != '\n')
				advance(lx, 1);
		} else {
			break;
		}
	}
	memset(t, 0, sizeof(*t));
	t->line = lx->line;
	t->col = lx->col;
	if (c < 0) {
		t->type = T_EOF;
		return 0;
	}
	if (c == '"' || c == '\'')
		return lex_string(lx, t);
	if (is_alpha(c) || c == '_')
		return lex_word(lx, t, true);
	if (is_digit(c))
		return lex_word(lx, t, false);
	if (c == '+' && peekc(lx, 1) == '=') {
		t->type = T_ADD;
		advance(lx, 2);
		return 0;
	}
	switch (c) {
	case '\n': t->type = T_NEWLINE; break;
	case '=': t->type = T_EQ; break;
	case '[': t->type = T_LBRACK; break;
	case ']': t->type = T_RBRACK; break;
	case ',': t->type = T_COMMA; break;
	case ';': t->type = T_SEMI; break;
	default: {
		char s[8];

		show_char(c, s);
		return lex_errf(lx, t->line, t->col, "unexpected character %s", s);
	}
	}
	advance(lx, 1);
	return 0;
}

/* A token as named in messages. */
static void describe(const struct tok *t, char *buf, size_t len)
{
	static const char *const names[] = {
		[T_EOF] = "end of file", [T_NEWLINE] = "end of line",
		[T_EQ] = "'='", [T_ADD] = "'+='", [T_LBRACK] = "'['",
		[T_RBRACK] = "']'", [T_COMMA] = "','", [T_SEMI] = "';'",
	};

	if (t->type == T_STRING)
		snprintf(buf, len, "string \"%.40s%s\"", t->text,
			 strlen(t->text) > 40 ? "..." : "");
	else if (t->type == T_KEY || t->type == T_ATOM)
		snprintf(buf, len, "'%.40s'", t->text);
	else
		snprintf(buf, len, "%s", names[t->type]);
}

void cfg_value_free(struct xlcfg_value *v)
{
	if (!v)
		return;
	free(v->str);
	for (size_t i = 0; i < v->nitems; i++)
		cfg_value_free(v->items[i]);
	free(v->items);
	free(v);
}

struct parser {
	struct lexer lx;
	struct cfg_raw *raw;
	const char *key; /* the statement's key, for messages */
};

static int parse_value(struct parser *p, struct tok *first, int depth,
		       struct xlcfg_value **out);

/* Next token, skipping newlines (inside lists). */
static int next_nl(struct parser *p, struct tok *t)
{
	int r;

	while (!(r = lex_next(&p->lx, t)) && t->type == T_NEWLINE)
		;
	return r;
}

static int list_append(struct xlcfg_value *list, struct xlcfg_value *item)
{
	/* capacity is 4, 8, 16, ...: grow when nitems reaches it */
	if (list->nitems == 0 || (list->nitems >= 4 && !(list->nitems & (list->nitems - 1)))) {
		size_t cap = list->nitems ? list->nitems * 2 : 4;
		struct xlcfg_value **n = realloc(list->items, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		list->items = n;
	}
	list->items[list->nitems++] = item;
	return 0;
}

static int parse_list(struct parser *p, const struct tok *open, int depth,
		      struct xlcfg_value *list)
{
	struct xlcfg_value *item;
	struct tok t;
	char what[64];
	int r;

	if (depth >= CFG_MAX_DEPTH)
		return lex_errf(&p->lx, open->line, open->col,
				"lists nested more than %d deep", CFG_MAX_DEPTH);
	for (;;) {
		if ((r = next_nl(p, &t)))
			return r;
		if (t.type == T_RBRACK)
			return 0;
		if (t.type == T_EOF)
			return lex_errf(&p->lx, open->line, open->col,
					"unterminated list (no ']' before end of file)");
		if ((r = parse_value(p, &t, depth + 1, &item)))
			return r;
		if ((r = list_append(list, item))) {
			cfg_value_free(item);
			return r;
		}
		if ((r = next_nl(p, &t)))
			return r;
		if (t.type == T_RBRACK)
			return 0;
		if (t.type == T_EOF)
			return lex_errf(&p->lx, open->line, open->col,
					"unterminated list (no ']' before end of file)");
		if (t.type != T_COMMA) {
			describe(&t, what, sizeof(what));
			free(t.text);
			return lex_errf(&p->lx, t.line, t.col,
					"%s: expected ',' or ']' in the list, got %s", p->key, what);
		}
	}
}

/* A value starting with token *first (whose text it takes over). */
static int parse_value(struct parser *p, struct tok *first, int depth,
		       struct xlcfg_value **out)
{
	struct xlcfg_value *v;
	char what[64];
	int r;

	if (first->type != T_STRING && first->type != T_ATOM && first->type != T_LBRACK) {
		describe(first, what, sizeof(what));
		free(first->text);
		if (first->type == T_KEY)
			return lex_errf(&p->lx, first->line, first->col,
					"%s: expected a value, got %s (strings must be quoted)",
					p->key, what);
		if (depth == 0 && (first->type == T_NEWLINE || first->type == T_EOF ||
				   first->type == T_SEMI))
			return lex_errf(&p->lx, first->line, first->col,
					"%s: missing value", p->key);
		return lex_errf(&p->lx, first->line, first->col,
				"%s: expected a value, got %s", p->key, what);
	}
	v = calloc(1, sizeof(*v));
	if (!v) {
		free(first->text);
		return -ENOMEM;
	}
	v->line = first->line;
	v->col = first->col;
	if (first->type == T_LBRACK) {
		v->type = XLCFG_LIST;
		r = parse_list(p, first, depth, v);
		if (r) {
			cfg_value_free(v);
			return r;
		}
	} else {
		v->type = XLCFG_STRING;
		v->str = first->text;
		v->verbatim = first->verbatim;
	}
	*out = v;
	return 0;
}

static struct xlcfg_setting *raw_find(struct cfg_raw *raw, const char *name)
{
	for (size_t i = 0; i < raw->n; i++)
		if (!strcmp(raw->v[i].name, name))
			return &raw->v[i];
	return NULL;
}

/* `key += v` onto an existing setting: concatenate strings, append lists. */
static int raw_add(struct parser *p, struct xlcfg_setting *s, struct xlcfg_value *v)
{
	struct xlcfg_value *old = s->value;
	int r;

	if (old->type != v->type)
		return lex_errf(&p->lx, v->line, v->col,
				"%s: '+=' cannot add a %s to a %s", s->name,
				v->type == XLCFG_LIST ? "list" : "string",
				old->type == XLCFG_LIST ? "list" : "string");
	if (v->type == XLCFG_STRING) {
		size_t a = strlen(old->str), b = strlen(v->str);
		char *n = realloc(old->str, a + b + 1);

		if (!n)
			return -ENOMEM;
		memcpy(n + a, v->str, b + 1);
		old->str = n;
		old->verbatim = false;
	} else {
		for (size_t i = 0; i < v->nitems; i++) {
			if ((r = list_append(old, v->items[i])))
				return r;
			v->items[i] = NULL;
		}
	}
	s->appended = true;
	cfg_value_free(v);
	return 0;
}

/* Store `key op value`; takes over key and v (freed on error). */
static int raw_store(struct parser *p, struct tok *key, bool add, struct xlcfg_value *v)
{
	struct cfg_raw *raw = p->raw;
	struct xlcfg_setting *s = raw_find(raw, key->text);
	int r;

	if (s && add) {
		free(key->text);
		r = raw_add(p, s, v);
		if (r)
			cfg_value_free(v);
		return r;
	}
	if (s) {
		free(key->text);
		cfg_value_free(s->value);
	} else {
		if (raw->n == raw->cap) {
			size_t cap = raw->cap ? raw->cap * 2 : 32;
			struct xlcfg_setting *n = realloc(raw->v, cap * sizeof(*n));

			if (!n) {
				free(key->text);
				cfg_value_free(v);
				return -ENOMEM;
			}
			raw->v = n;
			raw->cap = cap;
		}
		s = &raw->v[raw->n++];
		s->name = key->text;
	}
	s->value = v;
	s->source = p->lx.source;
	s->line = key->line;
	s->col = key->col;
	s->appended = add;
	return 0;
}

/* One statement starting with key token *key (taken over). */
static int parse_stmt(struct parser *p, struct tok *key)
{
	struct xlcfg_value *v = NULL;
	struct tok t;
	char what[64];
	bool add;
	int r;

	p->key = key->text;
	if ((r = lex_next(&p->lx, &t)))
		goto fail;
	if (t.type != T_EQ && t.type != T_ADD) {
		describe(&t, what, sizeof(what));
		free(t.text);
		r = lex_errf(&p->lx, t.line, t.col, "expected '=' or '+=' after '%s', got %s",
			     key->text, what);
		goto fail;
	}
	add = t.type == T_ADD;
	if ((r = lex_next(&p->lx, &t)) || (r = parse_value(p, &t, 0, &v)))
		goto fail;
	if ((r = lex_next(&p->lx, &t))) {
		cfg_value_free(v);
		goto fail;
	}
	if (t.type != T_NEWLINE && t.type != T_SEMI && t.type != T_EOF) {
		describe(&t, what, sizeof(what));
		free(t.text);
		cfg_value_free(v);
		r = lex_errf(&p->lx, t.line, t.col,
			     "%s: expected a newline or ';' after the value, got %s",
			     key->text, what);
		goto fail;
	}
	p->key = NULL;
	return raw_store(p, key, add, v);
fail:
	free(key->text);
	p->key = NULL;
	return r;
}

static int parse_stmts(struct parser *p)
{
	struct tok t;
	char what[64];
	int r;

	for (;;) {
		if ((r = lex_next(&p->lx, &t)))
			return r;
		if (t.type == T_EOF)
			return 0;
		if (t.type == T_NEWLINE || t.type == T_SEMI)
			continue;
		if (t.type != T_KEY) {
			describe(&t, what, sizeof(what));
			free(t.text);
			return lex_errf(&p->lx, t.line, t.col, "expected a key, got %s", what);
		}
		if ((r = parse_stmt(p, &t)))
			return r;
	}
}

/* Does line `line` of text start like Python (xm configs could be)? */
static bool python_like(const char *text, size_t len, int line)
{
	static const char *const starts[] = { "import ", "from ", "def ", "class ", "if ",
					      "for ", "while ", "print", "try:", "else:" };
	size_t i = 0;

	for (int l = 1; l < line && i < len; i++)
		l += text[i] == '\n';
	while (i < len && (text[i] == ' ' || text[i] == '\t'))
		i++;
	for (size_t k = 0; k < sizeof(starts) / sizeof(starts[0]); k++)
		if (len - i >= strlen(starts[k]) && !strncmp(text + i, starts[k], strlen(starts[k])))
			return true;
	return false;
}

int cfg_raw_parse(struct cfg_raw *raw, const char *source, const char *text,
		  size_t len, struct xlcfg_error *err)
{
	struct parser p = {
		.lx = { .src = text, .len = len, .line = 1, .col = 1,
			.source = source, .err = err },
		.raw = raw,
	};
	int r = parse_stmts(&p);

	if (r == -EINVAL && python_like(text, len, p.lx.err_line)) {
		size_t n = strlen(err->msg);

		snprintf(err->msg + n, sizeof(err->msg) - n, " (this looks like Python, "
			 "which xl.cfg is not)");
	}
	return r;
}

void cfg_raw_free(struct cfg_raw *raw)
{
	for (size_t i = 0; i < raw->n; i++) {
		free(raw->v[i].name);
		cfg_value_free(raw->v[i].value);
	}
	free(raw->v);
	memset(raw, 0, sizeof(*raw));
}
