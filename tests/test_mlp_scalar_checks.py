"""Catalogue for notebook 03 part 1 (Perceptron / Layer / MLP on the scalar
engine): wrong implementations are caught with a message that names the
fault; correct implementations written differently all pass.

The reference classes are notebook 03's solution cells, run on the reference
Value of the source notebook 02 (``fresh_value()``).
"""
from __future__ import annotations

import functools
import itertools
import random
from types import SimpleNamespace

from pathlib import Path

import pytest

from course_lib.checks import CheckFailure, NotImplementedYet
from course_lib.checks import mlp_scalar as M
from course_lib.engine import load_cells

from engines import fresh_value, variant
from test_autograd_catalogue import mul_no_chain


# ---------------------------------------------------------------- reference: the notebook's solution
SOURCE_03 = Path(__file__).resolve().parents[1] / "source_notebooks" / "ps1" / "03_mlp.ipynb"


def reference(Value: type) -> SimpleNamespace:
    """Module, Perceptron, Layer, MLP from notebook 03's solution cells, defined
    anew on ``Value`` (new classes on every call)."""
    ns = load_cells(SOURCE_03, grade_ids=("perceptron", "layer", "mlp"), given={"Value": Value})
    return SimpleNamespace(Value=Value, Module=ns["Module"], Perceptron=ns["Perceptron"], Layer=ns["Layer"],
                           MLP=ns["MLP"])


@pytest.fixture
def ref() -> SimpleNamespace:
    return reference(fresh_value())


def run_all(nn: SimpleNamespace, hard: bool = False, seed: int = 0) -> None:
    M.check_perceptron(nn.Perceptron, nn.Value, seed=seed, hard=hard)
    M.check_layer(nn.Layer, nn.Value, seed=seed, hard=hard)
    M.check_mlp(nn.MLP, nn.Value, seed=seed, hard=hard)
    M.check_zero_grad(nn.MLP, nn.Value, seed=seed, hard=hard)


# ---------------------------------------------------------------- correct variants
def variant_list_always_loop_recursive(Value: type) -> SimpleNamespace:
    """Layer always returns a list; Perceptron sums with a loop; zero_grad per
    module, recursively; MLP returns a bare Value for one output."""
    rnd = random.Random(7)

    class Module:
        def children(self):
            return []

        def own(self):
            return []

        def zero_grad(self):
            for p in self.own():
                p.grad = 0
            for c in self.children():
                c.zero_grad()

        def parameters(self):
            return self.own() + [p for c in self.children() for p in c.parameters()]

    class Perceptron(Module):
        def __init__(self, nin, nonlin=True):
            self.w = [Value(rnd.gauss(0, 1)) for _ in range(nin)]
            self.b = Value(rnd.uniform(-0.1, 0.1))
            self.nonlin = nonlin

        def __call__(self, x):
            total = self.b
            for i in range(len(self.w)):
                total = total + self.w[i] * x[i]
            if self.nonlin:
                total = total.relu()
            return total

        def own(self):
            return list(self.w) + [self.b]

    class Layer(Module):
        def __init__(self, nin, nout, **kwargs):
            self.neurons = [Perceptron(nin, **kwargs) for _ in range(nout)]

        def __call__(self, x):
            return [n(x) for n in self.neurons]

        def children(self):
            return self.neurons

    class MLP(Module):
        def __init__(self, nin, nouts):
            sizes = [nin, *nouts]
            last = len(nouts) - 1
            self.layers = [Layer(a, b, nonlin=(k < last)) for k, (a, b) in enumerate(zip(sizes, sizes[1:]))]

        def __call__(self, x):
            for layer in self.layers:
                x = layer(x)
            return x[0] if len(x) == 1 else x

        def children(self):
            return self.layers

    return SimpleNamespace(Value=Value, Module=Module, Perceptron=Perceptron, Layer=Layer, MLP=MLP)


