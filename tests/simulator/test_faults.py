"""Random faults per kind, as a client over loopback HTTP sees them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.simulator.serving import serve
from veorelay.simulator.app import Simulator, SimulatorConfig, create_simulator_app
from veorelay.simulator.faults import FaultInjector, parse_faults
from veorelay.simulator.owners import Limits

KEY = {"x-goog-api-key": "k1"}
MODEL = "veo-3.1-fast-generate-preview"


class Client(httpx.Client):
    simulator: Simulator  # the running simulator, for swapping its fault rates


@contextmanager
def simulator(tmp_path: Path, faults: str, **options: Any) -> Iterator[Client]:
    config = SimulatorConfig(
        data_dir=tmp_path / "sim",
        time_scale=options.pop("time_scale", 0.005),
        faults=parse_faults(faults),
        render_dir=tmp_path / "renders",
        **options,
    )
    app = create_simulator_app(config)
    with serve(app) as url, Client(base_url=url) as client:
        client.simulator = app.state.simulator
        yield client


def submit(client: httpx.Client, prompt: str = "a cat", seed: int | None = None) -> httpx.Response:
    params: dict[str, Any] = {"durationSeconds": 4}
    if seed is not None:
        params["seed"] = seed
    body = {"instances": [{"prompt": prompt}], "parameters": params}
    return client.post(f"/v1beta/models/{MODEL}:predictLongRunning", json=body, headers=KEY)


def poll_until_done(client: httpx.Client, name: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(f"/v1beta/{name}", headers=KEY).json()
        if body.get("done"):
            return body
        time.sleep(0.05)
    raise AssertionError("operation never finished")


def video_url(client: httpx.Client, done: dict[str, Any]) -> str:
    uri = done["response"]["generateVideoResponse"]["generatedSamples"][0]["video"]["uri"]
    redirect = client.get("/" + uri.split("://", 1)[1].split("/", 1)[1], headers=KEY)
    assert redirect.status_code == 302
    return str(redirect.headers["location"])


def finished_video_url(client: httpx.Client) -> str:
    return video_url(client, poll_until_done(client, submit(client).json()["name"]))


def set_faults(client: Client, rates: dict[str, float]) -> None:
    """Change the fault rates of the running simulator; its counts carry on."""
    client.simulator.faults.rates = rates


def stats(client: httpx.Client) -> dict[str, Any]:
    response = client.get("/_simulator/stats")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_fault_spec_is_parsed_strictly() -> None:
    assert parse_faults("429=0.1, reset=0.05,rai=0") == {"429": 0.1, "reset": 0.05, "rai": 0.0}
    assert parse_faults("") == {}
    for bad in ("418=0.1", "429", "429=x", "500=1.5", "429=0.6,503=0.6"):
        with pytest.raises(ValueError, match=r"."):
            parse_faults(bad)


def test_same_seed_draws_the_same_faults() -> None:
    rates = {"429": 0.3, "500": 0.2, "reset": 0.1}

    def draws(seed: int) -> list[str | None]:
        injector = FaultInjector(rates, seed=seed)
        return [injector.draw("submit") for _ in range(50)]

    assert draws(7) == draws(7)
    assert {"429", "500", "reset", None} == set(draws(7))
    assert draws(8) != draws(7)


def test_rates_are_roughly_honoured() -> None:
    injector = FaultInjector({"429": 0.2, "503": 0.1}, seed=1)
    kinds = [injector.draw("submit") for _ in range(5000)]
    assert 0.17 < kinds.count("429") / 5000 < 0.23
    assert 0.08 < kinds.count("503") / 5000 < 0.12
    assert injector.counts["429"] == kinds.count("429")


def test_429_fault_is_resource_exhausted_with_retry_info(tmp_path: Path) -> None:
    with simulator(tmp_path, "429=1", time_scale=0.5) as client:
        response = submit(client)
        assert response.status_code == 429
        error = response.json()["error"]
        assert error["status"] == "RESOURCE_EXHAUSTED"
        retry = [d for d in error["details"] if d["@type"].endswith("google.rpc.RetryInfo")]
        assert retry == [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "10s"}]
        counters = stats(client)
        assert counters["faults"]["429"] == 1
        assert counters["totals"]["faults"] == 1
        assert counters["totals"]["submits"] == 0  # a refused submit created nothing


@pytest.mark.parametrize(("kind", "status"), [("500", "INTERNAL"), ("503", "UNAVAILABLE")])
def test_server_error_faults(tmp_path: Path, kind: str, status: str) -> None:
    with simulator(tmp_path, f"{kind}=1") as client:
        response = submit(client)
        assert response.status_code == int(kind)
        assert response.json()["error"]["status"] == status


def test_reset_closes_the_connection_without_an_answer(tmp_path: Path) -> None:
    with simulator(tmp_path, "reset=1") as client:
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            submit(client)
        assert stats(client)["faults"]["reset"] == 1
        assert stats(client)["totals"]["submits"] == 0


def test_operation_faults_finish_the_operation_badly(tmp_path: Path) -> None:
    with simulator(tmp_path, "error=1") as client:
        done = poll_until_done(client, submit(client).json()["name"])
        assert done["error"]["code"] == 13
    with simulator(tmp_path, "rai=1") as client:
        done = poll_until_done(client, submit(client, "another").json()["name"])
        assert done["response"]["generateVideoResponse"]["raiMediaFilteredCount"] == 1


def test_truncated_download_is_a_complete_answer_with_part_of_the_file(tmp_path: Path) -> None:
    with simulator(tmp_path, "truncate=1") as client:
        url = finished_video_url(client)
        cut = client.get(url)
        assert cut.status_code == 200
        assert int(cut.headers["content-length"]) == len(cut.content)
        set_faults(client, {})
        full = client.get(url).content
        assert 0 < len(cut.content) < len(full)
        assert full.startswith(cut.content)
        assert stats(client)["faults"]["truncate"] == 1


def test_slow_download_stalls_then_completes(tmp_path: Path) -> None:
    # 100 s of stall at time scale 0.005: half a second
    with simulator(tmp_path, "slow=1", slow_seconds=100.0) as client:
        url = finished_video_url(client)
        started = time.monotonic()
        slow = client.get(url)
        elapsed = time.monotonic() - started
        set_faults(client, {})
        started = time.monotonic()
        assert slow.content == client.get(url).content
        assert elapsed >= 0.5 > time.monotonic() - started


def test_reset_download_breaks_off_mid_body(tmp_path: Path) -> None:
    with simulator(tmp_path, "") as client:
        url = finished_video_url(client)
        set_faults(client, {"reset": 1.0})
        with pytest.raises(httpx.RemoteProtocolError, match=r"incomplete|closed"):
            client.get(url)
        assert client.simulator.faults.counts["reset"] == 1


def test_polls_get_faults_too(tmp_path: Path) -> None:
    with simulator(tmp_path, "") as client:
        name = submit(client, "a [sim:fail]").json()["name"]
        set_faults(client, {"503": 1.0})
        assert client.get(f"/v1beta/{name}", headers=KEY).status_code == 503
        set_faults(client, {})
        assert client.get(f"/v1beta/{name}", headers=KEY).status_code == 200


def test_seeded_runs_fault_the_same_requests(tmp_path: Path) -> None:
    runs = []
    for run in range(2):
        with simulator(tmp_path / str(run), "429=0.3,500=0.2", fault_seed=42) as client:
            runs.append([submit(client, f"p{i} [sim:fail]").status_code for i in range(20)])
    assert runs[0] == runs[1]
    assert {200, 429, 500} == set(runs[0])


def test_a_faulted_submit_still_counts_against_the_rpm(tmp_path: Path) -> None:
    with simulator(tmp_path, "500=1", limits=Limits(rpm=2)) as client:
        assert [submit(client, f"p{i}").status_code for i in range(2)] == [500, 500]
        set_faults(client, {})
        refused = submit(client, "p2")
        assert refused.status_code == 429
        assert refused.json()["error"]["details"][1]["@type"].endswith("QuotaFailure")
