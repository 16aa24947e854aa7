"""psi0_core: the ground every psi0 package stands on (imports nothing of the others).

- the G1: robot facts and constants (robot), its MuJoCo description (g1_model), its wire protocol — frames, CRC,
  DDS endpoint (lowlevel, crc, robot_dds);
- the one Ψ0 ⇄ G1 adapter (g1_adapter): 36-D state and action ⇄ joints, motor targets, whole-body command,
  action-chunk fields;
- the action-chunk contract (chunks): validation, execution, offline replay;
- typed configuration (params) and its ROS wiring (ros_params), time helpers (rostime), image codec, bag types,
  the share-folder lookup (share).
Only the ros_* modules (and rostime's message types) touch ROS.
"""
