"""The bench's settings: the app's own, with a urlconf that adds the bare views to compare with."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
