"""The group commit's queueing, with a stand-in for the store's recording."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from application.booking.group_commit import GroupCommit, PendingBooking
from application.errors import LedgerBusyError, OutcomeUnknownError, StoreTimeoutError


class Recorder:
    """Records each batch; the first batch blocks until released, so others queue up."""

    def __init__(self, fail_first: bool = False, error: Exception | None = None) -> None:
        self.batches: list[list[str]] = []
        self.first_started = threading.Event()
        self.release = threading.Event()
        self.fail_first = fail_first
        self.error = error or ConnectionError("store down")

    def __call__(self, batch: list[PendingBooking]) -> None:
        if not self.batches:
            self.first_started.set()
            self.release.wait(5)
        self.batches.append([p.user_id for p in batch])
        if self.fail_first and len(self.batches) == 1:
            raise self.error
        for pending in batch:
            pending.outcome = f"receipt for {pending.user_id}"


def submit_while_first_batch_blocks(group: GroupCommit, recorder: Recorder, users: list[str]):
    with ThreadPoolExecutor(len(users) + 1) as pool:
        first = pool.submit(group.submit, PendingBooking("first", "VIP", 1))
        recorder.first_started.wait(5)
        others = []
        for user in users:  # one at a time, so the queue order is known
            others.append(pool.submit(group.submit, PendingBooking(user, "VIP", 1)))
            time.sleep(0.01)
        recorder.release.set()
        return first, others


def outcome(future):
    try:
        return future.result(5)
    except Exception as error:  # noqa: BLE001 - the test looks at which error
        return error


def test_requests_that_arrive_during_a_commit_share_the_next_one():
    recorder = Recorder()
    group = GroupCommit(recorder, max_batch=10, max_wait=5)
    first, others = submit_while_first_batch_blocks(group, recorder, ["a", "b", "c", "d"])
    assert recorder.batches == [["first"], ["a", "b", "c", "d"]]
    assert [outcome(f) for f in [first, *others]] == [f"receipt for {u}" for u in ["first", "a", "b", "c", "d"]]


def test_batches_are_capped_and_keep_arrival_order():
    recorder = Recorder()
    group = GroupCommit(recorder, max_batch=3, max_wait=5)
    _, others = submit_while_first_batch_blocks(group, recorder, list("abcdefg"))
    [outcome(f) for f in others]
    assert recorder.batches == [["first"], ["a", "b", "c"], ["d", "e", "f"], ["g"]]


def test_a_request_that_waits_too_long_is_withdrawn_and_never_recorded():
    recorder = Recorder()
    group = GroupCommit(recorder, max_batch=10, max_wait=0.2)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(group.submit, PendingBooking("first", "VIP", 1))
        recorder.first_started.wait(5)
        late = pool.submit(group.submit, PendingBooking("late", "VIP", 1))
        assert isinstance(outcome(late), LedgerBusyError)
        recorder.release.set()
        assert outcome(first) == "receipt for first"
    assert recorder.batches == [["first"]]


def test_a_failed_commit_fails_its_own_batch_only():
    recorder = Recorder(fail_first=True)
    group = GroupCommit(recorder, max_batch=10, max_wait=5)
    first, others = submit_while_first_batch_blocks(group, recorder, ["a"])
    assert isinstance(outcome(first), ConnectionError)
    assert outcome(others[0]) == "receipt for a"


def test_when_the_store_is_unavailable_the_queued_requests_fail_with_the_batch():
    recorder = Recorder(fail_first=True)
    group = GroupCommit(recorder, max_batch=1, max_wait=5, unavailable=(ConnectionError,))
    first, others = submit_while_first_batch_blocks(group, recorder, ["a", "b"])
    assert all(isinstance(outcome(f), ConnectionError) for f in [first, *others])
    assert recorder.batches == [["first"]]
    assert group.submit(PendingBooking("c", "VIP", 1)) == "receipt for c"  # the queue works on


def test_when_a_batch_timed_out_after_its_commit_was_sent_the_queued_requests_learn_they_were_not_recorded():
    recorder = Recorder(fail_first=True, error=OutcomeUnknownError("the commit was not confirmed in time"))
    group = GroupCommit(recorder, max_batch=1, max_wait=5, unavailable=(OutcomeUnknownError,))
    first, others = submit_while_first_batch_blocks(group, recorder, ["a", "b"])
    assert isinstance(outcome(first), OutcomeUnknownError)
    assert all(isinstance(outcome(f), StoreTimeoutError) for f in others)
    assert recorder.batches == [["first"]]


def test_a_request_alone_leads_its_own_batch_at_once():
    recorder = Recorder()
    recorder.release.set()
    group = GroupCommit(recorder, max_batch=10, max_wait=5)
    assert group.submit(PendingBooking("a", "VIP", 1)) == "receipt for a"
    assert group.submit(PendingBooking("b", "GA", 1)) == "receipt for b"
    assert recorder.batches == [["a"], ["b"]]


class Interrupted(BaseException):
    """Like gevent's ``Timeout`` or ``GreenletExit``: not an ``Exception``."""


