"""The production topology on one machine (``make cluster``; docs/production.md): three etcd
members, three Patroni nodes and HAProxy (``database.py``), the web hosts and the projection
process (``__main__.py``), each "host" on a loopback address of its own (``layout.py``) and
every process recorded (``recorded.py``); and the nodes as the history checker's store, with
their faults (``checked_store.py``, cutting links with ``links.py``)."""
