"""The smallest proof that the module works inside a real apache2: a
protected location answers 401 without a key and 200 with one."""


def test_key_opens_protected_location(new_store, httpd_factory):
    store = new_store()
    store.app("demo")
    secret, _ = store.key("demo")
    httpd = httpd_factory(store=store, body="""
<Location /api>
    AuthType apiauth
    AuthName "api"
    Require valid-user
</Location>
""")
    assert httpd.get("/api/hello").status_code == 401
    r = httpd.get("/api/hello", headers={"X-API-Key": secret})
    assert r.status_code == 200
    assert r.text == "hello\n"
