"""Fixtures shared by the integration tests: a certificate, a store, and a
way to start an httpd with a given configuration body.

Each factory comes in two lifetimes: per test (new_store, httpd_factory)
and per test module (module_store, module_httpd), for the modules whose
tests can share one server because they share its configuration."""
import shutil

import pytest

from harness import Httpd, OAuthServer, Store, make_workdir, self_signed_cert


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
        shutil.rmtree(s.dir, ignore_errors=True)


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
        o.stop()
        shutil.rmtree(o.httpd.root, ignore_errors=True)
        shutil.rmtree(o.dir, ignore_errors=True)
