/*
 * apiauth_group.c: where a request names its group, for Require
 * apiauth-group (Twake: every request names the company, group_id, that
 * the app acts in, and the app must be installed there).
 *
 * ApiAuthGroupFrom query=NAME (default group_id) | header=NAME | form=NAME
 * | json=NAME.  A location needs the group id only when one of its Require
 * lines is apiauth-group; then a request without one is a 400, decided
 * while the credential is read.  Body sources read at most
 * ApiAuthGroupBodyLimit bytes and put the body back for the handler or
 * proxy behind, the way mod_auth_form keeps a login form's body.
 */
#include <apr_strings.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>

#include "apiauth_private.h"
#include "form.h"
#include "jsonreq.h"

#define KEPT_BODY_FILTER "APIAUTH_KEPT_BODY"
#define DEFAULT_GROUP_PARAM "group_id"
#define DEFAULT_BODY_LIMIT 65536

const char *apiauth_group_set_from(cmd_parms *cmd, void *dconf,
                                   const char *arg)
{
    static const char *const sources[] = {NULL, "query=", "header=", "form=",
                                          "json="};
    apiauth_dir_conf *conf = dconf;
    int i;

    for (i = APIAUTH_GROUP_QUERY; i <= APIAUTH_GROUP_JSON; i++) {
        size_t n = strlen(sources[i]);
        if (strncasecmp(arg, sources[i], n) == 0 && arg[n] != '\0') {
            conf->group_source = i;
            conf->group_name = arg + n;
            return NULL;
        }
    }
    return "ApiAuthGroupFrom query=NAME | header=NAME | form=NAME | json=NAME";
}

const char *apiauth_group_set_limit(cmd_parms *cmd, void *dconf,
                                    const char *arg)
{
    apiauth_dir_conf *conf = dconf;
    char *end;
    apr_int64_t v = apr_strtoi64(arg, &end, 10);

    if (*arg == '\0' || *end != '\0' || v < 1 || v > 16 * 1024 * 1024) {
        return "ApiAuthGroupBodyLimit takes a size in bytes (1 to 16M)";
    }
    conf->group_body_limit = v;
    return NULL;
}

/* Require apiauth-group takes no arguments; it tells the location that its
 * requests must name a group. */
const char *apiauth_group_parse_require(cmd_parms *cmd, const char *line,
                                        const void **parsed)
{
    apiauth_dir_conf *conf = apiauth_section_conf(cmd);

    if (*ap_getword_conf(cmd->temp_pool, &line) != '\0') {
        return "Require apiauth-group takes no arguments (see "
               "ApiAuthGroupFrom)";
    }
    if (conf) {
        conf->group_required = 1;
    }
    *parsed = NULL;
    return NULL;
}

/* ------------------------------------------------------------------ */
/* The kept body                                                       */
/* ------------------------------------------------------------------ */

typedef struct kept_body {
    const char *data;
    apr_size_t len;
    apr_size_t sent;
} kept_body;

/* Gives later readers the body this module has already read. */
static apr_status_t kept_body_filter(ap_filter_t *f, apr_bucket_brigade *bb,
                                     ap_input_mode_t mode,
                                     apr_read_type_e block,
                                     apr_off_t readbytes)
{
    kept_body *kept = f->ctx;
    apr_bucket *b;

    if (mode != AP_MODE_READBYTES) {
        return ap_get_brigade(f->next, bb, mode, block, readbytes);
    }
    if (kept->sent < kept->len) {
        apr_size_t n = kept->len - kept->sent;
        if (readbytes > 0 && n > (apr_size_t)readbytes) {
            n = (apr_size_t)readbytes;
        }
        b = apr_bucket_transient_create(kept->data + kept->sent, n,
                                        f->c->bucket_alloc);
        APR_BRIGADE_INSERT_TAIL(bb, b);
        kept->sent += n;
        return APR_SUCCESS;
    }
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(f->c->bucket_alloc));
    return APR_SUCCESS;
}

void apiauth_group_register_filter(void)
{
    ap_register_input_filter(KEPT_BODY_FILTER, kept_body_filter, NULL,
                             AP_FTYPE_RESOURCE);
}

/* Reads the whole body (at most `limit` bytes) and puts it back.  The
 * buckets are kept as they come and flattened once at the end, so memory
 * follows the body's size, not the limit.  0, 1 (too large) or -1. */
