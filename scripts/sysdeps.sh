#!/usr/bin/env bash
# Installs the system libraries citywalk needs (EGL + Mesa's llvmpipe for headless OpenGL) when missing.
set -euo pipefail
if ldconfig -p | grep -q 'libEGL_mesa.so' && ldconfig -p | grep -q 'libgbm.so'; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "citywalk needs EGL and Mesa: sudo apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri libgbm1" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libegl1 libegl-mesa0 libgl1-mesa-dri libgbm1 >/dev/null
