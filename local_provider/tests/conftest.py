"""Fixtures: the provider as a real subprocess, a server for the sample selfie, a webhook listener."""

import threading
from http.server import BaseHTTPRequestHandler

import pytest

from .support import SELFIE, Listener, Provider, Recorder, wait_until


@pytest.fixture(scope="session")
def image_url():
    """The sample selfie over HTTP, the way presigned S3 URLs deliver it."""
    data = SELFIE.read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path != "/selfie.jpg":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = Recorder(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/selfie.jpg"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def provider(tmp_path_factory):
    """One shared provider: fast mode, time scale 0.01 (boot 0.4 s, idle unload 3 s, render 0.03 s)."""
    running = Provider(tmp_path_factory.mktemp("provider"), "--time-scale", "0.01", "--seed", "1", "--mode", "fast")
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def fresh_knobs(request):
    """Each test starts from the startup knobs and zeroed counters, with no job of a previous test running."""
    if "provider" not in request.fixturenames:
        yield
        return
    running = request.getfixturevalue("provider")
    running.control(reset_knobs=True)
    wait_until(running.idle)
    running.control(reset_counters=True)
    yield


@pytest.fixture
def listener():
    hooks = Listener()
    yield hooks
    hooks.close()
