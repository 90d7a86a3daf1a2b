# Sourced by the GPU-machine scripts: puts the CUDA libraries of the machine's PyTorch (same
# CUDA 13 major as the build) and the driver's folder on LD_LIBRARY_PATH. Uses $PYTHON
# (default python3).
libdirs=$("${PYTHON:-python3}" - <<'PY'
import glob, os, sys
dirs = set()
for p in sys.path:
    for pat in ("nvidia/*/lib", "nvidia/*/*/lib"):
        for d in glob.glob(os.path.join(p, pat)):
            if glob.glob(d + "/lib*.so*"):
                dirs.add(d)
print(":".join(sorted(dirs)))
PY
)
[ -d /usr/local/nvidia/lib64 ] && libdirs="$libdirs:/usr/local/nvidia/lib64"
export LD_LIBRARY_PATH="$libdirs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
