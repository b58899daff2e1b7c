"""`python -m bench.http_load`: see the package's docstring."""

from __future__ import annotations

import argparse
import asyncio
import io
import time

from PIL import Image

from bench.http_load import __doc__ as DOC
from bench.http_load.capacity import PAUSE, burst, forward_references, one_client, sixteen_clients
from bench.http_load.forward_probe import forward_child
from bench.http_load.frontend import FRONTEND_MODEL, frontend_main
from bench.http_load.mixed_soak import soak_phase
from bench.http_load.traffic import MODEL, closed_loop, test_image
from bench.server import serving


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.http_load", description=DOC)
    parser.add_argument("--max-wait-ms", type=float, default=0.0)
    parser.add_argument("--max-queue", type=int, default=16, help="GRADCAM_MAX_QUEUE")
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="another GRADCAM_ setting"
    )
    parser.add_argument("--quick", action="store_true", help="fewer requests (smoke run)")
    parser.add_argument("--frontend", action="store_true", help="only the frontend phase")
    parser.add_argument("--model", default=FRONTEND_MODEL, help="the frontend phase's model")
    parser.add_argument("--forward-of", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.forward_of:
        forward_child(args.forward_of, args.threads)
        return
    if args.frontend:
        frontend_main(args.model, args.quick)
        return
    scale = 0.1 if args.quick else 1.0
    references = forward_references()
    print(f"bare compiled forward, {MODEL} 224x224 batch 1 (median):")
    for name, ms in references.items():
        print(f"  {name}: {ms:.1f} ms")
    jpeg = test_image()
    from training.shapes_data import make_shapes

    buffer = io.BytesIO()
    Image.fromarray(make_shapes(1, seed=5)[0][0]).save(buffer, "PNG")
    settings = dict(item.split("=", 1) for item in args.set)
    settings["GRADCAM_BATCH_MAX_WAIT_MS"] = str(args.max_wait_ms)
    with serving(settings | {"GRADCAM_MAX_QUEUE": str(args.max_queue)}) as (base, pid):
        unloaded = one_client(base, jpeg, references, scale)
        capacity = sixteen_clients(base, jpeg, unloaded, scale)
        burst(base, jpeg, capacity, unloaded, scale)
        time.sleep(PAUSE)
        soak_phase(base, jpeg, buffer.getvalue(), pid, scale)
    # Requests in progress that answer within 3x the unloaded p99 at full capacity
    # (Little's law): the queue bound a latency budget allows, as opposed to the number
    # of clients the service should absorb without a refusal.
    budget_queue = max(1, int(3 * unloaded.p99 / 1000 * capacity))
    if budget_queue < args.max_queue:
        print(
            f"\nsecond server, GRADCAM_MAX_QUEUE={budget_queue} "
            f"(= 3 x unloaded p99 x capacity = 3 x {unloaded.p99 / 1000:.3f} s x {capacity:.1f}/s):"
        )
        with serving(settings | {"GRADCAM_MAX_QUEUE": str(budget_queue)}) as (base, _):
            burst(base, jpeg, capacity, unloaded, scale)
            time.sleep(PAUSE)
            again = asyncio.run(closed_loop(base, jpeg, 16, max(40, int(200 * scale))))
            print(
                f"  the same 16 closed-loop clients now: {len(again.ok())} answered, "
                f"{again.count(503)} refused (503)"
            )


if __name__ == "__main__":
    main()
