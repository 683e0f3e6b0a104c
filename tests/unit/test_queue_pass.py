"""Passes are signed: readable only with the key that signed them, and unchanged."""

from __future__ import annotations

from itsdangerous import URLSafeSerializer

from application.waiting_room.passes import Pass, PassSigner


def test_a_pass_reads_back_as_signed():
    signer = PassSigner(b"k" * 32)
    admission = Pass("room", "alice", 1_000_000.5)
    assert signer.read(signer.sign(admission)) == admission


def test_a_forged_altered_or_foreign_pass_is_not_read():
    signer = PassSigner(b"k" * 32)
    token = signer.sign(Pass("room", "alice", 1.0))
    other_body = signer.sign(Pass("room", "bob", 1.0)).rsplit(".", 1)[0]
    assert PassSigner(b"other" * 8).read(token) is None
    assert signer.read(other_body + "." + token.rsplit(".", 1)[1]) is None  # alice's signature on bob's pass
    assert signer.read("") is None
    assert signer.read("not a pass") is None


def test_a_token_signed_with_the_same_key_for_another_purpose_is_not_a_pass():
    """The signature is salted for passes: another use of the store's key (or an
    unsalted signature of the same fields) does not make one."""
    key = b"k" * 32
    elsewhere = URLSafeSerializer(key).dumps(["room", "alice", 1.0])
    assert PassSigner(key).read(elsewhere) is None
