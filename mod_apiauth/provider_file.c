/*
 * provider_file.c: ApiAuthProvider file, credentials in a text file.
 *
 * For sites that want keys without a database, in the spirit of
 * htpasswd: one credential per line,
 *
 *   DIGEST:ID:KIND:APP:USER:EXPIRES:SCOPES
 *
 * DIGEST is the hex SHA-256 (or HMAC under ApiAuthSecretPepper) of the
 * secret, as `apiauth-admin key create --file` writes it; USER may be
 * empty; EXPIRES is Unix seconds, 0 for never; SCOPES (space separated)
 * runs to the end of the line.  Lines starting with # are comments.
 *
 * Each process keeps the parsed file and re-reads it when its size or
 * modification time changes (checked at most once a second), so an edit
 * takes effect without a restart.  A missing or unreadable file fails
 * closed (503).
 */
#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_rwlock.h>
#include <http_core.h>
#include <http_log.h>

#include "apiauth_private.h"
#include "encoding.h"
#include "scope.h"

#define MAX_FILE_SIZE (16 * 1024 * 1024)

typedef struct file_state {
    const char *path;
    apr_thread_rwlock_t *lock;   /* guards table and pool */
    apr_pool_t *pool;            /* holds table; replaced on reload */
    apr_hash_t *table;           /* digest hex -> apiauth_credential_row_t */
    apr_time_t mtime;
    apr_off_t size;
    apr_time_t checked;
} file_state;

/* One state per file, shared by every location naming it. */
static apr_hash_t *states;

static apr_status_t forget_states(void *data)
{
    states = NULL;
    return APR_SUCCESS;
}

void *apiauth_file_state_for(apr_pool_t *pconf, const char *path)
{
    file_state *fs;

    if (states == NULL) {
        states = apr_hash_make(pconf);
        apr_pool_cleanup_register(pconf, NULL, forget_states,
                                  apr_pool_cleanup_null);
    }
    fs = apr_hash_get(states, path, APR_HASH_KEY_STRING);
    if (fs == NULL) {
        fs = apr_pcalloc(pconf, sizeof(*fs));
        fs->path = path;
        if (apr_thread_rwlock_create(&fs->lock, pconf) != APR_SUCCESS) {
            return NULL;
        }
        apr_hash_set(states, path, APR_HASH_KEY_STRING, fs);
    }
    return fs;
}

/* Parses one line into a row; 0 on success. */
static int parse_line(apr_pool_t *p, char *line, apiauth_credential_row_t *row)
{
    char *f[7];
    int i;

    for (i = 0; i < 6; i++) {
        char *colon = strchr(line, ':');
        if (colon == NULL) {
            return -1;
        }
        *colon = '\0';
        f[i] = line;
        line = colon + 1;
    }
    f[6] = line;
    memset(row, 0, sizeof(*row));
    row->digest_hex = f[0];
    row->identity.credential_id = f[1];
    row->identity.kind = apiauth_kind_from_name(f[2]);
    row->identity.app = f[3];
    row->identity.user = *f[4] ? f[4] : NULL;
    row->identity.expires = apr_atoi64(f[5]);
    row->identity.scope = f[6];
    if (strlen(f[0]) != APIAUTH_DIGEST_HEX_LEN
        || apiauth_hex_decode(f[0], (unsigned char[APIAUTH_DIGEST_LEN]){0},
                              APIAUTH_DIGEST_LEN) != 0
        || !apiauth_name_is_valid(f[1]) || !apiauth_name_is_valid(f[3])
        || row->identity.kind == APIAUTH_KIND_NONE
        || (row->identity.user && !apiauth_name_is_valid(row->identity.user))
        || row->identity.expires < 0
        || !apiauth_scope_list_valid(row->identity.scope)) {
        return -1;
    }
    return 0;
}

