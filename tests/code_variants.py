"""Variants of a real ticket code: what a mistyping scanner, a lenient decoder's blind spots
and a forger would try. Each is one to three edits of the code's text: a character (or two)
inserted, deleted, substituted or its case changed, padding appended, or the other base64
alphabet's ``+`` / ``/`` written for ``-`` / ``_``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

# What lenient base64 decoders skip or accept, first; then any character at all.
STRAY = st.sampled_from(["!", " ", ".", "\0", "=", "==", "+", "/", "\n", "\t", "é"]) | st.characters()


def insert(draw: Any, text: str) -> str:
    at = draw(st.integers(0, len(text)))
    return text[:at] + draw(STRAY | st.text(min_size=1, max_size=2)) + text[at:]


def delete(draw: Any, text: str) -> str:
    at = draw(st.integers(0, len(text) - 1))
    return text[:at] + text[at + 1 :]


def substitute(draw: Any, text: str) -> str:
    at = draw(st.integers(0, len(text) - 1))
    return text[:at] + draw(STRAY) + text[at + 1 :]


def change_case(draw: Any, text: str) -> str:
    at = draw(st.integers(0, len(text) - 1))
    return text[:at] + text[at].swapcase() + text[at + 1 :]


def pad(draw: Any, text: str) -> str:
    return text + draw(st.sampled_from(["=", "==", "===", "===="]))


def other_alphabet(draw: Any, text: str) -> str:
    """``+`` for ``-`` and ``/`` for ``_``: at one place, or everywhere."""
    ours, theirs = draw(st.sampled_from([("-", "+"), ("_", "/")]))
    return text.replace(ours, theirs, draw(st.sampled_from([1, -1])))


EDITS: list[Callable[[Any, str], str]] = [insert, delete, substitute, change_case, pad, other_alphabet]


def variants(code: str) -> st.SearchStrategy[str]:
    """Texts one to three edits away from ``code``; which choices are drawn never depends on
    what the code says (a state machine's codes differ from run to run), so an edit that
    changes nothing (a digit's case) gives ``code`` itself: a test skips that one."""

    @st.composite
    def edited(draw: Any) -> str:
        text = code
        for edit in draw(st.lists(st.sampled_from(EDITS), min_size=1, max_size=3)):
            text = edit(draw, text)
        return text

    return edited()
