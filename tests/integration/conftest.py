"""Fixtures shared by the integration tests: a certificate, a store, and a
way to start an httpd with a given configuration body.

Each factory comes in two lifetimes: per test (new_store, httpd_factory)
and per test module (module_store, module_httpd), for the modules whose
tests can share one server because they share its configuration.

The store backend is APIAUTH_TEST_DBD's (backends.py): with pgsql, the
session's PostgreSQL cluster is stopped and removed when the session ends,
passed or failed."""
import shutil

import pytest

import harness
from backends import DBD, shutdown_pg_cluster
from harness import Httpd, OAuthServer, Store, make_workdir, self_signed_cert
from oauth_flows import ModuleServers


def _fail_on_memcheck_findings():
    if harness.VALGRIND_FINDINGS:
        found = "\n\n".join(harness.VALGRIND_FINDINGS)
        harness.VALGRIND_FINDINGS.clear()
        pytest.fail(found, pytrace=False)


@pytest.fixture(autouse=True)
def memcheck_per_test():
    """Under APIAUTH_TEST_VALGRIND=1, a server the test stopped (its own,
    or one of a per-test factory) fails it when memcheck found an error in
    our code."""
    yield
    _fail_on_memcheck_findings()


@pytest.fixture(autouse=True, scope="module")
def memcheck_per_module():
    """The same for the servers a test module shares: autouse, so set up
    before them and torn down after them."""
    yield
    _fail_on_memcheck_findings()


def pytest_report_header(config):
    return f"store backend: {DBD} (APIAUTH_TEST_DBD)"


@pytest.fixture(scope="session", autouse=True)
def store_backend():
    """The backend of this run; the PostgreSQL cluster, when one was
    started, goes with the session."""
    try:
        yield DBD
    finally:
        shutdown_pg_cluster()


@pytest.fixture(scope="session")
def workdir():
    d = make_workdir("apiauth-tests-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def tls(workdir):
    d = workdir / "tls"
    d.mkdir()
    return self_signed_cert(d)


def _store_factory():
    stores = []

    def make(**kw):
        s = Store(make_workdir("apiauth-store-"), **kw)
        stores.append(s)
        return s
    return make, stores


def _httpd_factory(tls):
    servers = []

    def make(body="", store=None, **kw):
        h = Httpd(make_workdir("apiauth-httpd-"), tls[0], tls[1], body=body,
                  store=store, **kw)
        servers.append(h)
        return h.start()
    return make, servers


def _clean(stores, servers):
    for h in servers:
        h.stop()
        shutil.rmtree(h.root, ignore_errors=True)
    for s in stores:
        s.drop()


@pytest.fixture
def new_store():
    """Factory: a fresh SQLite store per call."""
    make, stores = _store_factory()
    yield make
    _clean(stores, [])


@pytest.fixture
def httpd_factory(tls):
    """Factory: Httpd(...) already started; all are stopped at the end."""
    make, servers = _httpd_factory(tls)
    yield make
    _clean([], servers)


@pytest.fixture(scope="module")
def module_store():
    """new_store, for the whole test module."""
    make, stores = _store_factory()
    yield make
    _clean(stores, [])


@pytest.fixture(scope="module")
def module_httpd(tls):
    """httpd_factory, for the whole test module: the servers are stopped
    when its last test is done."""
    make, servers = _httpd_factory(tls)
    yield make
    _clean([], servers)


@pytest.fixture(scope="module")
def servers(tls):
    """Factory of the module's OAuth servers (oauth_flows.ModuleServers),
    all stopped when the module ends."""
    s = ModuleServers(tls)
    yield s
    s.stop_all()


@pytest.fixture
def oauth_factory(tls):
    """Factory: OAuthServer(...) already started; stopped at the end."""
    servers = []

    def make(**kw):
        o = OAuthServer(tls[0], tls[1], **kw)
        servers.append(o)
        return o.start()
    yield make
    for o in servers:
        o.remove()
