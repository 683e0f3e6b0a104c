"""The rule for new user ids: what is refused and why, what is kept and in which form, and
that the pattern the API document shows says exactly the same."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from marshmallow import ValidationError

from web.identity.user_ids import MAX_LENGTH, REFUSED_CATEGORIES, UserId, pattern, problem

REFUSED = [
    "",
    "u" * (MAX_LENGTH + 1),
    "a\x85b",  # C1 control: NEXT LINE
    "a\u2028b",  # LINE SEPARATOR (Zl)
    "a\u2029b",  # PARAGRAPH SEPARATOR (Zp)
    "\u202eecila",  # RIGHT-TO-LEFT OVERRIDE (Cf): shows as "alice"
    "\u200b",  # ZERO WIDTH SPACE only
    "ann\u200d",  # ZERO WIDTH JOINER (Cf): looks like "ann"
    "ann\u3164",  # HANGUL FILLER (Lo but default-ignorable): looks like "ann"
    "ann\ufe0f",  # VARIATION SELECTOR-16
    "\u2126",  # OHM SIGN: normalisation makes it GREEK CAPITAL LETTER OMEGA
    "a\u00a0b",  # NO-BREAK SPACE: looks like "a b"
    "a/b",
    ".",
    "..",
    " ann",
    "ann ",
    "\u0301a",
    "\ue000",  # private use
    "\u0378",  # unassigned
]
ACCEPTED = ["alice", "Zoë", "O'Brien-Smith", "user@example.com", "a.b", "...", "山田 太郎", "علي", "😀", "ℌ", "a b"]


@pytest.mark.parametrize("user_id", REFUSED)
def test_a_refused_user_id_is_refused_with_a_reason(user_id):
    assert problem(user_id)
    assert not re.fullmatch(pattern(), user_id)
    with pytest.raises(ValidationError):
        UserId().deserialize(user_id)


@pytest.mark.parametrize("user_id", ACCEPTED)
def test_an_accepted_user_id_is_kept(user_id):
    assert problem(user_id) is None and re.fullmatch(pattern(), user_id)
    assert UserId().deserialize(user_id) == user_id


def test_a_decomposed_accent_is_stored_composed():
    assert UserId().deserialize("Zoe\u0308") == "Zoë"


def test_the_reason_names_the_character():
    assert problem("ann\u200d") == "U+200D ZERO WIDTH JOINER (Cf): characters of its Unicode category are not allowed."


CATEGORIES = [
    "Lu",
    "Ll",
    "Lt",
    "Lm",
    "Lo",
    "Mn",
    "Mc",
    "Me",
    "Nd",
    "Nl",
    "No",
    "Pc",
    "Pd",
    "Ps",
    "Pe",
    "Pi",
    "Pf",
    "Po",
    "Sm",
    "Sc",
    "Sk",
    "So",
    "Zs",
    "Zl",
    "Zp",
    "Cc",
    "Cf",
    "Cs",
    "Co",
    "Cn",
]
# Text mixing every character class, with the characters that matter most often; or text
# of one class alone.
CHARACTERS = st.one_of(
    st.sampled_from(CATEGORIES).flatmap(lambda category: st.characters(categories=[category])),
    st.sampled_from([" ", "/", ".", "a", "\u0301", "\u200b", "\u3164", "\u2126"]),
)
ONE_CLASS = st.sampled_from(CATEGORIES).flatmap(
    lambda category: st.text(st.characters(categories=[category]), min_size=1, max_size=MAX_LENGTH + 2)
)
USER_IDS = st.text(CHARACTERS, max_size=MAX_LENGTH + 2) | ONE_CLASS


@given(USER_IDS)
@example("e\u0301")
@example("\u0958")  # DEVANAGARI LETTER QA: NFC makes it two characters
def test_the_documented_pattern_and_the_check_agree_and_what_is_kept_is_nfc_and_clean(user_id):
    refused = problem(user_id)
    assert (refused is None) == (re.fullmatch(pattern(), user_id) is not None), refused
    if refused is None:
        kept = UserId().deserialize(user_id)
        assert kept == unicodedata.normalize("NFC", kept) and problem(kept) is None
        assert 1 <= len(kept) <= MAX_LENGTH
        assert not {unicodedata.category(c) for c in kept} & REFUSED_CATEGORIES
        assert "/" not in kept and kept not in (".", "..") and kept == kept.strip()
