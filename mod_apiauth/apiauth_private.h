/*
 * apiauth_private.h: what the files of mod_apiauth share among themselves.
 *
 * mod_apiauth.c      configuration, directives, hooks (the table of contents)
 * apiauth_authn.c    the authentication hook: TLS, credential, resolution
 * apiauth_resolve.c  which credential a request carries, per scheme rules
 * apiauth_authz.c    Require apiauth-scope / -app / -kind / -group
 * apiauth_response.c challenges, JSON error bodies, the error filter
 * apiauth_group.c    where a request names its group (Require apiauth-group)
 * apiauth_cache.c    validated credentials in mod_socache
 * apiauth_socache.c  the socache, its mutex, the change count
 * apiauth_memo.c     the previous request's credential, per connection
 * apiauth_limit.c    refused attempts per client address (429)
 * apiauth_confcheck.c what a configuration must hold, checked at start
 * provider_dbd.c     the SQL store through mod_dbd
 * provider_file.c    a credentials file, re-read when it changes
 */
#ifndef APIAUTH_PRIVATE_H
#define APIAUTH_PRIVATE_H

#include <apr_network_io.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <util_filter.h>

#include "apiauth.h"
#include "credential.h"
#include "digest.h"
#include "mod_apiauth.h"
#include "resolve.h"

#include "apiauth_log.h"

extern module AP_MODULE_DECLARE_DATA APIAUTH_MODULE_RECORD apiauth_module;

/* How a presented credential is named in the cache: a label, then its
 * parts -- APIAUTH_CACHE_SECRET and the secret (a key, a Token, a Bearer
 * token), APIAUTH_CACHE_BASIC with the user and password parts, or
 * APIAUTH_CACHE_INSTALL with the token and its install id.  One letter
 * each: the key of a cached API key then fits one SHA-256 block. */
#define APIAUTH_CACHE_SECRET  "k"
#define APIAUTH_CACHE_BASIC   "b"
#define APIAUTH_CACHE_INSTALL "i"
/* log lines say [apiauth:...], and LogLevel apiauth:debug works */
APLOG_USE_MODULE(apiauth);

#define APIAUTH_AUTH_TYPE "apiauth"
#define APIAUTH_UNSET -1

/* A provider named in ApiAuthProvider, resolved at configuration time. */
typedef struct apiauth_provider_ref {
    const char *name;
    const apiauth_provider_t *provider;
} apiauth_provider_ref_t;

/* Per-directory configuration.  Every field has an explicit "unset" value
 * so that merging lets an inner section override only what it sets. */
typedef struct apiauth_dir_conf {
    apr_array_header_t *schemes;     /* apiauth_scheme_t, challenge order */
    unsigned scheme_mask;
    apr_array_header_t *providers;   /* apiauth_provider_ref_t */
    const char *chain;               /* provider names: part of cache keys */
    const char *key_header;
    const char *key_query;           /* "" = off */
    int require_tls;
    int allow_backend;
    int forward_headers;
    int keep_credential;
    int cache;
    int cache_ttl;                   /* seconds */
    const char *credential_file;     /* ApiAuthCredentialFile's path */
    void *credential_file_state;     /* provider_file.c's, per file */
    apr_array_header_t *jwt_keys;    /* apiauth_jwk_t *, provider jwt */
    apr_array_header_t *jwt_remote;  /* JWKS at https URLs (provider_jwt.c's
                                        struct apiauth_remote_keys *) */
    const char *jwt_keys_ca;         /* ApiAuthJWT keys-ca=FILE */
    const char *jwt_issuer;
    int jwt_local;                   /* the issuer is this deployment's own:
                                        its app and client names are ours */
    const char *jwt_audience;
    int jwt_leeway;                  /* seconds */
    int group_source;                /* APIAUTH_GROUP_*, 0 = unset */
    const char *group_name;
    apr_int64_t group_body_limit;
    int group_required;              /* a Require apiauth-group is here */
    int app_token_allowed;           /* Require apiauth-kind app_token */
    int dpop_nonce;                  /* ApiAuthDPoP nonce */
    int dpop_window;                 /* ApiAuthDPoP window=SECONDS */
    const char *resource;            /* ApiAuthResource (RFC 8707, 9728) */
    apr_array_header_t *resource_as; /* its authorization servers (const
                                        char *); NULL: this server's */
    const char *scopes_required;     /* what Require apiauth-scope lines of
                                        the section name, space separated */
    apr_array_header_t *rate_limits; /* ApiAuthRateLimit lines of the
                                        section (apiauth_ratelimit.c) */
    int metrics_slot;                /* the section's counters
                                        (apiauth_metrics.c); 0: none */
    int empty;                       /* holds no directive of ours: found
                                        at start (apiauth_confcheck.c),
                                        so that merging skips it */
    struct apiauth_premerged *premerged;  /* this section merged onto the
                                        sections that enclose it, made at
                                        start (apiauth_confcheck.c) */
} apiauth_dir_conf;

