"""course_lib.toy_data and course_lib.figures.training: the 2-D problems of
notebook 03 and the figures of a training run."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from course_lib.figures import decision_regions_figure, loss_figure, training_curves_figure
from course_lib.toy_data import two_moons, xor_points


def test_two_moons_is_balanced_seeded_and_on_two_arcs():
    X, y = two_moons(n=41, noise=0.0, seed=1)
    assert len(X) == 41 and sorted(set(y)) == [-1, 1] and y.count(1) == 20
    assert (X, y) == two_moons(n=41, noise=0.0, seed=1) and X != two_moons(n=41, noise=0.0, seed=2)[0]
    pts = np.array(X)
    up = np.array(y) == 1
    assert np.allclose(np.hypot(pts[up, 0], pts[up, 1]), 1.0, atol=1e-5)           # unit circle
    assert np.allclose(np.hypot(pts[~up, 0] - 1, pts[~up, 1] - 0.5), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="at least 2"):
        two_moons(n=1)


def test_xor_labels_follow_the_sign_of_the_product():
    X, y = xor_points(n=40, noise=0.1, seed=0)
    assert all((a * b > 0) == (t == 1) for (a, b), t in zip(X, y))
    assert y.count(1) == y.count(-1) == 20


def test_loss_figure_takes_floats_numpy_scalars_and_values():
    class V:
        def __init__(self, data):
            self.data = data

    fig = loss_figure([np.float64(2.0), 1.0, V(0.5)])
    assert list(fig.data[0].y) == [2.0, 1.0, 0.5] and fig.layout.yaxis.type == "log"
    assert loss_figure([1.0, -0.5]).layout.yaxis.type is None
    with pytest.raises(ValueError, match="empty"):
        loss_figure([])
    with pytest.raises(TypeError, match="list of numbers"):
        loss_figure(["a"])


def test_decision_regions_show_the_score_boundary_and_both_classes():
    X, y = two_moons(n=20, seed=0)
    fig = decision_regions_figure(lambda a, b: a - b, X, y, resolution=12)
    kinds = [type(t).__name__ for t in fig.data]
    assert kinds == ["Contour", "Contour", "Scatter", "Scatter"]
    score = np.array(fig.data[0].z)
    assert score.shape == (12, 12)
    assert np.isclose(score[0, -1], fig.data[0].x[-1] - fig.data[0].y[0])   # z[row=x2][col=x1]
    assert fig.data[1].contours.start == 0 and fig.data[1].contours.end == 0
    assert len(fig.data[2].x) + len(fig.data[3].x) == 20


def test_training_curves_put_losses_left_and_accuracies_right():
    fig = training_curves_figure({"train_loss": [1.0, 0.5], "test_acc": [0.7, 0.8], "lr": [1e-3, 1e-3]})
    assert isinstance(fig, go.Figure)
    by_name = {t.name: t for t in fig.data}
    assert set(by_name) == {"train_loss", "test_acc"}
    assert by_name["train_loss"].xaxis == "x" and by_name["test_acc"].xaxis == "x2"
    with pytest.raises(ValueError, match="no series named"):
        training_curves_figure({"lr": [0.1]})


def test_predictions_figure_captions_right_and_wrong():
    from course_lib.figures import predictions_figure

    imgs = np.zeros((3, 784))
    imgs[0, :28] = 1.0                                          # the top row of image 0
    fig = predictions_figure(imgs, [0, 1, 2], [0, 2, 2], ["a", "b", "c"], columns=2)
    captions = [a.text for a in fig.layout.annotations]
    assert captions[0] == "a: right" and "b: wrong, predicted c" in captions[1] and captions[2] == "c: right"
    assert "2 of 3 right" in fig.layout.title.text
    assert np.array(fig.data[0].z)[-1].sum() == 28              # drawn at the top (heatmap y grows upwards)
    with pytest.raises(ValueError, match="one label and one prediction per image"):
        predictions_figure(imgs, [0, 1], [0, 1, 2], ["a", "b", "c"])
