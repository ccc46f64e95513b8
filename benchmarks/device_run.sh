#!/usr/bin/env bash
# One run on a lent GPU machine (the `device` tool of the development workplace; see the
# README's "GPU backend"): the GPU benchmark, then the GPU half of the test suite, on the
# card's own Vulkan driver. Prepared here, since the machine has no network:
#   .gl/   the Vulkan/GL loader .debs (apt-get download libvulkan1 libegl1 libglvnd0 ...)
#   .whl/  the ferrograd wheel (maturin build --release -o .whl) and the test-only
#          packages the machine's image lacks (wgpu, wgpudawn, cffi, pycparser, rendercanvas)
# Both are ignored by git and carried. Results land in $OUT (bench.txt, tests.log).
set -u
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1 FERROGRAD_REQUIRE_GPU=1
out=${OUT:-/tmp}
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv | tee "$out/gpu.txt"
has_gpu='import ferrograd as fg, sys; a = fg.gpu.adapters(); print(a); sys.exit(not a or a[0]["type"] == "cpu")'
if ! python3 -c "$has_gpu"; then
    # The driver's ICD files live outside the loader's search path on some images.
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
    python3 -c "$has_gpu" || exit 1
fi
timeout "${BENCH_S:-240}" python3 benchmarks/gpu.py --variants 2>&1 | tee "$out/bench.txt"
timeout "${TESTS_S:-240}" python3 -m pytest tests -k "gpu or shaders" -rfs --maxfail=25 -n 8 -p no:cacheprovider \
    -W ignore::pytest.PytestUnraisableExceptionWarning 2>&1 | tee "$out/tests.log" | tail -40
