#!/usr/bin/env bash
# Container entry point: binds DDS to the robot's interface, sources ROS 2 and the workspace, and runs
#   ros2 launch psi0 deploy.launch.py network_interface:=$ROBOT_IFACE <your arguments>
set -eo pipefail
: "${ROBOT_IFACE:=eth0}"
sed "s/\${ROBOT_IFACE}/${ROBOT_IFACE}/" /opt/psi0/dds/cyclonedds.xml.template > /opt/psi0/dds/cyclonedds.xml
for setup in /opt/ros/jazzy/setup.bash /opt/ros/jazzy/install/setup.bash; do
  # shellcheck disable=SC1090
  [ -f "$setup" ] && source "$setup" && break
done
# shellcheck disable=SC1091
source /opt/psi0/install/setup.bash
if [ "$#" -gt 0 ] && [ "${1#*:=}" = "$1" ]; then
  exec "$@"  # a command (e.g. bash, psi0 record ...) instead of launch arguments
fi
exec ros2 launch psi0 deploy.launch.py network_interface:="${ROBOT_IFACE}" "$@"
