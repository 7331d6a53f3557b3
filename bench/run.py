"""`make bench`: veorelay side by side with a bare ASGI app, nginx and LiteLLM's proxy 1.106.2,
every server one process on this machine's loopback, loaded by wrk (or a lean asyncio client
where a fixed count is needed). Prints the table and writes bench/results.md.
See bench/README.md for what each row measures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import gateways
import loadgen
import nginx
import report
import spy
import tools
from gateways import CREATE_BODY, LITELLM_KEY, Gateway
from procs import Server, cpu_seconds, rss_mib
from report import Row
from wrk import WrkResult, run_wrk

BENCH = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Options:
    seconds: float
    connections: int
    threads: int
    time_scale: float
    cpu_batch: int
    burst: int
    burst_seconds: float
    in_flight: int
    profile: bool
    litellm: bool
    work: Path
    keep: bool
    output: Path


@dataclass
class Rows:
    create: Row
    cpu: Row
    poll: Row
    content: Row
    burst: Row
    idle: Row
    loaded: Row

    def all(self) -> list[Row]:
        return [self.create, self.cpu, self.poll, self.content, self.burst, self.idle, self.loaded]


def new_rows() -> Rows:
    return Rows(
        create=Row("create `POST /v1/videos`", ">= 3x LiteLLM", unit="req/s", ratio="litellm"),
        cpu=Row("CPU per video (request + engine)", "<= 5 ms", unit="ms"),
        poll=Row(
            "status poll `GET /v1/videos/{id}`",
            ">= 40% of bare ASGI",
            unit="req/s",
            ratio="reference",
        ),
        content=Row(
            "content download (one ~MB file)", ">= 70% of nginx", unit="MB/s", ratio="reference"
        ),
        burst=Row("status-poll p99 while a 2,000-create burst drains", "<= 100 ms", unit="ms"),
        idle=Row("idle RSS", "<= 120 MiB", unit="MiB"),
        loaded=Row("RSS with 10,000 tasks in flight", "<= 250 MiB", unit="MiB"),
    )


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


@contextlib.contextmanager
def running(*servers: Server) -> Iterator[None]:
    try:
        yield
    finally:
        for server in reversed(servers):
            server.stop()


@contextlib.contextmanager
def profiled(
    opts: Options, py_spy: str | None, pid: int, name: str, title: str, seconds: float = 0.0
) -> Iterator[None]:
    """py-spy records `pid` for the run's seconds; the summary goes to bench/profiles/."""
    if not (opts.profile and py_spy):
        yield
        return
    out_dir = BENCH / "profiles"
    out_dir.mkdir(exist_ok=True)
    raw = out_dir / f"{name}.raw"
    seconds = seconds or opts.seconds
    recorder = spy.start_recording(py_spy, pid, seconds, raw)
    try:
        yield
    finally:
        recorder.wait(timeout=seconds + 60)
        if raw.exists():
            (out_dir / f"{name}.txt").write_text(spy.summarise(raw, title))
            say(f"profile written to bench/profiles/{name}.txt")


def wrk_for(opts: Options, wrk: str) -> Callable[..., WrkResult]:
    def load(url: str, **kwargs: str) -> WrkResult:
        result = run_wrk(
            wrk,
            url,
            seconds=opts.seconds,
            connections=opts.connections,
            threads=opts.threads,
            **kwargs,
        )
        if result.errors:
            say(f"  {result.errors} of {result.requests} requests failed ({url})")
        say(
            f"  {url}: {result.rps:,.0f} req/s, {result.mb_per_s:,.1f} MB/s, "
            f"p99 {result.p99_ms:.1f} ms"
        )
        return result

    return load


