"""Who asks: users (the open default or verified bearer tokens), what a user id may be, and the
admin's, the feed's and the scanners' bearer tokens."""
