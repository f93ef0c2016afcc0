"""DeepDream helpers for notebook 07: the classifier (pretrained, or a digit CNN
trained offline), images and their transforms, layer hooks, figures. The
optimisation itself is the student's."""
from .hooks import LayerActivation
from .images import (
    PHOTOS, blur, images_figure, jitter, load_photo, probability_figure, random_shift, resize, shift_log, to_image,
    to_model_input, unjitter,
)
from .models import Classifier, DigitCNN, load_classifier

__all__ = [
    "PHOTOS", "Classifier", "DigitCNN", "LayerActivation", "blur", "images_figure", "jitter", "load_classifier",
    "load_photo", "probability_figure", "random_shift", "resize", "shift_log", "to_image", "to_model_input",
    "unjitter",
]
