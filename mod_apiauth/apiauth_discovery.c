/*
 * apiauth_discovery.c: a client that knows only a URL finds out how to get
 * a token for it -- protected resource metadata (RFC 9728), and the
 * resource identifier tokens must carry (RFC 8707).
 *
 * `ApiAuthResource URI [ISSUER...]` names a location's resource.  Its
 * tokens must have it as their audience (lib/decide/resolve.c), its 401
 * challenges point at its metadata (resource_metadata=), and
 * `SetHandler apiauth-resource-metadata` on /.well-known/oauth-protected-
 * resource serves that metadata for every resource of the server, by the
 * path RFC 9728 §3.1 puts after the well-known prefix.  What the metadata
 * says is read at start from the section that names the resource: its
 * authorization servers (this server's mod_apiauth_oauth issuer unless
 * listed), the scopes its Require apiauth-scope lines name, whether it
 * takes DPoP only.
 */
#include <apr_optional.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>

#include "apiauth_private.h"
#include "dpop.h"
#include "url.h"

/* One ApiAuthResource, as configured. */
typedef struct {
    const char *resource;
    const char *path;            /* its metadata's path (RFC 9728 §3.1) */
    const apiauth_dir_conf *conf;  /* the section that names it */
    server_rec *s;
    const char *where;           /* "<Location /mcp>", for messages */
} resource_entry;

static apr_array_header_t *resources;   /* resource_entry, per config */

void apiauth_discovery_pre_config(apr_pool_t *pconf)
{
    resources = apr_array_make(pconf, 4, sizeof(resource_entry));
}

const char *apiauth_resource_set(cmd_parms *cmd, void *dconf, int argc,
                                 char *const argv[])
{
    apiauth_dir_conf *conf = dconf;
    resource_entry *e;
    int i;

    if (argc < 1 || !apiauth_resource_uri_valid(cmd->temp_pool, argv[0])) {
        return "ApiAuthResource takes the resource's URL (http or https, "
               "no query or fragment), then the issuers of its "
               "authorization servers, if not this server's";
    }
    conf->resource = argv[0];
    conf->resource_as = NULL;
    for (i = 1; i < argc; i++) {
        if (!apiauth_resource_uri_valid(cmd->temp_pool, argv[i])) {
            return apr_psprintf(cmd->pool, "ApiAuthResource: '%s' is not "
                                "an issuer URL", argv[i]);
        }
        if (conf->resource_as == NULL) {
            conf->resource_as = apr_array_make(cmd->pool, argc - 1,
                                               sizeof(const char *));
        }
        APR_ARRAY_PUSH(conf->resource_as, const char *) = argv[i];
    }
    e = apr_array_push(resources);
    e->resource = argv[0];
    apiauth_resource_metadata_url(cmd->pool, argv[0], &e->path);
    e->conf = conf;
    e->s = cmd->server;
    e->where = apr_psprintf(cmd->pool, "%s %s",
                            cmd->directive->parent
                                ? cmd->directive->parent->directive
                                : "server",
                            cmd->path ? cmd->path : "");
    return NULL;
}

/* The issuers of the resource's authorization servers: its own list, or
 * this server's mod_apiauth_oauth. */
static apr_array_header_t *servers_of(apr_pool_t *p, const resource_entry *e)
{
    APR_OPTIONAL_FN_TYPE(apiauth_oauth_issuer) *issuer_of =
        APR_RETRIEVE_OPTIONAL_FN(apiauth_oauth_issuer);
    const char *issuer;
    apr_array_header_t *list;

    if (e->conf->resource_as) {
        return e->conf->resource_as;
    }
    issuer = issuer_of ? issuer_of(e->s) : NULL;
    if (issuer == NULL) {
        return NULL;
    }
    list = apr_array_make(p, 1, sizeof(const char *));
    APR_ARRAY_PUSH(list, const char *) = issuer;
    return list;
}

