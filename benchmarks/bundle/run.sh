#!/usr/bin/env bash
# SeCo's GPU report from this folder (made by `npm run gpu:bundle`) on a Linux x86-64 machine (glibc >= 2.34)
# with a GPU driver and nothing else: no Node, no npm, no Vulkan loader needed.
#   ./run.sh OUT_DIR [--quick] [--no-torch] [--python EXE] [--only ID,ID]
# Unpacks runtime.tar.xz once (into ./runtime, or $SECO_GPU_RUNTIME), finds the NVIDIA Vulkan driver, runs the
# report and leaves gpu-<adapter>.json, gpu-<adapter>.md and report.log in OUT_DIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -lt 1 ] || [ "${1#-}" != "$1" ]; then
  echo "usage: $0 OUT_DIR [--quick] [--no-torch] [--python EXE] [--only ID,ID]" >&2
  exit 2
fi
out=$1
shift
rt=${SECO_GPU_RUNTIME:-$here/runtime}

if [ ! -x "$rt/node" ] || ! cmp -s "$here/runtime.stamp" "$rt/.stamp"; then
  echo "run.sh: unpacking runtime.tar.xz into $rt" >&2
  rm -rf "$rt"
  mkdir -p "$rt"
  if command -v xz >/dev/null 2>&1; then
    xz -dc "$here/runtime.tar.xz" | tar -x -C "$rt"
  elif command -v python3 >/dev/null 2>&1; then
    python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$here/runtime.tar.xz" "$rt"
  else
    echo "run.sh: needs xz or python3 to unpack runtime.tar.xz" >&2
    exit 1
  fi
  cp "$here/runtime.stamp" "$rt/.stamp"
fi

# The machine's own Vulkan loader if it has one, else Debian's from the bundle (SECO_VULKAN_LOADER=bundled forces it).
loader=${SECO_VULKAN_LOADER:-auto}
if [ "$loader" = auto ]; then
  loader=bundled
  for f in /usr/lib/x86_64-linux-gnu/libvulkan.so.1 /usr/lib64/libvulkan.so.1 /usr/lib/libvulkan.so.1; do
    if [ -e "$f" ]; then loader=system; fi
  done
fi
if [ "$loader" = bundled ]; then
  export LD_LIBRARY_PATH="$rt/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "run.sh: Vulkan loader from the bundle ($(cat "$rt/lib/libvulkan1.txt"))" >&2
fi
# Containers with the NVIDIA runtime mount the driver's libraries here.
if [ -d /usr/local/nvidia/lib64 ]; then
  export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}/usr/local/nvidia/lib64"
fi
# The NVIDIA Vulkan driver (ICD), unless the caller chose one.
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]; then
  icd=
  for d in /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/nvidia/share/vulkan/icd.d /usr/local/share/vulkan/icd.d; do
    for f in "$d"/nvidia*.json; do
      if [ -z "$icd" ] && [ -f "$f" ]; then icd=$f; fi
    done
  done
  if [ -n "$icd" ]; then
    # VK_DRIVER_FILES for loaders from 1.3.207 on, VK_ICD_FILENAMES for older ones.
    export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd
    echo "run.sh: Vulkan driver $icd" >&2
  else
    echo "run.sh: no NVIDIA Vulkan driver json found; the loader searches its default places" >&2
  fi
fi

mkdir -p "$out"
out=$(cd "$out" && pwd)
"$rt/node" "$rt/report.js" --out "$out" --data "$here/data" "$@" 2>&1 | tee "$out/report.log"
