"""TensorFlow threads on a CPU: one call with threaded ops, or several single-threaded calls?

    python -m bench.engine_threads [--repeats 20] [--model mobilenet_v2|efficientnet_lite0]

For TensorFlow's default threads per op (one per core) and for 1 thread per op, each
in a fresh process (the setting is fixed once TensorFlow starts): the model's bare
compiled forward and the engine's Grad-CAM at batch 1 and 8, then the maps per second
of two Grad-CAM calls running in parallel. Prints medians; the service's CPU defaults
(`GRADCAM_INTRA_OP_THREADS`, `GRADCAM_ENGINE_WORKERS`) come from these figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from bench.models import BENCH_MODELS, models_dir_with
from bench.timing import median_ms

PARALLEL_CALLS = 2


def parallel_maps_per_second(run: Callable[[], object], batch: int, repeats: int) -> float:
    def loop() -> None:
        for _ in range(repeats):
            run()

    threads = [threading.Thread(target=loop) for _ in range(PARALLEL_CALLS)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return PARALLEL_CALLS * repeats * batch / (time.perf_counter() - start)


def measure(intra_op_threads: int, repeats: int, model_id: str) -> dict[str, float]:
    """Figures for one threads-per-op setting (0: TensorFlow's default). Run in a child."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np
    import tensorflow as tf

    from app.engine.runtime.devices import configure_devices
    from app.registry.registry import load_registry

    configure_devices(intra_op_threads or None)
    with models_dir_with(model_id) as models_dir:
        registry = load_registry(models_dir)
    registry.warm_up()
    served = registry.get(model_id)
    forward = tf.function(lambda t: served.model(t, training=False))
    gradcam = served.gradcam(None)
    figures: dict[str, float] = {}
    for batch in (1, 8, 4):
        x = np.random.default_rng(batch).uniform(-1, 1, (batch, 224, 224, 3)).astype("float32")

        def forward_pass(x: np.ndarray = x) -> object:
            return forward(x).numpy()

        def explain(x: np.ndarray = x) -> object:
            return gradcam.explain(x, [3])

        if batch != 4:
            figures[f"forward b{batch}"] = median_ms(forward_pass, repeats)
            figures[f"gradcam b{batch}"] = median_ms(explain, repeats)
        if batch != 8:
            figures[f"2 parallel calls b{batch}"] = parallel_maps_per_second(
                explain, batch, repeats
            )
    return figures


def run_child(intra_op_threads: int, repeats: int, model_id: str) -> dict[str, float]:
    command = [sys.executable, "-m", "bench.engine_threads", "--child", str(intra_op_threads)]
    command += ["--repeats", str(repeats), "--model", model_id]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return dict(json.loads(output.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--model", choices=BENCH_MODELS, default="mobilenet_v2")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(measure(args.child, args.repeats, args.model)))
        return
    cores = len(os.sched_getaffinity(0))
    results = {
        f"TensorFlow default ({cores} threads per op)": run_child(0, args.repeats, args.model),
        "1 thread per op": run_child(1, args.repeats, args.model),
    }
    print(f"{args.model} 224x224 on {cores} CPUs; medians of {args.repeats} calls")
    for name, figures in results.items():
        print(f"\n{name}:")
        for what, value in figures.items():
            unit = "maps/s" if "parallel" in what else "ms"
            per_map = f"  ({value / int(what[-1]):.2f} ms per map)" if unit == "ms" else ""
            print(f"  {what:24s} {value:8.2f} {unit}{per_map}")
    default, single = results.values()
    print(
        "\n1 thread per op vs default: gradcam b1 "
        f"{single['gradcam b1'] / default['gradcam b1']:.2f}x the time; "
        f"two parallel calls b1 {single['2 parallel calls b1'] / default['2 parallel calls b1']:.2f}x"
        " the maps/s"
    )


if __name__ == "__main__":
    main()
