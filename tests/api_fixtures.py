"""Fixtures for the API tests (owned by the API work)."""
