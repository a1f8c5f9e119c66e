#!/usr/bin/env bash
# Pick llama-cpp-python's build flags for this machine. Prints two lines:
#   NAME        (cpu, cuda, metal, vulkan, rocm)
#   CMAKE_ARGS  (for pip's build of llama-cpp-python)
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
  cpu)    args="-DGGML_NATIVE=ON" ;;
  cuda)   args="-DGGML_CUDA=ON" ;;
  metal)  args="-DGGML_METAL=ON" ;;
  vulkan) args="-DGGML_VULKAN=ON" ;;
  rocm)   args="-DGGML_HIP=ON" ;;
  *) echo "PONDER_BACKEND must be cpu, cuda, metal, vulkan or rocm (got '$pick')" >&2; exit 2 ;;
esac
echo "$pick"
echo "$args"
