"""Where benchmark results go: `<out>.json` (parents created), and the same JSON on stdout."""

from __future__ import annotations

import json
from pathlib import Path


def write_result(out: str | Path, result: dict) -> Path:
    path = Path(out).with_suffix(".json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    print(json.dumps(result))
    return path
