"""Date formats of the console (FORMAT_MODULE_PATH): one format everywhere, time zone shown."""
