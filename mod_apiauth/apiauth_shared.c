/*
 * apiauth_shared.c: ApiAuthSharedStore memcache:HOST:PORT[,HOST:PORT...]
 * -- what the nodes of a cluster must agree on exactly, kept in memcached
 * by its atomic operations:
 *  - rate limit counts (apiauth_ratelimit.c): incr, or add for the first
 *    request of a window;
 *  - one-time claims (a DPoP proof's jti): add, which fails for all but
 *    one node however close together they ask.
 * The socache cannot do either across nodes: mod_socache has no increment
 * and no add, and a read then a write lets two nodes both count request N
 * or both take one proof.
 *
 * Names in memcached are MACs under a key derived from
 * ApiAuthSecretPepper (which the store therefore needs): nothing there
 * names a credential, a key or a proof, and nobody without the pepper can
 * claim a name in advance.  What a claim or a count says needs no MAC of
 * its own: its presence is all there is to it.
 *
 * The earlier name of the directive, ApiAuthRateLimitStore, is still read
 * (and logged as deprecated by mod_apiauth.c).
 */
#include <apr_memcache.h>
#include <apr_network_io.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_log.h>

#include "apiauth_private.h"
#include "encoding.h"

/* Per configuration; the memcache client, per child. */
#define MAX_SERVERS 8
#define KEPT_CONNECTIONS 4

static const char *store_servers;
static apr_memcache_t *memcache;
static apr_memcache_server_t *servers[MAX_SERVERS];
static int nservers;
static apr_time_t revived;       /* when this child last revived them */
static apiauth_pepper_t *name_mac;
#define NAME_MAC_BYTES 16

const char *apiauth_shared_store_set(cmd_parms *cmd, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err) {
        return err;
    }
    if (strncasecmp(arg, "memcache:", 9) != 0 || arg[9] == '\0') {
        return apr_pstrcat(cmd->pool, cmd->cmd->name,
                           " memcache:HOST:PORT[,HOST:PORT...]", NULL);
    }
    store_servers = arg + 9;
    return NULL;
}

void apiauth_shared_pre_config(void)
{
    store_servers = NULL;
    memcache = NULL;
    nservers = 0;
    name_mac = NULL;
}

int apiauth_shared_configured(void)
{
    return store_servers != NULL;
}

int apiauth_shared_post_config(apr_pool_t *pconf, server_rec *s)
{
    apiauth_server_conf *sconf = ap_get_module_config(s->module_config,
                                                      &apiauth_module);

    if (store_servers == NULL) {
        return OK;
    }
    if (sconf->pepper == NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, AALOGNO(10058)
                     "ApiAuthSharedStore needs ApiAuthSecretPepper (the "
                     "same file on every node): the names it keeps are "
                     "MACs under a key of it");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* the label of the release that kept only rate limit counts there:
     * the names of counts in flight stay the same across an upgrade */
    return apiauth_pepper_derive(pconf, sconf->pepper,
                                 "apiauth rate limit counter", &name_mac)
                   == APIAUTH_OK
               ? OK
               : HTTP_INTERNAL_SERVER_ERROR;
}

void apiauth_shared_child_init(apr_pool_t *p, server_rec *s)
{
    char *list, *last, *hostport;
    apr_memcache_t *mc;

    if (store_servers == NULL
        || apr_memcache_create(p, MAX_SERVERS, 0, &mc) != APR_SUCCESS) {
        return;
    }
    list = apr_pstrdup(p, store_servers);
    for (hostport = apr_strtok(list, ",", &last); hostport;
         hostport = apr_strtok(NULL, ",", &last)) {
        char *host, *scope;
        apr_port_t port;
        apr_memcache_server_t *ms;

        if (apr_parse_addr_port(&host, &scope, &port, hostport, p)
                != APR_SUCCESS
            || host == NULL
            || apr_memcache_server_create(p, host, port ? port : 11211, 0,
                                          KEPT_CONNECTIONS, 64,
                                          60 * 1000 * 1000, &ms)
                   != APR_SUCCESS
            || apr_memcache_add_server(mc, ms) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, AALOGNO(10059)
                         "ApiAuthSharedStore: cannot use %s", hostport);
            continue;
        }
        servers[nservers++] = ms;
    }
    memcache = nservers ? mc : NULL;
}

