"""Pixel-level methods: maps at the model input's resolution, from the gradient at the
input (`Capture.input_gradients`) rather than at a layer.

`options` holds the request's knobs (samples, noise, seed, steps, baseline) and the
baseline images; `maps` the tensor math; `attributions` one function per method
(saliency, SmoothGrad, Integrated Gradients on pixels or on a text model's embedding,
guided backprop, Guided Grad-CAM); `fullgrad` FullGrad's bias terms on an unfolded Keras
replay; `runner` the one compiled pass per (model, layer, method) and its chunking.
"""
