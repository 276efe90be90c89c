"""Fixtures shared by the integration tests: a certificate, a store, and a
way to start an httpd with a given configuration body."""
import shutil

import pytest

from harness import Httpd, Store, make_workdir, self_signed_cert


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


@pytest.fixture
def new_store(workdir):
    """Factory: a fresh SQLite store per call."""
    count = [0]

    def make(**kw):
        count[0] += 1
        return Store(make_workdir("apiauth-store-"), **kw)
    return make


@pytest.fixture
def httpd_factory(tls):
    """Factory: Httpd(...) already started; all are stopped at the end."""
    servers = []

    def make(body="", store=None, **kw):
        h = Httpd(make_workdir("apiauth-httpd-"), tls[0], tls[1], body=body,
                  store=store, **kw)
        servers.append(h)
        return h.start()
    yield make
    for h in servers:
        h.stop()
        shutil.rmtree(h.root, ignore_errors=True)
