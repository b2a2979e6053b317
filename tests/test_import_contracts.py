"""The dependency direction of ARCHITECTURE.md, checked by import-linter as ``make lint`` does.

The contracts live in pyproject.toml (``[tool.importlinter]``); running them here too means
``make test`` alone catches an app importing across a layer.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_imports_keep_every_architecture_contract():
    # given: the linter installed beside this interpreter (the dev extras)
    lint_imports = Path(sys.executable).with_name("lint-imports")

    # when: it checks the source tree (cwd: it analyses the packages found there)
    result = subprocess.run(
        [str(lint_imports), "--no-cache", "--no-logo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    # then
    assert result.returncode == 0, result.stdout + result.stderr
    assert ", 0 broken." in result.stdout