static int read_and_keep(request_rec *r, apr_int64_t limit, const char **body,
                         apr_size_t *len)
{
    apr_bucket_alloc_t *ba = r->connection->bucket_alloc;
    apr_bucket_brigade *bb = apr_brigade_create(r->pool, ba);
    apr_bucket_brigade *all = apr_brigade_create(r->pool, ba);
    apr_off_t total = 0;
    int seen_eos = 0;
    kept_body *kept;
    char *flat;
    apr_size_t n;

    do {
        apr_bucket *b;
        if (ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES,
                           APR_BLOCK_READ, 8192) != APR_SUCCESS) {
            return -1;
        }
        while (!APR_BRIGADE_EMPTY(bb)) {
            b = APR_BRIGADE_FIRST(bb);
            if (APR_BUCKET_IS_EOS(b)) {
                seen_eos = 1;
                apr_bucket_delete(b);
                continue;
            }
            if (APR_BUCKET_IS_METADATA(b)) {
                apr_bucket_delete(b);
                continue;
            }
            if (apr_bucket_setaside(b, r->pool) != APR_SUCCESS) {
                return -1;
            }
            APR_BUCKET_REMOVE(b);
            APR_BRIGADE_INSERT_TAIL(all, b);
        }
        if (apr_brigade_length(all, 1, &total) != APR_SUCCESS) {
            return -1;
        }
        if (total > limit) {
            return 1;
        }
    } while (!seen_eos);
    if (apr_brigade_pflatten(all, &flat, &n, r->pool) != APR_SUCCESS) {
        return -1;
    }
    apr_brigade_cleanup(all);
    kept = apr_pcalloc(r->pool, sizeof(*kept));
    kept->data = flat;
    kept->len = n;
    ap_add_input_filter(KEPT_BODY_FILTER, kept, r, r->connection);
    *body = flat;
    *len = n;
    return 0;
}

/* The group id from a body: a form field or a JSON member (a string, or
 * an integer as the decimal string). */
static apiauth_status_t group_from_body(request_rec *r,
                                        const apiauth_dir_conf *conf,
                                        const char *name, const char **group,
                                        apiauth_error_t *err)
{
    apr_int64_t limit = conf->group_body_limit > 0 ? conf->group_body_limit
                                                   : DEFAULT_BODY_LIMIT;
    const char *type = apr_table_get(r->headers_in, "Content-Type");
    const char *body;
    apr_size_t len;
    int rc;

    rc = read_and_keep(r, limit, &body, &len);
    if (rc != 0) {
        return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                            rc > 0 ? "the request body is over "
                                     "ApiAuthGroupBodyLimit"
                                   : "the request body could not be read");
    }
    if (conf->group_source == APIAUTH_GROUP_FORM) {
        apiauth_form_limits_t lim = {(apr_size_t)limit, 256};
        apr_table_t *params;
        if (apiauth_form_parse(r->pool, type ? type : "", body, len, &lim,
                               &params, err) != APIAUTH_OK) {
            return APIAUTH_INVALID;
        }
        *group = apr_table_get(params, name);
    }
    else {
        /* A body that is no JSON object, or whose member is of another
         * type, names no group: the caller's 400 says so. */
        const char *names[2] = {name, NULL};
        apiauth_json_fields(r->pool, body, len, names, APIAUTH_JSON_INTEGERS,
                            group, NULL);
    }
    return APIAUTH_OK;
}

apiauth_status_t apiauth_group_read(request_rec *r,
                                    const apiauth_dir_conf *conf,
                                    const char **group, apiauth_error_t *err)
{
    const char *name = conf->group_name ? conf->group_name
                                        : DEFAULT_GROUP_PARAM;
    apiauth_status_t st = APIAUTH_OK;
    int n;

    *group = NULL;
    switch (conf->group_source) {
    case APIAUTH_GROUP_HEADER:
        *group = apr_table_get(r->headers_in, name);
        break;
    case APIAUTH_GROUP_FORM:
    case APIAUTH_GROUP_JSON:
        st = group_from_body(r, conf, name, group, err);
        break;
    default:
        n = apiauth_query_get(r->pool, r->args, name, group);
        if (n > 1 || n < 0) {
            return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                                "the group id is repeated or malformed");
        }
    }
    if (st != APIAUTH_OK) {
        return st;
    }
    if (*group == NULL || **group == '\0') {
        return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                            apr_psprintf(r->pool, "every request here names "
                                         "its group (%s)", name));
    }
    if (!apiauth_name_is_valid(*group)) {
        return apiauth_fail(err, APIAUTH_INVALID, "invalid_request",
                            "the group id is malformed");
    }
    return APIAUTH_OK;
}
