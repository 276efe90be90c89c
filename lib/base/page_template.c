/*
 * page_template.c: {{placeholders}} in a page (see page_template.h).
 *
 * The text is cut once into segments -- copied text, or the number of a
 * placeholder -- so that rendering is a walk over them.  "{{" that does
 * not start a well-formed placeholder ({{ then a name of letters and _,
 * then }}) is an error rather than text: a typo such as {{client-name}}
 * would otherwise reach the user's page as it was written.
 */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "page_template.h"

typedef struct {
    const char *text;   /* copied text, or NULL for a placeholder */
    apr_size_t len;
    int name;           /* the placeholder's index in `names` */
} segment_t;

struct apiauth_template {
    apr_array_header_t *segments;   /* segment_t */
};

static int name_index(const char *const *names, const char *name,
                      apr_size_t len)
{
    int i;

    for (i = 0; names[i]; i++) {
        if (strlen(names[i]) == len && strncmp(names[i], name, len) == 0) {
            return i;
        }
    }
    return -1;
}

static void add_text(apr_array_header_t *segs, const char *text,
                     apr_size_t len)
{
    segment_t *s;

    if (len == 0) {
        return;
    }
    s = apr_array_push(segs);
    s->text = text;
    s->len = len;
    s->name = -1;
}

apiauth_status_t apiauth_template_parse(apr_pool_t *p, const char *text,
                                        const char *const *names,
                                        const char *const *required,
                                        apiauth_template_t **out,
                                        const char **errmsg)
{
    apr_array_header_t *segs = apr_array_make(p, 16, sizeof(segment_t));
    const char *at = text, *open;
    int line = 1, i;

    while ((open = strstr(at, "{{")) != NULL) {
        const char *name = open + 2, *end = name;
        const char *c;
        segment_t *s;
        int k;

        for (c = at; c < open; c++) {
            line += *c == '\n';
        }
        add_text(segs, at, (apr_size_t)(open - at));
        while (apr_islower(*end) || *end == '_') {
            end++;
        }
        if (end == name || strncmp(end, "}}", 2) != 0) {
            *errmsg = apr_psprintf(p, "line %d: \"{{\" starts no "
                                   "placeholder ({{name}}, name in "
                                   "lower-case letters and _)", line);
            return APIAUTH_INVALID;
        }
        k = name_index(names, name, (apr_size_t)(end - name));
        if (k < 0) {
            *errmsg = apr_psprintf(p, "line %d: unknown placeholder "
                                   "{{%.*s}}", line, (int)(end - name),
                                   name);
            return APIAUTH_INVALID;
        }
        s = apr_array_push(segs);
        s->text = NULL;
        s->len = 0;
        s->name = k;
        at = end + 2;
    }
    add_text(segs, at, strlen(at));
    for (i = 0; required && required[i]; i++) {
        int k = name_index(names, required[i], strlen(required[i])), j;
        int found = 0;
        for (j = 0; j < segs->nelts && !found; j++) {
            found = APR_ARRAY_IDX(segs, j, segment_t).name == k && k >= 0;
        }
        if (!found) {
            *errmsg = apr_psprintf(p, "the page needs {{%s}}", required[i]);
            return APIAUTH_INVALID;
        }
    }
    *out = apr_pcalloc(p, sizeof(**out));
    (*out)->segments = segs;
    return APIAUTH_OK;
}

char *apiauth_template_render(apr_pool_t *p, const apiauth_template_t *t,
                              const char *const *values)
{
    const segment_t *s = (const segment_t *)t->segments->elts;
    apr_size_t len = 0;
    char *page, *at;
    int i;

    for (i = 0; i < t->segments->nelts; i++) {
        len += s[i].text ? s[i].len
                         : values[s[i].name] ? strlen(values[s[i].name]) : 0;
    }
    at = page = apr_palloc(p, len + 1);
    for (i = 0; i < t->segments->nelts; i++) {
        const char *v = s[i].text ? s[i].text : values[s[i].name];
        apr_size_t n = s[i].text ? s[i].len : v ? strlen(v) : 0;
        if (n) {
            memcpy(at, v, n);
            at += n;
        }
    }
    *at = '\0';
    return page;
}
