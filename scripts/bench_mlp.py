"""Benchmark for notebook 03: the reference Fashion-MNIST MLP, and numpy vs torch layers.

    .venv/bin/python scripts/bench_mlp.py [--skip-train] [--repeats N]    # or: make bench

1. The reference PyTorch MLP: ``make_model`` and ``train`` from the solution
   cell ``torch_model`` of ``source_notebooks/ps1/03_mlp.ipynb``, trained on
   ``course_lib.data.load_fashion_mnist(flatten=True)``. Prints wall time
   (``time.perf_counter``) and CPU time of this process (``time.process_time``,
   all threads) of ``train(model, data)``, the epochs, the images, and the last
   test accuracy. Aim (issue 3): at least 89% on the full 10,000 test images
   within 2 minutes of CPU. Online the loader gives the full 60,000 / 10,000
   images; offline it falls back to 1,115 training / 2,000 test real images
   (announced), and then the accuracy is on those 2,000 images and the time is
   for the subset: neither is a measurement of the aim.
2. Forward + backward of 784-256-ReLU-128-ReLU-10 with random weights, batches
   of 64, 256 and 1024: the numpy layers (``Linear``, ``ReLU``, ``Sequential``
   from the notebook's cells tagged ``nb03-defs``) in float32 and float64
   against the same network in torch on CPU (same dtype, default thread count).
   numpy backward is fed a random dL/dZ; torch runs ``(out * G).sum().backward()``
   with the input requiring grad, so that both compute the gradient with respect
   to the input as the numpy ``Sequential.backward`` does. Median of
   ``--repeats`` timed runs after warm-up.

Prints numbers; asserts nothing.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

# Offline, the weights are trained on 1,115 images, and the grader accepts them at
# this announced lower target only when this variable is set (see
# course_lib.checks.fashion). Set here like in scripts/bench_checks.py and the tests.
os.environ.setdefault("COURSE_OFFLINE_WEIGHTS_TARGET", "0.78")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from course_lib.data import load_fashion_mnist  # noqa: E402
from course_lib.engine import load_cells  # noqa: E402

NOTEBOOK = "source_notebooks/ps1/03_mlp.ipynb"
AIM_ACC = 0.89
AIM_CPU_S = 120.0
SIZES = (784, 256, 128, 10)
BATCHES = (64, 256, 1024)


def blas_threads() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (threadpoolctl not installed)"
    pools = [f"{p.get('internal_api')} {p.get('num_threads')}" for p in threadpool_info()
             if p.get("user_api") == "blas"]
    return ", ".join(pools) or "none found"


# --------------------------------------------------------------------------
# 1. The reference MLP on Fashion-MNIST
# --------------------------------------------------------------------------
def bench_train() -> None:
    print("== 1. Reference MLP (solution cell torch_model of 03_mlp.ipynb) on Fashion-MNIST ==")
    ns = load_cells(NOTEBOOK, grade_ids=("torch_model",), given={"tqdm": tqdm}, folder=ROOT)
    make_model, train = ns["make_model"], ns["train"]

    start = time.perf_counter()
    data = load_fashion_mnist(flatten=True)
    load_s = time.perf_counter() - start
    n_train, n_test = len(data.y_train), len(data.y_test)
    kind = "FULL dataset" if data.full else "OFFLINE SUBSET (not the full 60,000 / 10,000)"
    print(f"data: {kind}: {n_train:,} training / {n_test:,} test images; source: {data.source}; "
          f"loading took {load_s:.1f} s")

    torch.manual_seed(0)  # the initial weights (train() seeds its own shuffling)
    model = make_model()
    n_params = sum(p.numel() for p in model.parameters())
    wall0, cpu0 = time.perf_counter(), time.process_time()
    history = train(model, data)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0

    epochs = len(history["test_acc"])
    acc = history["test_acc"][-1]
    seen = epochs * n_train
    print(f"model: {n_params:,} parameters; torch threads: {torch.get_num_threads()}")
    print(f"train(model, data): {epochs} epochs x {n_train:,} images = {seen:,} training images seen "
          f"(+ {n_test:,} test images evaluated per epoch)")
    print(f"  wall time  {wall:8.2f} s   ({1e6 * wall / seen:.1f} us per training image seen, "
          f"evaluation included)")
    print(f"  CPU time   {cpu:8.2f} s   (process_time, all threads)")
    where = (f"all {n_test:,} test images" if data.full else
             f"the {n_test:,} offline test images (standard error about "
             f"{data.test_standard_error(acc):.1f} points)")
    print(f"  test accuracy after the last epoch: {acc:.2%} on {where}")
    print(f"  best epoch: {max(history['test_acc']):.2%}; final train loss "
          f"{history['train_loss'][-1]:.4f}, train accuracy {history['train_acc'][-1]:.2%}")
    if data.full:
        ok_acc, ok_cpu = acc >= AIM_ACC, cpu <= AIM_CPU_S
        print(f"  aim: >= {AIM_ACC:.0%} on the full test set within {AIM_CPU_S:.0f} s of CPU: "
              f"accuracy {'met' if ok_acc else 'NOT met'}, CPU time {'met' if ok_cpu else 'NOT met'}")
    else:
        print(f"  aim (>= {AIM_ACC:.0%} on the full test set within {AIM_CPU_S:.0f} s of CPU) NOT "
              f"measured: offline subset. The accuracy above is on the 2,000-image offline test set "
              f"after training on {n_train:,} images.")
    print()


# --------------------------------------------------------------------------
# 2. numpy layers vs torch, forward + backward
# --------------------------------------------------------------------------
def median_ms(fn, repeats: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def numpy_net(ns: dict, dtype, rng: np.random.Generator):
    Linear, ReLU, Sequential = ns["Linear"], ns["ReLU"], ns["Sequential"]
    layers = []
    for i, (n_in, n_out) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        lin = Linear(n_in, n_out)
        lin.W = rng.normal(0.0, np.sqrt(2 / n_in), size=(n_out, n_in)).astype(dtype)
        lin.b = rng.normal(0.0, 0.1, size=(n_out, 1)).astype(dtype)
        layers.append(lin)
        if i < len(SIZES) - 2:
            layers.append(ReLU())
    return Sequential(layers)


def torch_net(np_net, dtype: torch.dtype) -> torch.nn.Sequential:
    """The same network in torch, with the numpy network's weights."""
    modules = []
    for layer in np_net.layers:
        if hasattr(layer, "W"):
            n_out, n_in = layer.W.shape
            lin = torch.nn.Linear(n_in, n_out, dtype=dtype)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(np.asarray(layer.W)))
                lin.bias.copy_(torch.from_numpy(np.asarray(layer.b).reshape(-1)))
            modules.append(lin)
        else:
            modules.append(torch.nn.ReLU())
    return torch.nn.Sequential(*modules)


