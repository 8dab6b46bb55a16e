"""The REST API's contract: validation errors, auth, XSRF, batches, schema and OpenAPI."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from conftest import echo_command, wait_for_state
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

GOOD = {"name": "ok", "command": ["python", "-V"]}

INVALID = [
    ({"name": "Bad_Name", "command": ["x"]}, "name", "DNS-1123"),
    ({"name": "a" * 64, "command": ["x"]}, "name", "63"),
    ({"name": "api", "command": ["x"]}, "name", "reserved"),
    ({"name": "nocmd"}, "command", "set command"),
    ({"name": "strcmd", "command": "python app.py"}, "command", "shell: true"),
    ({"name": "shellist", "command": ["python"], "shell": True}, "shell", "one string"),
    ({"name": "res", "command": ["x"], "resources": {"limits": {"cpu": "lots"}}}, "resources.limits.cpu",
     "not a Kubernetes quantity"),
    ({"name": "res2", "command": ["x"], "resources": {"requests": {"memory": "2Gi"}, "limits": {"memory": "1Gi"}}},
     "resources.limits.memory", "below requests.memory"),
    ({"name": "idle", "command": ["x"], "scale_to_zero": "soon"}, "scale_to_zero", "not a duration"),
    ({"name": "port", "command": ["x"], "port": 70000}, "port", "less than or equal to 65535"),
    ({"name": "typo", "command": ["x"], "comand": ["y"]}, "comand", "unknown field"),
    ({"name": "envk", "command": ["x"], "env": {"1BAD": "v"}}, "env.1BAD", "not a valid environment variable"),
    ({"name": "ext", "url": "ftp://host", "command": ["x"]}, "url", "http"),
    ({"name": "state", "command": ["x"], "desired_state": "sleeping"}, "desired_state", "ready"),
    ({"name": "gpu", "command": ["x"], "resources": {"limits": {"gpu": "0.5"}}}, "resources.limits.gpu", "whole"),
    ({"name": "vol", "command": ["x"], "volumes": [{"claim": "c", "mount_path": "rel/path"}]},
     "volumes[0].mount_path", "absolute"),
    ({"name": "initc", "command": ["x"], "init": [{"name": "i"}]}, "init[0].command", "image or a command"),
]


@pytest.mark.parametrize(("spec", "field", "reason"), INVALID, ids=[s["name"][:10] for s, _, _ in INVALID])
async def test_invalid_spec_is_a_422_naming_the_field(api, spec, field, reason):
    code, body = await api("POST", "services", spec)
    assert code == 422, body
    assert any(e["field"] == field and reason in e["message"] for e in body["errors"]), body["errors"]
    assert "Traceback" not in json.dumps(body)
    code, listing = await api("GET", "services")
    assert listing["services"] == []  # nothing was created


async def test_backend_refuses_what_it_cannot_honour(api):
    spec = {"name": "gpu-app", "command": ["x"], "node_selector": {"disk": "ssd"},
            "resources": {"limits": {"gpu": "1"}}, "image": "repo/app:1"}
    code, body = await api("POST", "services", spec)
    assert code == 422
    fields = {e["field"] for e in body["errors"]}
    assert {"node_selector", "resources", "image"} <= fields
    assert all("kubernetes" in e["message"] for e in body["errors"])


async def test_malformed_requests(api, jp_fetch):
    response = await jp_fetch("svc", "api", "services", method="POST", body="{not json", raise_error=False)
    assert response.code == 400 and "not valid JSON" in json.loads(response.body)["message"]
    code, body = await api("POST", "services", ["a", "list"])
    assert code == 400
    code, body = await api("PUT", "services/other", {**GOOD, "name": "ok"})
    assert code == 422 and body["errors"][0]["field"] == "name"
    code, body = await api("POST", "services/nothere/restart")
    assert code == 404
    code, body = await api("GET", "services/nothere/logs", tail="x")
    assert code == 404
    code, body = await api("POST", "services", {"name": "dep", "command": ["x"], "depends_on": ["ghost"]})
    assert code == 422 and body["errors"][0]["field"] == "depends_on[0]"


async def test_put_creates_then_updates_and_depends_on_injects_url(api):
    code, view = await api("PUT", "services/base", {"command": echo_command()}, wait=20)
    assert code == 201 and view["status"]["state"] == "ready"
    code, view = await api("PUT", "services/user", {"command": echo_command(), "depends_on": ["base"]}, wait=20)
    assert code == 201
    response = await AsyncHTTPClient().fetch(view["status"]["endpoint"])
    env = json.loads(response.body)["env"]
    assert env["SVC_BASE_URL"].endswith("/svc/base/")
    code, body = await api("DELETE", "services/base")
    assert code == 409 and "user" in body["message"]
    code, body = await api("PATCH", "services/base", {"depends_on": ["user"]})
    assert code == 422 and body["message"].startswith("dependency cycle")
    (error,) = body["errors"]  # the cycle named, read as "depends on"
    assert error["field"] == "depends_on" and error["message"] in ("base -> user -> base", "user -> base -> user")
    code, body = await api("POST", "apply", {"manifest": [  # a longer one, in a batch
        {"name": "c1", "command": ["x"], "depends_on": ["c2"]}, {"name": "c2", "command": ["x"], "depends_on": ["c3"]},
        {"name": "c3", "command": ["x"], "depends_on": ["c1"]}]})
    assert code == 422 and body["errors"][0]["message"] in ("c1 -> c2 -> c3 -> c1", "c2 -> c3 -> c1 -> c2",
                                                            "c3 -> c1 -> c2 -> c3"), body


async def test_unauthenticated_requests_are_refused(jp_serverapp, jp_base_url, jp_http_port, api):
    await api("PUT", "services/secret", {"command": ["x"], "desired_state": "disabled"})
    client = AsyncHTTPClient()
    base = f"http://127.0.0.1:{jp_http_port}{jp_base_url}svc/api/"
    for method, path, body in [("GET", "services", None), ("GET", "services/secret", None),
                               ("POST", "services", json.dumps(GOOD)), ("DELETE", "services/secret", None),
                               ("GET", "schema", None), ("GET", "openapi.json", None),
                               ("GET", "services/secret/logs", None), ("POST", "apply", "{}")]:
        response = await client.fetch(HTTPRequest(base + path, method=method, body=body), raise_error=False)
        assert response.code == 403, (method, path, response.code)
    code, view = await api("GET", "services/secret")
    assert code == 200  # still there


async def test_cookie_writes_need_xsrf(api, jp_base_url, jp_http_port, jp_auth_header):
    """A browser session (cookie auth) cannot POST without the XSRF token (`api` makes the server listen)."""
    client = AsyncHTTPClient()
    base = f"http://127.0.0.1:{jp_http_port}{jp_base_url}"
    login = await client.fetch(base + "api/me", headers=jp_auth_header)
    cookies = "; ".join(c.split(";")[0] for c in login.headers.get_list("Set-Cookie"))
    assert "username-" in cookies  # a logged-in browser session
    response = await client.fetch(HTTPRequest(base + "svc/api/services", method="POST", body=json.dumps(GOOD),
                                              headers={"Cookie": cookies}), raise_error=False)
    assert response.code == 403
    assert b"_xsrf" in response.body
    xsrf = "0123456789abcdef"  # the double-submit check compares the _xsrf cookie with the header
    cookies += f"; _xsrf={xsrf}"
    response = await client.fetch(HTTPRequest(base + "svc/api/services", method="POST",
                                              body=json.dumps({**GOOD, "desired_state": "disabled"}),
                                              headers={"Cookie": cookies, "X-XSRFToken": xsrf}), raise_error=False)
    assert response.code == 201, response.body


async def test_apply_is_all_or_nothing_then_merge_and_replace(api):
    bad = {"manifest": {"services": [{"name": "one", "command": echo_command()},
                                     {"name": "two", "command": ["x"], "resources": {"limits": {"cpu": "-"}}}]}}
    code, body = await api("POST", "apply", bad)
    assert code == 422 and body["errors"][0]["field"].startswith("manifest.services[1]")
    assert (await api("GET", "services"))[1]["services"] == []

    manifest = [{"name": "one", "command": echo_command()}, {"name": "two", "command": echo_command()}]
    code, body = await api("POST", "apply", {"manifest": manifest, "mode": "merge"}, wait=30)
    assert code == 200 and body["ok"], body
    assert [r["action"] for r in body["results"]] == ["created", "created"]
    await wait_for_state(api, "two", {"ready"})

    code, body = await api("POST", "apply", {"manifest": manifest[:1], "mode": "replace", "dry_run": True})
    assert [(r["name"], r["action"]) for r in body["results"]] == [("one", "unchanged"), ("two", "deleted")]
    assert len((await api("GET", "services"))[1]["services"]) == 2  # dry run changed nothing

    code, body = await api("POST", "apply", {"manifest": manifest[:1], "mode": "replace"})
    assert code == 200 and body["ok"]
    names = [v["name"] for v in (await api("GET", "services"))[1]["services"]]
    assert names == ["one"]

    code, body = await api("POST", "apply", {"manifest": manifest, "mode": "sideways"})
    assert code == 422 and body["errors"][0]["field"] == "mode"


async def test_schema_and_openapi_match_the_routes(api, jp_serverapp):
    from jupyter_svc.server.handlers import NAME, SvcHandler, api_routes
    from jupyter_svc.server.templates_api import TEMPLATE

    code, schema = await api("GET", "schema")
    assert code == 200 and schema["title"] == "ServiceSpec" and "scale_to_zero" in schema["properties"]
    code, doc = await api("GET", "openapi.json")
    assert code == 200 and doc["openapi"].startswith("3.")

    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    served = set()
    for pattern, handler in api_routes():
        methods = [m for m in ("get", "post", "put", "patch", "delete")
                   if getattr(handler, m) is not getattr(SvcHandler, m)]
        path = "/" + pattern.replace(NAME, "{name}").replace(TEMPLATE, "{template}")
        alternatives = re.search(r"\(\?P<action>([^)]*)\)", path)
        paths = ([path.replace(alternatives.group(0), a) for a in alternatives.group(1).split("|")]
                 if alternatives else [path])
        served |= {(p.replace("\\", ""), m) for p in paths for m in methods}
    assert documented == served
    # every $ref resolves
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(doc)))
    assert refs <= set(doc["components"]["schemas"])


async def test_events_stream_pushes_changes(api, jp_fetch):
    await api("PUT", "services/early", {"command": ["x"], "desired_state": "disabled"})
    buffer = bytearray()
    seen = asyncio.Event()

    def on_chunk(chunk: bytes) -> None:
        buffer.extend(chunk)
        if b"event: deleted" in buffer:
            seen.set()

    stream = asyncio.ensure_future(jp_fetch("svc", "api", "events", streaming_callback=on_chunk,
                                            request_timeout=60))
    await asyncio.sleep(0.2)
    await api("POST", "services", {"name": "late", "command": echo_command()}, wait=20)
    await api("DELETE", "services/late")
    await asyncio.wait_for(seen.wait(), 10)
    stream.cancel()
    events = [block.split("\n", 1) for block in buffer.decode().split("\n\n") if block.startswith("event:")]
    kinds = [(kind[len("event: "):], json.loads(data[len("data: "):])) for kind, data in events]
    assert kinds[0][0] == "service" and kinds[0][1]["name"] == "early"  # a snapshot first
    states = [d["status"]["state"] for k, d in kinds if k == "service" and d["name"] == "late"]
    assert states[0] == "pending" and "starting" in states and "ready" in states
    assert kinds[-1] == ("deleted", {"name": "late"})
