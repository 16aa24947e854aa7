"""`make demo`: the main job on its embedded default, the simulated G1.

Until the simulator and policy land, this runs what exists and says so.
"""

from __future__ import annotations

import importlib.util
import sys


def main() -> int:
    have_sim = importlib.util.find_spec("psi0_sim.sim_node") is not None
    have_policy = importlib.util.find_spec("psi0_policy.policy_node") is not None
    if not (have_sim and have_policy):
        missing = [n for n, ok in (("simulator (psi0_sim)", have_sim), ("policy node (psi0_policy)", have_policy)) if not ok]
        print("psi0 demo: the end-to-end demo needs " + " and ".join(missing) + ", which have not landed yet.")
        print("psi0 demo: what exists now: the workspace, messages, launcher and tests — run `make test`.")
        return 0
    from psi0.demo_run import run  # the full demo, once every part exists

    return run()


if __name__ == "__main__":
    sys.exit(main())
