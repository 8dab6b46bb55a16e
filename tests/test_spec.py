"""The spec model on its own: units, presets, manifests, what the reference platforms express."""

from __future__ import annotations

from decimal import Decimal

import pytest
import yaml
from pydantic import ValidationError

from jupyter_svc.model.errors import from_validation_error
from jupyter_svc.model.placeholders import env_var_for, fill
from jupyter_svc.model.spec import Manifest, ServiceSpec
from jupyter_svc.model.units import format_duration, parse_duration, parse_quantity


@pytest.mark.parametrize(("text", "value"), [
    ("100m", Decimal("0.1")), ("1", Decimal(1)), ("1.2Gi", Decimal("1.2") * 2**30), ("512Mi", Decimal(512 * 2**20)),
    ("2k", Decimal(2000)), ("1e3", Decimal(1000)), ("0.5", Decimal("0.5")),
])
def test_quantities(text, value):
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "lots", "1.2.3", "10 Gi", "1GB", "-1"])
def test_bad_quantities(text):
    with pytest.raises(ValueError):
        parse_quantity(text)


@pytest.mark.parametrize(("value", "seconds", "text"), [
    ("90s", 90, "1m30s"), ("5m", 300, "5m"), ("2h", 7200, "2h"), ("1h30m", 5400, "1h30m"),
    ("one_hour", 3600, "1h"), ("four_hours", 14400, "4h"), (45, 45, "45s"), ("500ms", 0.5, "500ms"),
])
def test_durations_round_trip(value, seconds, text):
    assert parse_duration(value) == seconds
    assert format_duration(seconds) == text
    assert parse_duration(format_duration(seconds)) == seconds


def test_every_app_service_preset_is_accepted():
    for preset in ("1m", "5m", "10m", "1h", "2h", "4h"):
        spec = ServiceSpec(name="a", command=["x"], scale_to_zero=preset)
        assert spec.model_dump(mode="json")["scale_to_zero"] == preset


def test_placeholders_leave_other_braces_alone():
    values = {"port": "8080", "base_url": "/svc/a/", "name": "a", "ports.metrics": "9100"}
    assert fill("--port={port} --prefix {base_url} {ports.metrics} {'x': 1} {unknown}", values) == \
        "--port=8080 --prefix /svc/a/ 9100 {'x': 1} {unknown}"
    assert env_var_for("my-db") == "SVC_MY_DB_URL"


def test_reference_platform_fields_are_expressible():
    """A spec carrying what the app-service manifest API and Polyaxon's V1Service can say."""
    manifest = yaml.safe_load("""
    services:
      - name: jupyter-gpu
        description: GPU notebook service
        image: registry.local/full-stack-gpu:3.5
        image_pull_secrets: [registry-cred]
        command: ["start-notebook.sh", "--port={port}"]
        labels: {team: ml}
        annotations: {owner: ana}
        node_selector: {gpu-type: a100}
        priority_class: low
        resources:
          requests: {cpu: 1m, memory: 1.2Gi, gpu: "1"}
          limits: {cpu: 100m, memory: 20Gi, gpu: "1"}
        volumes: [{claim: my-pvc1, mount_path: /my-mount1}, {claim: my-pvc2, mount_path: /my-mount2}]
        env: {DUMMY_KEY: dummy-value}
        scale_to_zero: one_minute
        desired_state: ready
        init: [{name: fetch, image: busybox:1.28, command: [sh, -c, echo init]}]
        sidecars: [{name: sidecar1, image: busybox:1.28, command: [sh, -c, echo sidecar1],
                    resources: {requests: {memory: 128Mi, cpu: 500m}}}]
        ports: [{name: tensorboard, port: 6006}]
        rewrite_path: true
        public: true
        replicas: 3
        backend: kubernetes
      - name: spark-ui
        url: http://spark.internal:4040/
    """)
    parsed = Manifest.model_validate(manifest)
    gpu = parsed.services[0]
    assert gpu.resources.limits.memory == "20Gi" and gpu.scale_to_zero == 60
    assert parsed.services[1].url == "http://spark.internal:4040/"
    assert Manifest.model_validate(manifest["services"]).services == parsed.services  # a bare list works too


def test_manifest_rejects_duplicates_and_errors_are_clean():
    with pytest.raises(ValidationError) as info:
        Manifest.model_validate([{"name": "a", "command": ["x"]}, {"name": "a", "command": ["y"]}])
    errors = from_validation_error(info.value)
    assert "listed twice: a" in errors[0].message
    with pytest.raises(ValidationError) as info:
        ServiceSpec.model_validate({"name": "x", "command": ["x"], "resources": {"limits": {"cpu": "many"}}})
    (error,) = from_validation_error(info.value)
    assert error.field == "resources.limits.cpu" and not error.message.startswith("Value error")
