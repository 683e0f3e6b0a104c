"""The history checker's summary counts the attempts answered promptly (a 503 is an answer;
no answer, or one after 2 s, is not), in all and while a fault lasted."""

from __future__ import annotations

from scripts.verify.history import Attempt, Fault, History
from scripts.verify.summary import prompt_line


def attempt(n: int, sent: float, took: float, status: int | None) -> Attempt:
    return Attempt(n, 0, f"r{n}", "http://s", "book", {}, None, sent, sent + took, status)


def test_an_answer_within_two_seconds_counts_as_prompt_whatever_its_status_and_none_or_a_late_one_does_not():
    history = History(
        attempts=[
            attempt(1, 100.0, 0.1, 201),
            attempt(2, 110.0, 1.9, 503),  # during the fault: prompt
            attempt(3, 111.0, 2.5, 201),  # during the fault: late
            attempt(4, 112.0, 10.0, None),  # during the fault: no answer
        ],
        faults=[Fault("kill", "leader", 109.0, 115.0)],
    )
    assert prompt_line(history) == "answered within 2 s: 2 of 4 (50.00 %); during faults: 1 of 3 (33.33 %)"


def test_a_run_without_faults_says_none_were_sent_during_one():
    assert prompt_line(History(attempts=[attempt(1, 1.0, 0.1, 201)])).endswith("during faults: none sent")
