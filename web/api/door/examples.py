"""The examples of the ticket and door answers in the API document (``web/api/door/checkin.py``,
``web/api/door/booking_tickets.py``)."""

from __future__ import annotations

from web.openapi.error_examples import BOOKING_ID

TICKET_ID = "0c1f3a5e-8b7d-5e2c-9a4f-6d8e1b2c3a4f"
CODE = (
    "TL1.aw98V01uTB-aUV8aKzxNXgAAAAD0mXl0ZcyIhQ6X3v3Dxk0p0Tzl1v9rnp1K8wXJh1Q0oS2W"
    "cFhQe1cW8iY0g7lN3b4xZ2yA9dQv6mR5tK1sJ0hA"
)
AT = "2026-12-05T19:02:11.204315+00:00"
ADMISSION = {
    "ticketId": TICKET_ID,
    "bookingId": BOOKING_ID,
    "seat": 0,
    "tier": "VIP",
    "userId": "alice",
    "gate": "north-1",
    "checkedInAt": AT,
}
UPLOAD = {"gate": "south-2", "scans": [{"scanId": "s2-0001", "code": CODE, "scannedAt": AT}]}
UPLOADED = {
    "gate": "south-2",
    "admitted": 0,
    "conflicts": 1,
    "refused": 0,
    "results": [
        {
            "scanId": "s2-0001",
            "outcome": "conflict",
            "ticketId": TICKET_ID,
            "first": {"gate": "north-1", "scannedAt": "2026-12-05T19:01:58.011002+00:00", "scanId": "n1-0017"},
            "reason": None,
        }
    ],
}
TICKET_LIST = {
    "publicKey": "o3k9Xf2vJc1mR8sT5uW7yZ0aB4dE6gH9iK2lM5nP8qQ",
    "codePrefix": "TL1.",
    "tickets": [{"ticketId": TICKET_ID, "bookingId": BOOKING_ID, "seat": 0, "tier": "VIP", "checkedIn": False}],
    "signature": "3mJ0b6QvS1c9Zr2xT8kL5nW4pY7aD0fG3hK6mN9qR2tU5wX8zA1cE4gI7jL0oP3sV6yB9eH2kN5qT8wZ1cF4iL7oR0uX3a",
}
BOOKING_TICKETS = [
    {
        "ticketId": TICKET_ID,
        "seat": 0,
        "tier": "VIP",
        "code": CODE,
        "checkedInAt": None,
        "gate": None,
        "qrSvg": '<svg width="135" height="135" class="segno">…</svg>',
    }
]
DEVICE = {
    "deviceId": "6f1c2a4e-8d0b-4c7e-9a51-3b2d9e7f0a14",
    "name": "North door, phone 1",
    "eventId": "new-year-2027",
    "eventName": "New Year's Eve",
    "gate": "north-1",
}
