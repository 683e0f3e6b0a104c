"""gunicorn -c gunicorn.conf.py: the settings packaged in ``web/server/gunicorn_settings.py``
(what ``ticketledger serve`` uses), for running gunicorn from the checkout or the image."""

from web.server.gunicorn_settings import *  # noqa: F401,F403 (gunicorn reads the module's names)
