"""The API's resources, a room per context: the sale, the door, the waiting room, the
administration, and the feed. A resource imports no other resource: what two share is in
``web/schemas/`` (the JSON shapes), ``web/identity/`` (who asks) or ``web/openapi/`` (the document)."""
