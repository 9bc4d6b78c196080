#!/usr/bin/env bash
# Installs the system packages citywalk needs when missing: EGL + Mesa's llvmpipe (headless
# OpenGL), Noto CJK fonts (sign lettering), tesseract with Japanese and Traditional Chinese data
# (the sign OCR test) and chromium (the Studio's browser test).
set -euo pipefail
need=()
ldconfig -p | grep -q 'libEGL_mesa.so' || need+=(libegl1 libegl-mesa0 libgl1-mesa-dri)
ldconfig -p | grep -q 'libgbm.so' || need+=(libgbm1)
[ -e /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || need+=(fonts-noto-cjk)
command -v tesseract >/dev/null || need+=(tesseract-ocr)
[ -n "$(ls /usr/share/tesseract-ocr/*/tessdata/jpn.traineddata 2>/dev/null)" ] || need+=(tesseract-ocr-jpn)
[ -n "$(ls /usr/share/tesseract-ocr/*/tessdata/chi_tra.traineddata 2>/dev/null)" ] || need+=(tesseract-ocr-chi-tra)
command -v chromium >/dev/null || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "citywalk needs: sudo apt-get install ${need[*]}" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
