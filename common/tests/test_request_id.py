"""common/request_id.py: new request ids are unique, also across forked processes."""

from __future__ import annotations

import os
import re

from common.request_id import new_request_id, request_id_from


def test_new_ids_are_unique_32_hex_characters():
    ids = [new_request_id() for _ in range(10_000)]

    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[0-9a-f]{32}", value) for value in ids)


def test_a_forked_child_draws_ids_of_its_own():
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next id, then out without running the parent's cleanup
        os.write(write, new_request_id().encode())
        os._exit(0)
    os.close(write)
    try:
        child_id = os.read(read, 64).decode()
    finally:
        os.close(read)
        os.waitpid(pid, 0)
    parent_id = new_request_id()

    assert child_id[:20] != parent_id[:20]


def test_a_sane_incoming_id_is_kept_and_anything_else_replaced():
    assert request_id_from("phone-1234567") == "phone-1234567"
    assert request_id_from("no spaces allowed") != "no spaces allowed"
    assert re.fullmatch(r"[0-9a-f]{32}", request_id_from(None))
