/*
 * oauth_cimd.c: clients named by the URL of their metadata document
 * (OAuth Client ID Metadata Documents), as MCP clients name themselves.
 *
 * `ApiAuthOAuthClientDomains app=NAME DOMAIN...` takes a client_id that is
 * an https URL on one of those domains: at the authorization endpoint the
 * document is fetched (fenced: glue/apiauth_fetch.h), read as an open
 * registration's metadata would be (lib/oauth/register.c), and written to
 * the store as an ordinary public client whose id is the URL -- so every
 * later step (code, token, refresh, introspection, apiauth-admin client
 * list and delete) knows it.  A deleted one stays deleted.  How long a
 * document is believed is what its Cache-Control says, between 60 s and an
 * hour (5 minutes when it says nothing), remembered in the socache (so by
 * every node that shares it), authenticated like its other entries.
 */
#include <apr_strings.h>
#include <apr_uri.h>
#include <http_core.h>
#include <http_log.h>

#include "apiauth_fetch.h"
#include "oauth_private.h"

#define DOCUMENT_MAX_BYTES (16 * 1024)
#define FETCH_TIMEOUT_MS 5000
#define FRESH_MIN 60
#define FRESH_DEFAULT 300
#define FRESH_MAX 3600

const char *oauth_client_domains_set(cmd_parms *cmd, void *dummy,
                                     const char *word)
{
    oauth_server_conf *conf = ap_get_module_config(cmd->server->module_config,
                                                   &apiauth_oauth_module);

    if (strncasecmp(word, "app=", 4) == 0 && word[4]) {
        conf->cimd_app = word + 4;
        return NULL;
    }
    if (*word == '\0' || strpbrk(word, "/:@ ")
        || (strchr(word, '*') && strcmp(word, "*") != 0
            && strncmp(word, "*.", 2) != 0)) {
        return apr_psprintf(cmd->pool, "ApiAuthOAuthClientDomains takes "
                            "app=NAME and domains (example.com, "
                            "*.example.com, or * for any), not '%s'", word);
    }
    if (conf->cimd_domains == NULL) {
        conf->cimd_domains = apr_array_make(cmd->pool, 2,
                                            sizeof(const char *));
    }
    APR_ARRAY_PUSH(conf->cimd_domains, const char *) = word;
    return NULL;
}

const char *oauth_fetch_test_set(cmd_parms *cmd, void *dummy,
                                 const char *word)
{
    oauth_server_conf *conf = ap_get_module_config(cmd->server->module_config,
                                                   &apiauth_oauth_module);

    if (strcasecmp(word, "loopback") == 0) {
        conf->fetch_loopback = 1;
        return NULL;
    }
    if (strncasecmp(word, "ca=", 3) == 0 && word[3]) {
        conf->fetch_ca = ap_server_root_relative(cmd->pool, word + 3);
        return NULL;
    }
    return "ApiAuthOAuthFetchTestOnly takes loopback and ca=FILE";
}

int oauth_cimd_post_config(server_rec *s, const oauth_server_conf *conf)
{
    if (conf->cimd_domains == NULL) {
        return OK;
    }
    if (!apiauth_fetch_available()) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, AALOGNO(20072)
                     "ApiAuthOAuthClientDomains needs apiauth built with "
                     "libcurl (Debian: libcurl4-openssl-dev, then "
                     "./configure && make): client metadata documents "
                     "cannot be fetched");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (conf->cimd_app == NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, AALOGNO(20073)
                     "ApiAuthOAuthClientDomains needs app=NAME: the app "
                     "the clients it admits belong to");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    apiauth_fetch_init();
    return OK;
}

/* Is the document of `url` fresh -- fetched by some node sharing the
 * cache within what its Cache-Control allowed? */
static int still_fresh(request_rec *r, const char *url)
{
    return oauth_services()->known(r, apr_pstrcat(r->pool, "client "
                                                  "metadata document ", url,
                                                  NULL));
}

static void keep_fresh(request_rec *r, const char *url, apr_int64_t until)
{
    oauth_services()->remember(r, apr_pstrcat(r->pool, "client metadata "
                                              "document ", url, NULL),
                               until);
}

static int domain_allowed(const apr_array_header_t *domains, const char *host)
{
    apr_size_t hl = strlen(host);
    int i;

    for (i = 0; i < domains->nelts; i++) {
        const char *d = APR_ARRAY_IDX(domains, i, const char *);
        if (strcmp(d, "*") == 0 || strcasecmp(d, host) == 0) {
            return 1;
        }
        if (strncmp(d, "*.", 2) == 0 && hl > strlen(d) - 1
            && strcasecmp(host + hl - (strlen(d) - 1), d + 1) == 0) {
            return 1;
        }
    }
    return 0;
}

