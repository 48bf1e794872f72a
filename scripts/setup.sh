#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine needs: headless OpenGL for MuJoCo, a C++ compiler (for
# torch.compile, the trainer's --compile and its test), then the Python packages.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
if command -v apt-get >/dev/null; then
  $SUDO apt-get update -qq || true
  $SUDO apt-get install -y -qq libegl1 libegl-mesa0 libgl1-mesa-dri libosmesa6 g++ >/dev/null
fi
python3 -m pip install -q -r requirements.txt  # the project itself, editable (pip install -e .[dev]), and its dependencies
