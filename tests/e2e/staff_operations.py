"""The staff's operations for ``test_documented_errors.py`` (``operations.OPERATIONS`` takes
them in): a request each accepts, and each refusal made by the request that meets it. A
member's session and API keys are made on the main app as a case needs them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from werkzeug.test import TestResponse

from domain.staff import Role
from tests.e2e.refusals import ADMIN, KINDS, Call, House, Operation, sent, unknown_id, with_headers

PASSWORD = "documented errors password"
EMAIL = "owner@documented.example"
ACME = "/api/admin/organizers/default"


def key(h: House, role: Role) -> dict[str, str]:
    """The bearer header of a new API key of the default organizer with ``role``."""
    issued = h.services.staff.issue("default", "key", h.name("key-"), role, None, timedelta(days=1), "operator")
    return {"Authorization": f"Bearer {issued.secret}"}


def session(h: House) -> tuple[dict[str, str], str]:
    """A new session of the default organizer's owner: its cookie header, and its CSRF token."""
    if not getattr(h, "owner_made", False):
        h.services.staff.add_member("default", EMAIL, Role.OWNER, PASSWORD, "operator")
        h.owner_made = True  # type: ignore[attr-defined]
    signed_in = h.services.staff.sign_in(EMAIL, PASSWORD)
    response = h.send(Call("GET", "/api/staff/me", headers={"Cookie": f"staff={signed_in.member}.{signed_in.token}"}))
    return {"Cookie": f"staff={signed_in.member}.{signed_in.token}"}, response.json["csrfToken"]


def with_session(method: str, path: str, body: object = None) -> Callable[[House], Call]:
    """A request with a new session's cookie and CSRF token."""

    def make(h: House) -> Call:
        cookie, csrf = session(h)
        return Call(method, path, body, {**cookie, "X-CSRF-Token": csrf})

    return make


def without_csrf(method: str, path: str) -> Callable[[House], TestResponse]:
    def send(h: House) -> TestResponse:
        cookie, _ = session(h)
        return h.send(Call(method, path, headers=cookie))

    return send


def by_key(role: Role, method: str, path: str, body: object = None) -> Callable[[House], TestResponse]:
    return lambda h: h.send(Call(method, path, body, key(h, role)))


def twice_from_one_address(call: Call) -> Callable[[House], TestResponse]:
    """Two requests from one address to the app with low limits: the second answer."""

    def send(h: House) -> TestResponse:
        address = h.address()
        h.send(call, app="limited", address=address)
        return h.send(call, app="limited", address=address)

    return send


# A member whose role does not allow the operation (a door key at the default organizer).
KINDS["roles"] = {"FORBIDDEN": lambda h, call: h.send(with_headers(call, **key(h, Role.DOOR)))}
SESSION = ("bodiless", "store")
WRONG_SIGN_IN = {"email": EMAIL, "password": "not the password at all"}
NEW_MEMBER = {"email": "new@documented.example", "role": "viewer", "password": PASSWORD}


def new_member(h: House) -> Call:
    email = f"{h.name('m')}@documented.example".lower()
    return Call("POST", f"{ACME}/members", {**NEW_MEMBER, "email": email}, ADMIN)


def a_member(h: House) -> str:
    answer = h.send(new_member(h))
    return str(answer.json["memberId"])


def a_key(h: House) -> str:
    return str(h.services.staff.issue("default", "key", "k", Role.VIEWER, None, None, "operator").id)


DEVICES = "/api/admin/events/main/devices"
NEW_DEVICE = {"name": "North door, phone 1", "gate": "north-1"}


def device(h: House, revoked: bool = False) -> dict[str, str]:
    """The bearer header of a new door device of the default event (revoked, if asked)."""
    issued = h.services.staff.issue("default", "device", "d", Role.DOOR, "main", None, "operator", "north-1")
    if revoked:
        h.services.staff.revoke("default", issued.id, "operator", kind="device", event_code="main")
    return {"Authorization": f"Bearer {issued.secret}"}


