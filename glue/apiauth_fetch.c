/*
 * apiauth_fetch.c: fenced outbound GETs (apiauth_fetch.h).
 */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "apiauth.h"
#include "apiauth_fetch.h"

#ifdef APIAUTH_HAVE_CURL
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>

int apiauth_fetch_available(void)
{
    return 1;
}

void apiauth_fetch_init(void)
{
    static int done;

    if (!done) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        done = 1;
    }
}

typedef struct {
    apr_pool_t *p;
    const apiauth_fetch_limits_t *limits;
    char *buf;
    apr_size_t len, cap;
    int too_large, refused_address;
    const char *content_type;
    long max_age;
} fetch_state;

/* May a connection be made to this address? */
static int address_allowed(const struct sockaddr *sa, int allow_loopback)
{
    if (sa->sa_family == AF_INET) {
        apr_uint32_t a = ntohl(((const struct sockaddr_in *)sa)
                                   ->sin_addr.s_addr);
        if ((a >> 24) == 127) {
            return allow_loopback;
        }
        return !((a >> 24) == 0 || (a >> 24) == 10        /* 0/8, 10/8 */
                 || (a >> 20) == 0xac1                     /* 172.16/12 */
                 || (a >> 16) == 0xc0a8                    /* 192.168/16 */
                 || (a >> 16) == 0xa9fe                    /* 169.254/16 */
                 || (a >> 22) == 0x191                     /* 100.64/10 */
                 || (a >> 28) >= 0xe);                     /* 224/3 */
    }
    if (sa->sa_family == AF_INET6) {
        const unsigned char *b =
            ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        static const unsigned char loopback[16] = {[15] = 1};
        static const unsigned char v4mapped[12] = {[10] = 0xff, [11] = 0xff};
        int i, zero = 1;

        if (memcmp(b, loopback, 16) == 0) {
            return allow_loopback;
        }
        if (memcmp(b, v4mapped, 12) == 0) {
            struct sockaddr_in v4;
            memset(&v4, 0, sizeof(v4));
            v4.sin_family = AF_INET;
            memcpy(&v4.sin_addr, b + 12, 4);
            return address_allowed((struct sockaddr *)&v4, allow_loopback);
        }
        for (i = 0; i < 16; i++) {
            zero &= b[i] == 0;
        }
        return !(zero || b[0] == 0xff                      /* multicast */
                 || (b[0] & 0xfe) == 0xfc                  /* fc00::/7 */
                 || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)); /* fe80::/10 */
    }
    return 0;
}

/* Called before each socket is made: the fence (no packet leaves for an
 * address refused here). */
static curl_socket_t open_socket(void *data, curlsocktype purpose,
                                 struct curl_sockaddr *addr)
{
    fetch_state *st = data;

    if (purpose != CURLSOCKTYPE_IPCXN
        || (!st->limits->any_address
            && !address_allowed(&addr->addr, st->limits->allow_loopback))) {
        st->refused_address = 1;
        return CURL_SOCKET_BAD;
    }
    return socket(addr->family, addr->socktype, addr->protocol);
}

static size_t on_body(char *data, size_t size, size_t n, void *baton)
{
    fetch_state *st = baton;
    apr_size_t add = size * n;

    if (st->len + add > st->limits->max_bytes) {
        st->too_large = 1;
        return 0;                      /* aborts the transfer */
    }
    if (st->len + add + 1 > st->cap) {
        apr_size_t cap = (st->len + add + 1) * 2;
        char *bigger = apr_palloc(st->p, cap);
        if (st->len) {
            memcpy(bigger, st->buf, st->len);
        }
        st->buf = bigger;
        st->cap = cap;
    }
    memcpy(st->buf + st->len, data, add);
    st->len += add;
    st->buf[st->len] = '\0';
    return add;
}

/* Content-Type and Cache-Control, as they come. */
static size_t on_header(char *data, size_t size, size_t n, void *baton)
{
    fetch_state *st = baton;
    apr_size_t len = size * n;
    char *line = apr_pstrmemdup(st->p, data, len), *c;

    for (c = line + strlen(line); c > line && apr_isspace(c[-1]); c--) {
        c[-1] = '\0';
    }
    if (strncasecmp(line, "content-type:", 13) == 0) {
        for (c = line + 13; apr_isspace(*c); c++) {
        }
        st->content_type = c;
    }
    else if (strncasecmp(line, "cache-control:", 14) == 0) {
        const char *age = ap_strcasestr(line, "max-age=");
        if (ap_strcasestr(line, "no-store") || ap_strcasestr(line,
                                                             "no-cache")) {
            st->max_age = 0;
        }
        else if (age) {
            st->max_age = atol(age + 8);
        }
    }
    return len;
}

apiauth_status_t apiauth_fetch(apr_pool_t *p, const char *url,
                               const apiauth_fetch_limits_t *limits,
                               apiauth_fetch_result_t *out, const char **why)
{
    fetch_state st;
    CURL *curl;
    CURLcode rc;

    memset(out, 0, sizeof(*out));
    memset(&st, 0, sizeof(st));
    st.p = p;
    st.limits = limits;
    st.max_age = -1;
    if (strncasecmp(url, "https://", 8) != 0) {
        *why = "only https URLs are fetched";
        return APIAUTH_DENIED;
    }
    if ((curl = curl_easy_init()) == NULL) {
        *why = "libcurl cannot start a transfer";
        return APIAUTH_ERROR;
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, limits->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, limits->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE,
                     (curl_off_t)limits->max_bytes);
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, &st);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &st);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &st);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "apiauth");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
    /* the proxy settings of the environment are not ours to follow */
    curl_easy_setopt(curl, CURLOPT_PROXY, "");
    if (limits->ca_file) {
        curl_easy_setopt(curl, CURLOPT_CAINFO, limits->ca_file);
    }
    rc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out->status);
    curl_easy_cleanup(curl);
    if (st.refused_address) {
        *why = "the URL leads to an address that is not fetched from "
               "(loopback, private, link-local)";
        return APIAUTH_DENIED;
    }
    if (st.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
        *why = "the document is too large";
        return APIAUTH_DENIED;
    }
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        *why = "the document did not come in time";
        return APIAUTH_DENIED;
    }
    if (rc != CURLE_OK) {
        *why = apr_pstrcat(p, "the document could not be fetched: ",
                           curl_easy_strerror(rc), NULL);
        return APIAUTH_DENIED;
    }
    out->body = st.buf ? st.buf : apr_pstrdup(p, "");
    out->len = st.len;
    out->content_type = st.content_type;
    out->max_age = st.max_age;
    return APIAUTH_OK;
}

#else /* no libcurl */

int apiauth_fetch_available(void)
{
    return 0;
}

void apiauth_fetch_init(void)
{
}

apiauth_status_t apiauth_fetch(apr_pool_t *p, const char *url,
                               const apiauth_fetch_limits_t *limits,
                               apiauth_fetch_result_t *out, const char **why)
{
    *why = "apiauth was built without libcurl";
    return APIAUTH_ERROR;
}

#endif
