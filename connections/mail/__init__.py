"""Talking to mail servers: the connection probe behind the Test button (see probe.py)."""