/* A merge made at start: `base` (a section, or an earlier such merge)
 * with the section this hangs from, as a request's location walk makes it
 * again and again.  Read-only once httpd serves. */
typedef struct apiauth_premerged {
    const apiauth_dir_conf *base;
    apiauth_dir_conf *merged;
    struct apiauth_premerged *next;
} apiauth_premerged_t;

enum {
    APIAUTH_GROUP_QUERY = 1,
    APIAUTH_GROUP_HEADER,
    APIAUTH_GROUP_FORM,
    APIAUTH_GROUP_JSON
};

/* Per-server configuration. */
typedef struct apiauth_server_conf {
    apiauth_pepper_t *pepper;
    apr_array_header_t *trusted_proxies;  /* apr_ipsubnet_t * */
    const char *client_cert_header;       /* ApiAuthClientCertHeader */
    int fail_limit;                       /* ApiAuthFailureLimit; 0 = off */
    int fail_window;                      /* seconds */
    const char *cache_scope;              /* this virtual host in cache
                                             keys (apiauth_cache.c) */
    apiauth_pepper_t *cache_mac;          /* authenticates its entries */
    apiauth_pepper_t *dpop_nonce_key;     /* MACs DPoP nonces (from the
                                             pepper: every node, and the
                                             authorization server, agree) */
} apiauth_server_conf;

/* Defaults, applied where nothing was set (see mod_apiauth.c). */
#define APIAUTH_DEFAULT_KEY_HEADER "X-API-Key"
#define APIAUTH_DEFAULT_PROVIDER "dbd"   /* ApiAuthProvider unset */
#define APIAUTH_DEFAULT_CACHE_TTL 60
#define APIAUTH_DEFAULT_JWT_LEEWAY 60
#define APIAUTH_DEFAULT_DPOP_WINDOW 60
/* DPoP proofs a node remembers at once (apiauth_claims.c) */
#define APIAUTH_DEFAULT_DPOP_SLOTS 65536
#define APIAUTH_MIN_DPOP_SLOTS 1024
#define APIAUTH_MAX_DPOP_SLOTS 16777216
/* ApiAuthScheme unset: bearer apikey token basic */
#define APIAUTH_DEFAULT_SCHEMES \
    (APIAUTH_SCHEME_BEARER | APIAUTH_SCHEME_APIKEY | APIAUTH_SCHEME_TOKEN \
     | APIAUTH_SCHEME_BASIC)

/* The per-request state: who the request is, once known. */
typedef struct apiauth_request_state {
    apiauth_identity_t identity;
    apiauth_scheme_t scheme;
    const char *group;               /* the group the request names */
    int in_group;                    /* the app may act in it */
    const char *kept_query;          /* a query credential kept for the
                                        backend: masked in the log */
    apiauth_request_material_t material;  /* what the client presented,
                                        before it was stripped from the
                                        request: for httpd's own
                                        subrequests and redirects */
} apiauth_request_state;

