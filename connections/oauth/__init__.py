"""Authorizing mailboxes with OAuth 2.0: providers (URLs, quirks), http (calls to them),
the flow (Authorize, the callback, Disconnect) and tokens (store, refresh, use)."""
