/*
 * oauth_private.h: what the files of mod_apiauth_oauth share.
 *
 * mod_apiauth_oauth.c    configuration, directives, hooks (table of contents)
 * oauth_http.c           request bodies, JSON answers, the store, TLS
 * handler_token.c        token, introspection and revocation endpoints
 * handler_authorize.c    authorization endpoint
 * consent_page.c         the consent page (ApiAuthOAuthConsentTemplate)
 * handler_discovery.c    JWKS and authorization server metadata
 * handler_login.c        session tokens (login, logout), install tokens
 * provider_oauth.c       ApiAuthProvider oauth: our access tokens
 *
 * The protocol itself is in lib/oauth/; these files only translate
 * between HTTP and it.
 */
#ifndef APIAUTH_OAUTH_PRIVATE_H
#define APIAUTH_OAUTH_PRIVATE_H

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

#include "mod_apiauth.h"
#include "oauth.h"

#include "apiauth_log.h"

extern module AP_MODULE_DECLARE_DATA APIAUTH_MODULE_RECORD apiauth_oauth_module;
APLOG_USE_MODULE(apiauth_oauth);

#define OAUTH_UNSET -1

typedef struct oauth_server_conf {
    const char *issuer;
    const char *audience;
    apiauth_jwk_t *signing_key;
    apr_array_header_t *published;      /* apiauth_jwk_t *, not signing */
    apr_int64_t access_lifetime;
    apr_int64_t refresh_lifetime;
    apr_array_header_t *scopes;         /* apiauth_oauth_scope_t */
    apr_array_header_t *resources;      /* const char *: RFC 8707 */
    int registration_open;              /* ApiAuthOAuthRegistration open */
    const unsigned char *registration_token;  /* ... token=FILE: the
                                           SHA-256 of the initial access
                                           token */
    const char *registration_app;       /* ... app=NAME */
    apr_array_header_t *cimd_domains;   /* ApiAuthOAuthClientDomains */
    const char *cimd_app;               /* ... app=NAME */
    int fetch_loopback;                 /* ApiAuthOAuthFetchTestOnly */
    const char *fetch_ca;
    apr_table_t *scope_words;           /* scope -> description */
    int require_pkce_all;
    apr_int64_t max_body;
    apr_table_t *endpoints;             /* metadata name -> URL or path */
    apr_int64_t session_lifetime;       /* apiauth-login */
    apr_int64_t install_lifetime;       /* apiauth-install-token */
    struct apiauth_template *consent_template;   /* the page, parsed */
    /* made in post_config from the above */
    apiauth_oauth_config_t oauth;
    apiauth_pepper_t *consent_key;      /* MACs the consent form */
    int dpop_nonce;                     /* ApiAuthOAuthDPoP nonce */
    int dpop_window;                    /* ApiAuthOAuthDPoP window= */
    apiauth_pepper_t *dpop_nonce_key;   /* from the pepper, as mod_apiauth's */
} oauth_server_conf;

#define OAUTH_DEFAULT_ACCESS_LIFETIME 172800    /* 2 days, as Taptouch */
#define OAUTH_DEFAULT_REFRESH_LIFETIME 345600   /* 4 days */
#define OAUTH_CODE_LIFETIME 60
#define OAUTH_DEFAULT_SESSION_LIFETIME (30 * 86400)
#define OAUTH_DEFAULT_INSTALL_LIFETIME 3600
#define OAUTH_DEFAULT_MAX_BODY 65536
#define OAUTH_MAX_PARAMS 32
#define OAUTH_LEEWAY 60
#define OAUTH_DEFAULT_DPOP_WINDOW 60

oauth_server_conf *oauth_conf(request_rec *r);
int oauth_post_config_server(apr_pool_t *p, server_rec *s);

/* oauth_http.c */
/* mod_apiauth's services (mod_apiauth.h); NULL when it is not loaded,
 * which post_config refuses. */
const apiauth_services_t *oauth_services(void);
void oauth_retrieve_services(void);
/* Carries out what a decision of lib/ did, after its transaction. */
void oauth_apply(request_rec *r, const apiauth_effects_t *fx);
void oauth_prepare_statements(server_rec *s);
/* The request's store connection; -1 (logged) when there is none. */
int oauth_store(request_rec *r, apiauth_db_t *db);
/* The request's parameters: the query (GET) or the body (POST), with the
 * RFC 6749 §3.1 rules.  Returns OK, or DONE (answered) or an HTTP status.
 * Every function below that answers returns DONE, which a handler may
 * return as it is. */