/* apiauth_discovery.c: protected resource metadata (RFC 9728) */
const char *apiauth_resource_set(cmd_parms *cmd, void *dconf, int argc,
                                 char *const argv[]);
void apiauth_discovery_pre_config(apr_pool_t *pconf);
int apiauth_discovery_post_config(apr_pool_t *pconf, server_rec *s);
int apiauth_resource_metadata_handler(request_rec *r);
/* The auth-params a Bearer or DPoP challenge of a location with
 * ApiAuthResource carries: resource_metadata="..." (and, `with_scope`,
 * scope="..." where the section requires scopes); NULL elsewhere. */
const char *apiauth_resource_challenge(request_rec *r,
                                       const apiauth_dir_conf *conf,
                                       int with_scope);

/* apiauth_metrics.c: counters in shared memory, apiauth-metrics, and
 * mod_status's page */
#define APIAUTH_NOTE_RATE_LIMITED "apiauth-rate-limited"
void apiauth_metrics_pre_config(void);
/* Gives the section (a <Location> with directives of ours) its counters;
 * called at start, before its merges are made. */
void apiauth_metrics_name_section(server_rec *s, ap_conf_vector_t *section);
int apiauth_metrics_post_config(apr_pool_t *pconf, server_rec *s);
void apiauth_metrics_register(apr_pool_t *p);
int apiauth_metrics_handler(request_rec *r);
void apiauth_metrics_authn(request_rec *r, const apiauth_dir_conf *conf,
                           int accepted, apr_time_t took);
const char *apiauth_metrics_labels_set(cmd_parms *cmd, void *dummy,
                                       const char *arg);
void apiauth_metrics_refused(request_rec *r, const apiauth_dir_conf *conf,
                             int status, const apiauth_error_t *err);
void apiauth_metrics_cache(int hit);
void apiauth_metrics_store_lookup(void);
void apiauth_metrics_effect(const apiauth_effect_t *e);

/* apiauth_ratelimit.c: ApiAuthRateLimit */
const char *apiauth_rate_limit_set(cmd_parms *cmd, void *dconf, int argc,
                                   char *const argv[]);
void apiauth_rate_pre_config(void);
/* Warns where counts would drift across nodes. */
void apiauth_rate_post_config(server_rec *s);
/* Counts an authenticated request against the location's limits and sets
 * the RateLimit-* headers: 1 when it is over one (Retry-After is set;
 * answer 429), else 0.  A counter that cannot be reached is skipped. */
int apiauth_rate_check(request_rec *r, const apiauth_dir_conf *conf,
                       const apiauth_identity_t *id);

/* apiauth_directives.c: the command table and its setters */
extern const command_rec apiauth_cmds[];
void apiauth_directives_pre_config(apr_pool_t *pconf);
/* The previous release's spellings met in the configuration (AA10003). */
void apiauth_log_deprecations(server_rec *s);

/* apiauth_shared.c: ApiAuthSharedStore, what nodes agree on exactly */
const char *apiauth_shared_store_set(cmd_parms *cmd, const char *arg);
void apiauth_shared_pre_config(void);
int apiauth_shared_post_config(apr_pool_t *pconf, server_rec *s);
void apiauth_shared_child_init(apr_pool_t *p, server_rec *s);
int apiauth_shared_configured(void);
/* The count of `name` after this request, in a window of `seconds`: -1
 * when memcached cannot be reached (logged). */
apr_int64_t apiauth_shared_count(request_rec *r, const char *name,
                                 apr_int64_t seconds);
/* Claims `name` until `until` (Unix seconds): 1 for the one node that
 * claimed it first, 0 for every later claim, -1 when memcached cannot be
 * reached (logged). */
int apiauth_shared_claim(request_rec *r, const unsigned char *name,
                         apr_size_t len, apr_int64_t until);

