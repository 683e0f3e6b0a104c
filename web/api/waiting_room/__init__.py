"""The on-sale waiting room: the queue as buyers see it, and its administration."""