def a_device(h: House) -> str:
    return device(h)["Authorization"].split(".")[0].removeprefix("Bearer ")


# A door device revoked before it asks (the door's every endpoint).
KINDS["door"]["DEVICE_REVOKED"] = lambda h, call: h.send(with_headers(call, **device(h, revoked=True)))


STAFF_OPERATIONS: dict[str, Operation] = {
    "POST /api/admin/organizers": Operation(
        lambda h: Call("POST", "/api/admin/organizers", {"organizer": h.name("org-").lower(), "name": "x"}, ADMIN),
        ("admin", "body", "store"),
        {
            "ORGANIZER_ALREADY_EXISTS": sent(
                "POST", "/api/admin/organizers", {"organizer": "default", "name": "x"}, ADMIN
            )
        },
    ),
    "GET /api/admin/organizers/{organizer}/members": Operation(
        lambda h: Call("GET", f"{ACME}/members", headers=ADMIN),
        ("admin", "store", "roles"),
        {"ORGANIZER_NOT_FOUND": sent("GET", "/api/admin/organizers/nobody/members", headers=ADMIN)},
    ),
    "POST /api/admin/organizers/{organizer}/members": Operation(
        new_member,
        ("admin", "body", "store", "roles"),
        {"ORGANIZER_NOT_FOUND": sent("POST", "/api/admin/organizers/nobody/members", NEW_MEMBER, ADMIN)},
    ),
    "DELETE /api/admin/organizers/{organizer}/members/{member_id}": Operation(
        lambda h: Call("DELETE", f"{ACME}/members/{a_member(h)}", headers=ADMIN),
        ("admin", "store", "roles"),
        {
            "ORGANIZER_NOT_FOUND": sent(
                "DELETE", f"/api/admin/organizers/nobody/members/{unknown_id()}", headers=ADMIN
            ),
            "MEMBER_NOT_FOUND": sent("DELETE", f"{ACME}/members/{unknown_id()}", headers=ADMIN),
        },
    ),
    "POST /api/admin/organizers/{organizer}/api-keys": Operation(
        lambda h: Call("POST", f"{ACME}/api-keys", {"name": "ci", "role": "viewer", "expiresInDays": 1}, ADMIN),
        ("admin", "body", "store", "roles"),
        {
            "ORGANIZER_NOT_FOUND": sent(
                "POST",
                "/api/admin/organizers/nobody/api-keys",
                {"name": "ci", "role": "viewer", "expiresInDays": 1},
                ADMIN,
            )
        },
    ),
    "POST /api/admin/organizers/{organizer}/api-keys/{key_id}/revoke": Operation(
        lambda h: Call("POST", f"{ACME}/api-keys/{a_key(h)}/revoke", headers=ADMIN),
        ("admin", "bodiless", "store", "roles"),
        {
            "ORGANIZER_NOT_FOUND": sent(
                "POST", f"/api/admin/organizers/nobody/api-keys/{unknown_id()}/revoke", headers=ADMIN
            ),
            "KEY_NOT_FOUND": sent("POST", f"{ACME}/api-keys/{unknown_id()}/revoke", headers=ADMIN),
        },
    ),
    "GET /api/admin/organizers/{organizer}/activity": Operation(
        lambda h: Call("GET", f"{ACME}/activity", headers=ADMIN),
        ("admin", "store", "roles"),
        {
            "ORGANIZER_NOT_FOUND": sent("GET", "/api/admin/organizers/nobody/activity", headers=ADMIN),
            "VALIDATION_ERROR": sent("GET", f"{ACME}/activity?kind=nothing", headers=ADMIN),
        },
    ),
    "GET /api/admin/events/{event_id}/devices": Operation(
        lambda h: Call("GET", DEVICES, headers=ADMIN),
        ("admin", "store", "roles"),
        {"EVENT_NOT_FOUND": sent("GET", "/api/admin/events/nothing/devices", headers=ADMIN)},
    ),
    "POST /api/admin/events/{event_id}/devices": Operation(
        lambda h: Call("POST", DEVICES, NEW_DEVICE, ADMIN),
        ("admin", "body", "store", "roles"),
        {"EVENT_NOT_FOUND": sent("POST", "/api/admin/events/nothing/devices", NEW_DEVICE, ADMIN)},
    ),
    "POST /api/admin/events/{event_id}/devices/{device_id}/revoke": Operation(
        lambda h: Call("POST", f"{DEVICES}/{a_device(h)}/revoke", headers=ADMIN),
        ("admin", "bodiless", "store", "roles"),
        {
            "EVENT_NOT_FOUND": sent("POST", f"/api/admin/events/nothing/devices/{unknown_id()}/revoke", headers=ADMIN),
            "KEY_NOT_FOUND": sent("POST", f"{DEVICES}/{unknown_id()}/revoke", headers=ADMIN),
        },
    ),
    "GET /api/checkin/device": Operation(
        lambda h: Call("GET", "/api/checkin/device", headers=device(h)),
        ("store", "door"),
        {"NOT_FOUND": sent("GET", "/api/checkin/device", headers=ADMIN)},
    ),
    "POST /api/staff/sign-in": Operation(
        lambda h: Call("POST", "/api/staff/sign-in", WRONG_SIGN_IN),  # accepted as a request: 401
        ("body", "store"),
        {
            "UNAUTHORIZED": sent("POST", "/api/staff/sign-in", WRONG_SIGN_IN),
            "TOO_MANY_REQUESTS": twice_from_one_address(Call("POST", "/api/staff/sign-in", WRONG_SIGN_IN)),
        },
    ),
    "GET /api/staff/me": Operation(
        with_session("GET", "/api/staff/me"), ("store",), {"UNAUTHORIZED": sent("GET", "/api/staff/me")}
    ),
    **{
        f"POST /api/staff/{path}": Operation(
            with_session("POST", f"/api/staff/{path}"),
            SESSION,
            {
                "UNAUTHORIZED": sent("POST", f"/api/staff/{path}"),
                "FORBIDDEN": without_csrf("POST", f"/api/staff/{path}"),
            },
        )
        for path in ("sign-out", "sign-out-everywhere", "second-factor")
    },
    "POST /api/staff/second-factor/confirm": Operation(
        with_session("POST", "/api/staff/second-factor/confirm", {"secret": "JBSWY3DPEHPK3PXP", "code": "000000"}),
        ("body", "store"),
        {
            "UNAUTHORIZED": sent(
                "POST", "/api/staff/second-factor/confirm", {"secret": "JBSWY3DPEHPK3PXP", "code": "1"}
            ),
            "FORBIDDEN": lambda h: h.send(
                Call(
                    "POST",
                    "/api/staff/second-factor/confirm",
                    {"secret": "JBSWY3DPEHPK3PXP", "code": "1"},
                    session(h)[0],
                )
            ),
        },
    ),
    "POST /api/staff/password-reset": Operation(
        lambda h: Call("POST", "/api/staff/password-reset", {"email": "nobody@documented.example"}),
        ("body", "store"),
        {
            "TOO_MANY_REQUESTS": twice_from_one_address(
                Call("POST", "/api/staff/password-reset", {"email": "x@y.example"})
            )
        },
    ),
    "POST /api/staff/password-reset/confirm": Operation(
        lambda h: Call(
            "POST", "/api/staff/password-reset/confirm", {"token": f"{unknown_id()}.x", "password": PASSWORD}
        ),
        ("body", "store"),
        {
            "RESET_REFUSED": sent(
                "POST", "/api/staff/password-reset/confirm", {"token": f"{unknown_id()}.x", "password": PASSWORD}
            )
        },
    ),
}
