"""Running the engine for the service: the compiled explainer of one (model, layer,
method), dynamic batching, admission, devices. The top of the engine: imports every room."""
