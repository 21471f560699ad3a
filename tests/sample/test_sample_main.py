"""``python -m llm_twin.sample.server`` serves until interrupted and prints the entry links."""

from __future__ import annotations

import signal
import subprocess
import sys

import requests


def test_main_prints_entry_links_and_serves(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "llm_twin.sample.server", "--linkedin", str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(8)]
        assert lines[0].strip() == "Sample author: Nell Harrowgate"
        links = [line.split()[1] for line in lines[1:5]]
        assert links[0].endswith("/@nellharrowgate") and links[3].endswith("/nharrowgate/kerf")
        assert lines[5].split()[0] == "15"
        assert (tmp_path / "Basic_LinkedInDataExport_02-09-2025.zip").exists()
        assert lines[7].startswith("Press Ctrl-C")
        assert requests.get(links[1], timeout=5).status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)  # generous: CI shares two cores
    assert process.returncode == 0
