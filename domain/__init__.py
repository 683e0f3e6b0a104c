"""The booking ledger's core: event-sourced aggregates and their errors.

Imports only the standard library and ``eventsourcing.domain``. Module names here are
stored in every event's topic (``domain.tiers:TicketTier.TicketsBooked``): never rename
them without registering the old topic.
"""
