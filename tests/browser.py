"""Browser fixtures (Playwright + Debian chromium)."""