static apiauth_status_t refuse(apiauth_error_t *err, const char *why)
{
    return apiauth_fail(err, APIAUTH_INVALID, "invalid_client", why);
}

apiauth_status_t oauth_cimd_prepare(request_rec *r, apiauth_db_t *db,
                                    const char *client_id,
                                    apiauth_error_t *err)
{
    oauth_server_conf *conf = oauth_conf(r);
    apr_int64_t now = apr_time_sec(r->request_time), age;
    apiauth_fetch_limits_t limits = {DOCUMENT_MAX_BYTES, FETCH_TIMEOUT_MS,
                                     conf->fetch_loopback, 0, conf->fetch_ca};
    apiauth_fetch_result_t got;
    apiauth_oauth_client_t client;
    apiauth_app_t app;
    apiauth_status_t st;
    const char *why = NULL;
    apr_uri_t u;

    if (conf->cimd_domains == NULL || client_id == NULL
        || strncmp(client_id, "https://", 8) != 0) {
        return APIAUTH_OK;            /* an ordinary client_id */
    }
    if (apr_uri_parse(r->pool, client_id, &u) != APR_SUCCESS
        || u.hostname == NULL || u.path == NULL || strcmp(u.path, "/") == 0
        || u.query || u.fragment || u.user || u.password) {
        return refuse(err, "a client_id URL is https, with a path, without "
                           "query, fragment or user");
    }
    if (!domain_allowed(conf->cimd_domains, u.hostname)) {
        return refuse(err, "this server does not take clients of that "
                           "domain");
    }
    if (still_fresh(r, client_id)) {
        return APIAUTH_OK;
    }
    st = apiauth_fetch(r->pool, client_id, &limits, &got, &why);
    if (st == APIAUTH_OK && got.status != 200) {
        why = apr_psprintf(r->pool, "the document's URL answered %ld",
                           got.status);
        st = APIAUTH_DENIED;
    }
    if (st == APIAUTH_OK
        && (got.content_type == NULL
            || strncasecmp(got.content_type, "application/json", 16) != 0)) {
        why = "the document is not application/json";
        st = APIAUTH_DENIED;
    }
    if (st != APIAUTH_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, AALOGNO(20074)
                      "client metadata document %s refused: %s", client_id,
                      why);
        return refuse(err, why);
    }
    if (apiauth_store_app_find(r->pool, db, conf->cimd_app, &app)
        != APIAUTH_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, AALOGNO(20075)
                      "ApiAuthOAuthClientDomains: the app %s is not in the "
                      "store", conf->cimd_app);
        return apiauth_fail(err, APIAUTH_ERROR, "temporarily_unavailable",
                            "clients cannot be admitted now");
    }
    st = apiauth_oauth_client_document(r->pool, &conf->oauth, client_id,
                                       got.body, got.len, app.id, &client,
                                       err);
    if (st != APIAUTH_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, AALOGNO(20074)
                      "client metadata document %s refused: %s", client_id,
                      err->description);
        return st;
    }
    if (client.jwks_uri) {
        /* its keys, fetched as fenced as the document */
        apr_array_header_t *keys = NULL;
        st = apiauth_fetch(r->pool, client.jwks_uri, &limits, &got, &why);
        if (st != APIAUTH_OK || got.status != 200
            || apiauth_jwks_parse(r->pool, got.body, got.len, &keys, &why)
                   != APIAUTH_OK) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, AALOGNO(20076)
                          "client %s: its jwks_uri %s refused: %s", client_id,
                          client.jwks_uri, why ? why : "not 200");
            return refuse(err, "the client's jwks_uri gives no usable keys");
        }
        client.jwks = got.body;
    }
    client.created = now;
    if (apiauth_store_client_upsert(r->pool, db, &client) != APIAUTH_OK) {
        return apiauth_fail(err, APIAUTH_ERROR, "temporarily_unavailable",
                            "the client could not be recorded");
    }
    age = got.max_age < 0 ? FRESH_DEFAULT
          : got.max_age < FRESH_MIN ? (got.max_age == 0 ? 0 : FRESH_MIN)
          : got.max_age > FRESH_MAX ? FRESH_MAX : got.max_age;
    if (age > 0) {
        keep_fresh(r, client_id, now + age);
    }
    return APIAUTH_OK;
}
