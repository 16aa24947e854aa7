#!/usr/bin/env bash
# Sets up the whole workspace on a fresh machine, idempotently:
#   1. .venv with every pinned dependency (requirements.txt, then the Unitree SDK without deps),
#   2. the colcon workspace (psi0_msgs message generation + the Python packages, symlinked; vendor/ interface
#      packages the underlay lacks, e.g. tf2_msgs).
# Each step keeps a stamp (hash of its inputs); a second run with nothing changed only compares hashes.
# Needs: python3.11 with venv + pip, a C compiler. Nothing else preinstalled.
set -eo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
VENV=$ROOT/.venv

hash_of() { cat "$@" 2>/dev/null | sha256sum | cut -c1-16; }

# ---- 1. virtual environment -------------------------------------------------------------------
req_hash=$(hash_of requirements.txt requirements-nodeps.txt tools/setup.sh)
if [ "$(cat "$VENV/.psi0-stamp" 2>/dev/null)" != "$req_hash" ]; then
  echo "[setup] creating/updating $VENV (pinned dependencies; first run takes ~2 min)"
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements.txt 2>&1 \
    | grep -v '^WARNING: Location' || true
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps -r requirements-nodeps.txt 2>&1 \
    | grep -v '^WARNING: Location' || true
  "$VENV/bin/python" - <<'PY'
import importlib, sys
mods = ["rclpy", "unitree_sdk2py.core.channel", "cyclonedds", "mujoco", "torch", "onnxruntime", "rosbags", "colcon_core"]
missing = []
for m in mods:
    try:
        importlib.import_module(m)
    except Exception as e:  # noqa: BLE001 - report every broken import at once
        missing.append(f"{m}: {e}")
if missing:
    sys.exit("[setup] dependencies failed to import:\n  " + "\n  ".join(missing))
PY
  echo "$req_hash" > "$VENV/.psi0-stamp"
else
  echo "[setup] .venv up to date"
fi

# ---- 2. colcon workspace ----------------------------------------------------------------------
# Inputs that change what the build produces. Python sources are symlinked, so editing them needs
# no rebuild; adding files to launch/ or config/ does (their list is part of the hash).
build_inputs=$( { find src vendor -name package.xml -o -name CMakeLists.txt -o -name setup.py -o -name setup.cfg \
                    -o -name '*.msg' -o -name '*.srv' -o -path '*/resource/*' | sort;
                  find launch config -type f | sort; } )
build_hash=$( { echo "$req_hash"; echo "$build_inputs"; echo "$build_inputs" | xargs cat; } | sha256sum | cut -c1-16)
if [ "$(cat install/.psi0-stamp 2>/dev/null)" != "$build_hash" ]; then
  echo "[setup] colcon build"
  # shellcheck disable=SC1091
  source "$VENV/bin/activate"
  export AMENT_PREFIX_PATH=$VIRTUAL_ENV
  # vendor/<pkg> only where the underlay lacks <pkg> (vendor/README.md): a real ROS install is never shadowed
  base_paths=(src)
  for pkg in vendor/*/; do
    pkg=$(basename "$pkg")
    if [ ! -f "$VIRTUAL_ENV/share/$pkg/package.xml" ]; then base_paths+=("vendor/$pkg"); fi
  done
  colcon --log-base log build --base-paths "${base_paths[@]}" --build-base build --install-base install \
    --merge-install --symlink-install \
    --cmake-args -DPython3_EXECUTABLE="$VENV/bin/python" -DBUILD_TESTING=OFF
  echo "$build_hash" > install/.psi0-stamp
else
  echo "[setup] workspace build up to date"
fi
