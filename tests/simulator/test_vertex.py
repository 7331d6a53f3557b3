"""Vertex mode: the real google-auth service-account flow, predict, poll and download.

A real uvicorn server on loopback; the service-account file's token_uri points at it, as an
operator's points at Google's OAuth server.
"""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import av
import google.auth.transport.requests
import httpx
import pytest
from google.auth import exceptions as auth_exceptions
from google.oauth2 import service_account

from tests.helpers import free_port
from tests.simulator.serving import serve
from tests.vertex_accounts import make_service_account
from veorelay.simulator.app import Simulator, SimulatorConfig, create_simulator_app

SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
PROJECT = "proj-a"
LOCATION = "us-central1"
MODEL = "veo-3.1-fast-generate-001"
MODEL_PATH = f"/v1/projects/{PROJECT}/locations/{LOCATION}/publishers/google/models/{MODEL}"


def credentials_for(account_file: Path) -> Any:
    return service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
        str(account_file), scopes=SCOPES
    )


@dataclass
class Vertex:
    url: str
    client: httpx.Client
    account_file: Path
    other_account_file: Path  # proj-b's service account
    simulator: Simulator

    def headers(self, account_file: Path | None = None) -> dict[str, str]:
        credentials = credentials_for(account_file or self.account_file)
        credentials.refresh(google.auth.transport.requests.Request())
        return {"Authorization": f"Bearer {credentials.token}"}


@pytest.fixture
def vertex(tmp_path: Path) -> Iterator[Vertex]:
    port = free_port()
    token_uri = f"http://127.0.0.1:{port}/token"
    accounts = tmp_path / "accounts"
    account = make_service_account(accounts, PROJECT, token_uri)
    other = make_service_account(accounts, "proj-b", token_uri)
    config = SimulatorConfig(
        data_dir=tmp_path / "sim",
        time_scale=0.005,
        retired_models=frozenset({"veo-3.1-lite-generate-001"}),
        vertex_service_accounts=(account, other),
    )
    app = create_simulator_app(config)
    with serve(app, port) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield Vertex(url, client, account, other, app.state.simulator)


def predict(vertex: Vertex, prompt: str = "a cat", path: str = MODEL_PATH, **params: Any) -> Any:
    body = {"instances": [{"prompt": prompt}], "parameters": {"durationSeconds": 4, **params}}
    return vertex.client.post(f"{path}:predictLongRunning", json=body, headers=vertex.headers())