/* apiauth_claims.c: the DPoP proofs this node took, never forgotten
 * while they could pass (ApiAuthDPoPReplaySlots) */
const char *apiauth_claims_set_slots(cmd_parms *cmd, void *dummy,
                                     const char *arg);
int apiauth_claims_pre_config(apr_pool_t *pconf, apr_pool_t *plog);
int apiauth_claims_post_config(apr_pool_t *pconf, server_rec *s);
void apiauth_claims_child_init(apr_pool_t *p, server_rec *s);
/* Claims `key` (a digest) until `until` (Unix seconds): 1 the first
 * time, 0 when it is claimed already, -1 when it cannot be remembered
 * (the table full: logged). */
int apiauth_claims_take(request_rec *r, const unsigned char *key,
                        apr_size_t len, apr_int64_t until);

/* apiauth_authn.c */
int apiauth_check_authn(request_rec *r);
int apiauth_mask_logged_query(request_rec *r);
int apiauth_tls_ok(request_rec *r, const apiauth_dir_conf *conf);
/* apiauth_proxy.c: what a trusted proxy says of the client's connection */
/* Over TLS: here, or at an ApiAuthTrustedProxy that says so
 * (X-Forwarded-Proto: https). */
int apiauth_over_tls(request_rec *r);
/* The host[:port] an ApiAuthTrustedProxy was asked for (the last of
 * X-Forwarded-Host); NULL on a TLS connection, from anyone else, or when
 * it is not one. */
const char *apiauth_forwarded_host(request_rec *r);
/* The client certificate an ApiAuthTrustedProxy passed on in the
 * ApiAuthClientCertHeader, percent-decoded; NULL on a TLS connection,
 * from anyone else, or when none was passed. */
const char *apiauth_proxied_cert(request_rec *r);
const apiauth_identity_t *apiauth_identity_of(request_rec *r);
/* The request the client sent, of which `r` may be a subrequest or an
 * internal redirect. */
request_rec *apiauth_sent_request(request_rec *r);
apiauth_request_state *apiauth_publish(request_rec *r,
                                       const apiauth_dir_conf *conf,
                                       const apiauth_credential_t *cred,
                                       const apiauth_identity_t *id);
void apiauth_strip_spoofed_headers(request_rec *r);
extern const void *apiauth_basic_provider;  /* AuthBasicProvider apiauth */

/* apiauth_resolve.c */
/* A credential as the request presented it, and where the cache keeps
 * its answer at this location (keyed 0: not worked out yet, or no
 * cache).  Only apiauth_resolve.c reads key and keyed. */
typedef struct apiauth_presented {
    apiauth_credential_t cred;
    unsigned char key[APIAUTH_DIGEST_LEN];
    int keyed;
} apiauth_presented_t;

/* The request's one credential (apiauth_credential_parse): the previous
 * request of the connection usually sent the same header, and the memo
 * then gives it with its cache key. */
apiauth_status_t apiauth_read_presented(request_rec *r,
                                        const apiauth_dir_conf *conf,
                                        const apiauth_request_material_t *m,
                                        apiauth_presented_t *pr,
                                        apiauth_error_t *err);
/* Who the presented credential is at this location: the cache, else the
 * stores (lib/decide/resolve.c), then this location's admission. */
apiauth_status_t apiauth_resolve(request_rec *r, const apiauth_dir_conf *conf,
                                 apiauth_presented_t *pr,
                                 apiauth_identity_t *id,
                                 apiauth_error_t *err);

apiauth_status_t apiauth_app_in_group(request_rec *r,
                                      const apiauth_dir_conf *conf,
                                      const char *app, const char *group,
                                      apiauth_error_t *err);

/* apiauth_group.c */
const char *apiauth_group_set_from(cmd_parms *cmd, void *dconf,
                                   const char *arg);
const char *apiauth_group_set_limit(cmd_parms *cmd, void *dconf,
                                    const char *arg);
const char *apiauth_group_parse_require(cmd_parms *cmd, const char *line,
                                        const void **parsed);
