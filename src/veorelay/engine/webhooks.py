"""The webhook sender: lease due deliveries from the outbox, POST each, record the outcome.

It runs beside the task engine (in `serve` and `veorelay worker`). An attempt resolves the
endpoint's host first and, unless private targets are allowed, refuses any address that is not
public; it then connects to exactly the address it checked (the Host header and TLS name stay
the URL's), so a DNS answer that changes between the check and the connection cannot point a
delivery inward. A process killed mid-attempt leaves the delivery leased; when the lease ends
another attempt sends it again with the same `webhook-id` (at least once).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import time
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

import httpx

from veorelay.core import webhooks as rules
from veorelay.db import webhook_endpoints as endpoint_db
from veorelay.db import webhooks as webhook_db
from veorelay.db.database import Database
from veorelay.db.webhooks import Delivery, Outcome
from veorelay.engine.events import wait_for_event
from veorelay.secretbox import SecretBox

log = logging.getLogger("veorelay.webhooks")


class RefusedTarget(Exception):
    """The endpoint's host resolves to no address a delivery may go to."""


async def resolve(host: str, port: int, allow_private: bool) -> str:
    """The address to connect to for `host`: its first, if every address it has is allowed."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise RefusedTarget(f"cannot resolve {host}: {exc.strerror}") from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise RefusedTarget(f"{host} has no address")
    if not allow_private:
        inward = [a for a in addresses if not rules.is_public_address(a)]
        if inward:
            raise RefusedTarget(
                f"{host} resolves to a private or loopback address ({inward[0]}); "
                "VEORELAY_WEBHOOK_ALLOW_PRIVATE allows such targets"
            )
    return addresses[0]


def pinned_url(url: str, address: str) -> tuple[str, str]:
    """`url` with its host replaced by `address`, and the Host header it must carry."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    is_v6 = ipaddress.ip_address(address.split("%")[0]).version == 6
    literal = f"[{address}]" if is_v6 else address
    netloc = f"{literal}:{port}"
    host_header = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=netloc)), host_header


class WebhookSender:
    def __init__(
        self,
        db: Database,
        box: SecretBox,
        http: httpx.AsyncClient,
        *,
        time_scale: float = 1.0,
        allow_private: bool = False,
        timeout_seconds: float = 10.0,
        disable_after_seconds: float = 5 * 24 * 3600.0,
        tick_seconds: float = 1.0,
        concurrency: int = 8,
        clock: Callable[[], float] = time.time,
    ):
        self.db, self.box, self.http = db, box, http
        self.time_scale = time_scale
        self.allow_private = allow_private
        self.timeout_seconds = timeout_seconds
        self.disable_after = disable_after_seconds * time_scale
        self.tick_seconds = tick_seconds
        self.concurrency = concurrency
        self.clock = clock
        # Long enough for resolving, connecting and the answer; then another worker may send.
        self.lease_seconds = 2 * timeout_seconds + 1.0
        self._running: set[asyncio.Task[None]] = set()
        self._slot_freed = asyncio.Event()
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Make `run_forever` return: no new leases; attempts in flight may finish first (each
        is bounded by the timeout), so none is cut off inside its database write."""
        self._stopping.set()
        self._slot_freed.set()

    async def run_forever(self) -> None:
        try:
            while not self._stopping.is_set():
                try:
                    await self._lease_and_start()
                    await self._sleep()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("webhook sender error; retrying")
                    await asyncio.sleep(self.tick_seconds)
        finally:
            if self._running:
                await asyncio.wait(self._running, timeout=self.timeout_seconds + 1.0)
            for send in list(self._running):
                send.cancel()
            await asyncio.gather(*self._running, return_exceptions=True)

    async def _lease_and_start(self) -> None:
        """Lease what is due into the free slots; a read first, so an idle sender writes
        nothing (on SQLite every write transaction takes the database's one write lock)."""
        free = self.concurrency - len(self._running)
        if free <= 0:
            return
        async with self.db.read() as conn:
            due = await webhook_db.next_due_at(conn)
        if due is None or due > self.clock():
            return
        async with self.db.write() as conn:
            leased = await webhook_db.lease_due(conn, self.clock(), self.lease_seconds, free)
        for delivery in leased:
            send = asyncio.create_task(self._deliver(delivery))
            self._running.add(send)
            send.add_done_callback(self._send_done)

    def _send_done(self, send: asyncio.Task[None]) -> None:
        self._running.discard(send)
        self._slot_freed.set()

    async def _sleep(self) -> None:
        """Until a send finishes (when every slot is busy) or the next delivery falls due;
        at most one tick."""
        self._slot_freed.clear()
        if self._stopping.is_set():
            return
        if len(self._running) >= self.concurrency:
            wait = self.tick_seconds
        else:
            async with self.db.read() as conn:
                due = await webhook_db.next_due_at(conn)
            wait = self.tick_seconds if due is None else due - self.clock()
        await wait_for_event(self._slot_freed, min(max(wait, 0.01), self.tick_seconds))

    async def _deliver(self, delivery: Delivery) -> None:
        try:
            async with self.db.read() as conn:
                target = await endpoint_db.target(
                    conn, self.box, delivery.endpoint_id, self.clock()
                )
            if not target.live:
                async with self.db.write() as conn:
                    await webhook_db.give_up(conn, delivery, "The endpoint is disabled or deleted.")
                return
            outcome = await self.attempt(target.url, target.secrets, delivery)
            async with self.db.write() as conn:
                state = await webhook_db.record_attempt(
                    conn,
                    delivery,
                    outcome,
                    self.clock(),
                    time_scale=self.time_scale,
                    disable_after=self.disable_after,
                )
            if state is None:
                log.info("webhook %s: another worker took it over; outcome dropped", delivery.id)
                return
            log.info(
                "webhook %s (%s, %s) to endpoint %s: %s -> %s",
                delivery.id,
                delivery.event_type,
                delivery.task_id,
                delivery.endpoint_id,
                outcome.status if outcome.status is not None else outcome.error,
                state.value,
            )
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("webhook %s: delivery crashed; retried when its lease ends", delivery.id)

    async def attempt(self, url: str, secrets: list[str], delivery: Delivery) -> Outcome:
        """One POST of `delivery` to `url`, signed with `secrets` at this moment."""
        started = time.monotonic()

        def elapsed() -> int:
            return int((time.monotonic() - started) * 1000)

        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            async with asyncio.timeout(self.timeout_seconds):
                address = await resolve(parts.hostname or "", port, self.allow_private)
                pinned, host = pinned_url(url, address)
                headers = rules.headers(secrets, delivery.id, int(self.clock()), delivery.body)
                headers["host"] = host
                headers["user-agent"] = "veorelay-webhooks"
                request = self.http.build_request(
                    "POST",
                    pinned,
                    content=delivery.body.encode(),
                    headers=headers,
                    extensions={"sni_hostname": parts.hostname or ""},
                )
                response = await self.http.send(request, stream=True)
                with contextlib.suppress(httpx.HTTPError):
                    await response.aclose()  # the answer's body is not read
        except RefusedTarget as exc:
            return Outcome(status=None, error=f"refused: {exc}", duration_ms=elapsed())
        except TimeoutError:
            error = f"no answer within {self.timeout_seconds:g} s"
            return Outcome(status=None, error=error, duration_ms=elapsed())
        except (httpx.HTTPError, OSError, ValueError) as exc:  # e.g. a URL httpx refuses
            error = f"{type(exc).__name__}: {exc}"[:500]
            return Outcome(status=None, error=error, duration_ms=elapsed())
        return Outcome(status=response.status_code, error=None, duration_ms=elapsed())