def wait_done(vertex: Vertex, name: str) -> dict[str, Any]:
    headers = vertex.headers()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        response = vertex.client.post(
            f"{MODEL_PATH}:fetchPredictOperation", json={"operationName": name}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["done"]:
            return body
        assert body == {"name": name, "done": False}
        time.sleep(0.05)
    raise AssertionError("operation never finished")


def assert_mp4(data: bytes, seconds: int = 4) -> None:
    assert data[4:8] == b"ftyp"
    with av.open(io.BytesIO(data)) as container:
        assert container.duration is not None
        assert abs(container.duration / 1_000_000 - seconds) < 0.2
        assert (container.streams.video[0].width, container.streams.video[0].height) == (1280, 720)


def test_google_auth_gets_a_token_from_the_simulator(vertex: Vertex) -> None:
    credentials = credentials_for(vertex.account_file)
    credentials.refresh(google.auth.transport.requests.Request())
    assert credentials.token
    assert credentials.valid
    assert credentials.expiry is not None


def test_a_key_the_simulator_does_not_know_is_refused(vertex: Vertex, tmp_path: Path) -> None:
    stranger = make_service_account(tmp_path / "stranger", PROJECT, f"{vertex.url}/token")
    with pytest.raises(auth_exceptions.RefreshError, match="invalid_grant"):
        credentials_for(stranger).refresh(google.auth.transport.requests.Request())


def test_a_forged_signature_is_invalid_grant(vertex: Vertex, tmp_path: Path) -> None:
    # The right client_email, signed by another key: the signature check must catch it.
    forged = make_service_account(tmp_path / "forged", PROJECT, f"{vertex.url}/token")
    info = json.loads(forged.read_text())
    info["client_email"] = json.loads(vertex.account_file.read_text())["client_email"]
    forged.write_text(json.dumps(info))
    with pytest.raises(auth_exceptions.RefreshError, match="Invalid JWT Signature"):
        credentials_for(forged).refresh(google.auth.transport.requests.Request())


def test_token_endpoint_answers_like_google(vertex: Vertex) -> None:
    bad = vertex.client.post(
        "/token",
        data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": "x.y.z"},
    )
    assert bad.status_code == 400
    assert bad.json()["error"] == "invalid_grant"
    assert bad.json()["error_description"]


def test_inline_result_is_a_base64_mp4(vertex: Vertex) -> None:
    response = predict(vertex, seed=7)
    assert response.status_code == 200, response.text
    name = response.json()["name"]
    assert set(response.json()) == {"name"}
    prefix, _, op_id = name.rpartition("/operations/")
    assert prefix == MODEL_PATH.removeprefix("/v1/")
    assert len(op_id) == 36
    body = wait_done(vertex, name)
    result = body["response"]
    assert result["@type"].endswith("cloud.ai.large_models.vision.GenerateVideoResponse")
    assert result["raiMediaFilteredCount"] == 0
    [video] = result["videos"]
    assert video["mimeType"] == "video/mp4"
    assert_mp4(base64.b64decode(video["bytesBase64Encoded"]))


def test_sample_count_is_honoured(vertex: Vertex) -> None:
    body = wait_done(vertex, predict(vertex, sampleCount=3).json()["name"])
    assert len(body["response"]["videos"]) == 3


def test_gcs_result_downloads_from_storage(vertex: Vertex) -> None:
    name = predict(vertex, storageUri="gs://my-bucket/veo/out/", sampleCount=2).json()["name"]
    op_id = name.rpartition("/")[2]
    videos = wait_done(vertex, name)["response"]["videos"]
    assert videos == [
        {"gcsUri": f"gs://my-bucket/veo/out/{op_id}/sample_{i}.mp4", "mimeType": "video/mp4"}
        for i in range(2)
    ]
    bucket, _, obj = videos[1]["gcsUri"].removeprefix("gs://").partition("/")
    url = f"/storage/v1/b/{bucket}/o/{quote(obj, safe='')}?alt=media"
    download = vertex.client.get(url, headers=vertex.headers())
    assert download.status_code == 200
    assert download.headers["content-type"] == "video/mp4"
    assert_mp4(download.content)
    part = vertex.client.get(url, headers={**vertex.headers(), "Range": "bytes=0-99"})
    assert part.status_code == 206
    assert part.content == download.content[:100]


def test_storage_needs_a_token_and_a_known_object(vertex: Vertex) -> None:
    name = predict(vertex, storageUri="gs://b/p").json()["name"]
    op_id = name.rpartition("/")[2]
    wait_done(vertex, name)
    url = f"/storage/v1/b/b/o/{quote(f'p/{op_id}/sample_0.mp4', safe='')}?alt=media"
    assert vertex.client.get(url).status_code == 401
    assert vertex.client.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert vertex.client.get(url, headers=vertex.headers()).status_code == 200
    other_bucket = url.replace("/b/b/", "/b/c/")
    assert vertex.client.get(other_bucket, headers=vertex.headers()).status_code == 404
    beyond = url.replace("sample_0", "sample_1")
    missing = vertex.client.get(beyond, headers=vertex.headers())
    assert missing.status_code == 404
    assert missing.json()["error"]["errors"][0]["reason"] == "notFound"


def test_missing_or_bad_bearer_is_unauthenticated(vertex: Vertex) -> None:
    body = {"instances": [{"prompt": "x"}]}
    for headers in ({}, {"Authorization": "Bearer ya29.forged"}):
        response = vertex.client.post(
            f"{MODEL_PATH}:predictLongRunning", json=body, headers=headers
        )
        assert response.status_code == 401
        assert response.json()["error"]["status"] == "UNAUTHENTICATED"
        assert response.json()["error"]["code"] == 401


def test_expired_token_is_unauthenticated(tmp_path: Path) -> None:
    port = free_port()
    account = make_service_account(tmp_path, PROJECT, f"http://127.0.0.1:{port}/token")
    now = [1_000_000.0]
    config = SimulatorConfig(
        data_dir=tmp_path / "sim",
        vertex_service_accounts=(account,),
        vertex_token_seconds=60,
        clock=lambda: now[0],
    )
    with serve(create_simulator_app(config), port) as url:
        # The JWT's iat/exp are real time; the simulator's clock is ours: move it to now.
        now[0] = time.time()
        credentials = credentials_for(account)
        credentials.refresh(google.auth.transport.requests.Request())
        headers = {"Authorization": f"Bearer {credentials.token}"}
        probe = f"{url}/v1beta1/publishers/google/models/{MODEL}"
        assert httpx.get(probe, headers=headers).status_code == 200
        now[0] += 61
        expired = httpx.get(probe, headers=headers)
        assert expired.status_code == 401
        assert expired.json()["error"]["details"][0]["reason"] == "ACCESS_TOKEN_EXPIRED"


def test_another_project_is_permission_denied(vertex: Vertex) -> None:
    path = MODEL_PATH.replace(PROJECT, "proj-b")
    response = predict(vertex, path=path)
    assert response.status_code == 403
    assert response.json()["error"]["status"] == "PERMISSION_DENIED"
    body = {"instances": [{"prompt": "x"}], "parameters": {"durationSeconds": 4}}
    own = vertex.client.post(
        f"{path}:predictLongRunning", json=body, headers=vertex.headers(vertex.other_account_file)
    )
    assert own.status_code == 200


def test_vertex_projects_flag_widens_access(tmp_path: Path) -> None:
    port = free_port()
    account = make_service_account(tmp_path, PROJECT, f"http://127.0.0.1:{port}/token")
    config = SimulatorConfig(
        data_dir=tmp_path / "sim",
        vertex_service_accounts=(account,),
        vertex_projects=frozenset({"shared-1", "shared-2"}),
    )
    with serve(create_simulator_app(config), port) as url:
        credentials = credentials_for(account)
        credentials.refresh(google.auth.transport.requests.Request())
        headers = {"Authorization": f"Bearer {credentials.token}"}
        body = {"instances": [{"prompt": "x"}]}
        for project, status in (("shared-2", 200), (PROJECT, 403)):
            path = MODEL_PATH.replace(PROJECT, project)
            response = httpx.post(f"{url}{path}:predictLongRunning", json=body, headers=headers)
            assert response.status_code == status


@pytest.mark.parametrize("model", ["veo-3.1-generate-preview", "veo-9-generate-001"])
def test_unknown_model_is_not_found(vertex: Vertex, model: str) -> None:
    path = MODEL_PATH.replace(MODEL, model)
    response = predict(vertex, path=path)
    assert response.status_code == 404
    resource = path.removeprefix("/v1/")
    assert response.json()["error"] == {
        "code": 404,
        "status": "NOT_FOUND",
        "message": f"Publisher Model `{resource}` was not found or your project does not "
        "have access to it.",
    }


def test_retired_model_is_not_found(vertex: Vertex) -> None:
    path = MODEL_PATH.replace(MODEL, "veo-3.1-lite-generate-001")
    assert predict(vertex, path=path).status_code == 404


@pytest.mark.parametrize(
    "params",
    [
        {"durationSeconds": 5},
        {"durationSeconds": "8"},
        {"resolution": "480p"},
        {"resolution": "1080p", "durationSeconds": 6},
        {"sampleCount": 0},
        {"sampleCount": 5},
        {"aspectRatio": "1:1"},
        {"generateAudio": "yes"},
        {"personGeneration": "everyone"},
        {"storageUri": "s3://bucket/x"},
        {"seed": -1},
    ],
)
def test_invalid_parameters_are_rejected(vertex: Vertex, params: dict[str, Any]) -> None:
    response = predict(vertex, **params)
    assert response.status_code == 400, params
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_full_vertex_request_is_accepted(vertex: Vertex) -> None:
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16).decode()
    body = {
        "instances": [
            {"prompt": "a dog", "image": {"bytesBase64Encoded": png, "mimeType": "image/png"}}
        ],
        "parameters": {
            "aspectRatio": "9:16",
            "durationSeconds": 8,
            "resolution": "1080p",
            "negativePrompt": "rain",
            "seed": 42,
            "sampleCount": 1,
            "generateAudio": True,
            "personGeneration": "allow_adult",
        },
    }
    response = vertex.client.post(
        f"{MODEL_PATH}:predictLongRunning", json=body, headers=vertex.headers()
    )
    assert response.status_code == 200, response.text


