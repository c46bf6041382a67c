"""The Binder configuration (repo2docker reads binder/) matches what the book runs with.

A real Binder launch needs Docker and the internet; these checks catch the mistakes that would
break it: another Python, unpinned requirements, mlbook_utils not installed, jupytext missing
(it lets JupyterLab open the MyST pages as notebooks).
"""

import os
import re

from tests.conftest import ROOT

BINDER = ROOT / "binder"


def test_python_version_matches_the_makefile():
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"
    assert "(3, 11)" in (ROOT / "Makefile").read_text()


def test_requirements_are_the_books_pins():
    text = (BINDER / "requirements.txt").read_text()
    assert "-r ../requirements.txt" in text
    pins = [line for line in (ROOT / "requirements.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[\w.+]+", p) for p in pins), pins
    names = {p.split("==")[0].lower() for p in pins}
    assert {"jupytext", "torch", "ipykernel"} <= names


def test_post_build_installs_the_helper_package():
    post = BINDER / "postBuild"
    assert os.access(post, os.X_OK), "postBuild must be executable"
    assert "pip install --no-deps --editable ." in post.read_text()
