"""Vertex AI wire translation (pure): paths, the predict body, operations, probe answers."""

from __future__ import annotations

import base64

import pytest

from tests.helpers import png_bytes
from veorelay.core.models import AspectRatio, ImageInput, Resolution, SourceVideo, VideoSpec
from veorelay.upstream import vertex_wire, wire
from veorelay.upstream.errors import ModelUnavailable, OperationLost, TaskRejected

NAME = (
    "projects/proj-a/locations/us-central1/publishers/google/models/veo-3.1-generate-001"
    "/operations/9d2fc0b5-5bdf-4b5f-9a41-82970515e20b"
)


def full_spec() -> VideoSpec:
    return VideoSpec(
        "veo-3.1-generate-preview",
        "waves",
        8,
        Resolution.P1080,
        AspectRatio.PORTRAIT,
        negative_prompt="blurry",
        seed=7,
        image=ImageInput(png_bytes(), "image/png"),
    )


def test_the_body_is_the_gemini_body_plus_audio_and_the_bucket() -> None:
    body = vertex_wire.predict_body(full_spec(), "gs://bucket/veo/")
    assert body["instances"] == wire.predict_body(full_spec())["instances"]
    image = body["instances"][0]["image"]
    assert set(image) == {"bytesBase64Encoded", "mimeType"}
    assert base64.b64decode(image["bytesBase64Encoded"]) == png_bytes()
    assert body["parameters"] == {
        "sampleCount": 1,
        "durationSeconds": 8,
        "aspectRatio": "9:16",
        "resolution": "1080p",
        "negativePrompt": "blurry",
        "seed": 7,
        "generateAudio": True,
        "storageUri": "gs://bucket/veo/",
    }


def test_without_a_bucket_no_storage_uri_is_sent() -> None:
    spec = VideoSpec("m", "a cat", 4, Resolution.P720, AspectRatio.LANDSCAPE)
    parameters = vertex_wire.predict_body(spec)["parameters"]
    assert "storageUri" not in parameters
    assert "seed" not in parameters
    assert "negativePrompt" not in parameters


@pytest.mark.parametrize(
    ("location", "url"),
    [
        ("us-central1", "https://us-central1-aiplatform.googleapis.com"),
        ("europe-west4", "https://europe-west4-aiplatform.googleapis.com"),
        ("global", "https://aiplatform.googleapis.com"),
    ],
)
def test_default_hosts(location: str, url: str) -> None:
    assert vertex_wire.default_base_url(location) == url


def test_paths() -> None:
    assert vertex_wire.predict_path("proj-a", "us-central1", "veo-3.1-generate-001") == (
        "/v1/projects/proj-a/locations/us-central1/publishers/google/models/"
        "veo-3.1-generate-001:predictLongRunning"
    )
    assert vertex_wire.fetch_path(NAME) == (
        "/v1/projects/proj-a/locations/us-central1/publishers/google/models/"
        "veo-3.1-generate-001:fetchPredictOperation"
    )
    assert vertex_wire.publisher_model_path("veo-3.1-fast-generate-001") == (
        "/v1beta1/publishers/google/models/veo-3.1-fast-generate-001"
    )


def test_an_operation_named_with_the_project_number_is_polled_where_it_lives() -> None:
    name = NAME.replace("proj-a", "123456789012")
    assert vertex_wire.fetch_path(name).startswith("/v1/projects/123456789012/")


@pytest.mark.parametrize(
    "name",
    [
        "models/veo/operations/abc",
        NAME.replace("/operations/", "/../operations/"),
        NAME + "/../../x",
        NAME.replace("publishers/google", "publishers/other"),
    ],
)
def test_a_name_that_is_not_a_vertex_operation_is_never_put_in_a_url(name: str) -> None:
    with pytest.raises(OperationLost):
        vertex_wire.fetch_path(name)


@pytest.mark.parametrize("model", ["../x", "veo/3", "", "veo?alt=x"])
def test_a_model_id_that_is_not_one_is_refused(model: str) -> None:
    with pytest.raises(ModelUnavailable):
        vertex_wire.predict_path("p", "l", model)