/* Reads the file into a fresh pool; the caller swaps it in. */
static apr_status_t load(server_rec *s, const char *path, apr_pool_t **poolp,
                         apr_hash_t **tablep)
{
    apr_pool_t *p;
    apr_file_t *f;
    apr_hash_t *table;
    char *buf, *line, *last;
    apr_finfo_t fi;
    apr_size_t len;
    apr_status_t rv;
    int lineno = 0;

    rv = apr_pool_create_unmanaged_ex(&p, NULL, NULL);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = apr_file_open(&f, path, APR_FOPEN_READ, APR_FPROT_OS_DEFAULT, p);
    if (rv == APR_SUCCESS) {
        rv = apr_file_info_get(&fi, APR_FINFO_SIZE, f);
    }
    if (rv == APR_SUCCESS && fi.size > MAX_FILE_SIZE) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, AALOGNO(10064)
                     "%s is larger than 16 MiB: not read", path);
        rv = APR_EINVAL;
    }
    if (rv != APR_SUCCESS) {
        apr_pool_destroy(p);
        return rv;
    }
    len = (apr_size_t)fi.size;
    buf = apr_palloc(p, len + 1);
    rv = apr_file_read_full(f, buf, len, &len);
    apr_file_close(f);
    if (rv != APR_SUCCESS && !APR_STATUS_IS_EOF(rv)) {
        apr_pool_destroy(p);
        return rv;
    }
    buf[len] = '\0';
    table = apr_hash_make(p);
    for (line = apr_strtok(buf, "\r\n", &last); line;
         line = apr_strtok(NULL, "\r\n", &last)) {
        apiauth_credential_row_t *row;
        lineno++;
        if (*line == '#' || *line == '\0') {
            continue;
        }
        row = apr_palloc(p, sizeof(*row));
        if (parse_line(p, line, row) != 0) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, AALOGNO(10060)
                         "%s: line %d is not DIGEST:ID:KIND:APP:USER:"
                         "EXPIRES:SCOPES, skipped", path, lineno);
            continue;
        }
        apr_hash_set(table, row->digest_hex, APR_HASH_KEY_STRING, row);
    }
    *poolp = p;
    *tablep = table;
    return APR_SUCCESS;
}

/* Makes sure fs holds the file as it is now (at most one stat a second). */
static apr_status_t refresh(request_rec *r, file_state *fs)
{
    apr_finfo_t fi;
    apr_pool_t *pool, *old;
    apr_hash_t *table;
    apr_status_t rv;

    if (fs->table && r->request_time - fs->checked < apr_time_from_sec(1)) {
        return APR_SUCCESS;
    }
    rv = apr_stat(&fi, fs->path, APR_FINFO_MTIME | APR_FINFO_SIZE, r->pool);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    fs->checked = r->request_time;
    if (fs->table && fi.mtime == fs->mtime && fi.size == fs->size) {
        return APR_SUCCESS;
    }
    rv = load(r->server, fs->path, &pool, &table);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_thread_rwlock_wrlock(fs->lock);
    old = fs->pool;
    fs->pool = pool;
    fs->table = table;
    fs->mtime = fi.mtime;
    fs->size = fi.size;
    apr_thread_rwlock_unlock(fs->lock);
    if (old) {
        apr_pool_destroy(old);
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, AALOGNO(10061)
                  "credentials file %s (re)loaded", fs->path);
    return APR_SUCCESS;
}

static apiauth_status_t file_find_secret(request_rec *r, const char *digest_hex,
                                         apiauth_credential_row_t *row,
                                         apiauth_error_t *err)
{
    apiauth_dir_conf *conf = ap_get_module_config(r->per_dir_config,
                                                  &apiauth_module);
    file_state *fs = conf->credential_file_state;
    const apiauth_credential_row_t *found;
    apr_status_t rv;

    if (fs == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, AALOGNO(10062)
                      "ApiAuthProvider file needs ApiAuthCredentialFile");
        return apiauth_fail(err, APIAUTH_ERROR, "temporarily_unavailable",
                            "the credential store is unreachable");
    }
    rv = refresh(r, fs);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, AALOGNO(10063)
                      "cannot read credentials file %s", fs->path);
        return apiauth_fail(err, APIAUTH_ERROR, "temporarily_unavailable",
                            "the credential store is unreachable");
    }
    apr_thread_rwlock_rdlock(fs->lock);
    found = apr_hash_get(fs->table, digest_hex, APR_HASH_KEY_STRING);
    if (found && apiauth_ct_streq(found->digest_hex, digest_hex)) {
        *row = *found;
        row->identity.credential_id = apr_pstrdup(r->pool,
                                                  found->identity.credential_id);
        row->identity.app = apr_pstrdup(r->pool, found->identity.app);
        row->identity.user = apr_pstrdup(r->pool, found->identity.user);
        row->identity.scope = apr_pstrdup(r->pool, found->identity.scope);
        row->digest_hex = apr_pstrdup(r->pool, found->digest_hex);
    }
    apr_thread_rwlock_unlock(fs->lock);
    return found ? APIAUTH_OK : APIAUTH_NOT_MINE;
}

const apiauth_provider_t apiauth_provider_file = {
    file_find_secret,
    NULL,
    NULL,
    NULL,
    NULL,
};