def veorelay_main(
    opts: Options, rows: Rows, wrk: str, upstream: str, content_dir: Path, py_spy: str | None
) -> None:
    """Polls, content, CPU per video and creates on one gateway (in that order: the create
    run leaves a backlog that would disturb anything after it)."""
    load = wrk_for(opts, wrk)
    gw = gateways.start_gateway(opts.work / "veorelay", upstream, opts.time_scale)
    with running(gw.server):
        rows.idle.veorelay = rss_mib(gw.server.pid)  # started, nothing done yet
        video = gw.make_video()
        (content_dir / "video.mp4").symlink_to(gw.stored_file(video))
        warm = rss_mib(gw.server.pid)
        rows.idle.notes.append(
            f"veorelay measured after start; {warm:.0f} MiB once it has made one video "
            "(PyAV is loaded to verify it)"
        )
        say(f"veorelay up, idle RSS {rows.idle.veorelay:.0f} MiB ({warm:.0f} warm); status polls")
        with profiled(opts, py_spy, gw.server.pid, "poll", "Status polls (wrk, c=32)"):
            rows.poll.veorelay = load(f"{gw.base}/v1/videos/{video}", token=gw.token).rps
        say("content downloads")
        rows.content.veorelay = load(
            f"{gw.base}/v1/videos/{video}/content", token=gw.token
        ).mb_per_s
        title = f"{opts.cpu_batch} creates and the engine's drain (first 30 s)"
        with profiled(opts, py_spy, gw.server.pid, "drain", title, seconds=30):
            rows.cpu.veorelay = cpu_per_video(opts, gw, rows.cpu)
        say("creates")
        with profiled(opts, py_spy, gw.server.pid, "create", "Creates (wrk, c=32, engine on)"):
            before = cpu_seconds(gw.server.pid)
            result = load(f"{gw.base}/v1/videos", method="POST", body=CREATE_BODY, token=gw.token)
            used = cpu_seconds(gw.server.pid) - before
        rows.create.veorelay = result.ok / result.seconds
        rows.cpu.notes.append(
            f"during the create run alone the gateway used {used / max(result.ok, 1) * 1000:.1f}"
            f" ms CPU per create (its engine working meanwhile)"
        )


def cpu_per_video(opts: Options, gw: Gateway, row: Row) -> float | None:
    """Gateway CPU from the first of `cpu_batch` creates until the engine has them all
    completed, per video."""
    say(f"CPU per video: {opts.cpu_batch} creates, then the engine drains them")
    before = cpu_seconds(gw.server.pid)
    made = asyncio.run(loadgen.create_many(gw.port, gw.token, CREATE_BODY, opts.cpu_batch))
    requests_cpu = cpu_seconds(gw.server.pid) - before
    began = time.monotonic()
    drained = gw.wait_drained(timeout=900)
    used = cpu_seconds(gw.server.pid) - before
    states = gw.task_states()
    say(f"  drained={drained} in {time.monotonic() - began:.0f} s, {used:.1f} s CPU, {states}")
    if not made.ids:
        return None
    took = max(time.monotonic() - began, 0.001)
    row.notes.append(
        f"{len(made.ids)} creates used {requests_cpu / len(made.ids) * 1000:.1f} ms CPU each "
        f"while being answered; the engine then needed {took:.0f} s to complete them "
        f"({len(made.ids) / took:.1f} videos/s)"
        + ("" if drained else " and had **not finished** when measuring stopped")
    )
    return used / len(made.ids) * 1000


def reference_poll(opts: Options, rows: Rows, wrk: str) -> None:
    server, port = gateways.start_bare_app(opts.work)
    with running(server):
        say("bare ASGI app")
        rows.poll.reference = wrk_for(opts, wrk)(f"http://127.0.0.1:{port}/v1/videos/x").rps


def reference_content(opts: Options, rows: Rows, wrk: str, port: int) -> None:
    say("nginx content")
    rows.content.reference = wrk_for(opts, wrk)(f"http://127.0.0.1:{port}/video.mp4").mb_per_s


def litellm_rows(opts: Options, rows: Rows, wrk: str, litellm: str, upstream_tls: str) -> None:
    load = wrk_for(opts, wrk)
    server, port = gateways.start_litellm(litellm, opts.work / "litellm", upstream_tls)
    base = f"http://127.0.0.1:{port}"
    with running(server):
        video = gateways.litellm_video(port)
        rows.idle.litellm = rss_mib(server.pid)
        say(f"LiteLLM up, idle RSS {rows.idle.litellm:.0f} MiB; creates")
        created = load(f"{base}/v1/videos", method="POST", body=CREATE_BODY, token=LITELLM_KEY)
        rows.create.litellm = created.ok / created.seconds
        say("LiteLLM status polls")
        rows.poll.litellm = load(f"{base}/v1/videos/{video}", token=LITELLM_KEY).rps
        say("LiteLLM content")
        rows.content.litellm = load(f"{base}/v1/videos/{video}/content", token=LITELLM_KEY).mb_per_s


