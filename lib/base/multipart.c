/*
 * multipart.c: multipart/form-data bodies (RFC 7578 over RFC 2046 §5.1.1).
 *
 * What `curl -F`, python requests and browsers send to a token endpoint:
 * a few short text fields.  This reads such a body, already in memory and
 * already bounded by the caller, and hands each field to form.c, which
 * applies the RFC 6749 §3.1 rules to multipart and urlencoded bodies
 * alike.  It is not a MIME library: no file uploads, no nested multiparts,
 * no transfer encodings, no folded header lines, no backslash escapes in
 * quoted strings.  What it does not understand it refuses rather than
 * guesses, so that no other reader of the same body (a proxy, a WAF, a
 * logging application) can find different parameters in it.
 *
 * The body is not NUL terminated and is fuzzed (tests/fuzz/fuzz_form.c):
 * every read is an index checked against `len`, and every loop moves
 * forward through the body.
 */
#include <string.h>

#include <apr_cstr.h>

#include "multipart.h"

#define BOUNDARY_MAX 70        /* RFC 2046 §5.1.1 */
#define PART_HEADERS_MAX 4     /* form-data needs two; a little slack */
#define HEADER_LINE_MAX 1024   /* bytes, without the CRLF */

typedef struct {
    const char *s;
    apr_size_t len;
} span_t;

/* "; name=value" with the value unquoted (RFC 9110 §5.6.6). */
typedef struct {
    span_t name;
    span_t value;
} header_param_t;

static int span_is(span_t sp, const char *lit)
{
    apr_size_t n = strlen(lit);

    return sp.len == n && apr_cstr_casecmpn(sp.s, lit, n) == 0;
}

/* ASCII whatever the locale: header syntax is bytes, not text. */
static int is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
           || (c >= 'A' && c <= 'Z');
}

/* RFC 9110 §5.6.2 */
static int is_tchar(unsigned char c)
{
    return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

static apr_size_t skip_ows(const char *s, apr_size_t len, apr_size_t i)
{
    while (i < len && (s[i] == ' ' || s[i] == '\t')) {
        i++;
    }
    return i;
}

static apr_size_t token_end(const char *s, apr_size_t len, apr_size_t i)
{
    while (i < len && is_tchar((unsigned char)s[i])) {
        i++;
    }
    return i;
}

int apiauth_mime_value_is(const char *s, apr_size_t len, const char *type,
                          apr_size_t *params)
{
    apr_size_t tlen = strlen(type);
    apr_size_t i = skip_ows(s, len, 0);

    if (len - i < tlen || apr_cstr_casecmpn(s + i, type, tlen) != 0) {
        return 0;
    }
    i += tlen;
    if (i < len && s[i] != ';' && s[i] != ' ' && s[i] != '\t') {
        return 0;
    }
    *params = i;
    return 1;
}

/* The next parameter of s[*pos..len): 1 (*out filled), 0 at the end, -1
 * when malformed.  A quoted-string with a backslash is refused: quoted-pair
 * is rare in practice and is where parsers disagree about a field's name. */
static int next_param(const char *s, apr_size_t len, apr_size_t *pos,
                      header_param_t *out)
{
    apr_size_t i = *pos, end;

    for (;;) {
        i = skip_ows(s, len, i);
        if (i == len) {
            *pos = i;
            return 0;
        }
        if (s[i] != ';') {
            return -1;
        }
        i = skip_ows(s, len, i + 1);
        if (i < len && s[i] != ';') {
            break;
        }
        /* an empty parameter: ";;" or a trailing ";" */
    }
    end = token_end(s, len, i);
    if (end == i || end == len || s[end] != '=') {
        return -1;
    }
    out->name.s = s + i;
    out->name.len = end - i;
    i = end + 1;
    if (i < len && s[i] == '"') {
        apr_size_t start = ++i;

        for (; i < len && s[i] != '"'; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c == '\\' || (c < 0x20 && c != '\t') || c == 0x7f) {
                return -1;
            }
        }
        if (i == len) {
            return -1;
        }
        out->value.s = s + start;
        out->value.len = i - start;
        i++;
    }
    else {
        end = token_end(s, len, i);
        if (end == i) {
            return -1;
        }
        out->value.s = s + i;
        out->value.len = end - i;
        i = end;
    }
    *pos = i;
    return 1;
}

/* RFC 2046 §5.1.1: 1..70 bchars, not ending in a space. */
static int boundary_is_valid(span_t b)
{
    apr_size_t i;

    if (b.len < 1 || b.len > BOUNDARY_MAX || b.s[b.len - 1] == ' ') {
        return 0;
    }
    for (i = 0; i < b.len; i++) {
        unsigned char c = (unsigned char)b.s[i];
        if (!is_alnum(c) && (c == '\0' || !strchr("'()+_,-./:=? ", c))) {
            return 0;
        }
    }
    return 1;
}

