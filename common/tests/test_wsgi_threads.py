"""common/wsgi_threads.py: Django's WSGI handler on a fixed pool of long-lived threads."""

from __future__ import annotations

import asyncio
import threading

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


async def call(app, *, body=b"", headers=(), method="POST", path="/"):
    sent, chunks = [], [{"type": "http.request", "body": body[:3], "more_body": True},
                        {"type": "http.request", "body": body[3:]}]

    async def receive():
        return chunks.pop(0)

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
