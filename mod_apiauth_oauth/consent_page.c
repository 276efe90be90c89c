/*
 * consent_page.c: the pages the resource owner sees at the authorization
 * endpoint -- the consent page, and the page of an error that cannot be
 * sent back to the client.
 *
 * The consent page names the client as people know it (its display name,
 * RFC 7591 client_name) and says where the user will be sent afterwards:
 * the redirect URI's host is the user's defence against a look-alike
 * client.  Operators brand it with ApiAuthOAuthConsentTemplate, a page of
 * {{placeholders}} (lib/base/page_template.c) read at start; every value put
 * into it is HTML-escaped here.
 *
 * Both pages forbid framing (clickjacking: frame-ancestors 'none',
 * X-Frame-Options), scripts and anything else from anywhere (default-src
 * 'none').  They set no form-action: a browser applies it to every
 * redirect that follows the form's submission (Chromium does), so it
 * would have to name the client's redirect origin -- which CSP cannot
 * write for an IPv6 loopback client -- and every origin that client
 * redirects to in turn.  The form is ours, its target written here, and
 * the page runs no script that could change it.
 */
#include <apr_file_io.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_uri.h>
#include <http_core.h>
#include <http_protocol.h>

#include "oauth_private.h"
#include "page_template.h"
#include "scope.h"

/* The placeholders of a consent page, in the order of the values. */
enum {
    P_CLIENT_NAME, P_CLIENT_ID, P_REDIRECT_HOST, P_USER, P_SCOPES,
    P_ACTION, P_FIELDS, P_ISSUER, P_RESOURCE, P_COUNT
};
static const char *const placeholders[P_COUNT + 1] = {
    "client_name", "client_id", "redirect_host", "user", "scopes", "action",
    "fields", "issuer", "resource", NULL};
/* without them the form cannot be answered */
static const char *const required[] = {"action", "fields", NULL};

#define STYLE \
    "<style>\n" \
    "body{margin:0;font:16px/1.5 system-ui,-apple-system,\"Segoe UI\"," \
    "Roboto,sans-serif;background:#f3f4f6;color:#111827}\n" \
    "main{max-width:30rem;margin:2rem auto;padding:1.5rem;background:#fff;" \
    "border-radius:.75rem;box-shadow:0 1px 3px rgba(0,0,0,.15)}\n" \
    "h1{font-size:1.3rem;line-height:1.3;margin:0 0 1rem}\n" \
    "ul{padding-left:1.25rem}li{margin:.25rem 0}" \
    "small,.muted{color:#4b5563}\n" \
    ".where{padding:.75rem;background:#f9fafb;border-radius:.5rem}" \
    ".where b{overflow-wrap:anywhere}\n" \
    ".buttons{display:flex;gap:.75rem;margin-top:1.5rem}\n" \
    "button{flex:1;font:inherit;padding:.75rem 1rem;border-radius:.5rem;" \
    "border:1px solid #9ca3af;background:#fff;color:#111827;cursor:pointer}\n" \
    "button.allow{background:#1d4ed8;border-color:#1d4ed8;color:#fff}\n" \
    "@media (max-width:32rem){main{margin:0;border-radius:0;" \
    "box-shadow:none;min-height:100vh}}\n" \
    "</style>\n"

#define HEAD(title) \
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n" \
    "<meta name=\"viewport\" content=\"width=device-width, " \
    "initial-scale=1\">\n<title>" title "</title>\n" STYLE "</head>\n"

static const char default_page[] =
    HEAD("Allow {{client_name}}?")
    "<body>\n<main>\n"
    "<h1>{{client_name}} wants access to your account</h1>\n"
    "<p class=\"muted\">Signed in as <b>{{user}}</b></p>\n"
    "<p>If you allow it, {{client_name}} may:</p>\n"
    "<ul>\n{{scopes}}</ul>\n{{resource}}"
    "<p class=\"where\">You will then be sent to <b>{{redirect_host}}</b>. "
    "Allow only if you know this site.</p>\n"
    "<form method=\"post\" action=\"{{action}}\">\n{{fields}}"
    "<div class=\"buttons\">\n"
    "<button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\n"
    "<button type=\"submit\" name=\"decision\" value=\"approve\" "
    "class=\"allow\">Allow</button>\n"
    "</div>\n</form>\n</main>\n</body>\n</html>\n";

