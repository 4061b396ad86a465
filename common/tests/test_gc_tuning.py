"""common/gc_tuning.py: the long-running processes freeze what startup built and collect
everything else as rarely as asked (checked in fresh interpreters: freezing is for good)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from django.conf import settings

from common.gc_tuning import FULL_COLLECTION_EVERY

REPORT = "import gc, json; print(json.dumps([gc.get_freeze_count(), gc.get_threshold()]))"


def gc_state_after(code: str) -> tuple[int, list[int]]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "project.settings"}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    done = subprocess.run([sys.executable, "-c", f"{code}\n{REPORT}"], cwd=settings.BASE_DIR,
                          env=env, capture_output=True, text=True, timeout=120, check=True)
    frozen, thresholds = json.loads(done.stdout.strip().splitlines()[-1])
    return frozen, thresholds


def test_the_web_process_freezes_django_and_the_app_once_loaded():
    frozen, thresholds = gc_state_after("import project.asgi")
    assert frozen > 50_000  # Django, DRF, every view: never walked by a full collection again
    assert thresholds[2] == FULL_COLLECTION_EVERY


def test_without_it_nothing_is_frozen():
    """The check above can fail: a plain Django process freezes nothing."""
    frozen, thresholds = gc_state_after("import django; django.setup()")
    assert frozen == 0
    assert thresholds[2] != FULL_COLLECTION_EVERY