/* When memcached restarts, the connections a child keeps to it are dead:
 * the first use of each fails, and apr_memcache then leaves the server
 * alone for five seconds -- five seconds of proofs refused for nothing.
 * So a failure revives the servers and tries again, through every idle
 * connection a child keeps (KEPT_CONNECTIONS, the soft maximum given to
 * apr_memcache_server_create) if need be; a request may start that once
 * in five seconds at most (a memcached that is really gone costs a few
 * refused connects). */
static int may_retry(int *reviving)
{
    int i;

    if (!*reviving) {
        apr_time_t now = apr_time_now();

        if (now - revived < apr_time_from_sec(5)) {
            return 0;
        }
        revived = now;
        *reviving = 1;
    }
    for (i = 0; i < nservers; i++) {
        apr_memcache_enable_server(memcache, servers[i]);
    }
    return 1;
}

/* "PREFIX" and the MAC of `name`, hex: what memcached knows it by. */
static const char *stored_name(apr_pool_t *p, const char *prefix,
                               const void *name, apr_size_t len)
{
    unsigned char mac[APIAUTH_DIGEST_LEN];
    const void *parts[1] = {name};
    apr_size_t lens[1] = {len};

    if (apiauth_hmac(name_mac, parts, lens, 1, mac) != 0) {
        return NULL;
    }
    return apr_pstrcat(p, prefix,
                       apiauth_hex_encode(p, mac, NAME_MAC_BYTES), NULL);
}

apr_int64_t apiauth_shared_count(request_rec *r, const char *name,
                                 apr_int64_t seconds)
{
    const char *key = stored_name(r->pool, "aarl:", name, strlen(name));
    apr_uint32_t n = 0;
    apr_status_t rv = APR_EGENERAL;
    int rounds, reviving = 0;

    for (rounds = 0; key && memcache && rounds < KEPT_CONNECTIONS + 3;
         rounds++) {
        rv = apr_memcache_incr(memcache, key, 1, &n);
        if (rv == APR_SUCCESS) {
            return n;
        }
        if (APR_STATUS_IS_NOTFOUND(rv)) {
            /* expire a little after the window, never before it ends;
             * another node may add it first: then incr again */
            rv = apr_memcache_add(memcache, key, "1", 1,
                                  (apr_uint32_t)(seconds + 1), 0);
            if (rv == APR_SUCCESS) {
                return 1;
            }
            if (rv == APR_EEXIST) {
                continue;
            }
        }
        if (!may_retry(&reviving)) {
            break;
        }
    }
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, r, AALOGNO(10027)
                  "rate limit counter unreachable in memcached: the "
                  "request is let through");
    return -1;
}

int apiauth_shared_claim(request_rec *r, const unsigned char *name,
                         apr_size_t len, apr_int64_t until)
{
    const char *key = stored_name(r->pool, "aadp:", name, len);
    apr_int64_t left = until - apr_time_sec(r->request_time);
    apr_status_t rv = APR_EGENERAL;
    int tries, reviving = 0;

    /* memcached reads more than 30 days as a date; ours are seconds */
    left = left < 1 ? 1 : left > 86400 ? 86400 : left;
    for (tries = 0; key && memcache && tries < KEPT_CONNECTIONS + 2;
         tries++) {
        rv = apr_memcache_add(memcache, key, "1", 1, (apr_uint32_t)left, 0);
        if (rv == APR_SUCCESS) {
            return 1;
        }
        if (rv == APR_EEXIST) {
            return 0;
        }
        if (!may_retry(&reviving)) {
            break;
        }
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, AALOGNO(10091)
                  "ApiAuthSharedStore unreachable: a one-time proof cannot "
                  "be claimed, and is refused");
    return -1;
}