def variant_reduce_chain(Value: type) -> SimpleNamespace:
    """Perceptron with functools.reduce and an activation function stored at
    construction; parameters via itertools.chain; Layer returns a tuple."""
    rnd = random.Random(99)

    class Module:
        def zero_grad(self):
            for p in self.parameters():
                p.grad *= 0

    class Perceptron(Module):
        def __init__(self, nin, nonlin=True):
            self.w = [Value(rnd.uniform(-1, 1)) for _ in range(nin)]
            self.b = Value(0)
            self.act = (lambda v: v.relu()) if nonlin else (lambda v: v)

        def __call__(self, x):
            pre = functools.reduce(lambda acc, wx: acc + wx[0] * wx[1], zip(self.w, x), self.b)
            return self.act(pre)

        def parameters(self):
            return [*self.w, self.b]

    class Layer(Module):
        def __init__(self, nin, nout, nonlin=True):
            self.neurons = [Perceptron(nin, nonlin=nonlin) for _ in range(nout)]

        def __call__(self, x):
            return tuple(n(x) for n in self.neurons)

        def parameters(self):
            return list(itertools.chain.from_iterable(n.parameters() for n in self.neurons))

    class MLP(Module):
        def __init__(self, nin, nouts):
            self.layers = []
            for k, nout in enumerate(nouts):
                self.layers.append(Layer(nin, nout, nonlin=k + 1 < len(nouts)))
                nin = nout

        def __call__(self, x):
            return functools.reduce(lambda h, layer: list(layer(h)), self.layers, x)

        def parameters(self):
            return list(itertools.chain.from_iterable(l.parameters() for l in self.layers))

    return SimpleNamespace(Value=Value, Module=Module, Perceptron=Perceptron, Layer=Layer, MLP=MLP)


def variant_sum_from_zero(Value: type) -> SimpleNamespace:
    """sum() from 0 (uses __radd__), relu as max via the engine, bias added last."""
    nn = reference(Value)

    def call(self, x):
        act = sum(wi * xi for wi, xi in zip(self.w, x)) + self.b
        return act.relu() if self.nonlin else act

    nn.Perceptron.__call__ = call
    return nn


CORRECT = {
    "reference": lambda V: reference(V),
    "list_always_loop_recursive_zero_grad": variant_list_always_loop_recursive,
    "reduce_chain_tuple": variant_reduce_chain,
    "sum_from_zero": variant_sum_from_zero,
}


@pytest.mark.parametrize("name", sorted(CORRECT))
@pytest.mark.parametrize("hard,seed", [(False, 0), (True, 1), (True, 12345)])
def test_correct_variants_pass(name, hard, seed, capsys):
    run_all(CORRECT[name](fresh_value()), hard=hard, seed=seed)
    out = capsys.readouterr().out
    assert out.count("PASSED") == 4, out


@pytest.mark.parametrize("hard", [False, True])
def test_reference_passes_many_seeds(hard, capsys):
    # the drawn numbers keep every pre-activation away from ReLU's kink for any seed
    for seed in range(8):
        run_all(reference(fresh_value()), hard=hard, seed=seed)


