"""Starting the app in a checkout prints no noise."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_serving_without_collected_static_files_warns_about_nothing(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_STATIC_ROOT": str(tmp_path / "not-collected"),
        "PYTHONWARNINGS": "default",
    }
    env.pop("DJANGO_STATIC_COLLECTED", None)
    started = subprocess.run(
        [
            sys.executable,
            "-c",
            "from django.core.wsgi import get_wsgi_application; get_wsgi_application()",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode == 0, started.stderr
    assert "No directory at" not in started.stderr
