"""The OpenAPI schema of the whole project is valid, warning-free and documents the jobs API."""

from __future__ import annotations

import yaml
from django.core.management import call_command


def test_schema_validates_without_warnings(tmp_path):
    path = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    schema = yaml.safe_load(path.read_text())
    paths = schema["paths"]

    create = paths["/api/v1/selfies/"]["post"]
    assert set(create["requestBody"]["content"]) == {"multipart/form-data", "application/json"}
    assert {"201", "400", "413", "415"} <= set(create["responses"])

    submit = paths["/api/v1/jobs/"]["post"]
    assert {"202", "400", "409", "422", "429"} <= set(submit["responses"])
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header"
               for p in submit["parameters"])
    error = schema["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"message", "extra"}
    for path in ["/api/v1/jobs/{job_id}/", "/api/v1/jobs/{job_id}/events/",
                 "/api/v1/jobs/{job_id}/cancel/", "/api/v1/jobs/{job_id}/retry/",
                 "/api/v1/uploads/", "/api/v1/styles/", "/api/v1/selfies/{selfie_id}/"]:
        assert path in paths
    assert {"204", "404", "409"} <= set(paths["/api/v1/jobs/{job_id}/"]["delete"]["responses"])
    assert {"204", "409"} <= set(paths["/api/v1/selfies/{selfie_id}/"]["delete"]["responses"])
    me = paths["/api/v1/me/"]
    assert "get" in me and {"204", "400", "401"} <= set(me["delete"]["responses"])
    body = me["delete"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert schema["components"]["schemas"][body.rsplit("/", 1)[1]]["required"] == ["password"]