async def _burst_and_poll(opts: Options, gw: Gateway, video: str) -> tuple[list[float], int]:
    """Fire the burst while 8 clients poll one video every 50 ms, until the engine has
    drained the burst or `burst_seconds` have passed."""
    deadline = time.monotonic() + opts.burst_seconds
    state = {"created": False, "left": opts.burst}

    async def watch() -> None:
        while time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            if state["created"]:
                state["left"] = await asyncio.to_thread(gw.unfinished)
                if not state["left"]:
                    return
        state["left"] = await asyncio.to_thread(gw.unfinished)

    watcher = asyncio.create_task(watch())
    polls = asyncio.create_task(
        loadgen.poll_latencies(
            gw.port, f"/v1/videos/{video}", gw.token, watcher.done, clients=8, pause=0.05
        )
    )
    made = await loadgen.create_many(gw.port, gw.token, CREATE_BODY, opts.burst)
    state["created"] = True
    say(f"  burst of {len(made.ids)} created in {made.seconds:.1f} s ({made.failed} refused)")
    latencies = await polls
    await watcher
    return latencies, int(state["left"])


def burst_row(opts: Options, rows: Rows, upstream: str) -> None:
    gw = gateways.start_gateway(opts.work / "veorelay-burst", upstream, opts.time_scale)
    with running(gw.server):
        video = gw.make_video()
        say(
            f"burst of {opts.burst} creates; polls until drained "
            f"(at most {opts.burst_seconds:.0f} s)"
        )
        began = time.monotonic()
        latencies, left = asyncio.run(_burst_and_poll(opts, gw, video))
        took = time.monotonic() - began
    rows.burst.veorelay = loadgen.percentile(latencies, 0.99) * 1000
    rows.burst.notes.append(
        f"{len(latencies):,} polls over {took:.0f} s, p50 "
        f"{loadgen.percentile(latencies, 0.5) * 1000:.1f} ms; "
        + (
            "the burst was fully drained"
            if not left
            else f"**{left} of {opts.burst} tasks were still unfinished when polling stopped**"
        )
    )


def memory_row(opts: Options, rows: Rows, simulator_dir: Path) -> None:
    """10,000 creates against a simulator with realistic render times (time scale 1, engine
    scale 1): the tasks stay in flight; RSS sampled for a while after the last create."""
    sim, sim_port = gateways.start_simulator(simulator_dir, time_scale=1.0)
    with running(sim):
        gw = gateways.start_gateway(
            opts.work / "veorelay-memory", f"http://127.0.0.1:{sim_port}", 1.0
        )
        with running(gw.server):
            say(f"memory: {opts.in_flight} creates with 100 s renders")
            made = asyncio.run(loadgen.create_many(gw.port, gw.token, CREATE_BODY, opts.in_flight))
            peak = rss_mib(gw.server.pid)
            for _ in range(30):
                time.sleep(1.0)
                peak = max(peak, rss_mib(gw.server.pid))
            states = gw.task_states()
    rows.loaded.veorelay = peak
    rows.loaded.notes.append(
        f"{len(made.ids)} created in {made.seconds:.0f} s; peak RSS over the next 30 s; "
        f"tasks then: {states}"
    )


def judge(rows: Rows) -> None:
    def at_least(value: float | None, base: float | None, factor: float) -> bool | None:
        return None if value is None or base is None else value >= base * factor

    def at_most(value: float | None, limit: float) -> bool | None:
        return None if value is None else value <= limit

    rows.create.met = at_least(rows.create.veorelay, rows.create.litellm, 3.0)
    rows.cpu.met = at_most(rows.cpu.veorelay, 5.0)
    rows.poll.met = at_least(rows.poll.veorelay, rows.poll.reference, 0.4)
    rows.content.met = at_least(rows.content.veorelay, rows.content.reference, 0.7)
    rows.burst.met = at_most(rows.burst.veorelay, 100.0)
    rows.idle.met = at_most(rows.idle.veorelay, 120.0)
    rows.loaded.met = at_most(rows.loaded.veorelay, 250.0)


