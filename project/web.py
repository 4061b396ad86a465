"""`python -m project.web <daphne arguments>`: daphne, with request bodies left to Django."""

from __future__ import annotations

import json

from daphne import http_protocol
from daphne.cli import CommandLineInterface


class WebRequest(http_protocol.WebRequest):
    """Twisted would parse every multipart body itself before Django does: a second copy of each
    10 MB upload, and a malformed body answered with a bare 400 (no body, no content type) that
    the app never sees. Daphne's own refusals get the API's error shape."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._parsePOSTFormSubmission = False

    def basic_error(self, status, status_text, body):
        self.handle_reply({"type": "http.response.start", "status": status,
                           "headers": [(b"Content-Type", b"application/json")]})
        self.handle_reply({"type": "http.response.body",
                           "body": json.dumps({"message": body, "extra": {}}).encode()})


def main() -> None:
    http_protocol.WebRequest = WebRequest  # HTTPFactory looks the class up per connection
    CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
