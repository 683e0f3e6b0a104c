"""The production topology on one machine (``make cluster``; docs/production.md): etcd, a
Patroni pair and HAProxy (``database.py``), the web hosts and the projection process
(``__main__.py``), each "host" on a loopback address of its own (``layout.py``); and the
pair as the history checker's store, with its faults (``checked_store.py``)."""
