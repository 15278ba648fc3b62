/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Source positions for diagnostics: jansson reports line:column only for syntax errors, so this
 * small tokenizer walks the original text along a JSON path to find where a key or value is. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "policy-internal.h"

struct cursor {
    const char *p;
    const char *end;
    int line;
    int column; /* of the next character */
};

static bool at_end(const struct cursor *c)
{
    return c->p >= c->end;
}

static void advance(struct cursor *c)
{
    unsigned char b = (unsigned char)*c->p++;

    /* Count characters, not bytes, as jansson does: UTF-8 continuation bytes add nothing. */
    if (b == '\n') {
        c->line++;
        c->column = 1;
    } else if ((b & 0xc0) != 0x80) {
        c->column++;
    }
}

static void skip_ws(struct cursor *c)
{
    while (!at_end(c) && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        advance(c);
}

static int hex_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Read the four hex digits of a \u escape (cursor just after the 'u'). */
static int read_hex4(struct cursor *c, uint32_t *ret)
{
    uint32_t v = 0;

    for (int i = 0; i < 4; i++) {
        int h;

        if (at_end(c))
            return -EINVAL;
        h = hex_value(*c->p);
        if (h < 0)
            return -EINVAL;
        v = (v << 4) | (uint32_t)h;
        advance(c);
    }
    *ret = v;
    return 0;
}

static size_t utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Consume one string (cursor on its opening quote). With @want non-NULL, set *ret_equal to
 * whether its decoded value equals @want: keys are compared after unescaping, since
 * "\u0066lags" is the key "flags" to jansson too. */
static int read_string(struct cursor *c, const char *want, bool *ret_equal)
{
    size_t want_len = want ? strlen(want) : 0, off = 0;
    bool equal = true;

    if (at_end(c) || *c->p != '"')
        return -EINVAL;
    advance(c);
    for (;;) {
        char piece[4];
        size_t n;

        if (at_end(c))
            return -EINVAL;
        if (*c->p == '"') {
            advance(c);
            break;
        }
        if (*c->p != '\\') {
            piece[0] = *c->p;
            n = 1;
            advance(c);
        } else {
            uint32_t cp;

            advance(c);
            if (at_end(c))
                return -EINVAL;
            switch (*c->p) {
            case '"':
            case '\\':
            case '/':
                cp = (unsigned char)*c->p;
                advance(c);
                break;
            case 'b':
                cp = '\b';
                advance(c);
                break;
            case 'f':
                cp = '\f';
                advance(c);
                break;
            case 'n':
                cp = '\n';
                advance(c);
                break;
            case 'r':
                cp = '\r';
                advance(c);
                break;
            case 't':
                cp = '\t';
                advance(c);
                break;
            case 'u': {
                advance(c);
                if (read_hex4(c, &cp) < 0)
                    return -EINVAL;
                /* A high surrogate followed by \uDC00..\uDFFF is one code point. */
                if (cp >= 0xd800 && cp <= 0xdbff && c->end - c->p >= 6 && c->p[0] == '\\' &&
                    c->p[1] == 'u') {
                    struct cursor save = *c;
                    uint32_t lo;

                    advance(c);
                    advance(c);
                    if (read_hex4(c, &lo) == 0 && lo >= 0xdc00 && lo <= 0xdfff)
                        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    else
                        *c = save;
                }
                break;
            }
            default:
                return -EINVAL;
            }
            n = utf8_encode(cp, piece);
        }
        if (want && equal) {
            if (off + n > want_len || memcmp(want + off, piece, n) != 0)
                equal = false;
            off += n;
        }
    }
    if (ret_equal)
        *ret_equal = want && equal && off == want_len;
    return 0;
}

/* Consume one value of any kind. Iterative, so deep nesting cannot exhaust the stack. */
static int skip_value(struct cursor *c)
{
    size_t depth = 0;

    do {
        skip_ws(c);
        if (at_end(c))
            return -EINVAL;
        switch (*c->p) {
        case '"':
            if (read_string(c, NULL, NULL) < 0)
                return -EINVAL;
            break;
        case '{':
        case '[':
            depth++;
            advance(c);
            continue;
        case '}':
        case ']':
            if (depth == 0)
                return -EINVAL;
            depth--;
            advance(c);
            break;
        case ',':
        case ':':
            /* Separators inside a container being skipped. */
            advance(c);
            continue;
        default: {
            /* Not a string: no terminating NUL, which memchr() would treat as a delimiter. */
            static const char delimiters[] = {',', ':', ']', '}', ' ', '\t', '\r', '\n'};
            const char *start = c->p;

            /* Number or literal: up to the next delimiter. memchr, not strchr: a NUL byte in
             * the text must not count as a delimiter, or nothing would be consumed. */
            while (!at_end(c) && !memchr(delimiters, *c->p, sizeof(delimiters)))
                advance(c);
            /* Anything else (a stray byte jansson let through) would loop forever. */
            if (c->p == start)
                return -EINVAL;
            break;
        }
        }
        if (depth > 0) {
            skip_ws(c);
            if (!at_end(c) && (*c->p == ',' || *c->p == ':'))
                advance(c);
        }
    } while (depth > 0);
    return 0;
}

static int expect(struct cursor *c, char ch)
{
    skip_ws(c);
    if (at_end(c) || *c->p != ch)
        return -EINVAL;
    advance(c);
    return 0;
}

/* Cursor on '{': move to the value of member @key (or its key with @stop_at_key). */
static int enter_member(struct cursor *c, const char *key, bool stop_at_key)
{
    int r;

    r = expect(c, '{');
    if (r < 0)
        return r;
    skip_ws(c);
    if (!at_end(c) && *c->p == '}')
        return -ENOENT;
    for (;;) {
        struct cursor key_pos;
        bool equal;

        skip_ws(c);
        key_pos = *c;
        r = read_string(c, key, &equal);
        if (r < 0)
            return r;
        if (equal && stop_at_key) {
            *c = key_pos;
            return 0;
        }
        r = expect(c, ':');
        if (r < 0)
            return r;
        if (equal) {
            skip_ws(c);
            return 0;
        }
        r = skip_value(c);
        if (r < 0)
            return r;
        skip_ws(c);
        if (at_end(c))
            return -EINVAL;
        if (*c->p == '}')
            return -ENOENT;
        r = expect(c, ',');
        if (r < 0)
            return r;
    }
}

/* Cursor on '[': move to element @index. */
static int enter_element(struct cursor *c, size_t index)
{
    int r;

    r = expect(c, '[');
    if (r < 0)
        return r;
    for (size_t i = 0;; i++) {
        skip_ws(c);
        if (at_end(c))
            return -EINVAL;
        if (*c->p == ']')
            return -ENOENT;
        if (i == index)
            return 0;
        r = skip_value(c);
        if (r < 0)
            return r;
        r = expect(c, ',');
        if (r < 0)
            return r;
    }
}

int policy_locate(const char *buf, size_t buf_len, const struct policy_seg *segs, size_t n_segs,
                  bool want_key, int *ret_line, int *ret_column)
{
    struct cursor c = {.p = buf, .end = buf + buf_len, .line = 1, .column = 1};

    for (size_t i = 0; i < n_segs; i++) {
        int r;

        skip_ws(&c);
        if (segs[i].key)
            r = enter_member(&c, segs[i].key, want_key && i + 1 == n_segs);
        else
            r = enter_element(&c, segs[i].index);
        if (r < 0)
            return r;
    }
    skip_ws(&c);
    *ret_line = c.line;
    *ret_column = c.column;
    return 0;
}

static bool is_identifier(const char *key)
{
    if (!*key)
        return false;
    for (const char *s = key; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-'))
            return false;
    return true;
}

void policy_escape(const char *s, char *buf, size_t buf_len)
{
    size_t off = 0;

    if (buf_len == 0)
        return;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        char piece[5];
        size_t n;

        /* The text ends up on a terminal: never pass control bytes or lone quotes through. */
        if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') {
            piece[0] = (char)ch;
            n = 1;
        } else {
            (void)snprintf(piece, sizeof(piece), "\\x%02x", ch); /* 4 bytes + NUL: fits */
            n = 4;
        }
        /* Keep room for "..." and the NUL in case this is not the last piece. */
        if (off + n + 4 > buf_len) {
            if (buf_len >= 4) {
                while (off + 4 > buf_len)
                    off--;
                memcpy(buf + off, "...", 3);
                off += 3;
            }
            break;
        }
        memcpy(buf + off, piece, n);
        off += n;
    }
    buf[off < buf_len ? off : buf_len - 1] = '\0';
}

void policy_path_format(const struct policy_seg *segs, size_t n_segs, char *buf, size_t buf_len)
{
    size_t off = 0;

    if (buf_len == 0)
        return;
    buf[0] = '\0';
    for (size_t i = 0; i < n_segs && off < buf_len; i++) {
        int n;

        if (!segs[i].key) {
            n = snprintf(buf + off, buf_len - off, "[%zu]", segs[i].index);
        } else if (is_identifier(segs[i].key)) {
            n = snprintf(buf + off, buf_len - off, "%s%s", off ? "." : "", segs[i].key);
        } else {
            char esc[MMSG_DIAG_PATH_MAX];

            policy_escape(segs[i].key, esc, sizeof(esc));
            n = snprintf(buf + off, buf_len - off, "[\"%s\"]", esc);
        }
        if (n < 0)
            break;
        off += (size_t)n;
    }
}
