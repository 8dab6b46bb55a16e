"""Who may do what, in a real server: Jupyter's Authorizer decides (read / write / execute on
resource ``svc``), and every route of the OpenAPI document refuses a client without credentials,
with a wrong token, with a cookie but no XSRF token, and from another origin. The walk reads the
document the server serves, so a new route cannot skip it."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from conftest import echo_command
from jupyter_server.auth.authorizer import Authorizer
from tornado.httpclient import AsyncHTTPClient, HTTPRequest


class SwitchableAuthorizer(Authorizer):
    """Allows everything until ``read_only`` is set, then only ``read``; async, as Jupyter allows."""

    read_only = False
    asked: list[tuple[str, str]] = []

    async def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        type(self).asked.append((action, resource))
        return action == "read" or not type(self).read_only


@pytest.fixture
def jp_server_config(jp_server_config):
    jp_server_config["ServerApp"]["authorizer_class"] = SwitchableAuthorizer
    SwitchableAuthorizer.read_only = False
    SwitchableAuthorizer.asked = []
    yield jp_server_config
    SwitchableAuthorizer.read_only = False


@pytest.fixture
def base(jp_http_port, jp_base_url):
    return f"http://127.0.0.1:{jp_http_port}{jp_base_url}"


async def raw(base: str, path: str, method: str = "GET", headers: dict[str, str] | None = None,
              body: Any = None) -> Any:
    payload = json.dumps(body) if body is not None else ("{}" if method in ("POST", "PUT", "PATCH") else None)
    request = HTTPRequest(base + path, method=method, headers=headers or {}, body=payload,
                          follow_redirects=False, request_timeout=30)
    return await AsyncHTTPClient().fetch(request, raise_error=False)


async def test_read_only_user_can_list_and_read_but_not_change_or_run(api, base, jp_auth_header):
    code, view = await api("POST", "services", {"name": "ro", "command": echo_command()}, wait=20)
    assert code == 201, view
    SwitchableAuthorizer.read_only = True
    for path in ("services", "services/ro", "services/ro/logs", "schema", "openapi.json", "activity"):
        assert (await api("GET", path))[0] == 200, path
    refused = [("POST", "services", {"name": "other", "command": ["x"]}), ("PUT", "services/ro", {"command": ["y"]}),
               ("PATCH", "services/ro", {"description": "x"}), ("DELETE", "services/ro", None),
               ("POST", "services/ro/restart", None), ("POST", "services/ro/disable", None),
               ("POST", "services/ro/enable", None), ("POST", "services/ro/wake", None),
               ("POST", "services/ro/scale", {"replicas": 0}), ("POST", "services/ro/activity", None),
               ("POST", "apply", {"manifest": [], "mode": "replace"})]
    for method, path, body in refused:
        code, answer = await api(method, path, body)
        assert code == 403, (method, path, code, answer)
    assert (await raw(base, "svc/ro/", headers=jp_auth_header)).code == 403  # the proxy asks execute
    code, view = await api("GET", "services/ro")
    assert view["spec"]["description"] == "" and view["status"]["state"] == "ready"  # nothing changed
    asked = set(SwitchableAuthorizer.asked)
    assert {("read", "svc"), ("write", "svc"), ("execute", "svc")} <= asked
    SwitchableAuthorizer.read_only = False
    assert (await api("POST", "services/ro/scale", {"replicas": 0}, wait=20))[0] == 200
    assert (await api("DELETE", "services/ro"))[0] == 204


BODIES = {"/services": {"name": "intruder", "command": ["x"], "desired_state": "disabled"},
          "/services/{name}": {"command": ["y"], "desired_state": "disabled", "description": "pwned"},
          "/services/{name}/scale": {"replicas": 0},
          "/apply": {"manifest": [], "mode": "replace"}}


async def test_every_documented_route_refuses_missing_wrong_and_cross_site_credentials(api, base, jp_auth_header):
    code, spec = await api("PUT", "services/walked", {"command": echo_command(), "desired_state": "disabled"})
    assert code == 201, spec
    code, doc = await api("GET", "openapi.json")
    routes = [(path, method.upper()) for path, ops in doc["paths"].items() for method in ops]
    assert len(routes) >= 15 and ("/services/{name}", "DELETE") in routes
    login = await raw(base, "api/me", headers=jp_auth_header)
    cookie = "; ".join(c.split(";")[0] for c in login.headers.get_list("Set-Cookie"))
    assert "username-" in cookie
    xsrf = "0123456789abcdef"
    host = base.split("/")[2]
    cases = {
        "no credentials": {},
        "wrong token": {"Authorization": "token not-the-token"},
        "wrong bearer": {"Authorization": "Bearer not-the-token"},
        "cookie, no XSRF token": {"Cookie": cookie},
        "cross-origin cookie with XSRF": {"Cookie": f"{cookie}; _xsrf={xsrf}", "X-XSRFToken": xsrf,
                                          "Origin": "http://evil.example", "Host": host},
    }
    failures = []
    for path, method in routes:
        concrete = "svc/api" + re.sub(r"\{name\}", "walked", path).replace("{template}", "http")
        body = BODIES.get(path) if method in ("POST", "PUT", "PATCH") else None
        for case, headers in cases.items():
            if case.startswith("cookie, no XSRF") and method == "GET":
                continue  # reads with a session cookie are what a browser does
            response = await raw(base, concrete + ("?follow=0" if path.endswith("/logs") else ""), method,
                                 headers, body)
            if response.code not in (403, 404) or b"walked" in (response.body or b""):
                failures.append((case, method, concrete, response.code, response.body[:200]))
    assert not failures, "\n".join(map(str, failures))
    # and nothing changed
    code, listed = await api("GET", "services")
    assert [v["name"] for v in listed["services"]] == ["walked"]
    assert listed["services"][0]["spec"] == spec["spec"]
    assert listed["services"][0]["status"]["generation"] == spec["status"]["generation"]