void apiauth_group_register_filter(void);
apiauth_status_t apiauth_group_read(request_rec *r,
                                    const apiauth_dir_conf *conf,
                                    const char **group, apiauth_error_t *err);

/* apiauth_confcheck.c: the check_config hook */
int apiauth_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                         apr_pool_t *ptemp, server_rec *s);
/* Does `conf` hold no directive of ours (compared with a new one)? */
int apiauth_dir_conf_untouched(const apiauth_dir_conf *conf);

/* apiauth_limit.c */
const char *apiauth_limit_set(cmd_parms *cmd, void *dummy, const char *count,
                              const char *seconds);
/* Seconds until this address may try again; 0 when it may now. */
int apiauth_limit_blocked(request_rec *r);
void apiauth_limit_failed(request_rec *r);
/* httpd's own authentication (mod_auth_basic, mod_auth_form): 429 before
 * it checks a password, and its refusals counted once the request is
 * over (hooks access_checker_ex, check_authz, log_transaction). */
int apiauth_limit_check_access(request_rec *r);
int apiauth_limit_note_authenticated(request_rec *r);
int apiauth_limit_log(request_rec *r);

/* apiauth_response.c */
int apiauth_refuse(request_rec *r, const apiauth_dir_conf *conf, int status,
                   const apiauth_error_t *err, apiauth_scheme_t presented,
                   const char *scope);
void apiauth_refuse_authz(request_rec *r, const apiauth_error_t *err,
                          const char *scope);
void apiauth_forget_denial(request_rec *r);
int apiauth_note_auth_failure(request_rec *r, const char *auth_type);
void apiauth_insert_error_filter(request_rec *r);
apr_status_t apiauth_error_filter(ap_filter_t *f, apr_bucket_brigade *bb);
#define APIAUTH_ERROR_FILTER "APIAUTH_ERROR"

/* apiauth_authz.c */
void apiauth_register_authz(apr_pool_t *p);
apiauth_dir_conf *apiauth_section_conf(cmd_parms *cmd);

/* apiauth_memo.c: the previous request's credential, per connection */
typedef struct apiauth_memo apiauth_memo_t;
#define APIAUTH_MEMO_KEY 1     /* apiauth_memo_recall found the cache key */
#define APIAUTH_MEMO_CRED 2    /* ... and the parsed credential */
/* What the inputs of a memo entry are read in: what for (a tag), a few
 * bits, and where the credential is looked up (configuration strings,
 * compared by address). */
typedef struct apiauth_memo_ctx {
    char tag;
    unsigned bits;
    const char *chain, *scope, *file;
} apiauth_memo_ctx_t;
#define APIAUTH_MEMO_TAG_KEY 'k'             /* apiauth_cache_key's parts */
#define APIAUTH_MEMO_TAG_AUTHORIZATION 'A'   /* the Authorization header */
#define APIAUTH_MEMO_TAG_KEY_HEADER 'K'      /* the ApiAuthKeyHeader */
apiauth_memo_t *apiauth_memo_of(conn_rec *c);
int apiauth_memo_recall(apiauth_memo_t *m, const apiauth_memo_ctx_t *ctx,
                        const char *const *in, int n, apr_pool_t *p,
                        apiauth_credential_t *cred,
                        unsigned char key[APIAUTH_DIGEST_LEN]);
void apiauth_memo_keep(apiauth_memo_t *m, const apiauth_memo_ctx_t *ctx,
                       const char *const *in, int n,
                       const apiauth_credential_t *cred,
                       const unsigned char *key);
/* The cache entry, kept once its revocation markers were found absent:
 * good without asking the cache again while the change count is the one
 * it was checked at (`seen`); its identity again without the MAC and the
 * parse when the same bytes come back under the same key. */
int apiauth_memo_entry_unchanged(const apiauth_memo_t *m, apr_pool_t *p,
                                 const unsigned char *key, apr_uint32_t seen,
                                 apiauth_identity_t *id, apr_int64_t *made);
