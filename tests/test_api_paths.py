"""Every path under ``svc/api/`` answers JSON: an invalid service name in a path is a 422 naming
``name`` (as a POST of it is), any other unknown path a JSON 404; and ``GET backends`` says what
each backend cannot honour (the lab panel builds its form from it)."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

MISNAMED = [("GET", "services/Bad_Name"), ("PUT", "services/Bad_Name"), ("PATCH", "services/Bad_Name"),
            ("DELETE", "services/Bad_Name"), ("POST", "services/Bad_Name/restart"),
            ("GET", "services/Bad_Name/logs"), ("POST", "services/a.b/scale"), ("GET", "services/-x")]


@pytest.mark.parametrize(("method", "path"), MISNAMED)
async def test_an_invalid_name_in_a_path_is_a_422_naming_name(api, method, path):
    body = {"command": ["x"]} if method in ("PUT", "PATCH") else None
    code, answer = await api(method, path, body)
    assert code == 422, answer
    assert isinstance(answer, dict), answer  # JSON, not Jupyter's HTML 404 page
    (error,) = answer["errors"]
    assert error["field"] == "name" and "DNS-1123" in error["message"], answer


async def test_the_name_rule_in_a_path_is_the_posts(api):
    code, posted = await api("POST", "services", {"name": "Bad_Name", "command": ["x"]})
    code_put, put = await api("PUT", "services/Bad_Name", {"command": ["x"]})
    assert code == code_put == 422
    assert posted["errors"] == put["errors"]


@pytest.mark.parametrize("path", ["nonsense", "services/ok/bogus", "services/ok/logs/more", "nonsense/deeper"])
async def test_unknown_api_paths_answer_json(api, path):
    code, answer = await api("GET", path)
    assert code == 404, answer
    assert isinstance(answer, dict) and "no API route" in answer["message"], answer


async def test_unknown_and_misnamed_paths_need_authentication(api, jp_base_url, jp_http_port):
    client = AsyncHTTPClient()
    base = f"http://127.0.0.1:{jp_http_port}{jp_base_url}svc/api/"
    for method, path in [("GET", "services/Bad_Name"), ("GET", "nonsense"), ("GET", "backends")]:
        response = await client.fetch(HTTPRequest(base + path, method=method), raise_error=False)
        assert response.code == 403, (method, path, response.code)
        assert json.loads(response.body)["message"]  # still JSON


async def test_backends_name_the_fields_they_cannot_honour(api):
    code, answer = await api("GET", "backends")
    assert code == 200, answer
    assert answer["default"] == "local"
    (local,) = answer["backends"]
    assert local["name"] == "local"
    # the backend's own check says so when a spec sets them (test_api.py checks those 422s)
    assert {"image", "volumes", "node_selector", "resources", "sidecars", "replicas", "init.image",
            "priority_class", "image_pull_secrets"} == set(local["unsupported"])
