/*
 * unit.h: what every unit test of lib/ includes.
 *
 * cmocka, plus a fresh APR pool per test (each main calls apr_initialize).  The tests run the real core: nothing of lib/ is stubbed.
 */
#ifndef APIAUTH_UNIT_H
#define APIAUTH_UNIT_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <apr_general.h>
#include <apr_pools.h>

static apr_pool_t *unit_pool;

static int unit_setup(void **state)
{
    (void)state;
    return apr_pool_create(&unit_pool, NULL) == APR_SUCCESS ? 0 : -1;
}

static int unit_teardown(void **state)
{
    (void)state;
    apr_pool_destroy(unit_pool);
    unit_pool = NULL;
    return 0;
}

#define UNIT_TEST(f) cmocka_unit_test_setup_teardown(f, unit_setup, unit_teardown)

#endif
