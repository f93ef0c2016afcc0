"""Checks. A check takes the student's object, exercises it, compares with an
independent oracle, and prints ``PASSED`` or raises :class:`CheckFailure` with a
message that says what is wrong; called with ``points=P`` it scores each case
(:mod:`.partial`). Hidden calls draw their seeds from :mod:`.seeds`.

The modules are by concept, one line each:

- ``hand_gradients``: gradients of L = (w1 + w2)·w3 by hand (notebook 01);
- ``backprop``: ``Value.backward()``, reverse topological order, seed 1, accumulate;
- ``local_derivatives``: each ``Value`` operator and its local derivative times ``out.grad``;
- ``rebuilt_example``: problem 1 rebuilt with ``Value``, one backward and one step;
- ``neurons``: Perceptron, Layer and MLP on ``Value``, relu(Σ wᵢxᵢ + b), against torch;
- ``mlp_training``: ``zero_grad`` and the trained scalar classifier;
- ``linear``: numpy ``Linear``, Z = A Wᵀ + 1 bᵀ, and its gradients;
- ``activations``: Sigmoid, Tanh, ReLU, GELU, Swish and Softmax, stable at ±1000;
- ``batchnorm``: ``BatchNorm1d``, (Z − μ)/√(σ² + eps), running statistics, eval;
- ``model``: a model's layers, forward in order, backward in reverse;
- ``optim``: SGD with momentum and Adam with bias correction;
- ``losses``: MSE, cross-entropy and BCE in numpy;
- ``matrix_grads``: gradients of Linear → f → Linear → g by hand, in matrices;
- ``gpu``: CUDA C kernels against numpy (notebook 05);
- ``fashion``: the networks trained on Fashion-MNIST;
- ``representation``: what linear layers, perceptrons and ReLU networks can represent;
- ``dream_descent``, ``dream_options``, ``dream_octaves``: DeepDream's gradient descent
  on the image, its refinements, and octaves.

``autograd``, ``layers``, ``mlp_scalar`` and ``dream`` keep the paths the notebooks
import from and re-export their checks (``autograd`` also holds ``check_engine``).
Shared private helpers: ``_harness`` (the one place a student's failure becomes a
message), ``_arrays`` (array comparisons with hints), ``_layer_harness`` (numpy
layers), ``_value_cases`` (expressions on ``Value``), ``_scalar_net`` (the scalar
network and its torch oracle) and ``_dream_spy`` (the linear test classifier)."""
from ._harness import CheckFailure, NotImplementedYet

__all__ = ["CheckFailure", "NotImplementedYet"]