/* ApiAuthOAuthConsentTemplate FILE */
const char *oauth_set_consent_template(cmd_parms *cmd, void *dummy,
                                       const char *arg)
{
    oauth_server_conf *conf = ap_get_module_config(
        cmd->server->module_config, &apiauth_oauth_module);
    const char *path = ap_server_root_relative(cmd->pool, arg);
    const char *errmsg = NULL;
    apr_file_t *f;
    apr_finfo_t fi;
    apr_size_t len;
    apr_status_t rv;
    char *text;

    if (path == NULL) {
        return "ApiAuthOAuthConsentTemplate: invalid path";
    }
    rv = apr_file_open(&f, path, APR_FOPEN_READ, APR_FPROT_OS_DEFAULT,
                       cmd->temp_pool);
    if (rv == APR_SUCCESS) {
        rv = apr_file_info_get(&fi, APR_FINFO_SIZE, f);
    }
    if (rv != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "ApiAuthOAuthConsentTemplate: cannot "
                            "read %s: %pm", path, &rv);
    }
    if (fi.size > 256 * 1024) {
        apr_file_close(f);
        return apr_psprintf(cmd->pool, "ApiAuthOAuthConsentTemplate: %s is "
                            "larger than 256 KiB", path);
    }
    len = (apr_size_t)fi.size;
    text = apr_palloc(cmd->pool, len + 1);
    rv = apr_file_read_full(f, text, len, &len);
    apr_file_close(f);
    if (rv != APR_SUCCESS && !APR_STATUS_IS_EOF(rv)) {
        return apr_psprintf(cmd->pool, "ApiAuthOAuthConsentTemplate: cannot "
                            "read %s: %pm", path, &rv);
    }
    text[len] = '\0';
    if (apiauth_template_parse(cmd->pool, text, placeholders, required,
                               &conf->consent_template, &errmsg)
        != APIAUTH_OK) {
        return apr_psprintf(cmd->pool, "ApiAuthOAuthConsentTemplate %s: %s "
                            "(placeholders: client_name, client_id, "
                            "redirect_host, user, scopes, action, fields, "
                            "issuer, resource)", path, errmsg);
    }
    return NULL;
}

/* The built-in page, for servers without a template of their own. */
int oauth_consent_page_init(apr_pool_t *p, oauth_server_conf *conf)
{
    const char *errmsg = NULL;

    if (conf->consent_template) {
        return OK;
    }
    if (apiauth_template_parse(p, default_page, placeholders, required,
                               &conf->consent_template, &errmsg)
        != APIAUTH_OK) {
        return HTTP_INTERNAL_SERVER_ERROR;   /* our own page: never */
    }
    return OK;
}

/* For text and for attribute values in either quotes: ap_escape_html2
 * leaves ' alone, which an operator's template may quote with.  UTF-8
 * passes through: the page says charset=utf-8. */
static const char *html(request_rec *r, const char *s)
{
    const char *e = ap_escape_html2(r->pool, s ? s : "", 0);
    const char *q;
    char *out;
    apr_size_t n = 0;

    if ((q = strchr(e, '\'')) == NULL) {
        return e;
    }
    for (q = e; *q; q++) {
        n += *q == '\'' ? 5 : 1;
    }
    out = apr_palloc(r->pool, n + 1);
    for (n = 0, q = e; *q; q++) {
        if (*q == '\'') {
            memcpy(out + n, "&#39;", 5);
            n += 5;
        }
        else {
            out[n++] = *q;
        }
    }
    out[n] = '\0';
    return out;
}

/* Where the answer goes, as people read it: the redirect URI's host and
 * port, or the URI itself when it does not parse (registration admits
 * only https and loopback http, so it does). */
static const char *redirect_host(request_rec *r, const char *redirect_to)
{
    apr_uri_t u;
    const char *name;

    if (redirect_to == NULL
        || apr_uri_parse(r->pool, redirect_to, &u) != APR_SUCCESS
        || u.hostname == NULL) {
        return redirect_to;
    }
    name = strchr(u.hostname, ':') ? apr_pstrcat(r->pool, "[", u.hostname,
                                                 "]", NULL)
                                   : u.hostname;
    return u.port_str ? apr_pstrcat(r->pool, name, ":", u.port_str, NULL)
                      : name;
}

