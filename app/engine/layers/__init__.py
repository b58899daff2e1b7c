"""Which layer is explained: layer references, token grids, lookup by name, index or
ELI5's rules, the Keras layer-graph replay, and the gradient probe for token layers.
Imports `app.engine.compiled` at most; nothing of capture, methods or runtime."""