def bench_layers(repeats: int) -> None:
    print("== 2. Forward + backward, 784-256-ReLU-128-ReLU-10: notebook numpy layers vs torch (CPU) ==")
    ns = load_cells(NOTEBOOK, tags=("nb03-defs",), given={"Value": None}, folder=ROOT)
    print(f"torch threads: {torch.get_num_threads()} (default); numpy BLAS threads: {blas_threads()}; "
          f"median of {repeats} runs after 3 warm-up runs")
    rng = np.random.default_rng(0)
    rows = []
    for np_dtype, t_dtype in ((np.float32, torch.float32), (np.float64, torch.float64)):
        net = numpy_net(ns, np_dtype, rng)
        tnet = torch_net(net, t_dtype)
        for batch in BATCHES:
            X = rng.random((batch, SIZES[0])).astype(np_dtype)
            G = rng.normal(size=(batch, SIZES[-1])).astype(np_dtype)
            out = net.forward(X)
            dx = net.backward(G)
            dtypes = f"{out.dtype}/{dx.dtype}/{net.layers[0].dLdW.dtype}"

            def np_step():
                net.forward(X)
                net.backward(G)

            Xt = torch.from_numpy(X).requires_grad_(True)
            Gt = torch.from_numpy(G)

            def torch_step():
                for p in tnet.parameters():
                    p.grad = None
                Xt.grad = None
                (tnet(Xt) * Gt).sum().backward()

            # the two agree (a sanity check of the comparison, not a test)
            torch_step()
            diff = float(np.max(np.abs(Xt.grad.numpy() - dx)) / (np.max(np.abs(dx)) + 1e-30))
            np_ms = median_ms(np_step, repeats)
            t_ms = median_ms(torch_step, repeats)
            rows.append((np.dtype(np_dtype).name, batch, np_ms, t_ms, np_ms / t_ms, dtypes, diff))

    print(f"{'dtype':<8} {'batch':>6} {'numpy ms':>10} {'torch ms':>10} {'numpy/torch':>12}   "
          f"{'numpy out/dX/dW dtype':<24} {'max rel. diff dX':>16}")
    for name, batch, np_ms, t_ms, ratio, dtypes, diff in rows:
        print(f"{name:<8} {batch:>6} {np_ms:10.3f} {t_ms:10.3f} {ratio:12.2f}   {dtypes:<24} {diff:16.1e}")
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-train", action="store_true", help="skip part 1 (training the reference MLP)")
    parser.add_argument("--repeats", type=int, default=30, help="timed runs per cell of the table (default 30)")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, {platform.machine()}, Python {sys.version.split()[0]}, "
          f"numpy {np.__version__}, torch {torch.__version__}\n")
    if not args.skip_train:
        bench_train()
    bench_layers(args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