static void page_headers(request_rec *r)
{
    ap_set_content_type(r, "text/html; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "Content-Security-Policy",
                   "default-src 'none'; style-src 'unsafe-inline'; "
                   "base-uri 'none'; frame-ancestors 'none'");
    apr_table_setn(r->headers_out, "X-Frame-Options", "DENY");
    apr_table_setn(r->headers_out, "Referrer-Policy", "no-referrer");
}

static const char *hidden(request_rec *r, const char *name, const char *value)
{
    return value ? apr_pstrcat(r->pool, "<input type=\"hidden\" name=\"",
                               name, "\" value=\"", html(r, value), "\">\n",
                               NULL)
                 : "";
}

static const char *scope_items(request_rec *r, const char *granted)
{
    const apiauth_oauth_config_t *o = &oauth_conf(r)->oauth;
    apr_array_header_t *scopes = apiauth_scope_split(r->pool, granted);
    const char *items = "";
    int i, k;

    for (i = 0; i < scopes->nelts; i++) {
        const char *name = APR_ARRAY_IDX(scopes, i, const char *);
        const char *words = NULL;
        for (k = 0; o->scopes && k < o->scopes->nelts && !words; k++) {
            const apiauth_oauth_scope_t *s =
                &APR_ARRAY_IDX(o->scopes, k, apiauth_oauth_scope_t);
            if (strcmp(s->name, name) == 0) {
                words = s->description;
            }
        }
        items = apr_pstrcat(r->pool, items, "<li>",
                            html(r, words ? words : name), " <small>(",
                            html(r, name), ")</small></li>\n", NULL);
    }
    return items;
}

int oauth_consent_page(request_rec *r, const apiauth_oauth_authz_t *a,
                       const char *form_token)
{
    oauth_server_conf *conf = oauth_conf(r);
    const char *values[P_COUNT];
    const char *page;

    values[P_CLIENT_NAME] = html(r, a->client.display_name);
    values[P_CLIENT_ID] = html(r, a->client.id);
    values[P_REDIRECT_HOST] = html(r, redirect_host(r, a->redirect_to));
    values[P_USER] = html(r, r->user);
    values[P_SCOPES] = scope_items(r, a->granted_scope);
    values[P_ACTION] = html(r, ap_escape_uri(r->pool, r->uri));
    values[P_ISSUER] = html(r, conf->oauth.issuer);
    /* RFC 8707: what the tokens will be good for, when the client named
     * one resource */
    values[P_RESOURCE] = a->resource
        ? apr_pstrcat(r->pool, "<p class=\"where\">At <b>",
                      html(r, a->resource), "</b> only.</p>\n", NULL)
        : "";
    values[P_FIELDS] = apr_pstrcat(
        r->pool, hidden(r, "response_type", a->response_type),
        hidden(r, "client_id", a->client.id),
        hidden(r, "redirect_uri", a->redirect_uri),
        hidden(r, "scope", a->granted_scope), hidden(r, "state", a->state),
        hidden(r, "code_challenge", a->code_challenge),
        hidden(r, "code_challenge_method", a->code_challenge_method),
        hidden(r, "resource", a->resource),
        hidden(r, "csrf", form_token), NULL);
    page = apiauth_template_render(r->pool, conf->consent_template, values);
    page_headers(r);
    ap_set_content_length(r, strlen(page));
    if (!r->header_only) {
        ap_rputs(page, r);
    }
    return DONE;
}

int oauth_error_page(request_rec *r, int status, const apiauth_error_t *err)
{
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, AALOGNO(20030)
                  "authorization request refused on the page: %s (%s)",
                  err->error, err->description ? err->description : "");
    r->status = status;
    page_headers(r);
    ap_rvputs(r, HEAD("Authorization failed")
              "<body>\n<main>\n<h1>This authorization request cannot be "
              "answered</h1>\n<p>", html(r, err->description),
              " <small>(", html(r, err->error), ")</small></p>\n"
              "<p class=\"muted\">The application that sent you here is "
              "misconfigured or the link was altered; nothing was shared "
              "with it.</p>\n</main>\n</body>\n</html>\n", NULL);
    return DONE;
}
