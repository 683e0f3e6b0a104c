"""Staff accounts on each store (``application/staff/accounts.py``): signing in with the
second factor and a one-time code used once, sessions that end, a reset link that works once
and within the hour, keys that expire and are revoked, an event's owner recorded in its own
recording, and the audit that finds staff-made events without an actor."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pyotp
import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from application import BookingLedger
from application.audit.staff_activity import activity, missing_actors, narrowed
from application.booking.tiers import NewShow, NewTier
from application.checkin.codes import TicketCodes
from application.checkin.door import Door, Scanner
from application.errors import ShowAlreadyExistsError
from application.payments.desk import PaymentDesk
from application.staff import secrets
from application.staff.accounts import StaffAccounts
from application.staff.errors import (
    OrganizerNotFoundError,
    ResetRefusedError,
    SignInRefusedError,
    WeakPasswordError,
)
from domain.bookings import Booking, BookingStatus
from domain.organizers import DEFAULT_ORGANIZER
from domain.staff import OPERATOR, Role
from domain.tickets import TicketRef, ticket_id
from projections import Projector, open_view
from tests.cli import ticketledger

PASSWORD = "a long enough password"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def staff(ledger, clock) -> StaffAccounts:
    accounts = StaffAccounts(ledger, timedelta(hours=12), clock)
    accounts.ensure_default_organizer()
    return accounts


def test_a_member_signs_in_with_the_password_and_only_with_it(staff):
    member = staff.add_member(DEFAULT_ORGANIZER, "Ana@Example.org", Role.MANAGER, PASSWORD, OPERATOR)
    session = staff.sign_in("ana@example.org", PASSWORD)
    assert staff.session(member, session.token).roles == {DEFAULT_ORGANIZER: Role.MANAGER}
    for email, password in (("ana@example.org", "not the password"), ("nobody@example.org", PASSWORD)):
        with pytest.raises(SignInRefusedError):
            staff.sign_in(email, password)
    assert staff.session(member, "a token never issued") is None


def test_a_short_password_is_refused(staff):
    with pytest.raises(WeakPasswordError):
        staff.add_member(DEFAULT_ORGANIZER, "short@example.org", Role.VIEWER, "short", OPERATOR)


def test_with_a_second_factor_the_code_is_needed_and_each_code_works_once(staff, clock):
    member = staff.add_member(DEFAULT_ORGANIZER, "two@example.org", Role.OWNER, PASSWORD, OPERATOR)
    secret = secrets.new_totp_secret()
    clock.now += timedelta(minutes=1)
    staff.enable_second_factor(member, secret, pyotp.TOTP(secret).at(clock.now))
    with pytest.raises(SignInRefusedError):
        staff.sign_in("two@example.org", PASSWORD)  # no code
    clock.now += timedelta(minutes=1)
    code = pyotp.TOTP(secret).at(clock.now)
    assert staff.sign_in("two@example.org", PASSWORD, code).member == member
    with pytest.raises(SignInRefusedError):
        staff.sign_in("two@example.org", PASSWORD, code)  # the same code again: replayed


def test_sessions_end_when_signed_out_everywhere_expired_or_the_password_changes(staff, clock):
    member = staff.add_member(DEFAULT_ORGANIZER, "s@example.org", Role.VIEWER, PASSWORD, OPERATOR)
    one, two = staff.sign_in("s@example.org", PASSWORD), staff.sign_in("s@example.org", PASSWORD)
    staff.sign_out(member, one.token)
    assert staff.session(member, one.token) is None and staff.session(member, two.token) is not None
    staff.sign_out_everywhere(member, OPERATOR)
    assert staff.session(member, two.token) is None
    three = staff.sign_in("s@example.org", PASSWORD)
    clock.now += timedelta(hours=12)
    assert staff.session(member, three.token) is None
    four = staff.sign_in("s@example.org", PASSWORD)
    _, token = staff.request_reset("s@example.org")
    staff.reset_password(token, "a brand new long password")
    assert staff.session(member, four.token) is None


def test_a_reset_link_works_once_and_within_the_hour(staff, clock):
    staff.add_member(DEFAULT_ORGANIZER, "r@example.org", Role.VIEWER, None, OPERATOR)  # invited: no password yet
    with pytest.raises(SignInRefusedError):
        staff.sign_in("r@example.org", "")
    assert staff.request_reset("nobody@example.org") is None
    _, token = staff.request_reset("R@example.org")
    staff.reset_password(token, PASSWORD)
    assert staff.sign_in("r@example.org", PASSWORD)
    with pytest.raises(ResetRefusedError):
        staff.reset_password(token, "another long password")
    _, late = staff.request_reset("r@example.org")
    clock.now += timedelta(hours=1)
    with pytest.raises(ResetRefusedError):
        staff.reset_password(late, "another long password")
    with pytest.raises(ResetRefusedError):
        staff.reset_password("not-a-token", "another long password")


def test_a_key_works_until_it_expires_or_is_revoked(staff, clock):
    key = staff.issue(DEFAULT_ORGANIZER, "key", "ci", Role.VIEWER, None, timedelta(days=1), OPERATOR)
    assert staff.credential(key.secret).role == Role.VIEWER
    assert staff.credential(key.secret[:-1] + "x") is None
    clock.now += timedelta(days=1)
    assert staff.credential(key.secret) is None
    other = staff.issue(DEFAULT_ORGANIZER, "key", "ci", Role.VIEWER, None, None, OPERATOR)
    staff.revoke(DEFAULT_ORGANIZER, other.id, OPERATOR)
    assert staff.credential(other.secret) is None


def test_an_events_owner_is_recorded_in_its_own_recording_or_not_at_all(staff, ledger):
    staff.found_organizer("acme", "Acme", OPERATOR)
    show = NewShow("gig", "Gig", [NewTier("GIG", Decimal("1.00"), 5)])
    ledger.create_show(show, "member:x", recorded_with=staff.ownerships("acme", "gig", ["GIG"], "member:x"))
    assert (staff.owner_of("show", "gig"), staff.owner_of("tier", "GIG")) == ("acme", "acme")
    staff.found_organizer("rival", "Rival", OPERATOR)
    again = NewShow("gig", "Gig", [NewTier("OTHER", Decimal("1.00"), 5)])
    with pytest.raises(ShowAlreadyExistsError):
        ledger.create_show(again, "member:y", recorded_with=staff.ownerships("rival", "gig", ["OTHER"], "member:y"))
    assert (staff.owner_of("show", "gig"), staff.owner_of("tier", "OTHER")) == ("acme", DEFAULT_ORGANIZER)
    with pytest.raises(OrganizerNotFoundError):
        staff.ownerships("nobody", "x", [], OPERATOR)


def test_the_audit_finds_staff_made_events_that_name_no_actor(staff, ledger):
    staff.found_organizer("acme", "Acme", OPERATOR)
    ledger.create_tier("NAMED", Decimal("1.00"), 5, actor="member:x")
    ledger.add_capacity("NAMED", 1, actor="member:x")
    ledger.change_price("NAMED", Decimal("2.00"), actor="member:x")
    assert missing_actors(ledger) == []
    ledger.create_tier("ANON", Decimal("1.00"), 5)  # as before staff accounts: nobody said who
    ledger.change_price("ANON", Decimal("2.00"))  # a command that forgot to say who
    ledger.close_sales("ANON")
    assert [topic for topic, _, _ in missing_actors(ledger)] == [
        "domain.tiers:TicketTier.Created",
        "domain.tiers:TicketTier.PriceChanged",
        "domain.tiers:TicketTier.SalesClosed",
    ]
    done = [(a.actor, a.what, a.subject) for a in activity(ledger, staff.owner_of, DEFAULT_ORGANIZER)]
    assert ("member:x", "CapacityAdded", "NAMED") in done and ("operator", "Founded", "default") in done
    assert ("member:x", "PriceChanged", "NAMED") in done


def test_the_audit_command_names_a_price_change_that_names_no_actor(store_env, ledger):
    ledger.create_tier("VIP", Decimal("100.00"), 5, actor=OPERATOR)
    ledger.change_price("VIP", Decimal("80.00"))
    audited = ticketledger("audit", "--actors", "--json", env=store_env)
    assert audited.returncode == 1, audited.stderr
    [line] = [json.loads(line) for line in audited.stdout.splitlines()]
    assert (line["event"], line["version"]) == ("domain.tiers:TicketTier.PriceChanged", 2)


def test_the_activity_names_each_actor_and_the_device_that_admitted_a_ticket_of_the_organizer(staff, ledger):
    staff.found_organizer("acme", "Acme", OPERATOR)
    mo = staff.add_member("acme", "mo@acme.example", Role.MANAGER, PASSWORD, OPERATOR)
    show = NewShow("gig", "Gig", [NewTier("GIG", Decimal("5.00"), 50)])
    ledger.create_show(show, f"member:{mo}", recorded_with=staff.ownerships("acme", "gig", ["GIG"], f"member:{mo}"))
    ledger.add_capacity("GIG", 4, actor=f"member:{mo}")
    ledger.change_price("GIG", Decimal("6.50"), actor=f"member:{mo}")
    phone = staff.issue("acme", "device", "North phone", Role.DOOR, "gig", None, f"member:{mo}", "north-1").id
    rival = staff.issue(DEFAULT_ORGANIZER, "device", "Rival phone", Role.DOOR, "main", None, OPERATOR, "x").id
    door = Door(ledger, TicketCodes(ledger.secret))
    booking = ledger.book("fan", "GIG", 2).booking_id
    codes = [door.codes.sign(TicketRef(booking, seat)) for seat in (0, 1)]
    door.check_in(codes[0], "north-1", scanner=Scanner(f"device:{phone}", "gig"))
    door.check_in(codes[1], "south")  # the shared scanner token: nobody's, so in no organizer's activity
    view = open_view(ledger)
    Projector(ledger, view).catch_up()

    done = activity(ledger, staff.owner_of, "acme", view.device_scans())
    rows = [(a.actor_name, a.what, a.subject, a.kind, a.detail) for a in done]
    assert ("mo@acme.example", "Created", "GIG", "tier", "price 5.00, capacity 50") in rows
    assert ("mo@acme.example", "CapacityAdded", "GIG", "tier", "4 tickets added") in rows
    assert ("mo@acme.example", "PriceChanged", "GIG", "tier", "from 5.00 to 6.50") in rows
    assert ("mo@acme.example", "Issued", "device North phone", "device", "event gig, gate north-1") in rows
    [scan] = narrowed(done, "door", "", None)
    assert (scan.actor, scan.actor_name, scan.what, scan.detail) == (
        f"device:{phone}",
        "North phone",
        "TicketCheckedIn",
        "gate north-1",
    )
    assert (scan.subject, scan.booking_id) == (str(ticket_id(booking, 0)), str(booking))
    assert [a.at for a in done] == sorted(a.at for a in done)
    assert narrowed(done, None, str(booking).upper(), None) == [scan]
    assert narrowed(done, None, "MO@ACME", 1) == [done[-2]]  # the newest of the manager's (the scan is last)
    assert f"device:{rival}" not in {a.actor for a in activity(ledger, staff.owner_of, "acme", view.device_scans())}


def test_a_staff_cancellation_is_in_the_activity_with_its_actor_and_a_users_own_is_no_staff_event(
    store_env, staff, ledger
):
    staff.found_organizer("acme", "Acme", OPERATOR)
    bo = staff.add_member("acme", "bo@acme.example", Role.BOX_OFFICE, PASSWORD, OPERATOR)
    show = NewShow("gig", "Gig", [NewTier("GIG", Decimal("5.00"), 50)])
    ledger.create_show(show, OPERATOR, recorded_with=staff.ownerships("acme", "gig", ["GIG"], OPERATOR))
    desk = PaymentDesk(ledger)
    by_staff, by_user = ledger.book("fan", "GIG", 2).booking_id, ledger.book("fan", "GIG", 1).booking_id
    desk.cancel_for_user(by_staff, f"member:{bo}")
    desk.cancel(by_user, "fan")
    audited = ticketledger("audit", "--actors", env=store_env)
    assert (audited.returncode, audited.stdout) == (0, "0 staff-made event(s) name no actor\n"), audited.stderr
    assert missing_actors(ledger) == []  # the user's own cancellation names nobody, and is not staff's

    done = activity(ledger, staff.owner_of, "acme")
    [cancelled] = narrowed(done, "booking", "", None)
    assert (cancelled.actor, cancelled.actor_name, cancelled.what, cancelled.subject, cancelled.detail) == (
        f"member:{bo}",
        "bo@acme.example",
        "Cancelled",
        str(by_staff),
        "tier GIG",
    )
    assert cancelled.booking_id == str(by_staff)
    assert narrowed(done, None, str(by_user), None) == []
    assert narrowed(activity(ledger, staff.owner_of, DEFAULT_ORGANIZER), "booking", "", None) == []


def test_a_cancellation_stored_before_staff_could_cancel_still_replays_with_no_actor(store_env, ledger):
    ledger.create_tier("OLD", Decimal("1.00"), 5, actor=OPERATOR)
    booking = ledger.book("fan", "OLD", 1).booking_id
    old = {"timestamp": {"_type_": "datetime_iso", "_data_": "2026-11-24T08:45:02+00:00"}, "idempotency_key": "key-1"}
    ledger.recorder.insert_events(  # a cancellation as every one was stored before staff could cancel
        [StoredEvent(booking, 2, get_topic(Booking.Cancelled), json.dumps(old).encode())]
    )
    with BookingLedger(env=store_env) as fresh:  # replayed from the store, not the cache
        [event] = [e for e in fresh.repository.event_store.get(booking) if isinstance(e, Booking.Cancelled)]
        replayed = fresh.find_booking(booking)
        assert missing_actors(fresh) == []
    assert (event.actor, event.idempotency_key) == (None, "key-1")
    assert replayed is not None and replayed.status == BookingStatus.CANCELLED
