"""psi0_bridge: the bridge node — the last safety guard between any command source and the G1: chunk execution
on its own clock, the whole-body controller slot, limits, watchdogs and the 500 Hz LowCmd stream."""
