"""The simulator speaks the Gemini API's Veo protocol (raw HTTP, real uvicorn on loopback)."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import png_bytes, server_thread
from veorelay.simulator.app import SimulatorConfig, create_simulator_app
from veorelay.simulator.render import video_seconds

KEY = {"x-goog-api-key": "test-key"}
MODEL = "veo-3.1-fast-generate-preview"
PRO = "veo-3.1-generate-preview"
PNG = {"bytesBase64Encoded": base64.b64encode(png_bytes()).decode(), "mimeType": "image/png"}


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[httpx.Client]:
    config = SimulatorConfig(
        data_dir=tmp_path,
        time_scale=0.005,
        api_keys=frozenset({"test-key"}),
        retired_models=frozenset({"veo-3.0-generate-preview"}),
    )
    with server_thread(create_simulator_app(config)) as url, httpx.Client(base_url=url) as client:
        yield client


def submit(client: httpx.Client, prompt: str = "a cat", **params: Any) -> httpx.Response:
    body = {"instances": [{"prompt": prompt}], "parameters": {"durationSeconds": 4, **params}}
    return client.post(f"/v1beta/models/{MODEL}:predictLongRunning", json=body, headers=KEY)


def wait_done(client: httpx.Client, name: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(f"/v1beta/{name}", headers=KEY).json()
        if body.get("done"):
            return body
        assert set(body) == {"name"}  # running: the name only, no `done: false`
        time.sleep(0.05)
    raise AssertionError("operation never finished")


def test_submit_returns_only_an_operation_name(sim: httpx.Client) -> None:
    response = submit(sim)
    assert response.status_code == 200
    name = response.json()["name"]
    assert set(response.json()) == {"name"}
    prefix, op_id = name.rsplit("/", 1)
    assert prefix == f"models/{MODEL}/operations"
    assert len(op_id) == 12
    assert op_id.isalnum()
    assert op_id.islower()


def test_key_by_query_parameter(sim: httpx.Client) -> None:
    body = {"instances": [{"prompt": "x"}], "parameters": {}}
    response = sim.post(f"/v1beta/models/{MODEL}:predictLongRunning?key=test-key", json=body)
    assert response.status_code == 200


def test_missing_and_wrong_keys(sim: httpx.Client) -> None:
    missing = sim.post(f"/v1beta/models/{MODEL}:predictLongRunning", json={})
    assert missing.status_code == 403
    assert missing.json()["error"]["status"] == "PERMISSION_DENIED"
    wrong = sim.post(
        f"/v1beta/models/{MODEL}:predictLongRunning", json={}, headers={"x-goog-api-key": "nope"}
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"]["details"][0]["reason"] == "API_KEY_INVALID"


@pytest.mark.parametrize(
    ("params", "instance", "message"),
    [
        ({"durationSeconds": 5}, {}, "out of bound"),
        ({"durationSeconds": 4, "resolution": "1080p"}, {}, "only supported for 8 second"),
        ({"durationSeconds": 6, "resolution": "4k"}, {}, "only supported for 8 second"),
        ({"aspectRatio": "1:1"}, {}, "aspectRatio"),
        ({"resolution": "480p"}, {}, "resolution"),
        ({}, {"image": {"inlineData": {"mimeType": "image/png", "data": "AAAA"}}}, "inlineData"),
        ({}, {"lastFrame": {"bytesBase64Encoded": "AAAA", "mimeType": "image/png"}}, "lastFrame"),
        ({}, {"referenceImages": ["not an object"]}, "referenceImages"),
        ({}, {"referenceImages": "AAAA"}, "referenceImages"),
        ({"durationSeconds": 8}, {"referenceImages": [{"image": PNG}]}, "not supported by veo-3"),
        ({"durationSeconds": 4}, {"image": PNG, "lastFrame": PNG}, "must be 8 when lastFrame"),
        ({"durationSeconds": 6}, {"video": {"uri": "x/files/abc"}}, "must be 8 when video"),
    ],
)
def test_invalid_arguments(
    sim: httpx.Client, params: dict[str, Any], instance: dict[str, Any], message: str
) -> None:
    body = {"instances": [{"prompt": "x", **instance}], "parameters": params}
    response = sim.post(f"/v1beta/models/{MODEL}:predictLongRunning", json=body, headers=KEY)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["code"] == 400
    assert message in error["message"]


def test_unknown_and_retired_models(sim: httpx.Client) -> None:
    unknown = sim.post("/v1beta/models/veo-9:predictLongRunning", json={}, headers=KEY)
    assert unknown.status_code == 404
    retired = sim.post(
        "/v1beta/models/veo-3.0-generate-preview:predictLongRunning", json={}, headers=KEY
    )
    assert retired.status_code == 404
    assert "no longer available" in retired.json()["error"]["message"]


def test_finished_video_downloads_through_a_redirect_with_range(sim: httpx.Client) -> None:
    image = base64.b64encode(png_bytes()).decode()
    body = {
        "instances": [
            {"prompt": "a dog", "image": {"bytesBase64Encoded": image, "mimeType": "image/png"}}
        ],
        "parameters": {"durationSeconds": 4, "aspectRatio": "9:16"},
    }
    name = sim.post(f"/v1beta/models/{MODEL}:predictLongRunning", json=body, headers=KEY).json()[
        "name"
    ]
    done = wait_done(sim, name)
    response = done["response"]
    assert response["@type"].endswith("PredictLongRunningResponse")
    uri = response["generateVideoResponse"]["generatedSamples"][0]["video"]["uri"]
    assert uri.startswith("https://")
    assert uri.endswith(":download?alt=media")
    file_id = uri.split("/files/")[1].split(":")[0]
    assert file_id.isalnum()
    assert file_id.islower()

    path = f"/v1beta/files/{file_id}:download?alt=media"
    redirect = sim.get(path, headers=KEY)
    assert redirect.status_code == 302
    full = sim.get(path, headers=KEY, follow_redirects=True)
    assert full.status_code == 200
    assert full.headers["content-type"] == "video/mp4"
    assert full.content[4:8] == b"ftyp"
    partial = sim.get(redirect.headers["location"], headers={"Range": "bytes=0-99"})
    assert partial.status_code == 206
    assert partial.content == full.content[:100]
    assert sim.get(path).status_code == 403  # the download needs the key too


def test_prompt_markers_trigger_failures(sim: httpx.Client) -> None:
    filtered = wait_done(sim, submit(sim, "a scene [sim:rai]").json()["name"])
    result = filtered["response"]["generateVideoResponse"]
    assert result["raiMediaFilteredCount"] == 1
    assert "generatedSamples" not in result
    failed = wait_done(sim, submit(sim, "a scene [sim:fail]").json()["name"])
    assert failed["error"]["code"] == 13
    limited = submit(sim, "a scene [sim:429]")
    assert limited.status_code == 429
    assert limited.json()["error"]["details"][0]["retryDelay"] == "0.1s"  # 20 s, scaled
    assert submit(sim, "b [sim:429once]").status_code == 429
    assert submit(sim, "b [sim:429once]").status_code == 200


def test_unknown_operation_is_404(sim: httpx.Client) -> None:
    response = sim.get(f"/v1beta/models/{MODEL}/operations/zzzzzzzzzzzz", headers=KEY)
    assert response.status_code == 404
    assert response.json()["error"]["status"] == "NOT_FOUND"


def test_operations_survive_a_restart(tmp_path: Path) -> None:
    config = SimulatorConfig(data_dir=tmp_path, time_scale=0.005)
    with server_thread(create_simulator_app(config)) as url, httpx.Client(base_url=url) as client:
        name = submit(client).json()["name"]
    with server_thread(create_simulator_app(config)) as url, httpx.Client(base_url=url) as client:
        assert wait_done(client, name)["done"] is True


def test_model_probe(sim: httpx.Client) -> None:
    ok = sim.get(f"/v1beta/models/{MODEL}", headers=KEY)
    assert ok.status_code == 200
    assert ok.json()["name"] == f"models/{MODEL}"
    assert ok.json()["supportedGenerationMethods"] == ["predictLongRunning"]
    assert ok.json()["displayName"] == "Veo 3.1 Fast Preview"
    retired = sim.get("/v1beta/models/veo-3.0-generate-preview", headers=KEY)
    assert retired.status_code == 404
    assert retired.json()["error"]["status"] == "NOT_FOUND"
    assert sim.get("/v1beta/models/veo-0-nothing", headers=KEY).status_code == 404
    refused = sim.get(f"/v1beta/models/{MODEL}", headers={"x-goog-api-key": "nope"})
    assert refused.status_code == 400
    assert refused.json()["error"]["details"][0]["reason"] == "API_KEY_INVALID"


@pytest.mark.parametrize(
    ("params", "instance", "message"),
    [
        ({"aspectRatio": "9:16"}, {"referenceImages": [{"image": PNG}]}, "only supported for 16:9"),
        ({}, {"referenceImages": [{"image": PNG, "referenceType": "style"}]}, "must be asset"),
        ({}, {"referenceImages": [{"image": PNG}] * 4}, "At most 3"),
        ({}, {"video": {"encodedVideo": "AAAA"}}, "video.uri must be the URI"),
        ({"resolution": "1080p"}, {"video": {"uri": "x/files/abc"}}, "only supported at 720p"),
    ],
)
def test_extra_input_rules_of_veo_3_1(
    sim: httpx.Client, params: dict[str, Any], instance: dict[str, Any], message: str
) -> None:
    body = {
        "instances": [{"prompt": "x", **instance}],
        "parameters": {"durationSeconds": 8, **params},
    }
    response = sim.post(f"/v1beta/models/{PRO}:predictLongRunning", json=body, headers=KEY)
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


def test_extension_of_its_own_file_adds_seven_seconds(sim: httpx.Client) -> None:
    first = wait_done(sim, submit(sim, "a boat").json()["name"])
    uri = first["response"]["generateVideoResponse"]["generatedSamples"][0]["video"]["uri"]
    body = {"instances": [{"prompt": "on", "video": {"uri": uri}}], "parameters": {}}
    name = sim.post(f"/v1beta/models/{MODEL}:predictLongRunning", json=body, headers=KEY)
    done = wait_done(sim, name.json()["name"])
    longer = done["response"]["generateVideoResponse"]["generatedSamples"][0]["video"]["uri"]
    file_id = longer.split("/files/")[1].split(":")[0]
    video = sim.get(f"/v1beta/files/{file_id}:download", headers=KEY, follow_redirects=True)
    assert video_seconds(video.content) == pytest.approx(11, abs=0.1)
    unknown = {"instances": [{"prompt": "on", "video": {"uri": "x/files/nosuchfile"}}]}
    missing = sim.post(f"/v1beta/models/{MODEL}:predictLongRunning", json=unknown, headers=KEY)
    assert missing.status_code == 404
