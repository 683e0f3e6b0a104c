"""The door: check-in (``/api/checkin``) and a booking's admission tickets with their codes."""