def test_a_leader_interrupted_mid_commit_gives_its_batch_no_receipt():
    recorder = Recorder()
    interrupting = recorder.__call__

    def commit(batch: list[PendingBooking]) -> None:
        if len(recorder.batches) == 1:  # the second batch: "a" leads "b" and "c"
            recorder.batches.append([p.user_id for p in batch])
            raise Interrupted()
        interrupting(batch)

    group = GroupCommit(commit, max_batch=10, max_wait=5)
    first, others = submit_while_first_batch_blocks(group, recorder, ["a", "b", "c"])
    assert outcome(first) == "receipt for first"
    assert isinstance(others[0].exception(5), Interrupted)  # the leader's own request
    assert all(isinstance(outcome(f), OutcomeUnknownError) for f in others[1:])
    assert group.submit(PendingBooking("d", "VIP", 1)) == "receipt for d"  # the queue works on


def test_a_request_the_commit_left_unanswered_gets_no_receipt():
    def answer_all_but_the_last(batch: list[PendingBooking]) -> None:
        for pending in batch[:-1]:
            pending.outcome = "receipt"

    group = GroupCommit(answer_all_but_the_last, max_batch=10, max_wait=5)
    with pytest.raises(OutcomeUnknownError):
        group.submit(PendingBooking("a", "VIP", 1))


def test_a_request_whose_batch_hangs_is_answered_within_twice_the_wait():
    recorder = Recorder()
    group = GroupCommit(recorder, max_batch=10, max_wait=0.3)
    with ThreadPoolExecutor(3) as pool:
        pool.submit(group.submit, PendingBooking("first", "VIP", 1))
        recorder.first_started.wait(5)
        stuck = pool.submit(group.submit, PendingBooking("stuck", "VIP", 1))
        time.sleep(0.05)
        with group._lock:  # the queued request joins the (hanging) batch being saved
            group._waiting.remove(stuck_pending := next(iter(group._waiting)))
        started = time.monotonic()
        assert isinstance(outcome(stuck), OutcomeUnknownError) and stuck_pending.user_id == "stuck"
        assert time.monotonic() - started < 1.0
        recorder.release.set()


def in_background(submit, pending: PendingBooking) -> tuple[threading.Thread, list]:
    """Submit from a daemon thread: one that never returns fails the test instead of hanging it."""
    answer: list = []
    thread = threading.Thread(target=lambda: answer.append(outcome_of(submit, pending)), daemon=True)
    thread.start()
    return thread, answer


def outcome_of(submit, pending: PendingBooking):
    try:
        return submit(pending)
    except Exception as error:  # noqa: BLE001 - the test looks at which error
        return error


def test_each_refusal_tells_the_client_whether_to_retry_and_how():
    recorder = Recorder()
    group = GroupCommit(recorder, max_batch=10, max_wait=0.3)
    in_background(group.submit, PendingBooking("first", "VIP", 1))
    recorder.first_started.wait(5)
    stuck, stuck_answer = in_background(group.submit, PendingBooking("stuck", "VIP", 1))
    time.sleep(0.05)
    with group._lock:  # the queued request joins the (hanging) batch being saved
        group._waiting.clear()
    late, late_answer = in_background(group.submit, PendingBooking("late", "VIP", 1))
    stuck.join(2)
    late.join(2)
    recorder.release.set()
    assert [str(answer) for answer in stuck_answer + late_answer] == [
        "The recording of this request took over 0.6 s; whether it was stored is unknown. "
        "Retry with the same Idempotency-Key.",
        "Waited 0.3 s for a turn without being recorded; retry later.",
    ]
    interrupted = GroupCommit(lambda batch: None, max_batch=10, max_wait=5)
    with pytest.raises(OutcomeUnknownError) as raised:
        interrupted.submit(PendingBooking("a", "VIP", 1))
    assert str(raised.value) == (
        "The recording of this request was interrupted; whether it was stored is unknown. "
        "Retry with the same Idempotency-Key."
    )
