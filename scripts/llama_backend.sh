#!/usr/bin/env bash
# Pick llama.cpp's backend for this machine and print its name
# (cpu, cuda, metal, vulkan, rocm); scripts/build_llama.py knows each one's build flags.
# PONDER_BACKEND=cpu|cuda|metal|vulkan|rocm overrides the detection.
set -eu
pick="${PONDER_BACKEND:-}"
if [ -z "$pick" ]; then
  if [ "$(uname -s)" = "Darwin" ]; then
    pick=metal
  elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && command -v nvcc >/dev/null 2>&1; then
    pick=cuda
  elif command -v hipconfig >/dev/null 2>&1 && command -v rocminfo >/dev/null 2>&1 && rocminfo >/dev/null 2>&1; then
    pick=rocm
  elif command -v glslc >/dev/null 2>&1 && { pkg-config --exists vulkan 2>/dev/null || [ -n "${VULKAN_SDK:-}" ]; }; then
    pick=vulkan
  else
    pick=cpu
  fi
fi
case "$pick" in
  cpu|cuda|metal|vulkan|rocm) echo "$pick" ;;
  *) echo "PONDER_BACKEND must be cpu, cuda, metal, vulkan or rocm (got '$pick')" >&2; exit 2 ;;
esac
