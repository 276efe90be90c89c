/*
 * apiauth_dbd.c: the SQL store through mod_dbd (see apiauth_dbd.h).
 *
 * mod_dbd owns the connections (DBDriver, DBDParams, pooling); we add the
 * statements of sql/catalogue.c before it prepares them on each new
 * connection, and borrow one per request.  When there is none the answer
 * is "store unreachable", which every caller turns into a 503.
 */
#include <string.h>

#include <apr_dbd.h>
#include <apr_optional.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <mod_dbd.h>
#include <util_mutex.h>

#include "apiauth_dbd.h"
#include "catalogue.h"
#include "mod_apiauth.h"

#include "apiauth_log.h"

/* A virtual host without DBD directives shares its main server's mod_dbd
 * configuration; preparing twice into it makes mod_dbd warn per label. */
static int config_seen_before(server_rec *s, server_rec *sp, module *dbd)
{
    void *mine = ap_get_module_config(sp->module_config, dbd);
    server_rec *earlier;

    for (earlier = s; earlier != sp; earlier = earlier->next) {
        if (ap_get_module_config(earlier->module_config, dbd) == mine) {
            return 1;
        }
    }
    return 0;
}

void apiauth_dbd_prepare(server_rec *s, unsigned want, unsigned skip)
{
    APR_OPTIONAL_FN_TYPE(ap_dbd_prepare) *prepare =
        APR_RETRIEVE_OPTIONAL_FN(ap_dbd_prepare);
    module *dbd = ap_find_linked_module("mod_dbd.c");
    server_rec *sp;
    int i;

    if (prepare == NULL || dbd == NULL) {
        return;
    }
    for (sp = s; sp; sp = sp->next) {
        if (config_seen_before(s, sp, dbd)) {
            continue;
        }
        for (i = 0; i < APIAUTH_SQL_COUNT; i++) {
            unsigned users = apiauth_sql_catalogue[i].users;
            if ((users & want) && !(users & skip)) {
                prepare(sp, apiauth_sql_catalogue[i].text,
                        apiauth_sql_catalogue[i].label);
            }
        }
    }
}

/* A connection mod_dbd could not open may be a moment's contention rather
 * than a database gone: SQLite's prepare (which mod_dbd runs on every new
 * connection, before any code of ours) answers "database is locked" at
 * once while another connection's closing WAL checkpoint holds the lock,
 * and apr_dbd retries only statements, not prepares.  ap_dbd_acquire
 * remembers only a connection it got, so asking again opens a new one:
 * we ask up to six times more, 5 ms to 200 ms apart.  Three tries within
 * 85 ms still left 0.6% of requests a 503 under DBDPersist Off and six
 * concurrent clients (tests/integration/test_faults.py); this schedule
 * left none in 7,800.  A database that is really down costs 390 ms more
 * before its 503, and mod_dbd logs each failed prepare (AH00632).
 *
 * No SQLite busy_timeout is set on purpose: apr_dbd_sqlite3 waits for a
 * busy statement itself (15 tries, 100 ms apart) with its process-wide
 * mutex released, whereas SQLite's own busy handler would wait holding it,
 * blocking the thread of the same process that holds the lock -- measured
 * slower under 20 concurrent refreshes (2.4 s at 0, 4.9 s at 50 ms,
 * failures at 250 ms).  WAL, so that readers never wait for the writer,
 * sticks to the file: apiauth-admin init sets it. */
int apiauth_dbd_open(request_rec *r, apiauth_db_t *db)
{
    static const apr_interval_time_t backoff[] = {5000, 10000, 25000, 50000, 100000, 200000};
    APR_OPTIONAL_FN_TYPE(ap_dbd_acquire) *acquire =
        APR_RETRIEVE_OPTIONAL_FN(ap_dbd_acquire);
    ap_dbd_t *dbd;
    size_t attempt = 0;

    if (acquire == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, AALOGNO(30001)
                      "the SQL store needs mod_dbd: LoadModule dbd_module, "
                      "DBDriver and DBDParams");
        return -1;
    }
    while ((dbd = acquire(r)) == NULL
           && attempt < sizeof(backoff) / sizeof(backoff[0])) {
        apr_sleep(backoff[attempt++]);
    }
    if (dbd == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, AALOGNO(30002)
                      "no database connection from mod_dbd (database down, "
                      "or schema missing: run apiauth-admin init)");
        return -1;
    }
    db->driver = dbd->driver;
    db->handle = dbd->handle;
    db->prepared = dbd->prepared;
    db->last_error = NULL;
    db->in_transaction = 0;
    db->writer = NULL;
    db->writer_pool = NULL;
    db->writer_held = 0;
    if (strcmp(apr_dbd_name(dbd->driver), "sqlite3") == 0) {
        db->writer = apiauth_dbd_writer();
    }
    return 0;
}

/* SQLite lets one writer in at a time.  Without a lock of ours, the
 * others meet its lock, and apr_dbd_sqlite3 sleeps 100 ms before each
 * retry, where a transaction takes about a millisecond.  Eight clients
 * rotating refresh tokens as fast as they could: p99 200 ms, stalls up to
 * 1.6 s, 850 rotations a second; queued on this mutex (transactions and
 * single writes alike, lib/store/store.c), p99 18 ms, none over 31 ms, 1,080 a
 * second.  Writers outside this server (apiauth-admin, another httpd on
 * the same file) still meet SQLite's lock. */
static const char *const writer_id = "apiauth-sqlite";
static apr_global_mutex_t *writer;

apr_global_mutex_t *apiauth_dbd_writer(void)
{
    APR_OPTIONAL_FN_TYPE(apiauth_services) *services_of;

    if (writer) {
        return writer;
    }
    /* in mod_apiauth_oauth: mod_apiauth's */
    services_of = APR_RETRIEVE_OPTIONAL_FN(apiauth_services);
    return services_of ? services_of()->sqlite_writer() : NULL;
}

apr_status_t apiauth_dbd_writer_register(apr_pool_t *pconf)
{
    writer = NULL;
    return ap_mutex_register(pconf, writer_id, NULL, APR_LOCK_DEFAULT, 0);
}

apr_status_t apiauth_dbd_writer_create(apr_pool_t *pconf, server_rec *s)
{
    apr_status_t rv;

    if (writer) {
        return APR_SUCCESS;
    }
    rv = ap_global_mutex_create(&writer, NULL, writer_id, NULL, s, pconf, 0);
    if (rv != APR_SUCCESS) {
        writer = NULL;
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, AALOGNO(30003)
                     "cannot create the %s mutex", writer_id);
    }
    return rv;
}

void apiauth_dbd_writer_child_init(apr_pool_t *p, server_rec *s)
{
    apr_status_t rv;

    if (writer == NULL) {
        return;
    }
    rv = apr_global_mutex_child_init(&writer,
                                     apr_global_mutex_lockfile(writer), p);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, AALOGNO(30004)
                     "cannot attach to the %s mutex: SQLite writers of "
                     "this process meet SQLite's lock instead", writer_id);
        writer = NULL;
    }
}
