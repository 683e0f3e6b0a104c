"""The store, and every place the project overrides the ``eventsourcing`` library: the index.

Checked against eventsourcing 9.5.6, the version ``pyproject.toml`` pins (``>=9.5.6,<9.6``).
Each entry names the library member it replaces or leans on, why, and the tests that fail if
the library changes under it. At an upgrade, read the library's source of each member named
here and check that what the override assumes still holds. Outside this folder the library
is used only as its own examples use it: aggregates subclass ``Aggregate``, and the read
model's views (tracking recorders of ``tracking.py``) add tables of their own through
``sql_create_statements`` and ``construct_create_table_statements``, as the library's
searchable-content example does; nothing there patches a library class, uses a private
library member or replaces the library's SQL. ``storage.py`` holds what the overrides share
(the DDL lock, the retry of a creation that lost a race, the probe), not an override.

``application.py``, over ``Application``:

- ``StoreApplication.construct_factory`` (``prepare_store``): the SQLite file's folder is made,
  the library's PostgreSQL factory is replaced by ``LedgerPostgresFactory``, and on SQLite an
  application may name a recorder of its own (``sqlite_recorder``). Guards:
  tests/unit/test_storage.py, tests/integration/test_recording.py.
- ``StoreApplication.construct_repository``: the repository below.
- ``StoreApplication._record``: what was saved is cached, so the next read need not read
  this process's own events back (the library caches on save only without fast-forward).
  Guard: tests/integration/test_aggregate_cache.py.
- ``StoreApplication._take_snapshots``: a snapshot of the aggregate as saved, where the
  library rebuilds it at the crossing version from the store. Guards: the snapshot tests
  of tests/integration/test_ledger.py.
- ``StoreApplication.construct_snapshot_store``: its table creation tried again after a
  lost race. Guard: tests/unit/test_storage.py.

``repository.py``, over ``Repository.get`` and ``project_aggregate``:

- ``CopyOnWriteRepository``: the library fast-forwards a cached aggregate in place and copies
  it for the caller after releasing its lock, so a reader could copy a tier half-way through
  an update; here a copy is advanced and replaces the cached one. ``mutate_in_turn`` is
  ``project_aggregate`` without its ``isinstance`` check against a runtime-checkable
  ``Protocol``. Guard: tests/integration/test_aggregate_cache.py.

``postgres.py``, over ``PostgresFactory`` and its recorders:

- ``LedgerPostgresFactory``: makes the recorders below, sets psycopg_pool's
  ``reconnect_timeout`` (no library setting) so the pool reconnects on demand, and tries
  ``application_recorder`` again until PostgreSQL answers at start-up.
  Guard: tests/integration/test_store_probe.py.
- ``BoundedConnection`` (``deadline.py``), psycopg_pool's ``connection_class`` of the library's
  pool: psycopg's ``Connection.wait`` given the time left of a request's store deadline, so a
  stalled PostgreSQL costs a prompt 503 (``OUTCOME_UNKNOWN`` once a recording was sent, marked
  by the recorders' ``insert_events`` through ``may_commit``), never a hang; and the recording's
  function takes the transaction's own ``lock_timeout`` unless ``POSTGRES_LOCK_TIMEOUT`` is set.
  ``BoundedPool`` (``deadline.py``), the class of the pool the library made (its ``getconn``,
  psycopg_pool's, given the time left): a request finding the pool empty while no node
  leads waits no longer than its deadline for a connection.
  Guards: tests/integration/test_write_deadline.py, tests/e2e/test_prompt_answers.py.
- ``bounded_retries``: the library's ``retry``-decorated recorder methods, unwrapped through
  ``__wrapped__`` and retried ``STORE_ATTEMPTS`` (2) times, not 10, so a request learns within
  seconds that PostgreSQL is down (docs/configuration.md, "When PostgreSQL goes away"), by
  ``store_retry``, which skips the pause before a try that the request's deadline would cut.
  Guard: tests/unit/test_storage.py.
- ``LockedDDL``: ``create_table`` and the private ``_create_table`` under the store's DDL lock.
  Guards: tests/unit/test_storage.py, tests/e2e/test_server.py.
- ``LockedDDLPostgresRecorder.insert_events``: one statement, ``record_<events table>``, a
  function of the project's own replacing the library's at ``create_insert_function_statement_index``
  in ``sql_create_statements``: the library's transaction is five round trips under the
  table's lock, and its own database function leaves out the table lock that keeps
  notification ids in commit order. Guard: tests/integration/test_recording.py.
- ``recording_ends_turn``: a tier's turn (``application/booking/turns.py``) hands its open
  transaction to the recorder through a ``ContextVar``; the recording is sent on it with the
  turn's ``COMMIT``, one round trip less. Guard: tests/integration/test_turns.py.
- ``events_read_ahead`` and ``LockedDDLPostgresRecorder.select_events`` (over the library's
  ``select_events``): a tier's turn reads the tiers' events since the versions this process
  caches in the flight that takes the turn (``events_after``), and the repository's
  fast-forward of each tier is served from that read, once: a batch is two round trips.
  Guards: tests/integration/test_turns.py (the round trips, counted by the delaying proxy),
  the conflict tests of tests/integration/test_ledger.py (a retry reads the store again).

``sqlite.py``: ``RoomSQLiteRecorder``, the waiting room's log in a table of its own (the
library's SQLite recorder names its table for no application).
Guard: tests/integration/test_waiting_rooms.py, the test of the log's table.

``tracking.py``, over the tracking recorders, for the read model's views
(``projections/read_model/view_stores.py``):

- ``PostgresTracking`` and ``SQLiteTracking``: table creation under the DDL lock (PostgreSQL)
  and tried again after a lost race, ``max_tracking_id`` with the bounded retries, and the
  name of the library's tracking table for the read model's own SQL (``tracking_table``).
- ``open_tracking`` and ``tracking_table_name``: the view made as the library's
  ``factory.tracking_recorder`` and ``ProjectionRunner`` would make it (PostgreSQL's table
  ``<projection name>_tracking``), with the constructor arguments of the view's own.
- ``TRACKED_NAME`` and ``TRACKED_POSITION``: the read model moves its position in the
  library's tracking table with SQL of its own, a compare-and-set, in place of
  ``insert_tracking`` (``projections/read_model/tables.py``, ``views.py``).
  Guards: tests/integration/test_projections.py, tests/integration/test_rebuild.py.

Upgrading to the 9.6 line. No 9.6 tag or release was found: the repository's
``pyproject.toml`` names 9.6.0b1 at commit 04578d2109a4e074baa0671d05c8f1d0d238afdc, and
PyPI has, after 9.5.6, only the pre-releases 10.0.0a1 to a7. What follows was read in
``eventsourcing/application.py`` at commit a2249a672fffe4edfe90deca117719163015bdad of that
line, and in the published 10.0.0a7, where the same changes went on:

- ``Repository.get(aggregate_id, aggregate_cls=None, *, version, projector_func, ...)``:
  aggregate ids are ``str``; the class comes second, positional, and a get with neither a
  class nor a projector of the caller's raises ``ProgrammingError``; ``__contains__`` is
  commented out (the ledger's ``in self.repository`` must become a get). In 10.0.0a7 the
  keyword ``projector_func`` is ``projector``. ``CopyOnWriteRepository.get`` passes
  ``projector_func`` by name and wraps it: it must take the new name and pass the class on.
- ``project_aggregate``, which ``mutate_in_turn`` copies, is ``default_aggregate_projector``
  at a2249a67 and ``evolve_aggregate`` in 10.0.0a7, made by a ``projector(mutator)``
  decorator; what it folds are ``AggregateEvent`` envelopes around a ``decision``, each still
  applied by ``envelope.mutate(aggregate)``, the call ``mutate_in_turn`` makes.
- ``_record`` keeps its name and body; ``ProcessingEvent`` is generic in the decision type,
  its ``events`` are envelopes and its ``aggregates`` are keyed by ``str`` ids (10.0.0a7 keeps
  only ``Aggregate`` instances there), which ``StoreApplication._record`` reads.
- ``_take_snapshots`` passes the aggregate's class and a ``projector`` to ``take_snapshot``,
  which no longer stores ``Snapshot.take(aggregate)`` itself but an ``AggregateEvent`` around
  it (``decision``, ``originator_id``, ``originator_version``), and no longer reads the
  application's ``snapshot_class``: ``StoreApplication._take_snapshots``, which stores
  the bare snapshot, must wrap it the same way.
- 10.0.0a7 also renames the tracking table's ``application_name`` column ``context_name``
  (``TRACKED_NAME``, and a migration of the stored tables), and PostgreSQL's default
  ``originator_id_type`` is ``text`` where the stored tables have ``uuid``
  (the setting ``ORIGINATOR_ID_TYPE``, default ``uuid`` in 9.5.6).
"""
