"""common/wsgi_threads.py: Django's WSGI handler on a fixed pool of long-lived threads."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time

import pytest
import uvicorn

from common import wsgi_threads
from common.wsgi_threads import ThreadPoolWsgi


def echo_thread(environ, start_response):
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"{threading.get_ident()}:{len(body)}".encode()]


def streamed(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])

    class Chunks:
        streaming = True
        closed = False

        def __iter__(self):
            yield b"a"
            yield b"b"

        def close(self):
            Chunks.closed = True
    streamed.result = Chunks()
    return streamed.result


async def call(app, *, body=b"", headers=(), method="POST", path="/", client_leaves=None):
    """Send one request; after its body the client stays until the response, or, if
    `client_leaves` (an asyncio.Event) is given, closes the connection once it is set."""
    sent, chunks = [], [{"type": "http.request", "body": body[:3], "more_body": True},
                        {"type": "http.request", "body": body[3:]}]

    async def receive():
        if chunks:
            return chunks.pop(0)
        await (client_leaves or asyncio.Event()).wait()  # as a server's receive() does
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)
    scope = {"type": "http", "method": method, "path": path, "query_string": b"",
             "http_version": "1.1", "headers": list(headers), "server": ("127.0.0.1", 80)}
    await app(scope, receive, send)
    return sent


def test_requests_share_a_bounded_set_of_threads():
    """Sixty concurrent requests run on at most four threads, each reused (caches survive)."""
    app = ThreadPoolWsgi(echo_thread, threads=4, read_threads=1, max_body_bytes=100)

    async def many():
        return await asyncio.gather(*(call(app, body=b"hello") for _ in range(60)))
    replies = asyncio.run(many())
    threads = {sent[1]["body"].split(b":")[0] for sent in replies}
    assert 1 <= len(threads) <= 4
    assert all(sent[0]["status"] == 200 and sent[1]["body"].endswith(b":5") for sent in replies)


def test_a_body_over_the_limit_is_refused_with_the_api_error_shape():
    app = ThreadPoolWsgi(echo_thread, threads=1, read_threads=1, max_body_bytes=4)
    declared = asyncio.run(call(app, body=b"x", headers=[(b"content-length", b"99")]))
    assert declared[0]["status"] == 413
    undeclared = asyncio.run(call(app, body=b"123456"))
    assert undeclared[0]["status"] == 413 and b'"message"' in undeclared[1]["body"]


def test_a_streamed_response_is_sent_in_chunks_and_closed():
    app = ThreadPoolWsgi(streamed, threads=1, read_threads=1, max_body_bytes=100)
    sent = asyncio.run(call(app))
    assert [message.get("body") for message in sent[1:]] == [b"a", b"b", None]
    assert streamed.result.closed


def answered_while_the_write_thread_is_busy(route, other: dict):
    """Send a POST to / that holds the pool's one write thread, then the request `other`
    (call()'s arguments); returns what each sent back, `other` answered first or within 5 s."""
    entered, release = threading.Event(), threading.Event()

    def app(environ, start_response):
        if environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"] == "/":
            entered.set()
            release.wait(10)
        start_response("200 OK", [])
        return [f"{environ['REQUEST_METHOD']} {threading.current_thread().name}".encode()]
    pool = route(app)

    async def scenario():
        write = asyncio.ensure_future(call(pool))
        assert await asyncio.to_thread(entered.wait, 5)
        answer = await asyncio.wait_for(call(pool, **other), timeout=5)
        assert not write.done()
        release.set()
        return answer, await write
    return asyncio.run(scenario())


def test_reads_do_not_wait_behind_writes():
    """A GET is answered while every write thread is busy."""
    read, write = answered_while_the_write_thread_is_busy(
        lambda app: ThreadPoolWsgi(app, threads=1, read_threads=1, max_body_bytes=100),
        {"method": "GET"})
    assert read[1]["body"] == b"GET http-read-0" and write[1]["body"] == b"POST http-0"


def test_a_lane_does_not_wait_behind_writes():
    """A POST to a path with threads of its own (the providers' webhooks) is answered while
    every write thread is busy; other POSTs still go to the write threads."""
    webhook, write = answered_while_the_write_thread_is_busy(
        lambda app: ThreadPoolWsgi(app, threads=1, read_threads=1, max_body_bytes=100,
                                   lanes={"/webhooks/": 1}),
        {"path": "/webhooks/local/"})
    assert webhook[1]["body"] == b"POST http-webhooks-0" and write[1]["body"] == b"POST http-0"


def answered_behind_a_busy_thread(other: dict, *, while_waiting=None, **pool):
    """The pool's one write thread busy with a first POST while a second (call()'s `other`)
    waits; `while_waiting` (async) runs before the first is let go. Returns the second's
    messages and how many requests the app ran."""
    entered, release, ran = threading.Event(), threading.Event(), []

    def app(environ, start_response):
        ran.append(environ["PATH_INFO"])
        if len(ran) == 1:
            entered.set()
            release.wait(10)
        start_response("200 OK", [])
        return [b"ran"]
    wsgi = ThreadPoolWsgi(app, threads=1, read_threads=1, max_body_bytes=100, **pool)

    async def scenario():
        first = asyncio.ensure_future(call(wsgi))
        assert await asyncio.to_thread(entered.wait, 5)
        second = asyncio.ensure_future(call(wsgi, **other))
        for _ in range(10):  # let the second request reach the queue
            await asyncio.sleep(0)
        if while_waiting is not None:
            await while_waiting()
        release.set()
        await asyncio.wait_for(first, timeout=5)
        return await asyncio.wait_for(second, timeout=5)
    return asyncio.run(scenario()), len(ran)


def test_a_request_that_waited_past_the_queue_timeout_is_answered_503_and_not_run():
    """Beyond what the threads can serve, a request is turned away with Retry-After once it
    has waited queue_timeout, rather than run for a client that has likely given up."""
    now = [100.0]

    async def ten_seconds_pass():
        now[0] += 10.5
    shed = []
    sent, ran = answered_behind_a_busy_thread(
        {"path": "/api/v1/jobs/"}, while_waiting=ten_seconds_pass, queue_timeout=10.0,
        clock=lambda: now[0], on_shed=shed.append)
    assert ran == 1, "the late request must not reach the app"
    headers = dict(sent[0]["headers"])
    assert sent[0]["status"] == 503 and headers[b"retry-after"] == b"10"
    assert headers[b"content-type"] == b"application/json"
    assert json.loads(sent[1]["body"])["message"].startswith("Surge is very busy")
    assert shed == ["waited"]


def test_a_request_within_the_queue_timeout_is_run():
    now = [100.0]

    async def nine_seconds_pass():
        now[0] += 9.5
    shed = []
    sent, ran = answered_behind_a_busy_thread(
        {}, while_waiting=nine_seconds_pass, queue_timeout=10.0, clock=lambda: now[0],
        on_shed=shed.append)
    assert ran == 2 and sent[0]["status"] == 200 and sent[1]["body"] == b"ran"
    assert shed == []


def test_without_a_queue_timeout_a_request_is_run_however_long_it_waited():
    now = [100.0]

    async def an_hour_passes():
        now[0] += 3600
    sent, ran = answered_behind_a_busy_thread({}, while_waiting=an_hour_passes,
                                              clock=lambda: now[0])
    assert ran == 2 and sent[0]["status"] == 200


def test_a_request_whose_client_left_while_it_waited_is_never_run():
    """E.g. a phone that timed out during a spike: no job is made for it (its retry would
    make a second one), and no thread is spent on it."""
    leaves = asyncio.Event()
    shed = []

    async def client_leaves():
        leaves.set()
        for _ in range(10):  # the disconnect reaches the server
            await asyncio.sleep(0)
    sent, ran = answered_behind_a_busy_thread({"client_leaves": leaves},
                                              while_waiting=client_leaves, queue_timeout=10.0,
                                              on_shed=shed.append)
    assert ran == 1 and sent == []
    assert shed == ["client_left"]


def test_a_request_is_still_turned_away_when_it_cannot_be_counted(caplog):
    """The count goes to Redis (project/asgi.py); Redis being down must not turn the 503 into
    a 500."""
    now = [100.0]

    async def ten_seconds_pass():
        now[0] += 10.5

    def redis_is_down(reason):
        raise ConnectionError("Redis is down")
    sent, ran = answered_behind_a_busy_thread(
        {}, while_waiting=ten_seconds_pass, queue_timeout=10.0, clock=lambda: now[0],
        on_shed=redis_is_down)
    assert ran == 1 and sent[0]["status"] == 503
    assert "could not count a request not run (waited)" in caplog.text


def test_a_client_that_leaves_after_its_request_started_does_not_stop_it():
    """Only a waiting request is dropped: one already running completes (its transaction is
    whole either way)."""
    entered, release, ran = threading.Event(), threading.Event(), []

    def app(environ, start_response):
        ran.append(1)
        entered.set()
        release.wait(10)
        start_response("200 OK", [])
        return [b"ran"]
    wsgi = ThreadPoolWsgi(app, threads=1, read_threads=1, max_body_bytes=100, queue_timeout=10)

    async def scenario():
        leaves = asyncio.Event()
        request = asyncio.ensure_future(call(wsgi, client_leaves=leaves))
        assert await asyncio.to_thread(entered.wait, 5)
        leaves.set()
        for _ in range(10):
            await asyncio.sleep(0)
        release.set()
        return await asyncio.wait_for(request, timeout=5)
    sent = asyncio.run(scenario())
    assert ran == [1] and sent[0]["status"] == 200


@pytest.fixture
def served():
    """Serve a ThreadPoolWsgi with uvicorn (as launcher.web does) on a port of our own; yields
    a function that starts serving `wsgi` and returns the port. Stopped after the test."""
    servers = []

    def serve(wsgi) -> int:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        config = uvicorn.Config(wsgi, loop="uvloop", http="httptools", lifespan="off",
                                log_config=None, access_log=False)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]},
                                  daemon=True)
        thread.start()
        servers.append((server, thread, listener))
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        return listener.getsockname()[1]
    yield serve
    for server, thread, listener in servers:
        server.should_exit = True
        thread.join(10)
        listener.close()


