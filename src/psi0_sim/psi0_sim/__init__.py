"""psi0_sim: MuJoCo G1 that speaks the robot's own DDS interface (rt/lowstate, rt/lowcmd, Dex3), with a head camera."""
