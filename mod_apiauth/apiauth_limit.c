/*
 * apiauth_limit.c: ApiAuthFailureLimit COUNT SECONDS -- refused attempts
 * per client address, counted in the socache, and a 429 with Retry-After
 * once an address has had COUNT refusals in the current window of
 * SECONDS.
 *
 * It slows the guessing of keys, passwords, codes and client secrets: a
 * refusal by mod_apiauth (a credential that is malformed or unknown) or by
 * mod_apiauth_oauth (wrong client secret, wrong password, an invalid code
 * or refresh token) counts against the address; every other address is
 * unaffected.  Fixed windows: cheap, and at worst 2 x COUNT attempts
 * straddle a boundary.  The address is r->useragent_ip, so behind a load
 * balancer mod_remoteip makes it the client's.  Counting needs a socache
 * (shmcb per node, memcache or redis across nodes); without one the limit
 * is off, which the server says at startup.
 *
 * httpd's own password logins count too: a login that mod_auth_basic or
 * mod_auth_form refuses (the resource owner's at the authorization
 * endpoint, say) is seen once the request is over -- a 401 for a user
 * name that never authenticated -- and an address over the limit gets its
 * 429 at such a location before any password is checked.  (mod_auth_form
 * with AuthFormLoginRequiredLocation answers a wrong password with a 302,
 * which looks like its success: conf-examples/form-login.conf does not
 * use it.)
 */
#include <apr_strings.h>
#include <http_core.h>
#include <http_log.h>

#include "apiauth_private.h"

const char *apiauth_limit_set(cmd_parms *cmd, void *dummy, const char *count,
                              const char *seconds)
{
    apiauth_server_conf *sconf =
        ap_get_module_config(cmd->server->module_config, &apiauth_module);
    char *end1, *end2;
    apr_int64_t c = apr_strtoi64(count, &end1, 10);
    apr_int64_t s = apr_strtoi64(seconds, &end2, 10);

    if (*count == '\0' || *end1 != '\0' || *seconds == '\0' || *end2 != '\0'
        || c < 1 || c > 1000000 || s < 1 || s > 86400) {
        return "ApiAuthFailureLimit COUNT SECONDS (e.g. 20 60), or leave it "
               "out for no limit";
    }
    sconf->fail_limit = (int)c;
    sconf->fail_window = (int)s;
    return NULL;
}

/* The name of this address's counter for the current window, and when
 * that window ends. */
static const char *window_key(request_rec *r,
                              const apiauth_server_conf *sconf,
                              apr_int64_t *window_end)
{
    apr_int64_t window = apr_time_sec(r->request_time) / sconf->fail_window;

    *window_end = (window + 1) * sconf->fail_window;
    return apr_psprintf(r->pool, "failures %s %" APR_INT64_T_FMT,
                        r->useragent_ip, window);
}

static const apiauth_server_conf *limited(request_rec *r)
{
    const apiauth_server_conf *sconf =
        ap_get_module_config(r->server->module_config, &apiauth_module);

    return sconf->fail_limit > 0 && apiauth_socache_available()
                   && r->useragent_ip
               ? sconf
               : NULL;
}

int apiauth_limit_blocked(request_rec *r)
{
    const apiauth_server_conf *sconf = limited(r);
    apr_int64_t end;

    if (sconf == NULL
        || apiauth_socache_count(r, window_key(r, sconf, &end))
               < sconf->fail_limit) {
        return 0;
    }
    ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, AALOGNO(10080)
                  "%s is over ApiAuthFailureLimit: refused for %" 
                  APR_INT64_T_FMT " s", r->useragent_ip,
                  end - apr_time_sec(r->request_time));
    return (int)(end - apr_time_sec(r->request_time));
}

/* Notes on the request: a refusal was counted already (by us, or by
 * mod_apiauth_oauth through us), or httpd authenticated the user. */
#define NOTE_COUNTED "apiauth-failure-counted"
#define NOTE_AUTHENTICATED "apiauth-authenticated"

void apiauth_limit_failed(request_rec *r)
{
    const apiauth_server_conf *sconf = limited(r);
    apr_int64_t end;

    if (sconf) {
        const char *name = window_key(r, sconf, &end);
        apiauth_socache_increment(r, name, apr_time_from_sec(end));
        apr_table_setn(r->notes, NOTE_COUNTED, "1");
    }
}

/* httpd's password logins: Basic (mod_auth_basic) and form
 * (mod_auth_form).  Not Digest: mod_auth_digest names the user of every
 * stale-nonce 401, a normal step of its handshake, not a wrong guess. */
static int password_login(request_rec *r)
{
    const char *type = ap_auth_type(r);

    return type && (strcasecmp(type, "Basic") == 0
                    || strcasecmp(type, "form") == 0);
}

/* access_checker_ex: before mod_auth_basic, mod_auth_form or any other
 * authentication module checks a password at all. */
int apiauth_limit_check_access(request_rec *r)
{
    int wait;

    /* limited() first: ap_auth_type() evaluates an expression */
    if (limited(r) == NULL || !password_login(r)
        || (wait = apiauth_limit_blocked(r)) <= 0) {
        return DECLINED;
    }
    apr_table_setn(r->err_headers_out, "Retry-After", apr_itoa(r->pool, wait));
    return HTTP_TOO_MANY_REQUESTS;
}

/* check_authz, which runs only once authentication succeeded: a 401 after
 * it is a refusal of the user's rights, not of their password. */
int apiauth_limit_note_authenticated(request_rec *r)
{
    if (limited(r) && password_login(r)) {
        apr_table_setn(r->notes, NOTE_AUTHENTICATED, "1");
    }
    return DECLINED;
}

/* log_transaction: a user name was presented (mod_auth_basic and
 * mod_auth_form leave it in r->user), it never authenticated, and the
 * answer was 401 -- a wrong password, or an unknown user. */
int apiauth_limit_log(request_rec *r)
{
    if (r->status == HTTP_UNAUTHORIZED && r->user && limited(r)
        && password_login(r)
        && apr_table_get(r->notes, NOTE_COUNTED) == NULL
        && apr_table_get(r->notes, NOTE_AUTHENTICATED) == NULL) {
        apiauth_limit_failed(r);
    }
    return DECLINED;
}
