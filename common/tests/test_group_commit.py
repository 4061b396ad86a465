"""Group commit: who writes which batch, and whose error is whose."""

import threading

import pytest

from common.group_commit import GroupCommit

WAIT = 10  # seconds: a bound for a condition on a busy machine, never a pace


class Recorder:
    """A batch writer that records each batch and the thread that wrote it; the first batch
    waits for `release` when `hold_first` is set, so that others arrive while it is written."""

    def __init__(self, *, hold_first: bool = False, bad: str | None = None):
        self.batches: list[tuple[list[str], str]] = []
        self.first_started = threading.Event()
        self.release = threading.Event()
        self.hold_first = hold_first
        self.bad = bad

    def __call__(self, payloads):
        first = not self.batches
        self.batches.append((list(payloads), threading.current_thread().name))
        if first and self.hold_first:
            self.first_started.set()
            assert self.release.wait(WAIT)
        if self.bad in payloads:
            raise ValueError(f"cannot write {self.bad}")
        return [payload.upper() for payload in payloads]


def submit_in_threads(group, payloads):
    """Submit each payload from a thread of its own (named after it); {payload: result or
    exception}, and the threads."""
    outcomes = {}

    def run(payload):
        try:
            outcomes[payload] = group.submit(payload)
        except Exception as error:  # noqa: BLE001 - the test compares errors
            outcomes[payload] = error

    threads = [threading.Thread(target=run, args=(payload,), name=payload, daemon=True)
               for payload in payloads]
    for thread in threads:
        thread.start()
    return outcomes, threads


def arrive_during_the_first_batch(writer):
    """"a" is written first and held; "b", "c" and "d" arrive meanwhile and wait; then the
    first batch is let go. {payload: result or exception} when all are done."""
    group = GroupCommit(writer)
    outcomes, threads = submit_in_threads(group, ["a"])
    assert writer.first_started.wait(WAIT)
    later, later_threads = submit_in_threads(group, ["b", "c", "d"])
    for _ in range(WAIT * 100):
        if len(group._waiting) == 3:
            break
        threading.Event().wait(0.01)
    else:
        writer.release.set()
        raise AssertionError("b, c and d never waited for the first batch")
    writer.release.set()
    for thread in threads + later_threads:
        thread.join(WAIT)
    last, last_threads = submit_in_threads(group, ["e"])  # nobody is left writing
    last_threads[0].join(WAIT)
    assert last == {"e": "E"}
    return {**outcomes, **later}


def test_a_write_that_finds_nobody_writing_goes_at_once_alone():
    writer = Recorder()
    group = GroupCommit(writer)
    assert group.submit("a") == "A"
    assert group.submit("b") == "B"
    assert [payloads for payloads, _ in writer.batches] == [["a"], ["b"]]


def test_writes_that_arrive_during_a_batch_go_together_in_the_next_written_by_one_of_them():
    writer = Recorder(hold_first=True)
    outcomes = arrive_during_the_first_batch(writer)
    assert outcomes == {"a": "A", "b": "B", "c": "C", "d": "D"}
    (batch_1, writer_1), (batch_2, writer_2), _ = writer.batches
    assert batch_1 == ["a"] and writer_1 == "a"
    # The leader of the first batch does not write the next: the first who waited does.
    assert sorted(batch_2) == ["b", "c", "d"] and writer_2 == batch_2[0]


def test_one_bad_write_in_a_batch_fails_only_its_own_request():
    writer = Recorder(hold_first=True, bad="c")
    outcomes = arrive_during_the_first_batch(writer)
    assert outcomes["b"] == "B" and outcomes["d"] == "D"
    assert isinstance(outcomes["c"], ValueError)
    # The batch of three failed, then each was written alone.
    assert sorted(tuple(payloads) for payloads, _ in writer.batches[2:5]) == [
        ("b",), ("c",), ("d",)]


def test_a_failed_write_alone_raises_to_its_caller_and_the_next_write_still_goes():
    group = GroupCommit(Recorder(bad="x"))
    with pytest.raises(ValueError, match="cannot write x"):
        group.submit("x")
    assert group.submit("y") == "Y"
