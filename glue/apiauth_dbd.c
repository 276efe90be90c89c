/*
 * apiauth_dbd.c: the SQL store through mod_dbd (see apiauth_dbd.h).
 *
 * mod_dbd owns the connections (DBDriver, DBDParams, pooling); we add the
 * statements of sql/catalogue.c before it prepares them on each new
 * connection, and borrow one per request.  When there is none the answer
 * is "store unreachable", which every caller turns into a 503.
 */
#include <apr_dbd.h>
#include <apr_optional.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <mod_dbd.h>

#include "apiauth_dbd.h"
#include "catalogue.h"

#define AALOGNO(n) "AA" #n ": "

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
    return 0;
}
