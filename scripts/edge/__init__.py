"""The edge in front of the web hosts: nginx's configuration (``config.py``) and the
publisher that sends each change of the tier list to nchan (``publisher.py``)."""
