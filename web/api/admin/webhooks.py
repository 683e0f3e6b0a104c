"""``/api/admin/webhooks``: register webhook endpoints, pause, resume and replay them,
and read their delivery log (behind the admin token, like the rest of ``/api/admin``).

The endpoint's secret is shown once, when it is created (given, or made up: ``whsec_…``);
delivery itself runs in ``python -m projections`` (projections/integrations/webhook_delivery.py).
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import fields, validate

from projections.integrations.notices import TYPES
from web.identity.tokens import require_admin_token
from web.openapi.apidoc import ADMIN, ADMIN_SECURITY, JSON_BODY, Blueprint
from web.schemas.fields import MAX_STORED_INTEGER, CamelCaseSchema, FullMatch, QueryInteger, ResponseSchema
from web.services import services

blp = Blueprint(
    "webhooks",
    __name__,
    url_prefix="/api/admin/webhooks",
    description="Webhook endpoints and their deliveries (bearer token)",
)
blp.before_request(require_admin_token)

# http(s), a host name or IPv4 address, a port in range, then any printable path: what
# the document promises is exactly what is accepted (no user info, no IPv6 literals).
PORT = r"(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})"
URL = rf"^https?://[A-Za-z0-9.-]+(:{PORT})?(/[\x21-\x7e]*)?$"
SECRET = r"^[\x21-\x7e]{16,128}$"
NO_CONTROLS = r"^[^\x00-\x1f\x7f]*$"
READ = (*ADMIN, "STORE_UNAVAILABLE")


class NewEndpointSchema(CamelCaseSchema):
    url = fields.String(
        required=True,
        validate=[validate.Length(max=2048), FullMatch(URL)],
        metadata={"example": "https://crm.example.com/hooks/tickets"},
    )
    event_types = fields.List(
        fields.String(validate=validate.OneOf(TYPES)),
        validate=validate.Length(min=1),
        load_default=None,
        allow_none=True,
        metadata={"description": "the types to deliver; omitted or null: every type"},
    )
    secret = fields.String(
        validate=FullMatch(SECRET),
        load_default=None,
        metadata={"description": "16–128 printable ASCII characters; omitted: one is made up"},
    )
    description = fields.String(validate=[validate.Length(max=200), FullMatch(NO_CONTROLS)], load_default="")


class EndpointSchema(ResponseSchema):
    endpoint_id = fields.String()
    url = fields.String()
    event_types = fields.List(fields.String(), allow_none=True, metadata={"description": "null: every type"})
    description = fields.String()
    status = fields.String(metadata={"enum": ["active", "paused", "failing"]})
    status_reason = fields.String(allow_none=True)
    position = fields.Integer(metadata={"description": "the last event delivered (a feed position)"})
    created_at = fields.DateTime(format="iso")


class CreatedEndpointSchema(EndpointSchema):
    secret = fields.String(metadata={"description": "signs every delivery; shown only here"})


class ReplaySchema(CamelCaseSchema):
    after = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=0, max=MAX_STORED_INTEGER),
        metadata={"description": "deliver again every event after this position"},
    )


class DeliveriesQuerySchema(CamelCaseSchema):
    limit = QueryInteger(load_default=100, validate=validate.Range(min=1, max=1000))


class AttemptSchema(ResponseSchema):
    position = fields.Integer()
    event_id = fields.String()
    attempt = fields.Integer()
    at = fields.DateTime(format="iso")
    delivered = fields.Boolean()
    status_code = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True)
    latency_ms = fields.Float()


AT = "2026-11-24T08:41:16.609600+00:00"
ENDPOINT_ID = "we_4f9c2e7a1b3d4c5e8f6a7b8c9d0e1f2a"
ENDPOINT = {
    "endpointId": ENDPOINT_ID,
    "url": "https://crm.example.com/hooks/tickets",
    "eventTypes": ["booking.confirmed", "booking.cancelled"],
    "description": "CRM",
    "status": "active",
    "statusReason": None,
    "position": 120,
    "createdAt": AT,
}


@blp.route("")
class Endpoints(MethodView):
    @blp.response(200, EndpointSchema(many=True), example=[ENDPOINT])
    @blp.errors(*READ)
    @blp.doc(security=ADMIN_SECURITY)
    def get(self) -> Any:
        """Every webhook endpoint (without secrets)."""
        return services().integrations.endpoints.list()

    @blp.arguments(
        NewEndpointSchema(),
        error_status_code=400,
        example={
            "url": "https://crm.example.com/hooks/tickets",
            "eventTypes": ["booking.confirmed", "booking.cancelled"],
            "description": "CRM",
        },
    )
    @blp.response(
        201, CreatedEndpointSchema(), example={**ENDPOINT, "secret": "whsec_2hV0cS1q5mB8yXr3kP9wT4uZ7eA6dN0f"}
    )
    @blp.errors(*ADMIN, *JSON_BODY, "STORE_UNAVAILABLE")
    @blp.doc(security=ADMIN_SECURITY)
    def post(self, new: dict[str, Any]) -> Any:
        """Register an endpoint: it gets the events recorded from now on (``replay`` for older ones)."""
        return (
            services()
            .caught_up_integrations()
            .endpoints.add(new["url"], new["event_types"], new["secret"], new["description"])
        )


@blp.route("/<endpoint_id>")
class OneEndpoint(MethodView):
    @blp.response(200, EndpointSchema(), example=ENDPOINT)
    @blp.errors(*READ, "WEBHOOK_NOT_FOUND")
    @blp.doc(security=ADMIN_SECURITY)
    def get(self, endpoint_id: str) -> Any:
        """One endpoint: its status and position."""
        return services().integrations.endpoints.get(endpoint_id)


@blp.route("/<endpoint_id>/pause")
class Pause(MethodView):
    @blp.response(200, EndpointSchema(), example={**ENDPOINT, "status": "paused", "statusReason": "paused by an admin"})
    @blp.errors(*ADMIN, "UNSUPPORTED_MEDIA_TYPE", "STORE_UNAVAILABLE", "WEBHOOK_NOT_FOUND")
    @blp.doc(security=ADMIN_SECURITY)
    def post(self, endpoint_id: str) -> Any:
        """Stop delivering (events keep queueing at the endpoint's position)."""
        return services().integrations.endpoints.pause(endpoint_id)


@blp.route("/<endpoint_id>/resume")
class Resume(MethodView):
    @blp.response(200, EndpointSchema(), example=ENDPOINT)
    @blp.errors(*ADMIN, "UNSUPPORTED_MEDIA_TYPE", "STORE_UNAVAILABLE", "WEBHOOK_NOT_FOUND")
    @blp.doc(security=ADMIN_SECURITY)
    def post(self, endpoint_id: str) -> Any:
        """Deliver again from where it stopped (paused or failing)."""
        return services().integrations.endpoints.resume(endpoint_id)


@blp.route("/<endpoint_id>/replay")
class Replay(MethodView):
    @blp.arguments(ReplaySchema(), error_status_code=400, example={"after": 0})
    @blp.response(200, EndpointSchema(), example={**ENDPOINT, "position": 0})
    @blp.errors(*ADMIN, *JSON_BODY, "STORE_UNAVAILABLE", "WEBHOOK_NOT_FOUND")
    @blp.doc(security=ADMIN_SECURITY)
    def post(self, body: dict[str, Any], endpoint_id: str) -> Any:
        """Move the endpoint back (or forward) to position ``after`` and deliver from there."""
        return services().integrations.endpoints.replay(endpoint_id, body["after"])


@blp.route("/<endpoint_id>/deliveries")
class Deliveries(MethodView):
    @blp.arguments(DeliveriesQuerySchema(), location="query", error_status_code=400)
    @blp.response(
        200,
        AttemptSchema(many=True),
        example=[
            {
                "position": 120,
                "eventId": "0f0c1a52-7b8e-5d3c-9a4f-2c6d8e1b3a57",
                "attempt": 2,
                "at": AT,
                "delivered": True,
                "statusCode": 200,
                "error": None,
                "latencyMs": 41.7,
            }
        ],
    )
    @blp.errors(*READ, "VALIDATION_ERROR", "WEBHOOK_NOT_FOUND")
    @blp.doc(security=ADMIN_SECURITY)
    def get(self, query: dict[str, Any], endpoint_id: str) -> Any:
        """The endpoint's latest delivery attempts, newest first: status, error, latency."""
        return services().integrations.endpoints.deliveries(endpoint_id, query["limit"])