int oauth_read_params(request_rec *r, int from_body, apr_table_t **params);
/* Answers: a JSON body with Cache-Control: no-store (takes `body`). */
/* A public document (metadata, JWKS): cacheable for five minutes. */
int oauth_send_public_json(request_rec *r, json_t *body);
int oauth_send_json(request_rec *r, int status, json_t *body);
/* An RFC 6749 §5.2 error; invalid_client is a 401 with a Basic challenge,
 * a store failure (APIAUTH_ERROR) a 503. */
int oauth_send_error(request_rec *r, apiauth_status_t st,
                     const apiauth_error_t *err);
/* The same with the status chosen by the caller. */
int oauth_answer_error(request_rec *r, int status, const apiauth_error_t *err);
/* ApiAuthFailureLimit (mod_apiauth): 429 with Retry-After when this
 * address has been refused too often (DONE), else OK.  Refusals are
 * counted by oauth_apply (APIAUTH_EFFECT_REFUSED). */
int oauth_too_many_failures(request_rec *r);
/* Refuses plain HTTP where ApiAuthRequireTLS is on (403); else OK. */
int oauth_require_tls(request_rec *r);
/* Only `method` (and HEAD for GET) is allowed here; else 405. */
int oauth_require_method(request_rec *r, int method);
/* The raw request body, at most ApiAuthOAuthMaxBody: OK, or answered. */
int oauth_read_body(request_rec *r, char **body, apr_size_t *len);
/* Wipes len bytes at `at` (OPENSSL_cleanse) when the request ends: for a
 * secret copied out of a body. */
void oauth_wipe_later(request_rec *r, char *at, apr_size_t len);
/* Is `ref` (an app's id or name) the app `app_id`? */
int oauth_app_matches(request_rec *r, apiauth_db_t *db, const char *ref,
                      const char *app_id);

/* The DPoP proof of a token request (RFC 9449 §5), when it has one:
 * OK with bind->jkt (NULL: no proof), else the refusal answered. */
int oauth_dpop_binding(request_rec *r, apiauth_oauth_binding_t *bind);
/* A fresh DPoP-Nonce on the answer, where ApiAuthOAuthDPoP asks for them. */
void oauth_dpop_nonce(request_rec *r);

/* the handlers */
int oauth_handle_token(request_rec *r);
int oauth_handle_introspect(request_rec *r);
int oauth_handle_revoke(request_rec *r);
int oauth_handle_authorize(request_rec *r);
int oauth_handle_jwks(request_rec *r);
int oauth_handle_metadata(request_rec *r);
int oauth_handle_login(request_rec *r);
/* oauth_cimd.c: clients named by their metadata document's URL */
const char *oauth_client_domains_set(cmd_parms *cmd, void *dummy,
                                     const char *word);
const char *oauth_fetch_test_set(cmd_parms *cmd, void *dummy,
                                 const char *word);
int oauth_cimd_post_config(server_rec *s, const oauth_server_conf *conf);
/* Where `client_id` is a document's URL of an allowed domain, fetches
 * the document (unless it is fresh) and records its client: APIAUTH_OK
 * (also for any other client_id); APIAUTH_INVALID, invalid_client, for a
 * document or URL refused; APIAUTH_ERROR when the store fails. */
apiauth_status_t oauth_cimd_prepare(request_rec *r, apiauth_db_t *db,
                                    const char *client_id,
                                    apiauth_error_t *err);

/* handler_register.c */
int oauth_handle_register(request_rec *r);
const char *oauth_registration_set(cmd_parms *cmd, void *dummy,
                                   const char *word);
int oauth_handle_install_token(request_rec *r);

/* consent_page.c */
const char *oauth_set_consent_template(cmd_parms *cmd, void *dummy,
                                       const char *arg);
int oauth_consent_page_init(apr_pool_t *p, oauth_server_conf *conf);
/* The consent page for `authz`, its form carrying `form_token`: DONE. */
int oauth_consent_page(request_rec *r, const apiauth_oauth_authz_t *authz,
                       const char *form_token);
/* An error the user sees, because it cannot safely go anywhere else. */
int oauth_error_page(request_rec *r, int status, const apiauth_error_t *err);

/* provider_oauth.c */
extern const apiauth_provider_t oauth_provider;

#endif
