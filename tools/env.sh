# Source this file to use the workspace: `source tools/env.sh` (bash or zsh).
# Activates .venv and the colcon install tree; keeps DDS discovery on this machine by default.
_psi0_root=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)
# shellcheck disable=SC1091
source "$_psi0_root/.venv/bin/activate"
export AMENT_PREFIX_PATH="$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
# colcon's setup script adds the install tree (and the symlinked Python sources) to the paths.
# shellcheck disable=SC1091
COLCON_CURRENT_PREFIX="$_psi0_root/install" source "$_psi0_root/install/local_setup.sh"
export PATH="$_psi0_root/install/lib/psi0:$PATH"
export RMW_IMPLEMENTATION=${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}
export ROS_AUTOMATIC_DISCOVERY_RANGE=${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}
export PSI0_ROOT="$_psi0_root"
unset _psi0_root
