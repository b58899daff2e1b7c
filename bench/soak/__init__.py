"""Weeks of uptime in minutes: the real server under a long mixed load, its memory and
TensorFlow's traces read after a warm-up and at the end.

    python -m bench.soak [--requests 3000] [--seconds S] [--warmup N] [--clients 4]

Every bundled model is served from a temporary copy of `models/`, plus `shapes_v`: a
copy of shapes in TF Serving's layout (version folders), watched with
GRADCAM_POLL_SECONDS=1, and `shapes_remote`: a remote card calling this server's own
`shapes:predict`. Clients send a fixed cycle of requests (`kinds`, `heads`, `extras`):
several methods with faithfulness scores, text, several targets and layers, overlays of
every kind (true, layer, false; png, jpeg, webp; JSON, multipart, raw bodies, Accept:
image/*), region and box targets on `shapes_seg`/`shapes_det`, the pixel-level methods
and pytorch-grad-cam's later methods and options, occlusion and RISE (local and remote),
`:predict`, uploads of random sizes and formats, audit jobs followed to their report
(kept 60 s, so expiry runs too) and bad requests between them, each expected to answer
200 (202) or 4xx as listed. Halfway through, version 2 of `shapes_v` is published
(renamed into place); it must serve before the end.

Printed: the server's resident memory (VmRSS from /proc) and its tf.function traces
(`gradcam_process_traces_total` from /metrics) after the warm-up and at the end, with
the ratio. Goal: memory at the end at most 5 % above memory after the warm-up; no new
trace after the warm-up other than version 2's own (its first call of each compiled
step, as version 1 had during the warm-up).
"""
