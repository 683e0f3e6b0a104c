"""The server runtime: gunicorn's settings and its gevent worker, with what they add to it
(psycopg's waits on gevent's loop, a bounded share of each turn of the loop per class of
request). None of it imports the app: gunicorn's master loads the settings and the worker
class before it forks, and the worker imports them before gevent patches the process."""
