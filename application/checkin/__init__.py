"""Tickets at the door: signed ticket codes and check-in, online and merged from offline gates."""
