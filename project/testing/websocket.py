"""A WebSocket test client whose waits hold on a busy machine.

channels' WebsocketCommunicator gives up after 1 s by default, and a timed-out receive also
cancels the application. These waits only run out when something is broken.
"""

from __future__ import annotations

from channels.testing import WebsocketCommunicator

TIMEOUT_SECONDS = 30


class Communicator(WebsocketCommunicator):
    """WebsocketCommunicator with generous default timeouts (receive_nothing keeps its own)."""

    async def connect(self, timeout=TIMEOUT_SECONDS):
        return await super().connect(timeout)

    async def receive_output(self, timeout=TIMEOUT_SECONDS):
        return await super().receive_output(timeout)

    async def receive_from(self, timeout=TIMEOUT_SECONDS):
        return await super().receive_from(timeout)

    async def receive_json_from(self, timeout=TIMEOUT_SECONDS):
        return await super().receive_json_from(timeout)

    async def disconnect(self, code=1000, timeout=TIMEOUT_SECONDS):
        return await super().disconnect(code, timeout)