def test_markers_work_in_vertex_mode(vertex: Vertex) -> None:
    filtered = wait_done(vertex, predict(vertex, "bad [sim:rai]").json()["name"])
    assert filtered["response"]["raiMediaFilteredCount"] == 1
    assert filtered["response"]["raiMediaFilteredReasons"]
    assert "videos" not in filtered["response"]
    failed = wait_done(vertex, predict(vertex, "x [sim:fail]").json()["name"])
    assert failed["error"]["code"] == 3
    assert "response" not in failed
    refused = predict(vertex, "busy [sim:429]")
    assert refused.status_code == 429
    assert refused.json()["error"]["status"] == "RESOURCE_EXHAUSTED"


def test_unknown_operation_is_not_found(vertex: Vertex) -> None:
    name = f"{MODEL_PATH.removeprefix('/v1/')}/operations/00000000-0000-4000-8000-000000000000"
    response = vertex.client.post(
        f"{MODEL_PATH}:fetchPredictOperation",
        json={"operationName": name},
        headers=vertex.headers(),
    )
    assert response.status_code == 404
    assert response.json()["error"]["status"] == "NOT_FOUND"


def test_operation_of_another_project_is_not_visible(vertex: Vertex) -> None:
    name = predict(vertex).json()["name"]
    other = MODEL_PATH.replace(PROJECT, "proj-b")
    response = vertex.client.post(
        f"{other}:fetchPredictOperation",
        json={"operationName": name},
        headers=vertex.headers(vertex.other_account_file),
    )
    assert response.status_code == 404


