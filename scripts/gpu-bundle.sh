#!/usr/bin/env bash
# Builds the GPU suite on this (normal, GPU-less) machine and packs it for a
# GPU machine that has only the CUDA toolkit and driver:
#
#   scripts/gpu-bundle.sh [OUT_DIR]      (default: .gpu-bundle, git-ignored)
#
# OUT_DIR gets the stripped `scn` and `test_gpu` binaries (RelWithDebInfo, stripped, SCN_CUDA=ON,
# CUDA runtime linked statically, cuBLAS from the GPU machine's toolkit), lib/
# with every shared library they load that is neither the C/C++ runtime nor
# CUDA's, and shared/ with the stories260K model and golden outputs the tests
# read; and OUT_DIR.tar.gz holding it all. Then, on the GPU machine:
#   tar -xzf OUT_DIR.tar.gz && scripts/gpu-check --bundle OUT_DIR
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$here/.gpu-bundle}"
bdir="${SCN_GPU_BUILD_DIR:-$here/build-gpu}"
shared="${SCN_SHARED_DIR:-$here/../shared}"

if [ "${SCN_GPU_NO_BUILD:-0}" != 1 ]; then  # 1: pack what $bdir holds
  cmake -S "$here" -B "$bdir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSCN_CUDA=ON >/dev/null
  cmake --build "$bdir" --target scn test_gpu -j"${SCN_JOBS:-2}"
fi

rm -rf "$out"
mkdir -p "$out/lib" "$out/shared"
for b in scn test_gpu; do
  src="$bdir/$b"; [ -f "$src" ] || src="$bdir/tests/gpu/$b"
  cp "$src" "$out/$b"
  strip --strip-unneeded "$out/$b"
done
# Shared libraries besides glibc, libstdc++/libgcc and CUDA's own.
for b in "$out/scn" "$out/test_gpu"; do
  ldd "$b" | awk '/=> \// {print $3}'
done | sort -u | while read -r lib; do
  case "$(basename "$lib")" in
    libc.so*|libm.so*|libdl.so*|librt.so*|libpthread.so*|libresolv.so*|ld-linux*|libstdc++.so*|libgcc_s.so*) ;;
    libcuda.so*|libcublas*|libcudart*|libnvidia*) ;;
    *) cp -L "$lib" "$out/lib/" ;;
  esac
done
cp -r "$shared/models" "$shared/golden" "$out/shared/"
[ -d "$shared/vocab" ] && cp -r "$shared/vocab" "$out/shared/"
[ -d "$shared/tokenizers" ] && cp -r "$shared/tokenizers" "$out/shared/"
du -sh "$out"
# One compressed file to carry to the GPU machine (its copy limit is 64 MiB).
tar -C "$(dirname "$out")" -czf "$out.tar.gz" "$(basename "$out")"
ls -la "$out.tar.gz"
