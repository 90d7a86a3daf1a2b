"""Times MediaPipe's own runtime (LiteRT with its default XNNPACK delegate) on the two
BlazePose models, for `marionette bench --model blazepose --reference-python PY`.

Needs `pip install ai-edge-litert numpy` in the Python given. Prints one JSON line:
{"detector_ms": median, "landmark_ms": median, "runtime": "...", "threads": n}.
"""

import argparse
import json
import time

import numpy as np


def load_interpreter(path, threads):
    try:
        from ai_edge_litert.interpreter import Interpreter

        runtime = "ai-edge-litert"
    except ImportError:  # the older package name of the same runtime
        from tflite_runtime.interpreter import Interpreter

        runtime = "tflite-runtime"
    it = Interpreter(model_path=path, num_threads=threads)
    it.allocate_tensors()
    return it, runtime


def median_ms(path, threads, warmup, runs):
    it, runtime = load_interpreter(path, threads)
    detail = it.get_input_details()[0]
    x = np.random.default_rng(0).random(detail["shape"], dtype=np.float32)
    times = []
    for i in range(warmup + runs):
        it.set_tensor(detail["index"], x)
        t = time.perf_counter()
        it.invoke()
        if i >= warmup:
            times.append((time.perf_counter() - t) * 1e3)
    return float(np.median(times)), runtime


def main():
    p = argparse.ArgumentParser()
    p.add_argument("detector")
    p.add_argument("landmark")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--runs", type=int, default=15)
    a = p.parse_args()
    det, runtime = median_ms(a.detector, a.threads, a.warmup, a.runs)
    lm, _ = median_ms(a.landmark, a.threads, a.warmup, a.runs)
    print(json.dumps({"detector_ms": det, "landmark_ms": lm, "runtime": runtime, "threads": a.threads}))


if __name__ == "__main__":
    main()
