"""HTTP load benchmark: the real server (uvicorn, one worker) on loopback.

    python -m bench.http_load [--max-queue 16] [--max-wait-ms 0] [--set NAME=VALUE] [--quick]
    python -m bench.http_load --frontend [--model efficientnet_lite0] [--quick]

In one run: bare compiled forward passes of efficientnet_lite0 (the bundled ImageNet
classifier) for reference (TensorFlow's default threads, and 1 thread per op as the
server runs on a small CPU); then 640x480 JPEG explain requests (a real photo) for
efficientnet_lite0 with the default overlay (auto: a JPEG for this JPEG): 1 sequential client, 16 concurrent clients, a
burst at 3x the measured capacity, and a soak of 2,000 mixed requests over every
bundled model (RSS growth and trace count). When the queue bound
is larger than what 3x the unloaded p99 allows at that capacity, a second server with
that smaller bound takes the same burst and the 16 clients again. Prints every figure.

`--frontend` runs only the frontend phase: one httpx client (as users call the API),
one 640x480 JPEG as a multipart upload, sequential requests for each response kind a
frontend picks (default JSON: the composite, a JPEG since overlay_format=auto; the same
with overlay_format=png; overlay=layer; overlay=false; Accept: image/png), interleaved
so each sees the same machine; p50, body size, and the goals as ratios to overlay=false
(the same request without any drawing): overlay=layer <= 1.15x, default JSON <= 1.35x,
default JSON body <= 100 KB. A bare compiled forward pass of the same model, measured in
a child process between the requests (side by side, under the same load), gives the
scale. Then the floor under every kind (the child's preprocessing of the JPEG, compiled
Grad-CAM, an HTTP round trip of the upload refused before any model work), and where
the drawing's time goes, step by step, in the same child.
"""

from bench.http_load.traffic import test_image
from bench.server import ROOT, free_port, start_server

# What the other benchmarks take from here.
__all__ = ["ROOT", "free_port", "start_server", "test_image"]