static apiauth_status_t read_boundary(const char *params, apr_size_t plen,
                                      span_t *boundary, apiauth_error_t *err)
{
    header_param_t prm;
    apr_size_t pos = 0;
    int rc, found = 0;

    while ((rc = next_param(params, plen, &pos, &prm)) == 1) {
        if (span_is(prm.name, "boundary")) {
            if (found++) {
                return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                                    "the Content-Type names two boundaries");
            }
            *boundary = prm.value;
        }
    }
    if (rc < 0) {
        return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                            "the Content-Type parameters are malformed");
    }
    if (!found) {
        return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                            "multipart/form-data needs a boundary parameter");
    }
    if (!boundary_is_valid(*boundary)) {
        return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                            "the multipart boundary is not valid (RFC 2046)");
    }
    return APIAUTH_OK;
}

/* The offset of the first d[0..dlen) in s[from..len), or len when none.
 * At most 74 compares per byte (the longest delimiter). */
static apr_size_t find_bytes(const char *s, apr_size_t len, apr_size_t from,
                             const char *d, apr_size_t dlen)
{
    apr_size_t i;

    if (len < dlen) {
        return len;
    }
    for (i = from; i <= len - dlen; i++) {
        if (s[i] == d[0] && memcmp(s + i, d, dlen) == 0) {
            return i;
        }
    }
    return len;
}

/* Does s[pos..len) start with d[0..dlen)?  (pos <= len) */
static int starts_with(const char *s, apr_size_t len, apr_size_t pos,
                       const char *d, apr_size_t dlen)
{
    return len - pos >= dlen && memcmp(s + pos, d, dlen) == 0;
}

/* The header line at *pos, without its CRLF; *pos moves past the CRLF.
 * A bare CR or LF is refused: a reader that splits lines differently
 * would see other headers. */
static apiauth_status_t next_line(const char *s, apr_size_t len,
                                  apr_size_t *pos, span_t *line,
                                  apiauth_error_t *err)
{
    apr_size_t start = *pos, i;
    apr_size_t limit = len - start > HEADER_LINE_MAX + 1
                           ? start + HEADER_LINE_MAX + 1 : len;

    for (i = start; i < limit; i++) {
        if (s[i] == '\n' || (s[i] == '\r' && (i + 1 == len
                                              || s[i + 1] != '\n'))) {
            return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                                "part headers must end lines with CRLF");
        }
        if (s[i] == '\r') {
            line->s = s + start;
            line->len = i - start;
            *pos = i + 2;
            return APIAUTH_OK;
        }
    }
    if (limit < len) {
        return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                            "a part header line is too long");
    }
    return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                        "the body ends inside the part headers");
}

static apiauth_status_t read_disposition(span_t v, span_t *name,
                                         apiauth_error_t *err)
{
    header_param_t prm;
    apr_size_t pos;
    int rc, named = 0;

    if (!apiauth_mime_value_is(v.s, v.len, "form-data", &pos)) {
        return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                            "a part's Content-Disposition is not form-data");
    }
    while ((rc = next_param(v.s, v.len, &pos, &prm)) == 1) {
        if (span_is(prm.name, "name")) {
            if (named++) {
                return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                                    "a part has two names");
            }
            *name = prm.value;
        }
        else if (span_is(prm.name, "filename")
                 || span_is(prm.name, "filename*")) {
            return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                                "file uploads are not accepted here");
        }
    }
    if (rc < 0) {
        return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                            "a part's Content-Disposition is malformed");
    }
    if (!named) {
        return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                            "a part has no name");
    }
    return APIAUTH_OK;
}

/* Only text fields are parameters: anything else is a file in disguise
 * or a format we would have to guess at. */
static int type_is_text_plain(span_t v)
{
    header_param_t prm;
    apr_size_t pos;
    int rc;

    if (!apiauth_mime_value_is(v.s, v.len, "text/plain", &pos)) {
        return 0;
    }
    while ((rc = next_param(v.s, v.len, &pos, &prm)) == 1) {
    }
    return rc == 0;
}

/* RFC 7578 §4.7: senders do not encode; accept only the identities. */
static int encoding_is_identity(span_t v)
{
    const char *ok[] = {"7bit", "8bit", "binary"};
    apr_size_t i, pos;

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        if (apiauth_mime_value_is(v.s, v.len, ok[i], &pos)
            && skip_ows(v.s, v.len, pos) == v.len) {
            return 1;
        }
    }
    return 0;
}

/* One header line: field-name ":" OWS value OWS (RFC 9110 §5). */
static int split_header(span_t line, span_t *name, span_t *value)
{
    apr_size_t colon = token_end(line.s, line.len, 0), i;

    if (colon == 0 || colon == line.len || line.s[colon] != ':') {
        return 0;
    }
    for (i = colon + 1; i < line.len; i++) {
        unsigned char c = (unsigned char)line.s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return 0;
        }
    }
    name->s = line.s;
    name->len = colon;
    i = skip_ows(line.s, line.len, colon + 1);
    value->s = line.s + i;
    value->len = line.len - i;
    return 1;
}