def post(port: int, path: str) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", port), timeout=10)
    connection.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi".encode())
    return connection


def test_behind_uvicorn_a_request_whose_client_hung_up_while_it_waited_is_never_run(
        served, monkeypatch):
    """The same through a real server: uvicorn reports the closed connection to the waiting
    request, which the pool then skips; the next request on the thread runs as usual."""
    entered, release, ran = threading.Event(), threading.Event(), []

    def app(environ, start_response):
        ran.append(environ["PATH_INFO"])
        if environ["PATH_INFO"] == "/first":
            entered.set()
            release.wait(10)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ran"]
    told = threading.Event()  # the server has told a waiting request its client left
    on_receive = wsgi_threads._Request.on_receive

    def observed(request, watcher):
        on_receive(request, watcher)
        if request.abandoned:
            told.set()
    monkeypatch.setattr(wsgi_threads._Request, "on_receive", observed)
    shed = []
    port = served(ThreadPoolWsgi(app, threads=1, read_threads=1, max_body_bytes=100,
                                 queue_timeout=10, on_shed=shed.append))
    first = post(port, "/first")
    assert entered.wait(10)
    post(port, "/second").close()  # a phone that gave up
    assert told.wait(10), "the disconnect never reached the waiting request"
    release.set()
    assert first.recv(100).startswith(b"HTTP/1.1 200")
    third = post(port, "/third")
    assert third.recv(100).startswith(b"HTTP/1.1 200")
    assert ran == ["/first", "/third"]
    assert shed == ["client_left"]
    first.close()
    third.close()
