"""Write docs/parameters.md from the nodes' parameter schemas (`python tools/gen_params_doc.py`).

tests/unit/test_docs.py fails when the file is out of date with the schemas.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "parameters.md"


def render() -> str:
    from psi0.cli import SCHEMAS, node_schema

    parts = ["# Node parameters\n",
             "Generated from the parameter schemas by `tools/gen_params_doc.py`; `psi0 params <node>` prints one.",
             "Read-only parameters (safety values) cannot be changed while the node runs; every value is",
             "checked against its range at start-up, and unknown names are refused.\n"]
    for node in SCHEMAS:
        parts += [f"## {node}\n", node_schema(node).markdown(), ""]
    return "\n".join(parts)


if __name__ == "__main__":
    OUT.write_text(render())
    print(f"wrote {OUT}")
    sys.exit(0)