# ---------------------------------------------------------------- wrong implementations
def wrong(name: str) -> tuple[SimpleNamespace, str]:
    """A broken implementation and the check that must catch it."""
    V = fresh_value()
    nn = reference(V)
    P, L, Mo, MLP = nn.Perceptron, nn.Layer, nn.Module, nn.MLP
    if name == "relu_on_output":
        def init(self, nin, nouts):
            sz = [nin] + list(nouts)
            self.layers = [L(sz[i], sz[i + 1]) for i in range(len(nouts))]
        MLP.__init__ = init
        return nn, "mlp"
    if name == "layer_ignores_kwargs":
        def init(self, nin, nout, **kwargs):
            self.neurons = [P(nin) for _ in range(nout)]
        L.__init__ = init
        return nn, "layer"
    if name == "no_bias":
        def init(self, nin, nonlin=True):
            self.w = [V(random.uniform(-1, 1)) for _ in range(nin)]
            self.nonlin = nonlin
        P.__init__ = init
        P.__call__ = lambda self, x: (lambda a: a.relu() if self.nonlin else a)(
            sum((wi * xi for wi, xi in zip(self.w, x)), V(0.0)))
        P.parameters = lambda self: list(self.w)
        return nn, "perceptron"
    if name == "bias_not_in_parameters":
        P.parameters = lambda self: list(self.w)
        return nn, "perceptron"
    if name == "bias_not_added":
        def call(self, x):
            act = sum((wi * xi for wi, xi in zip(self.w, x)), V(0.0))
            return act.relu() if self.nonlin else act
        P.__call__ = call
        return nn, "perceptron"
    if name == "zero_grad_noop":
        Mo.zero_grad = lambda self: None
        return nn, "zero_grad"
    if name == "zero_grad_first_layer_only":
        MLP.zero_grad = lambda self: self.layers[0].zero_grad()
        return nn, "zero_grad"
    if name == "zero_grad_resets_data":
        def zg(self):
            for p in self.parameters():
                p.grad = 0.0
                p.data = 0.0
        Mo.zero_grad = zg
        return nn, "zero_grad"
    if name == "zero_grad_on_copies":
        MLP.zero_grad = lambda self: [setattr(V(p.data), "grad", 0.0) for p in self.parameters()]
        return nn, "zero_grad"
    if name == "layer_first_neuron_only":
        L.__call__ = lambda self, x: self.neurons[0](x)
        return nn, "layer"
    if name == "layer_first_neuron_only_list":
        L.__call__ = lambda self, x: [self.neurons[0](x)]
        return nn, "layer"
    if name == "mlp_skips_first_layer":
        def call(self, x):
            for layer in self.layers[1:]:
                x = layer(x)
            return x
        MLP.__call__ = call
        return nn, "mlp"
    if name == "mlp_skips_last_layer":
        def call(self, x):
            for layer in self.layers[:-1]:
                x = layer(x)
            return x
        MLP.__call__ = call
        return nn, "mlp"
    if name == "mlp_drops_a_layer":
        def init(self, nin, nouts):
            sz = [nin] + list(nouts)
            self.layers = [L(sz[i], sz[i + 1], nonlin=i != len(nouts) - 1) for i in range(1, len(nouts))]
        MLP.__init__ = init
        return nn, "mlp"
    if name == "weights_shared_across_neurons":
        def init(self, nin, nout, **kwargs):
            self.neurons = [P(nin, **kwargs)] * nout
        L.__init__ = init
        return nn, "layer"
    if name == "weights_identical_init":
        def init(self, nin, nonlin=True):
            self.w = [V(0.5) for _ in range(nin)]
            self.b = V(0.0)
            self.nonlin = nonlin
        P.__init__ = init
        return nn, "layer"
    if name == "tanh_instead_of_relu":
        def call(self, x):
            act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
            return act.tanh() if self.nonlin else act
        P.__call__ = call
        return nn, "perceptron"
    if name == "sigmoid_hidden":
        def call(self, x):
            act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
            return act.sigmoid() if self.nonlin else act
        P.__call__ = call
        return nn, "mlp"
    if name == "no_relu":
        P.__call__ = lambda self, x: sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return nn, "perceptron"
    if name == "parameters_counted_twice":
        MLP.parameters = lambda self: [p for l in self.layers for p in l.parameters()] * 2
        return nn, "mlp"
    if name == "parameters_missing_layer":
        MLP.parameters = lambda self: self.layers[0].parameters()
        return nn, "mlp"
    if name == "parameters_wrong_order":
        P.parameters = lambda self: [self.b] + self.w
        return nn, "perceptron"
    if name == "parameters_copies":
        P.parameters = lambda self: [V(p.data) for p in self.w + [self.b]]
        return nn, "perceptron"
    if name == "parameters_floats":
        P.parameters = lambda self: [p.data for p in self.w + [self.b]]
        return nn, "perceptron"
    if name == "uses_input_data":
        def call(self, x):
            xs = [xi.data if isinstance(xi, V) else xi for xi in x]
            act = sum((wi * xi for wi, xi in zip(self.w, xs)), self.b)
            return act.relu() if self.nonlin else act
        P.__call__ = call
        return nn, "perceptron"
    if name == "returns_floats":
        L.__call__ = lambda self, x: [n(x).data for n in self.neurons]
        return nn, "layer"
    if name == "not_implemented":
        def call(self, x):
            raise NotImplementedError()
        P.__call__ = call
        return nn, "perceptron"
    if name == "bias_detached":
        def call(self, x):
            act = sum((wi * xi for wi, xi in zip(self.w, x)), V(self.b.data))
            return act.relu() if self.nonlin else act
        P.__call__ = call
        return nn, "perceptron"
    raise KeyError(name)


