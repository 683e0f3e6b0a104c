"""What other systems learn from the ledger: the outbox, the feed's tables, webhooks and emails.

In this package's code a *notice* is an integration event (what the outbox publishes to
the feed, webhooks and emails), a *domain event* is the ledger's recorded event a notice
is derived from, and a *show* is a concert; "event" stays only where other systems or
the store see it: the published JSON, headers, ``type`` strings and messages, and the
tables, columns and row fields named after them (``integration_events``, ``event_id``,
``event_types``).
"""
