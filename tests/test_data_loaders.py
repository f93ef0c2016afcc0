"""course_lib.data: real torchvision datasets online, announced fallback to
../shared/data offline. Nothing is downloaded here: every test is offline."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from course_lib.data import images as D

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
needs_shared = pytest.mark.skipif(
    not (SHARED / "fashion_mnist_2k").is_dir() or not (SHARED / "mnist_20k").is_dir(),
    reason=f"the offline data folder {SHARED} (../shared/data beside the project) is absent",
)


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No network, no torchvision copy: COURSE_OFFLINE=1 and an empty root."""
    monkeypatch.setenv(D.ENV_OFFLINE, "1")
    monkeypatch.delenv(D.ENV_DATA_DIR, raising=False)
    monkeypatch.chdir(tmp_path)


@needs_shared
def test_fashion_fallback_via_env_var_is_announced(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv(D.ENV_DATA_DIR, str(SHARED))
    data = D.load_fashion_mnist(root=tmp_path / "tv")
    out = capsys.readouterr().out
    assert "OFFLINE FALLBACK for Fashion-MNIST" in out
    assert "1,115 training images and 2,000 test images" in out
    assert "0.7 percentage points" in out
    x_train, y_train, x_test, y_test = data
    assert x_train.shape == (1115, 1, 28, 28) and x_test.shape == (2000, 1, 28, 28)
    assert x_train.dtype == torch.float32 and 0.0 <= float(x_train.min()) and float(x_train.max()) <= 1.0
    assert float(x_test.max()) == 1.0
    assert y_train.dtype == torch.int64 and set(y_test.tolist()) == set(range(10))
    assert data.classes == D.CLASSES and D.CLASSES[9] == "Ankle boot" and len(D.CLASSES) == 10
    assert not data.full and data.notes and data.test_standard_error() == pytest.approx(0.727, abs=0.01)
    # the first official test image is an ankle boot (label 9)
    assert int(y_test[0]) == 9


@needs_shared
def test_flatten_and_env_var_naming_the_subfolder(monkeypatch, capsys):
    monkeypatch.setenv(D.ENV_DATA_DIR, str(SHARED / "fashion_mnist_2k"))
    x_train, _, x_test, _ = D.load_fashion_mnist(flatten=True)
    assert x_train.shape == (1115, 784) and x_test.shape == (2000, 784)
    assert "OFFLINE FALLBACK" in capsys.readouterr().out


@needs_shared
def test_found_by_searching_upwards_from_the_working_directory(monkeypatch, capsys):
    monkeypatch.chdir(ROOT / "source_notebooks" / "ps1")
    folder, looked = D.find_shared_data("fashion_mnist_2k")
    assert folder == SHARED / "fashion_mnist_2k" and looked[-1] == folder
    data = D.load_fashion_mnist()
    assert len(data.y_test) == 2000 and str(SHARED) in capsys.readouterr().out


@needs_shared
def test_mnist_fallback(monkeypatch, capsys):
    monkeypatch.setenv(D.ENV_DATA_DIR, str(SHARED))
    data = D.load_mnist()
    out = capsys.readouterr().out
    assert "OFFLINE FALLBACK for MNIST" in out and "20,000 training images" in out
    assert data.x_train.shape == (20000, 1, 28, 28) and data.x_test.shape == (2000, 1, 28, 28)
    assert data.classes == D.MNIST_CLASSES


@needs_shared
def test_failed_download_falls_back_and_says_why(monkeypatch, capsys):
    monkeypatch.delenv(D.ENV_OFFLINE)
    monkeypatch.setenv(D.ENV_DATA_DIR, str(SHARED))

    def no_network(name, root, download, flatten):
        assert download is True
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(D, "_torchvision", no_network)
    data = D.load_fashion_mnist()
    out = capsys.readouterr().out
    assert "the download failed (RuntimeError: Error downloading" in out and not data.full


def test_the_real_path_is_used_when_it_works(monkeypatch, capsys):
    monkeypatch.delenv(D.ENV_OFFLINE)
    calls = []

    def fake_torchvision(name, root, download, flatten):
        calls.append((name, download))
        x = torch.zeros(6, 784) if flatten else torch.zeros(6, 1, 28, 28)
        return x, torch.zeros(6, dtype=torch.int64), x[:2], torch.zeros(2, dtype=torch.int64)

    monkeypatch.setattr(D, "_torchvision", fake_torchvision)
    data = D.load_fashion_mnist(flatten=True)
    assert calls == [("FashionMNIST", True)] and data.full and data.x_train.shape == (6, 784)
    assert "OFFLINE" not in capsys.readouterr().out


def test_offline_still_uses_a_local_torchvision_copy(monkeypatch):
    calls = []

    def local_copy(name, root, download, flatten):
        calls.append(download)
        x = torch.zeros(3, 1, 28, 28)
        return x, torch.zeros(3, dtype=torch.int64), x, torch.zeros(3, dtype=torch.int64)

    monkeypatch.setattr(D, "_torchvision", local_copy)
    assert D.load_mnist().full and calls == [False]  # offline: never download=True


def test_nothing_available_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv(D.ENV_DATA_DIR, str(tmp_path / "nowhere"))
    with pytest.raises(D.DataUnavailable) as info:
        D.load_fashion_mnist(root=tmp_path / "tv")
    text = str(info.value)
    assert "Fashion-MNIST is not available" in text and "offline mode" in text
    assert str(tmp_path / "nowhere") in text
    assert "connect to the internet" in text and D.ENV_DATA_DIR in text


def test_a_broken_offline_file_is_reported(tmp_path, capsys):
    folder = tmp_path / "shared" / "data" / "mnist_20k"
    folder.mkdir(parents=True)
    for name in ("x_train", "y_train", "x_test", "y_test"):
        (folder / f"{name}.npz").write_bytes(b"not a zip")
    with pytest.raises(D.DataUnavailable, match="could not be read"):
        D.load_mnist(data_dir=tmp_path / "shared" / "data")


def test_tiny_offline_copy_round_trip(tmp_path, capsys):
    """Pixels 0..255 become [0, 1]; labels stay; the data_dir argument wins."""
    folder = tmp_path / "mnist_20k"
    folder.mkdir()
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    y = np.arange(5, dtype=np.uint8)
    for name, arr in (("x_train", x), ("y_train", y), ("x_test", x[:2]), ("y_test", y[:2])):
        np.savez(folder / f"{name}.npz", arr)
    data = D.load_mnist(data_dir=tmp_path)
    assert torch.allclose(data.x_train[:, 0] * 255, torch.tensor(x, dtype=torch.float32))
    assert data.y_train.tolist() == [0, 1, 2, 3, 4]
    assert "5 training images and 2 test images" in capsys.readouterr().out