CATALOGUE = {
    # name: (check, words that the message must contain)
    "relu_on_output": ("mlp", ["MLP", "ReLU is applied to the output", "nonlin=False"]),
    "layer_ignores_kwargs": ("layer", ["Layer.__call__", "nonlin=False)(x)", "ReLU is applied to the output", "kwargs"]),
    "no_bias": ("perceptron", ["Perceptron", "no bias"]),
    "bias_not_in_parameters": ("perceptron", ["parameters()", "bias b is missing from parameters()"]),
    "bias_not_added": ("perceptron", ["Perceptron.__call__", "bias is not added"]),
    "zero_grad_noop": ("zero_grad", ["zero_grad", "no gradient was reset"]),
    "zero_grad_first_layer_only": ("zero_grad", ["zero_grad", "were not reset", "layers[1]"]),
    "zero_grad_resets_data": ("zero_grad", ["zero_grad", "changed", ".data"]),
    "zero_grad_on_copies": ("zero_grad", ["zero_grad", "no gradient was reset"]),
    "layer_first_neuron_only": ("layer", ["Layer.__call__", "single Value", "first neuron"]),
    "layer_first_neuron_only_list": ("layer", ["Layer.__call__", "returned 1 output but", "first neuron"]),
    "mlp_skips_first_layer": ("mlp", ["MLP.__call__", "layers[0] is skipped"]),
    "mlp_skips_last_layer": ("mlp", ["MLP.__call__", "every layer in self.layers"]),
    "mlp_drops_a_layer": ("mlp", ["MLP.__init__", "2 layers", "should have 3"]),
    "weights_shared_across_neurons": ("layer", ["Layer.parameters", "same Value object", "shared"]),
    "weights_identical_init": ("layer", ["Layer.__init__", "same weights", "random"]),
    "tanh_instead_of_relu": ("perceptron", ["Perceptron.__call__", "tanh", "ReLU"]),
    "sigmoid_hidden": ("mlp", ["MLP.__call__", "sigmoid", "ReLU"]),
    "no_relu": ("perceptron", ["Perceptron.__call__", "ReLU is missing"]),
    "parameters_counted_twice": ("mlp", ["MLP.parameters", "listed twice"]),
    "parameters_missing_layer": ("mlp", ["MLP.parameters", "every layer"]),
    "parameters_wrong_order": ("perceptron", ["Perceptron.parameters", "wrong order", "w[0]"]),
    "parameters_copies": ("perceptron", ["Perceptron.parameters", "copies"]),
    "parameters_floats": ("perceptron", ["Perceptron.parameters", "not a Value", ".data"]),
    "uses_input_data": ("perceptron", ["Perceptron.__call__", "x[0].grad", "x[i].data"]),
    "returns_floats": ("layer", ["Layer.__call__", "float", "not a Value"]),
    "not_implemented": ("perceptron", ["Perceptron.__call__", "not implemented yet"]),
    "bias_detached": ("perceptron", ["Perceptron", "b.grad", "No gradient reached b"]),
}

CHECKS = {
    "perceptron": lambda nn, **kw: M.check_perceptron(nn.Perceptron, nn.Value, **kw),
    "layer": lambda nn, **kw: M.check_layer(nn.Layer, nn.Value, **kw),
    "mlp": lambda nn, **kw: M.check_mlp(nn.MLP, nn.Value, **kw),
    "zero_grad": lambda nn, **kw: M.check_zero_grad(nn.MLP, nn.Value, **kw),
}


def test_catalogue_size():
    assert len(CATALOGUE) >= 8


@pytest.mark.parametrize("hard,seed", [(False, 0), (True, 3)])
@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_wrong_is_caught(name, hard, seed):
    nn, check = wrong(name)
    expected_check, words = CATALOGUE[name]
    assert check == expected_check
    with pytest.raises(CheckFailure) as info:
        CHECKS[check](nn, hard=hard, seed=seed)
    message = str(info.value)
    for word in words:
        assert word in message, f"{word!r} not in: {message}"
    assert "Traceback" not in message and "could not use your object" not in message, message


def test_not_implemented_is_reported_as_such():
    nn, _ = wrong("not_implemented")
    with pytest.raises(NotImplementedYet):
        M.check_perceptron(nn.Perceptron, nn.Value)