def test_the_submit_answer_must_name_an_operation() -> None:
    assert vertex_wire.operation_name({"name": NAME}) == NAME
    for body in ({}, {"name": "x"}, [], None):
        with pytest.raises(TaskRejected):
            vertex_wire.operation_name(body)


def test_a_running_operation() -> None:
    assert not vertex_wire.parse_operation({"name": NAME}).done
    assert not vertex_wire.parse_operation({"name": NAME, "done": False}).done


def test_an_inline_video_read_without_its_bytes() -> None:
    body = {
        "name": NAME,
        "done": True,
        "response": {"videos": [{"bytesBase64Encoded": "", "mimeType": "video/mp4"}]},
    }
    state = vertex_wire.parse_operation(body)
    assert state.succeeded
    assert state.video_uri == "inline:0"
    assert vertex_wire.inline_index("inline:0") == 0


def test_a_cloud_storage_video() -> None:
    uri = "gs://bucket/veo/123/sample_0.mp4"
    body = {"done": True, "response": {"videos": [{"gcsUri": uri, "mimeType": "video/mp4"}]}}
    state = vertex_wire.parse_operation(body)
    assert state.video_uri == uri
    assert vertex_wire.inline_index(uri) is None
    assert vertex_wire.storage_path(uri) == "/storage/v1/b/bucket/o/veo%2F123%2Fsample_0.mp4"


@pytest.mark.parametrize("uri", ["https://x/y.mp4", "gs://bucket", "gs:///obj", "gs://B_x/o"])
def test_a_storage_uri_that_is_not_one_is_refused(uri: str) -> None:
    with pytest.raises(TaskRejected):
        vertex_wire.storage_path(uri)


def test_a_filtered_result() -> None:
    body = {
        "done": True,
        "response": {"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": ["Support codes: 1"]},
    }
    state = vertex_wire.parse_operation(body)
    assert (state.done, state.succeeded) == (True, False)
    assert state.filtered_reasons == ["Support codes: 1"]


def test_a_filtered_count_without_reasons_is_still_filtered() -> None:
    state = vertex_wire.parse_operation({"done": True, "response": {"raiMediaFilteredCount": 1}})
    assert state.filtered_reasons == ["filtered by safety rules"]


def test_an_operation_error() -> None:
    state = vertex_wire.parse_operation({"done": True, "error": {"code": 3, "message": "bad"}})
    assert (state.error_code, state.error_message) == ("INVALID_ARGUMENT", "bad")


def test_done_without_a_video_or_a_reason_is_a_failure() -> None:
    state = vertex_wire.parse_operation({"done": True, "response": {"videos": []}})
    assert state.error_code == "NO_VIDEO"


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"launchStage": "GA", "versionId": "001"}, "model m available (GA)"),
        ({"launchStage": "PUBLIC_PREVIEW"}, "model m available (public preview)"),
        ({"name": "publishers/google/models/m"}, "model m available"),
    ],
)
def test_probe_descriptions(body: dict[str, str], text: str) -> None:
    assert vertex_wire.describe_publisher_model("m", body) == text


def test_a_gemini_model_that_cannot_make_videos_is_unavailable() -> None:
    body = {"name": "models/m", "displayName": "M", "supportedGenerationMethods": ["predict"]}
    with pytest.raises(ModelUnavailable):
        wire.describe_model("m", body)
    body["supportedGenerationMethods"] = ["predictLongRunning"]
    assert wire.describe_model("m", body) == "model m available (M)"


def test_extension_sends_the_mp4_bytes() -> None:
    source = SourceVideo("video_a", 8, uri="inline:0", data=b"\x00\x00\x00\x18ftypmp42")
    spec = VideoSpec("m", "p", 8, Resolution.P720, AspectRatio.LANDSCAPE, video=source)
    video = vertex_wire.predict_body(spec)["instances"][0]["video"]
    assert video == {
        "bytesBase64Encoded": base64.b64encode(source.data or b"").decode(),
        "mimeType": "video/mp4",
    }