int apiauth_discovery_post_config(apr_pool_t *pconf, server_rec *s)
{
    int i, j;

    for (i = 0; resources && i < resources->nelts; i++) {
        const resource_entry *e = &APR_ARRAY_IDX(resources, i, resource_entry);

        if (servers_of(pconf, e) == NULL) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, e->s, AALOGNO(10056)
                         "ApiAuthResource %s (%s>) names no authorization "
                         "server, and mod_apiauth_oauth has no "
                         "ApiAuthOAuthIssuer here: list its issuer after "
                         "the resource", e->resource, e->where);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        for (j = 0; j < i; j++) {
            const resource_entry *o = &APR_ARRAY_IDX(resources, j,
                                                     resource_entry);
            if (o->s == e->s && strcmp(o->path, e->path) == 0
                && strcmp(o->resource, e->resource) != 0) {
                ap_log_error(APLOG_MARK, APLOG_CRIT, 0, e->s, AALOGNO(10057)
                             "ApiAuthResource %s and %s would have their "
                             "metadata at the same path %s", o->resource,
                             e->resource, e->path);
                return HTTP_INTERNAL_SERVER_ERROR;
            }
        }
    }
    return OK;
}

const char *apiauth_resource_challenge(request_rec *r,
                                       const apiauth_dir_conf *conf,
                                       int with_scope)
{
    const char *url;

    if (conf->resource == NULL) {
        return NULL;
    }
    url = apiauth_resource_metadata_url(r->pool, conf->resource, NULL);
    if (with_scope && conf->scopes_required) {
        return apr_psprintf(r->pool, "resource_metadata=\"%s\", scope=\"%s\"",
                            url, conf->scopes_required);
    }
    return apr_psprintf(r->pool, "resource_metadata=\"%s\"", url);
}

static json_t *string_array(const apr_array_header_t *a)
{
    json_t *out = json_array();
    int i;

    for (i = 0; a && i < a->nelts; i++) {
        json_array_append_new(out, json_string(APR_ARRAY_IDX(a, i,
                                                             const char *)));
    }
    return out;
}

static json_t *metadata_of(request_rec *r, const resource_entry *e)
{
    const apiauth_dir_conf *c = e->conf;
    unsigned schemes = c->schemes ? c->scheme_mask : APIAUTH_DEFAULT_SCHEMES;
    json_t *doc = json_object(), *scopes = json_array();
    char *words = apr_pstrdup(r->pool, c->scopes_required ? c->scopes_required
                                                          : ""), *last;
    const char *w;

    json_object_set_new(doc, "resource", json_string(e->resource));
    json_object_set_new(doc, "authorization_servers",
                        string_array(servers_of(r->pool, e)));
    for (w = apr_strtok(words, " ", &last); w; w = apr_strtok(NULL, " ",
                                                               &last)) {
        json_array_append_new(scopes, json_string(w));
    }
    json_object_set_new(doc, "scopes_supported", scopes);
    json_object_set_new(doc, "bearer_methods_supported",
                        json_pack("[s]", "header"));
    if (schemes & APIAUTH_SCHEME_DPOP) {
        json_object_set_new(doc, "dpop_signing_alg_values_supported",
                            json_pack("[s,s,s,s,s]", APIAUTH_DPOP_ALGS));
    }
    /* DPoP only: a Bearer token is refused here */
    json_object_set_new(doc, "dpop_bound_access_tokens_required",
                        json_boolean((schemes & APIAUTH_SCHEME_DPOP)
                                     && !(schemes & APIAUTH_SCHEME_BEARER)));
    return doc;
}

int apiauth_resource_metadata_handler(request_rec *r)
{
    const resource_entry *found = NULL;
    json_t *doc;
    char *body;
    int i;

    if (strcmp(r->handler, "apiauth-resource-metadata") != 0) {
        return DECLINED;
    }
    if (r->method_number != M_GET) {
        r->allowed = AP_METHOD_BIT << M_GET;
        return HTTP_METHOD_NOT_ALLOWED;
    }
    for (i = 0; resources && i < resources->nelts && !found; i++) {
        const resource_entry *e = &APR_ARRAY_IDX(resources, i, resource_entry);
        if (e->s == r->server && strcmp(e->path, r->uri) == 0) {
            found = e;
        }
    }
    for (i = 0; resources && i < resources->nelts && !found; i++) {
        const resource_entry *e = &APR_ARRAY_IDX(resources, i, resource_entry);
        /* a resource of the main server, seen from a virtual host */
        if (strcmp(e->path, r->uri) == 0) {
            found = e;
        }
    }
    if (found == NULL) {
        return HTTP_NOT_FOUND;
    }
    doc = metadata_of(r, found);
    body = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (body == NULL) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ap_set_content_type(r, "application/json");
    apr_table_setn(r->headers_out, "Cache-Control", "max-age=300");
    ap_rputs(body, r);
    free(body);
    return OK;
}
