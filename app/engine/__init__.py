"""The engine: from a batch of model inputs to maps and scores, compiled.

Rooms, each importing only those before it (tests/test_layout.py checks it):
`compiled` (one way to compile a step), `targets` (what is differentiated), `layers` (which
layer), `capture` (running a model while capturing a layer), `methods` (maps from what
was captured), `evaluation` (how faithful a map is), `runtime` (the compiled explainer,
batching, admission, devices). Nothing here imports the registry, the API or render.
"""