def test_v1beta1_paths_work_too(vertex: Vertex) -> None:
    path = MODEL_PATH.replace("/v1/", "/v1beta1/")
    assert predict(vertex, path=path).status_code == 200


def test_publisher_model_probe(vertex: Vertex) -> None:
    headers = vertex.headers()
    ok = vertex.client.get(f"/v1beta1/publishers/google/models/{MODEL}", headers=headers)
    assert ok.json() == {
        "name": f"publishers/google/models/{MODEL}",
        "versionId": "001",
        "launchStage": "GA",
    }
    retired = vertex.client.get(
        "/v1beta1/publishers/google/models/veo-3.1-lite-generate-001", headers=headers
    )
    assert retired.status_code == 404
    assert vertex.client.get(f"/v1beta1/publishers/google/models/{MODEL}").status_code == 401


def test_gemini_paths_still_work_beside_vertex(vertex: Vertex) -> None:
    body = {"instances": [{"prompt": "x"}], "parameters": {"durationSeconds": 4}}
    response = vertex.client.post(
        "/v1beta/models/veo-3.1-fast-generate-preview:predictLongRunning",
        json=body,
        headers={"x-goog-api-key": "any"},
    )
    assert response.status_code == 200
    assert response.json()["name"].startswith("models/veo-3.1-fast-generate-preview/operations/")


def test_download_faults_reach_inline_and_gcs_results(vertex: Vertex) -> None:
    inline = wait_done(vertex, predict(vertex, "inline").json()["name"])
    full = base64.b64decode(inline["response"]["videos"][0]["bytesBase64Encoded"])
    name = predict(vertex, "inline").json()["name"]
    wait_done(vertex, name)
    vertex.simulator.faults.rates = {"truncate": 1.0}
    cut = vertex.client.post(
        f"{MODEL_PATH}:fetchPredictOperation",
        json={"operationName": name},
        headers=vertex.headers(),
    )
    data = base64.b64decode(cut.json()["response"]["videos"][0]["bytesBase64Encoded"])
    assert 0 < len(data) < len(full)
    assert full.startswith(data)

    vertex.simulator.faults.rates = {}
    gcs = predict(vertex, "inline", storageUri="gs://b/x").json()["name"]
    uri = wait_done(vertex, gcs)["response"]["videos"][0]["gcsUri"]
    url = "/storage/v1/b/b/o/" + quote(uri.removeprefix("gs://b/"), safe="") + "?alt=media"
    vertex.simulator.faults.rates = {"503": 1.0}
    assert vertex.client.get(url, headers=vertex.headers()).status_code == 503
    vertex.simulator.faults.rates = {"reset": 1.0}
    with pytest.raises(httpx.RemoteProtocolError):
        vertex.client.get(url, headers=vertex.headers())
    assert vertex.simulator.faults.counts == {"truncate": 1, "503": 1, "reset": 1}
