"""The sale: the tier list and booking (``/api/tickets``), holds, orders, events (shows) and
a tier's state and history."""
