"""``CopyOnWriteRepository``: the library's repository, except that an aggregate in its cache
is never changed. Why, and what guards it: the index, ``application/persistence/__init__.py``."""

from __future__ import annotations

from collections.abc import Iterable
from copy import deepcopy
from typing import Any
from uuid import UUID

from eventsourcing.application import ProjectorFunction, Repository


class CopyOnWriteRepository(Repository[UUID]):
    """The library's repository, except that an aggregate in the cache is never changed.

    The library fast-forwards a cached aggregate in place, under a lock, but copies it
    for the caller only after releasing that lock, so a reader could copy a tier that
    another thread was half-way through advancing (its version one ahead of its sales).
    Here fast-forwarding advances a copy and caches that instead: cached objects are
    only ever replaced. The application's own ``save`` caches what it saved, so a saved
    aggregate must not be changed afterwards (the ledger decides on fresh copies).
    """

    def get(
        self,
        aggregate_id: Any,
        *,
        version: int | None = None,
        projector_func: ProjectorFunction[Any, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        projector_func = projector_func or mutate_in_turn
        if version is None and self.cache is not None:
            projector_func = self._advancing_a_copy(projector_func)
        return super().get(aggregate_id, version=version, projector_func=projector_func, **kwargs)

    def _advancing_a_copy(self, project: ProjectorFunction[Any, Any]) -> ProjectorFunction[Any, Any]:
        def advance(aggregate: Any, events: Iterable[Any]) -> Any:
            events = list(events)
            if aggregate is None or not events:  # rebuilt from the store, or nothing new
                return project(aggregate, events)
            advanced = project(deepcopy(aggregate), events)
            if self.cache is not None and advanced is not None:
                self.cache.put(advanced.id, advanced)
            return advanced

        return advance


def mutate_in_turn(aggregate: Any, events: Iterable[Any]) -> Any:
    """The library's ``project_aggregate`` without its ``isinstance`` check of each event
    against a runtime-checkable ``Protocol``: a cost paid on every event of every read."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate
