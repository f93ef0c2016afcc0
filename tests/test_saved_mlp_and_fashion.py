"""Notebook 03's real-data grading: course_lib.data.saved_mlp (save a PyTorch MLP,
rebuild it from the file alone, refuse what is not allowed or not safe) and
course_lib.checks.fashion (the accuracy target, the offline-weights rule, the
numpy network on real images)."""
from __future__ import annotations

import pickle
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from course_lib.data import saved_mlp as S
from course_lib.checks import CheckFailure
from course_lib.checks import fashion as F
from course_lib.data import load_fashion_mnist

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
needs_shared = pytest.mark.skipif(not (SHARED / "fashion_mnist_2k").is_dir(),
                                  reason=f"the offline data folder {SHARED} (../shared/data) is absent")


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """Offline, in an empty folder, with no accepted offline target unless a test sets one."""
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setenv("COURSE_DATA_ROOT", str(tmp_path / "cache"))
    monkeypatch.delenv(F.ENV_OFFLINE_TARGET, raising=False)
    monkeypatch.chdir(tmp_path)


def _data(full: bool, n: int = 60_000) -> SimpleNamespace:
    return SimpleNamespace(full=full, y_train=torch.zeros(n), source="test fixture")


def _mlp(hidden: int = 32) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.ReLU(), nn.Dropout(0.1),
                         nn.BatchNorm1d(hidden), nn.Sequential(nn.Linear(hidden, 10)))


# ---------------------------------------------------------------- saved_mlp
def test_round_trip_rebuilds_the_same_network(tmp_path):
    model = _mlp().eval()
    path = S.save_mlp(model, tmp_path / "w.pt", _data(True), history={"train_loss": [2.0, 1.0], "test_acc": [0.5, 0.8]},
                      mean=0.3, std=0.4)
    saved = S.load_mlp(path)
    x = torch.rand(5, 784)
    with torch.no_grad():
        want = model((x - 0.3) / 0.4)
    assert torch.allclose(saved.model((x - 0.3) / 0.4), want)
    assert torch.equal(saved.predict(x), want.argmax(1))
    assert saved.describe() == "Flatten → Linear(784, 32) → ReLU → Dropout → BatchNorm1d → Linear(32, 10)"
    assert saved.trained_on == {"dataset": "Fashion-MNIST", "full": True, "n_train": 60_000, "source": "test fixture"}
    assert saved.history == {"train_loss": [2.0, 1.0], "test_acc": [0.5, 0.8]}
    assert not saved.model.training


@pytest.mark.parametrize("model, phrase", [
    (nn.Linear(784, 10), "needs the network as an nn.Sequential"),
    (nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(2704, 10)), "no convolution"),
    (nn.Sequential(nn.Linear(784, 10), nn.MaxPool1d(2)), "no convolution or pooling"),
    (nn.Sequential(type("MyLinear", (nn.Linear,), {})(784, 10)), "cannot rebuild"),
    (nn.Sequential(nn.ReLU()), "no nn.Linear"),
])
def test_save_refuses_what_the_grader_cannot_or_must_not_rebuild(tmp_path, model, phrase):
    with pytest.raises(S.SavedMLPError, match=phrase):
        S.save_mlp(model, tmp_path / "w.pt")
    assert not (tmp_path / "w.pt").exists()


class _Payload:
    """A pickle that would create a file when loaded unsafely."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_load_never_runs_code_from_the_file(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "w.pt"
    with open(path, "wb") as fh:
        pickle.dump({"meta_json": "{}", "state_dict": _Payload(marker)}, fh)
    with pytest.raises(S.SavedMLPError, match="cannot be read as saved weights"):
        S.load_mlp(path)
    assert not marker.exists()


def _rewrite(path: Path, **changes) -> None:
    blob = torch.load(path, weights_only=True)
    import json

    meta = json.loads(blob["meta_json"])
    for key, value in changes.items():
        if key == "state":
            blob["state_dict"] = value(blob["state_dict"])
        else:
            meta[key] = value
    blob["meta_json"] = json.dumps(meta)
    torch.save(blob, path)


def test_load_refuses_broken_or_foreign_files(tmp_path, monkeypatch):
    path = tmp_path / "w.pt"
    with pytest.raises(S.SavedMLPError, match="there is no file w.pt"):
        S.load_mlp(path)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(S.SavedMLPError, match="cannot be read"):
        S.load_mlp(path)
    torch.save(_mlp().state_dict(), path)            # a bare state_dict, not save_mlp's format
    with pytest.raises(S.SavedMLPError, match="not written by save_mlp"):
        S.load_mlp(path)

    S.save_mlp(_mlp(), path, _data(True))
    _rewrite(path, layers=[{"type": "Conv2d", "in_channels": 1}])
    with pytest.raises(S.SavedMLPError, match="'Conv2d', which is not allowed"):
        S.load_mlp(path)

    S.save_mlp(_mlp(), path, _data(True))
    _rewrite(path, state=lambda sd: {k: (v[:, :100] if k == "1.weight" else v) for k, v in sd.items()})
    with pytest.raises(S.SavedMLPError, match="do not fit the layers"):
        S.load_mlp(path)

    S.save_mlp(_mlp(), path, _data(True))
    _rewrite(path, state=lambda sd: {k: (v * float("nan") if k == "1.weight" else v) for k, v in sd.items()})
    with pytest.raises(S.SavedMLPError, match="nan or inf: training diverged"):
        S.load_mlp(path)

    S.save_mlp(_mlp(), path, _data(True))
    monkeypatch.setattr(S, "MAX_FILE_MB", 0.01)
    with pytest.raises(S.SavedMLPError, match="more than the 0.01 MB allowed"):
        S.load_mlp(path)


def test_should_train(tmp_path, monkeypatch, capsys):
    path = tmp_path / "w.pt"
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert S.should_train(path)
    path.write_bytes(b"x")
    assert not S.should_train(path) and "not training again" in capsys.readouterr().out
    assert S.should_train(path, retrain=True)
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert not S.should_train(path, retrain=True) and "Grading: not training" in capsys.readouterr().out


# ---------------------------------------------------------------- check_fashion_mlp
@pytest.fixture(scope="module")
def test_images():
    if not (SHARED / "fashion_mnist_2k").is_dir():
        pytest.skip(f"the offline data folder {SHARED} is absent")
    return load_fashion_mnist(flatten=True, offline=True, verbose=False)


@pytest.fixture(scope="module")
def memorised(test_images) -> nn.Sequential:
    """A network fitted to the 2,000 TEST images themselves: the only way to get
    weights above 85% offline, used solely to exercise the check's pass path."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    x, y = test_images.x_test, test_images.y_test
    for _ in range(60):
        for i in range(0, len(y), 250):
            loss = nn.functional.cross_entropy(model(x[i:i + 250]), y[i:i + 250])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


def test_missing_weights_say_where_and_what_to_do(tmp_path):
    with pytest.raises(CheckFailure, match=r"there is no file fashion_mlp.pt beside this notebook .*Run the "
                                           r"training cells above in your own session"):
        F.check_fashion_mlp("fashion_mlp.pt")


@needs_shared
def test_full_training_weights_above_the_target_pass(memorised, capsys):
    S.save_mlp(memorised, "fashion_mlp.pt", _data(True), history={"train_loss": [1.0]})
    assert F.check_fashion_mlp("fashion_mlp.pt", hard=True) is None     # nbgrader would score a returned number
    out = capsys.readouterr().out
    assert re.search(r"PASSED: check_fashion_mlp .*: 9\d\.\d\d% on", out) and "OFFLINE FALLBACK" in out
    assert "2,000 real Fashion-MNIST test images that ship offline" in out and "85%" in out


@needs_shared
def test_weights_below_the_target_fail_with_advice(test_images):
    S.save_mlp(_mlp(), "fashion_mlp.pt", _data(True))       # untrained
    with pytest.raises(CheckFailure, match=r"classifies \d+\.\d\d% of the 2,000 .* target .* is 85%.*Ideas"):
        F.check_fashion_mlp("fashion_mlp.pt")


@needs_shared
def test_offline_trained_weights_need_the_graders_consent(memorised, monkeypatch, capsys):
    S.save_mlp(memorised, "fashion_mlp.pt", _data(False, 1115))
    with pytest.raises(CheckFailure, match=r"trained on 1,115 training images, not the full 60,000.*Colab"):
        F.check_fashion_mlp("fashion_mlp.pt")
    monkeypatch.setenv(F.ENV_OFFLINE_TARGET, "0.5")
    F.check_fashion_mlp("fashion_mlp.pt")
    assert "accepts such weights at 50% (COURSE_OFFLINE_WEIGHTS_TARGET)" in capsys.readouterr().out
    monkeypatch.setenv(F.ENV_OFFLINE_TARGET, "0.999")
    S.save_mlp(_mlp(), "fashion_mlp.pt", _data(False, 1115))
    with pytest.raises(CheckFailure, match="accepts such weights at 100%"):
        F.check_fashion_mlp("fashion_mlp.pt")
    monkeypatch.setenv(F.ENV_OFFLINE_TARGET, "lots")
    with pytest.raises(CheckFailure, match="is not a number"):
        F.check_fashion_mlp("fashion_mlp.pt")


@needs_shared
def test_wrong_sizes_and_missing_history(test_images):
    S.save_mlp(nn.Sequential(nn.Linear(100, 10)), "fashion_mlp.pt", _data(True))
    with pytest.raises(CheckFailure, match="must take 784 inputs"):
        F.check_fashion_mlp("fashion_mlp.pt")
    S.save_mlp(nn.Sequential(nn.Linear(784, 5)), "fashion_mlp.pt", _data(True))
    with pytest.raises(CheckFailure, match="give 10 outputs"):
        F.check_fashion_mlp("fashion_mlp.pt")
    S.save_mlp(_mlp(), "fashion_mlp.pt", _data(True))
    with pytest.raises(CheckFailure, match="records no training history"):
        F.check_fashion_mlp("fashion_mlp.pt", hard=True)


def test_a_corrupt_weights_file_is_a_check_failure():
    Path("fashion_mlp.pt").write_bytes(b"\x80\x04garbage")
    with pytest.raises(CheckFailure, match="check_fashion_mlp: fashion_mlp.pt cannot be read"):
        F.check_fashion_mlp("fashion_mlp.pt")


# ---------------------------------------------------------------- check_numpy_net_learns
class _Knows:
    """A 'network' that outputs given scores (to drive the check)."""

    def __init__(self, scores):
        self.scores = scores

    def forward(self, A):
        return self.scores


def _labels(n: int = 200) -> np.ndarray:
    return np.arange(n) % 10


def test_numpy_net_that_learned_passes(capsys):
    y = _labels()
    F.check_numpy_net_learns(_Knows(np.eye(10)[y]), np.zeros((200, 784)), y, [2.3, 1.0, 0.5])
    assert "100.0% of 200 test images correct" in capsys.readouterr().out


@pytest.mark.parametrize("losses, scores, phrase", [
    ([2.3, 2.2], None, "should fall by at least 30%"),
    ([2.3], None, "at least 2 epochs"),
    ([2.3, float("nan")], None, "nan or inf"),
    (["a", 1.0], None, "list of numbers"),
    ([2.3, 0.5], np.zeros((200, 3)), r"should be \(200, 10\)"),
    ([2.3, 0.5], np.eye(10)[np.zeros(200, dtype=int)], r"labels 10.0% .*chance"),
])
def test_numpy_net_faults_are_named(losses, scores, phrase):
    y = _labels()
    scores = np.eye(10)[y] if scores is None else scores
    with pytest.raises(CheckFailure, match=phrase):
        F.check_numpy_net_learns(_Knows(scores), np.zeros((200, 784)), y, losses)


def test_numpy_net_that_raises_names_forward():
    class Broken:
        def forward(self, A):
            raise NotImplementedError()

    with pytest.raises(CheckFailure, match=r"Broken.forward: not implemented yet"):
        F.check_numpy_net_learns(Broken(), np.zeros((20, 784)), _labels(20), [2.0, 1.0])