def test_other_checks_still_pass_for_a_perceptron_fault():
    # a fault in zero_grad only does not fail the forward/backward checks
    nn, _ = wrong("zero_grad_noop")
    M.check_perceptron(nn.Perceptron, nn.Value)
    M.check_layer(nn.Layer, nn.Value)
    M.check_mlp(nn.MLP, nn.Value)


# ---------------------------------------------------------------- the engine comes first
@pytest.mark.parametrize("check", sorted(CHECKS))
def test_broken_engine_is_reported_first(check):
    nn = reference(variant(__mul__=mul_no_chain))
    with pytest.raises(CheckFailure) as info:
        CHECKS[check](nn)
    message = str(info.value)
    assert "notebook 02" in message and "Value.__mul__" in message, message


@pytest.mark.parametrize("check", sorted(CHECKS))
def test_engine_without_backward_is_named(check):
    """Issue 21: a Value from notebook 02 without backward() gets a message that says so and
    names part (a), not 'the check could not use your object: AttributeError'."""
    Value = fresh_value()
    del Value.backward
    with pytest.raises(CheckFailure) as info:
        CHECKS[check](reference(Value))
    message = str(info.value)
    assert "notebook 02" in message and "your Value has no backward() method. Part (a)" in message, message
    assert "could not use your object" not in message and "AttributeError" not in message, message


def test_wrong_argument_types():
    V = fresh_value()
    with pytest.raises(CheckFailure, match="class Value itself"):
        M.check_mlp(reference(V).MLP, V(1.0))
    with pytest.raises(CheckFailure, match="the class Perceptron itself"):
        M.check_perceptron(reference(V).Perceptron(3), V)




# ---------------------------------------------------------------- the trained classifier (moons)
class _Scorer:
    """A 'trained network': model(x) is [Value(score)] with a score of the given sign per point."""

    def __init__(self, Value, X, signs):
        self.Value, self.table = Value, {tuple(x): s for x, s in zip(X, signs)}

    def __call__(self, x):
        return [self.Value(0.5 * self.table[tuple(float(v) for v in x)])]


def _moons():
    from course_lib.toy_data import two_moons

    return two_moons(n=40, noise=0.1, seed=3)


def test_trained_classifier_passes_and_accepts_numpy_losses(capsys):
    V = fresh_value()
    X, y = _moons()
    import numpy as np

    M.check_trained_classifier(_Scorer(V, X, y), X, y, [np.float64(1.2), V(0.3)], V)
    assert "100% of the points classified correctly" in capsys.readouterr().out


@pytest.mark.parametrize("case, phrase", [
    ("rising", "it should fall"),
    ("one_loss", "losses has 1 entries"),
    ("nan", "nan or inf"),
    ("half_wrong", r"puts 20 of 40 points \(50%\)"),
    ("two_outputs", "returned 2 outputs"),
    ("no_value", "Value is None: your Value from notebook 02 could not be loaded"),
])
def test_trained_classifier_faults_are_named(case, phrase):
    V = fresh_value()
    X, y = _moons()
    model, losses, Value = _Scorer(V, X, y), [1.0, 0.2], V
    if case == "rising":
        losses = [0.2, 1.0]
    elif case == "one_loss":
        losses = [0.2]
    elif case == "nan":
        losses = [1.0, float("nan")]
    elif case == "half_wrong":
        model = _Scorer(V, X, [t if i % 2 else -t for i, t in enumerate(y)])
    elif case == "two_outputs":
        model = lambda x: [V(1.0), V(2.0)]  # noqa: E731
    elif case == "no_value":
        Value = None
    with pytest.raises(CheckFailure, match=phrase):
        M.check_trained_classifier(model, X, y, losses, Value)


def test_a_broken_engine_is_refused_with_the_loaders_own_words():
    """One validation of the student's Value, one wording: the checks of notebook 03 say what
    load_value() says."""
    from course_lib.checks.autograd import engine_refusal

    Broken = variant(__mul__=mul_no_chain)
    with pytest.raises(CheckFailure) as info:
        M.check_perceptron(SimpleNamespace(), Broken)
    assert str(info.value) == f"Perceptron: the network is built on your Value. {engine_refusal(Broken)}"
