"""``ticketledger verify``: run the real service under concurrent clients and faults,
record every request and answer, and check the history against the event store.

- ``hosts``: the servers, the projection process and the private PostgreSQL cluster;
- ``workload`` and ``client``: the clients, and how they send and retry;
- ``paying``: with ``--payments``, a paid event's buyers and the delivery of their money;
- ``faults``: what is killed or crashed, and when;
- ``history``: the record of every attempt and fault (JSON lines);
- ``store``: the event store as recorded, read directly;
- ``checker``, ``linearizability`` and ``money``: the checks, each anomaly by kind;
- ``summary``: the tables printed at the end; ``run``: the command.
"""