int apiauth_memo_entry(const apiauth_memo_t *m, apr_pool_t *p,
                       const unsigned char *key, const void *entry,
                       apr_size_t len, apiauth_identity_t *id,
                       apr_int64_t *made);
void apiauth_memo_keep_entry(apiauth_memo_t *m, const unsigned char *key,
                             const void *entry, apr_size_t len,
                             const char *parsed, const apiauth_identity_t *id,
                             apr_int64_t made);
/* The kept entry's markers were found absent at change count `seen`. */
void apiauth_memo_entry_checked(apiauth_memo_t *m, apr_uint32_t seen);
void apiauth_memo_drop_entry(apiauth_memo_t *m);

/* apiauth_cache.c */
void apiauth_cache_register_chain(apr_pool_t *p, const char *chain);
void apiauth_cache_register_file(apr_pool_t *p, const char *path);
int apiauth_cache_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                             apr_pool_t *ptemp);
int apiauth_cache_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                              apr_pool_t *ptemp, server_rec *s);
/* The identity cached under `key` that this location may take: written
 * by us under that key (its MAC), younger than the location's
 * ApiAuthCacheTTL, and covered by no revocation marker.  1, or 0 for a
 * miss.  The connection's memo answers while nothing changed. */
int apiauth_cache_lookup(request_rec *r, const apiauth_dir_conf *conf,
                         const unsigned char *key, apiauth_identity_t *id);
void apiauth_cache_put(request_rec *r, const apiauth_dir_conf *conf,
                       const unsigned char *key, const apiauth_identity_t *id);
void apiauth_cache_forget(request_rec *r, const char *const *parts,
                          int nparts);
/* Every cached answer for `cred` as it was presented (apiauth_resolve.c,
 * which knows how a credential is keyed). */
void apiauth_forget_credential(request_rec *r,
                               const apiauth_credential_t *cred);
/* Something revoked through this server -- `what` "grant", "token" (an
 * access token, by jti) or "credential" -- with its id: a marker, kept
 * until `until` (Unix seconds), that cached identities it covers find. */
void apiauth_cache_note_revoked(request_rec *r, const char *what,
                                const char *id, apr_int64_t until);
/* The credential's cache key; `remember`: through the connection memo
 * (a caller that keeps the key in the memo itself passes 0). */
int apiauth_cache_key(request_rec *r, const apiauth_dir_conf *conf,
                      const char *const *parts, int nparts, int remember,
                      unsigned char key[APIAUTH_DIGEST_LEN]);
/* What a location's cache keys depend on besides the credential, as the
 * connection memo compares it. */
void apiauth_cache_key_ctx(request_rec *r, const apiauth_dir_conf *conf,
                           char tag, unsigned bits, apiauth_memo_ctx_t *ctx);

/* apiauth_cache.c: facts for the modules (apiauth_services_t) */
void apiauth_fact_remember(request_rec *r, const char *name,
                           apr_int64_t until);
int apiauth_fact_known(request_rec *r, const char *name);

/* apiauth_socache.c */
const char *apiauth_socache_set(cmd_parms *cmd, void *dummy,
                                const char *arg);
int apiauth_socache_pre_config(apr_pool_t *pconf, apr_pool_t *plog);
int apiauth_socache_post_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                                server_rec *s);
void apiauth_socache_child_init(apr_pool_t *p, server_rec *s);
int apiauth_socache_available(void);
/* Whether ApiAuthCacheSOCache names a cache other hosts may write to
 * (anything but shmcb). */
int apiauth_socache_configured_shared(void);
/* 1 (and *len) when found, 0 when not or no socache, -1 when the socache
 * could not say.  `wait` 0: when another process holds the shmcb mutex,
 * it is not waited for -- the lookup says -1, the entry is not stored --
 * so that the cache never stalls a request (a miss costs a store lookup);
 * revocation markers are written and deleted entries dropped waiting. */