/* The headers of the part at *pos, up to and including the empty line;
 * *pos moves to the first byte of the part's value. */
static apiauth_status_t read_part_headers(const char *body, apr_size_t len,
                                          apr_size_t *pos, span_t *name,
                                          apiauth_error_t *err)
{
    int lines = 0, disposition = 0, type = 0, encoding = 0;
    span_t line, hname, hvalue;
    apiauth_status_t rc;

    name->s = NULL;
    name->len = 0;
    for (;;) {
        if ((rc = next_line(body, len, pos, &line, err)) != APIAUTH_OK) {
            return rc;
        }
        if (line.len == 0) {
            break;
        }
        if (++lines > PART_HEADERS_MAX) {
            return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                                "a part has too many headers");
        }
        if (!split_header(line, &hname, &hvalue)) {
            return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                                "a part header is malformed");
        }
        if (span_is(hname, "Content-Disposition")) {
            if (disposition++) {
                return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                                    "a part has two Content-Dispositions");
            }
            if ((rc = read_disposition(hvalue, name, err)) != APIAUTH_OK) {
                return rc;
            }
        }
        else if (span_is(hname, "Content-Type")) {
            if (type++ || !type_is_text_plain(hvalue)) {
                return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                                    "a part's Content-Type is not text/plain");
            }
        }
        else if (span_is(hname, "Content-Transfer-Encoding")) {
            if (encoding++ || !encoding_is_identity(hvalue)) {
                return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                                    "a part has a Content-Transfer-Encoding");
            }
        }
        /* other headers carry nothing a form field needs */
    }
    if (!disposition) {
        return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                            "a part has no Content-Disposition");
    }
    return APIAUTH_OK;
}

apiauth_status_t apiauth_multipart_read(const char *params, apr_size_t plen,
                                        const char *body, apr_size_t len,
                                        apiauth_field_fn fn, void *ctx,
                                        apiauth_error_t *err)
{
    /* CRLF "--" boundary: the delimiter that ends every part's value */
    char delim[4 + BOUNDARY_MAX];
    apr_size_t dlen, pos, end;
    span_t boundary = {NULL, 0}, name;
    apiauth_status_t rc;

    if ((rc = read_boundary(params, plen, &boundary, err)) != APIAUTH_OK) {
        return rc;
    }
    memcpy(delim, "\r\n--", 4);
    memcpy(delim + 4, boundary.s, boundary.len);
    dlen = 4 + boundary.len;

    /* The first delimiter may open the body; otherwise a preamble comes
     * first, and is ignored, unless a line of it starts with --boundary
     * after a bare LF: readers that split lines at LF would start at
     * another part. */
    if (starts_with(body, len, 0, delim + 2, dlen - 2)) {
        pos = dlen - 2;
    }
    else if ((end = find_bytes(body, len, 0, delim, dlen)) < len) {
        if (find_bytes(body, end + dlen, 0, delim + 1, dlen - 1) != end + 1) {
            return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                                "the multipart preamble holds the boundary");
        }
        pos = end + dlen;
    }
    else {
        return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                            "the body has no multipart delimiter");
    }

    /* Here and at each turn pos <= len, just after a delimiter; every turn
     * consumes at least one delimiter.  "--" makes it the close delimiter,
     * and what follows is an epilogue, ignored. */
    for (;;) {
        if (len - pos >= 2 && body[pos] == '-' && body[pos + 1] == '-') {
            return APIAUTH_OK;
        }
        pos = skip_ows(body, len, pos);   /* transport padding */
        if (len - pos < 2 || body[pos] != '\r' || body[pos + 1] != '\n') {
            return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                                "a multipart delimiter is malformed");
        }
        pos += 2;
        if ((rc = read_part_headers(body, len, &pos, &name, err))
            != APIAUTH_OK) {
            return rc;
        }
        /* The CRLF before a delimiter is the delimiter's, not the value's:
         * an empty value is the headers' empty line, then CRLF--boundary.
         * A value that starts with --boundary is refused: some readers
         * take that as a part without the empty line, and then the parts
         * that follow would differ. */
        if (starts_with(body, len, pos, delim + 2, dlen - 2)) {
            return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                                "a part's value starts with the boundary");
        }
        if ((end = find_bytes(body, len, pos, delim, dlen)) == len) {
            return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                                "the multipart body is not closed");
        }
        if ((rc = fn(ctx, name.s, name.len, body + pos, end - pos, err))
            != APIAUTH_OK) {
            return rc;
        }
        pos = end + dlen;
    }
}
