"""New request ids: 128 bits in hex, unique, and not repeated by a forked worker."""

from __future__ import annotations

import os
import re

from benefitgate.graphql.middleware import request_id_of


def test_new_request_ids_are_128_bits_in_hex_and_distinct() -> None:
    made = [request_id_of(None) for _ in range(10_000)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", rid) for rid in made)
    assert len(set(made)) == len(made)


def test_a_forked_process_makes_ids_of_its_own() -> None:
    """Workers forked from one parent must not make the same sequence: the generator is
    seeded again in the child."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, then out, whatever happens, past pytest
        try:
            os.write(write, "".join(request_id_of(None) for _ in range(3)).encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 4096).decode()
    os.close(read)
    parent = "".join(request_id_of(None) for _ in range(3))
    assert len(child) == len(parent) == 96
    assert child != parent


def test_a_sane_caller_id_is_kept_and_any_other_replaced() -> None:
    assert request_id_of(b"req-123_A") == "req-123_A"
    for insane in (b"", b"a b", b"x" * 65, b"\xff\xfe", b"id\r\nX-Other: 1"):
        assert re.fullmatch(r"[0-9a-f]{32}", request_id_of(insane))