int apiauth_socache_get(request_rec *r, const unsigned char *key,
                        unsigned int keylen, unsigned char *value,
                        unsigned int *len, int wait);
void apiauth_socache_put(request_rec *r, const unsigned char *key,
                         unsigned int keylen, apr_time_t expiry,
                         const void *value, unsigned int len, int wait);
void apiauth_socache_drop(request_rec *r, const unsigned char *key,
                          unsigned int keylen);
int apiauth_socache_increment(request_rec *r, const char *name,
                              apr_time_t expiry);
int apiauth_socache_count(request_rec *r, const char *name);
int apiauth_socache_claim(request_rec *r, const unsigned char *key,
                          unsigned int keylen, apr_time_t expiry);
/* apiauth_bound.c: sender-constrained tokens at the resource: DPoP (RFC
 * 9449 §7), TLS client certificates (RFC 8705 §3) */
/* A token bound to a certificate, in a request presenting that one? */
apiauth_status_t apiauth_cert_at_resource(request_rec *r,
                                          const apiauth_identity_t *id,
                                          apiauth_error_t *err);
/* A DPoP proof seen (apiauth_dpop_seen_fn), in the socache. */
int apiauth_dpop_seen(request_rec *r, const unsigned char *key,
                      apr_size_t len, apr_int64_t until);
const char *apiauth_dpop_set(cmd_parms *cmd, void *dconf, const char *arg);
/* The proof of a request that sent `token` as DPoP, for the key `id` is
 * bound to; a refusal as apiauth_dpop_check says. */
apiauth_status_t apiauth_dpop_at_resource(request_rec *r,
                                          const apiauth_dir_conf *conf,
                                          const char *token,
                                          const apiauth_identity_t *id,
                                          apiauth_error_t *err);
/* After a DPoP answer: the nonce the location asks for, fresh. */
void apiauth_dpop_answered(request_rec *r, const apiauth_dir_conf *conf,
                           int refused);
/* The change count: 1 and *seen where there is one (shmcb); read before
 * the lookup it stands for, counted after the change. */
int apiauth_socache_changes(apr_uint32_t *seen);
void apiauth_socache_changed(void);

/* provider_dbd.c, provider_file.c, provider_jwt.c */
extern const apiauth_provider_t apiauth_provider_dbd;
extern const apiauth_provider_t apiauth_provider_file;
extern const apiauth_provider_t apiauth_provider_jwt;
const char *apiauth_jwt_add_keys(cmd_parms *cmd, void *dconf, const char *arg);
const char *apiauth_jwt_keys_ca(cmd_parms *cmd, void *dconf, const char *arg);
const char *apiauth_jwt_keys_every(cmd_parms *cmd, void *dconf,
                                   const char *arg);
/* The JWKS at https URLs: reset, fetched once at start (in the parent,
 * so that every child starts with them), given pools per child. */
void apiauth_jwt_remote_pre_config(apr_pool_t *pconf);
int apiauth_jwt_remote_post_config(apr_pool_t *pconf, server_rec *s);
void apiauth_jwt_remote_child_init(apr_pool_t *pchild);
/* The keys a location's jwt provider verifies with now: its files', and
 * its JWKS URLs' as last fetched. */
const apr_array_header_t *apiauth_jwt_keys_now(request_rec *r,
                                               const apiauth_dir_conf *conf);
const char *apiauth_jwt_set_issuer(cmd_parms *cmd, void *dconf,
                                   const char *issuer, const char *local);
/* May an identity the jwt provider made from a token be used at a location
 * whose issuer is not declared local?  Only when it names none of ours. */
void apiauth_dbd_prepare_statements(server_rec *s);
void *apiauth_file_state_for(apr_pool_t *pconf, const char *path);

/* The server configuration's pepper, for digests. */
const apiauth_pepper_t *apiauth_pepper_of(request_rec *r);

#endif
