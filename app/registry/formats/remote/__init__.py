"""Remote models: a TF Serving REST or KServe V1 endpoint the service can only call.

`client` sends batched `:predict` calls (bounded concurrency, timeout, retries with
backoff) and checks the answers; `model` reads the endpoint's metadata and readiness;
`explainer` runs the black-box methods with the remote's predictions as the score. No
TensorFlow weights are loaded: the remote has a forward and no gradient.
"""