def attempt(rows: list[Row], column: str, step: Callable[[], None]) -> None:
    """Run one step; if it fails, its rows say n/a and why, and the run goes on."""
    try:
        step()
    except Exception as exc:  # a missing or broken piece must not stop the other rows
        say(f"{column} step failed: {exc!r}")
        for row in rows:
            row.na(column, f"{type(exc).__name__}: {str(exc)[:200]}")


def run(opts: Options) -> str:
    rows = new_rows()
    wrk = tools.debian_tool("wrk", "wrk")
    nginx_bin = tools.debian_tool("nginx", "nginx")
    openssl = tools.openssl()
    litellm = tools.litellm_proxy() if opts.litellm else tools.Tool(None, "--no-litellm")
    py_spy = tools.py_spy().path if opts.profile else None
    if wrk.path is None:
        raise SystemExit(f"wrk is needed: {wrk.reason}")
    if nginx_bin.path is None or openssl.path is None:
        raise SystemExit(f"nginx and openssl are needed: {nginx_bin.reason} {openssl.reason}")
    content_dir = opts.work / "content"
    content_dir.mkdir(parents=True)
    sim, sim_port = gateways.start_simulator(opts.work / "simulator", opts.time_scale)
    front, ports = nginx.start_nginx(
        nginx_bin.path, openssl.path, opts.work / "nginx", content_dir, sim_port
    )
    upstream = f"http://127.0.0.1:{ports.upstream}"
    with running(sim, front):
        attempt(
            [rows.create, rows.cpu, rows.poll, rows.content, rows.idle],
            "veorelay",
            lambda: veorelay_main(opts, rows, wrk.path or "", upstream, content_dir, py_spy),
        )
        attempt([rows.poll], "reference", lambda: reference_poll(opts, rows, wrk.path or ""))
        if (content_dir / "video.mp4").exists():
            size = (content_dir / "video.mp4").stat().st_size
            rows.content.notes.append(f"the file is {size / 1e6:.2f} MB (an 8 s 1080p render)")
            attempt(
                [rows.content],
                "reference",
                lambda: reference_content(opts, rows, wrk.path or "", ports.content),
            )
        if litellm.path is None:
            for row in (rows.create, rows.poll, rows.content, rows.idle):
                row.na("LiteLLM", litellm.reason)
        else:
            path = litellm.path
            attempt(
                [rows.create, rows.poll, rows.content, rows.idle],
                "LiteLLM",
                lambda: litellm_rows(
                    opts, rows, wrk.path or "", path, f"https://127.0.0.1:{ports.upstream_tls}"
                ),
            )
        attempt([rows.burst], "veorelay", lambda: burst_row(opts, rows, upstream))
    attempt([rows.loaded], "veorelay", lambda: memory_row(opts, rows, opts.work / "sim-slow"))
    judge(rows)
    header = [
        f"wrk: {opts.connections} connections, {opts.threads} threads, {opts.seconds:g} s per "
        f"run; every server one process; the simulator at time scale {opts.time_scale:g} "
        "behind nginx is the upstream of both gateways.",
    ]
    return report.table(rows.all(), header)


def parse() -> Options:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="each wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--time-scale", type=float, default=0.01, help="simulator renders")
    parser.add_argument("--cpu-batch", type=int, default=100, help="creates drained for CPU/video")
    parser.add_argument("--burst", type=int, default=2000)
    parser.add_argument("--burst-seconds", type=float, default=120.0, help="polls during drain")
    parser.add_argument("--in-flight", type=int, default=10_000)
    parser.add_argument("--profile", action="store_true", help="py-spy the polls and creates")
    parser.add_argument("--no-litellm", dest="litellm", action="store_false")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--output", type=Path, default=BENCH / "results.md")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="veorelay-bench-"))
    opts = Options(
        seconds=args.seconds,
        connections=args.connections,
        threads=args.threads,
        time_scale=args.time_scale,
        cpu_batch=args.cpu_batch,
        burst=args.burst,
        burst_seconds=args.burst_seconds,
        in_flight=args.in_flight,
        profile=args.profile,
        litellm=args.litellm,
        work=work,
        keep=args.keep,
        output=args.output,
    )
    return opts


def main() -> None:
    opts = parse()
    try:
        text = run(opts)
    finally:
        if not opts.keep:
            shutil.rmtree(opts.work, ignore_errors=True)
    print()
    print(text)
    opts.output.write_text("# Benchmark results\n\n" + text)


if __name__ == "__main__":
    main()
