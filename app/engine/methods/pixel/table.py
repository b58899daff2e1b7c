"""The pixel-level methods as entries of the method table (`app.engine.methods`)."""

from __future__ import annotations

from app.engine.methods.pixel import attributions
from app.engine.methods.pixel.fullgrad import fullgrad
from app.engine.methods.pixel.runner import PixelMethod

SALIENCY = PixelMethod(attributions.saliency)
SMOOTHGRAD = PixelMethod(attributions.smoothgrad, copies="samples")
INTEGRATED_GRADIENTS = PixelMethod(
    attributions.integrated_gradients, copies="steps", token_ids=True
)
GUIDED_BACKPROP = PixelMethod(attributions.guided_backprop)
GUIDED_GRADCAM = PixelMethod(attributions.guided_gradcam, image_only=True, uses_layer=True)
FULLGRAD = PixelMethod(fullgrad, image_only=True, keras_only=True)
