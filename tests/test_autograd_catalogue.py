"""Catalogues for notebook 02: wrong engines are caught with a message that
names the faulty method; correct engines written differently all pass."""
from __future__ import annotations

import math

import pytest

from course_lib.checks import CheckFailure
from course_lib.checks import autograd as A
from course_lib.checks import local_derivatives as LD
from course_lib.checks._value_cases import PARTS

from catalogue import failure
from engines import fresh_value, variant


# ---------------------------------------------------------------- helpers
def _unary(self, data, op, local):
    """A one-input node whose local derivative is local(self.data, out.data)."""
    out = type(self)(data, (self,), op)

    def _backward():
        self.grad += local(self.data, out.data) * out.grad
    out._backward = _backward
    return out


def _binary(self, other, data, op, da, db):
    other = self.lift(other)
    out = type(self)(data(self.data, other.data), (self, other), op)

    def _backward():
        self.grad += da(self.data, other.data) * out.grad
        other.grad += db(self.data, other.data) * out.grad
    out._backward = _backward
    return out


def _unary_assign(self, data, op, local):
    """Like _unary, with '=' instead of '+=' in _backward."""
    out = type(self)(data, (self,), op)

    def _backward():
        self.grad = local(self.data, out.data) * out.grad
    out._backward = _backward
    return out


def _binary_assign(self, other, data, op, da, db):
    """Like _binary, with '=' instead of '+=' in _backward."""
    other = self.lift(other)
    out = type(self)(data(self.data, other.data), (self, other), op)

    def _backward():
        self.grad = da(self.data, other.data) * out.grad
        other.grad = db(self.data, other.data) * out.grad
    out._backward = _backward
    return out


def _topo(root):
    order, seen = [], set()

    def visit(v):
        if v not in seen:
            seen.add(v)
            for c in v._prev:
                visit(c)
            order.append(v)
    visit(root)
    return order


# ---------------------------------------------------------------- wrong engines
def mul_assign(self, other):  # '=' instead of '+='
    other = self.lift(other)
    out = type(self)(self.data * other.data, (self, other), "*")

    def _backward():
        self.grad = other.data * out.grad
        other.grad = self.data * out.grad
    out._backward = _backward
    return out


def mul_no_chain(self, other):  # forgets out.grad
    other = self.lift(other)
    out = type(self)(self.data * other.data, (self, other), "*")

    def _backward():
        self.grad += other.data
        other.grad += self.data
    out._backward = _backward
    return out


def mul_returns_float(self, other):
    return self.data * self.lift(other).data


def mul_no_lift(self, other):  # a * 2.0 breaks
    out = type(self)(self.data * other.data, (self, other), "*")

    def _backward():
        self.grad += other.data * out.grad
        other.grad += self.data * out.grad
    out._backward = _backward
    return out


def sub_wrong_sign(self, other):  # gradient of the subtracted operand is +1
    return _binary(self, other, lambda a, b: a - b, "-", lambda a, b: 1.0, lambda a, b: 1.0)


def rsub_wrong_order(self, other):  # computes self - other for other - self
    return self - other


def pow_no_factor(self, n):
    return _unary(self, self.data ** n, f"**{n}", lambda x, y: x ** (n - 1))


def pow_with_output(self, n):  # n * out instead of n * x^(n-1)
    return _unary(self, self.data ** n, f"**{n}", lambda x, y: n * y)


def truediv_wrong_sign(self, other):
    return _binary(self, other, lambda a, b: a / b, "/", lambda a, b: 1 / b, lambda a, b: a / b ** 2)


def rtruediv_swapped(self, other):  # 1 / v computed as v / 1
    return self * type(self)(other) ** -1


def relu_leaky_grad(self):  # gradient passes negative inputs
    return _unary(self, max(0.0, self.data), "ReLU", lambda x, y: 1.0)


def relu_wrong_forward(self):
    return _unary(self, min(0.0, self.data), "ReLU", lambda x, y: float(x < 0))


def sigmoid_input_derivative(self):
    s = 1 / (1 + math.exp(-self.data))
    return _unary(self, s, "sigmoid", lambda x, y: x * (1 - x))


def sigmoid_wrong_forward(self):
    s = 1 / (1 + math.exp(self.data))
    return _unary(self, s, "sigmoid", lambda x, y: y * (1 - y))


def tanh_input_derivative(self):
    return _unary(self, math.tanh(self.data), "tanh", lambda x, y: 1 - x * x)


def tanh_no_chain(self):
    out = type(self)(math.tanh(self.data), (self,), "tanh")

    def _backward():
        self.grad += 1 - out.data ** 2
    out._backward = _backward
    return out


# '=' instead of '+=' in each operator written directly (issue 21): only a reused operand shows it
def pow_assign(self, n):
    return _unary_assign(self, self.data ** n, f"**{n}", lambda x, y: n * x ** (n - 1))


def rmul_assign(self, other):
    return _binary_assign(self, other, lambda a, b: a * b, "*", lambda a, b: b, lambda a, b: a)


def sub_assign(self, other):
    return _binary_assign(self, other, lambda a, b: a - b, "-", lambda a, b: 1.0, lambda a, b: -1.0)


def rsub_assign(self, other):  # other - self
    return _binary_assign(self, other, lambda a, b: b - a, "-", lambda a, b: -1.0, lambda a, b: 1.0)


def truediv_assign(self, other):
    return _binary_assign(self, other, lambda a, b: a / b, "/", lambda a, b: 1 / b, lambda a, b: -a / b ** 2)


def rtruediv_assign(self, other):  # other / self
    return _binary_assign(self, other, lambda a, b: b / a, "/", lambda a, b: -b / a ** 2, lambda a, b: 1 / a)


def relu_assign(self):
    return _unary_assign(self, max(0.0, self.data), "ReLU", lambda x, y: float(x > 0))


def sigmoid_assign(self):
    return _unary_assign(self, 1 / (1 + math.exp(-self.data)), "sigmoid", lambda x, y: y * (1 - y))


def tanh_assign(self):
    return _unary_assign(self, math.tanh(self.data), "tanh", lambda x, y: 1 - y * y)


def backward_bfs(self):  # breadth-first: not a topological order
    from collections import deque
    self.grad = 1.0
    queue, seen = deque([self]), {self}
    while queue:
        v = queue.popleft()
        v._backward()
        for c in v._prev:
            if c not in seen:
                seen.add(c)
                queue.append(c)


def backward_no_seed(self):
    for v in reversed(_topo(self)):
        v._backward()


def backward_recursive_no_order(self):  # calls children right away, revisits shared nodes
    self.grad = 1.0

    def push(v):
        v._backward()
        for c in v._prev:
            push(c)
    push(self)


def backward_forward_order(self):  # topological order, but not reversed
    self.grad = 1.0
    for v in _topo(self):
        v._backward()


def backward_no_visited(self):  # a node reached twice is listed twice
    order = []

    def visit(v):
        for c in v._prev:
            visit(c)
        order.append(v)
    visit(self)
    self.grad = 1.0
    for v in reversed(order):
        v._backward()


def backward_loops_forever(self):
    while True:
        pass


def not_implemented(self, *args):
    raise NotImplementedError()


WRONG = {
    # name: (methods to replace, check that must fail, text the message must contain)
    "mul '=' instead of '+='": ({"__mul__": mul_assign}, A.check_mul, "Value.__mul__", "+="),
    "mul without out.grad": ({"__mul__": mul_no_chain}, A.check_mul, "Value.__mul__", "out.grad"),
    "mul returns a float": ({"__mul__": mul_returns_float}, A.check_mul, "Value.__mul__", "not a Value"),
    "mul does not lift floats": ({"__mul__": mul_no_lift}, A.check_mul, "Value.__mul__", "AttributeError"),
    "missing __rmul__": ({"__rmul__": lambda self, o: NotImplemented}, A.check_mul, "Value.__rmul__", "TypeError"),
    "sub with the wrong sign": ({"__sub__": sub_wrong_sign}, A.check_sub, "Value.__sub__", "-1"),
    "rsub computes self - other": ({"__rsub__": rsub_wrong_order}, A.check_sub, "Value.__rsub__", "2.0 - a"),
    "pow without the exponent factor": ({"__pow__": pow_no_factor}, A.check_pow, "Value.__pow__", "exponent factor"),
    "pow gradient n * out": ({"__pow__": pow_with_output}, A.check_pow, "Value.__pow__", "a ** 2"),
    "truediv gradient sign": ({"__truediv__": truediv_wrong_sign}, A.check_truediv, "Value.__truediv__", "sign"),
    "1 / v broken": ({"__rtruediv__": rtruediv_swapped}, A.check_truediv, "Value.__rtruediv__", "2.0 / b"),
    "relu gradient passes negatives": ({"relu": relu_leaky_grad}, A.check_relu, "Value.relu", "negative"),
    "relu forward is min": ({"relu": relu_wrong_forward}, A.check_relu, "Value.relu", ".data"),
    "sigmoid derivative from the input": ({"sigmoid": sigmoid_input_derivative}, A.check_sigmoid, "Value.sigmoid", "OUTPUT"),
    "sigmoid forward sign": ({"sigmoid": sigmoid_wrong_forward}, A.check_sigmoid, "Value.sigmoid", "forward"),
    "tanh derivative 1 - x^2": ({"tanh": tanh_input_derivative}, A.check_tanh, "Value.tanh", "1 - a^2"),
    "tanh without out.grad": ({"tanh": tanh_no_chain}, A.check_tanh, "Value.tanh", "out.grad"),
    "backward in breadth-first order": ({"backward": backward_bfs}, A.check_backward, "Value.backward", "topological"),
    "backward never seeds 1.0": ({"backward": backward_no_seed}, A.check_backward, "Value.backward", "seed"),
    "backward recursion without order": ({"backward": backward_recursive_no_order}, A.check_backward, "Value.backward", "should be"),
    "backward in forward order": ({"backward": backward_forward_order}, A.check_backward, "Value.backward", "should be"),
    "backward without a visited set": ({"backward": backward_no_visited}, A.check_backward, "Value.backward", "twice"),
    "backward never ends": ({"backward": backward_loops_forever}, A.check_backward, "Value.backward", "did not finish"),
    "mul not implemented": ({"__mul__": not_implemented}, A.check_mul, "Value.__mul__", "not implemented yet"),
    "backward not implemented": ({"backward": not_implemented}, A.check_backward, "Value.backward", "not implemented yet"),
    # '=' instead of '+=' (issue 21): the hint names the slip
    "pow '=' instead of '+='": ({"__pow__": pow_assign}, A.check_pow, "Value.__pow__", LD._ACCUMULATE),
    "rmul '=' instead of '+='": ({"__rmul__": rmul_assign}, A.check_mul, "Value.__rmul__", LD._ACCUMULATE),
    "sub '=' instead of '+='": ({"__sub__": sub_assign}, A.check_sub, "Value.__sub__", LD._ACCUMULATE),
    "rsub '=' instead of '+='": ({"__rsub__": rsub_assign}, A.check_sub, "Value.__rsub__", LD._ACCUMULATE),
    "truediv '=' instead of '+='": ({"__truediv__": truediv_assign}, A.check_truediv, "Value.__truediv__",
                                    LD._ACCUMULATE),
    "rtruediv '=' instead of '+='": ({"__rtruediv__": rtruediv_assign}, A.check_truediv, "Value.__rtruediv__",
                                     LD._ACCUMULATE),
    "relu '=' instead of '+='": ({"relu": relu_assign}, A.check_relu, "Value.relu", LD._ACCUMULATE),
    "sigmoid '=' instead of '+='": ({"sigmoid": sigmoid_assign}, A.check_sigmoid, "Value.sigmoid", LD._ACCUMULATE),
    "tanh '=' instead of '+='": ({"tanh": tanh_assign}, A.check_tanh, "Value.tanh", LD._ACCUMULATE),
}


@pytest.mark.parametrize("name", sorted(WRONG))
def test_wrong_engine_is_caught_and_named(name, monkeypatch):
    methods, check, method_name, phrase = WRONG[name]
    monkeypatch.setattr("course_lib.checks._harness.CALL_BUDGET_S", 1.0)
    message = failure(check, variant(**methods))
    assert method_name in message, message
    assert phrase in message, message


def test_ops_checks_blame_backward_first():
    """With a broken backward, every operator check says so before anything else."""
    Value = variant(backward=backward_bfs)
    for check in (A.check_mul, A.check_pow, A.check_sigmoid):
        with pytest.raises(CheckFailure, match="backward\\(\\) does not pass its own check"):
            check(Value)


# ---------------------------------------------------------------- right engines
def sigmoid_via_tanh(self):
    return ((self * 0.5).tanh() + 1) * 0.5


def sigmoid_via_exp(self):
    s = 1 / (1 + math.exp(-self.data))
    return _unary(self, s, "sigmoid", lambda x, y: math.exp(-x) / (1 + math.exp(-x)) ** 2)


def tanh_via_exp(self):
    e = math.exp(2 * self.data)
    return _unary(self, (e - 1) / (e + 1), "tanh", lambda x, y: 4 * math.exp(2 * x) / (math.exp(2 * x) + 1) ** 2)


def tanh_via_sigmoid(self):
    return (self * 2).sigmoid() * 2 - 1


def sub_direct(self, other):
    return _binary(self, other, lambda a, b: a - b, "-", lambda a, b: 1.0, lambda a, b: -1.0)


def rsub_direct(self, other):
    return _binary(self.lift(other), self, lambda a, b: a - b, "-", lambda a, b: 1.0, lambda a, b: -1.0)


def truediv_direct(self, other):
    return _binary(self, other, lambda a, b: a / b, "/", lambda a, b: 1 / b, lambda a, b: -a / b ** 2)


def rtruediv_direct(self, other):
    return self.lift(other) / self


def relu_ge(self):  # gradient 1 at exactly 0
    return _unary(self, max(0.0, self.data), "ReLU", lambda x, y: float(x >= 0))


def pow_from_output(self, n):
    return _unary(self, self.data ** n, f"**{n}", lambda x, y: n * y / x)


def rmul_direct(self, other):
    return _binary(self, other, lambda a, b: a * b, "*", lambda a, b: b, lambda a, b: a)


def backward_iterative_dfs(self):
    order, seen, stack = [], set(), [(self, False)]
    while stack:
        v, done = stack.pop()
        if done:
            order.append(v)
        elif v not in seen:
            seen.add(v)
            stack.append((v, True))
            stack.extend((c, False) for c in v._prev)
    self.grad = 1.0
    for v in reversed(order):
        v._backward()


def backward_kahn(self):
    """Kahn's algorithm: process a node once every node that uses it is done."""
    users, nodes, stack = {}, set(), [self]
    while stack:
        v = stack.pop()
        if v in nodes:
            continue
        nodes.add(v)
        for c in v._prev:
            users[c] = users.get(c, 0) + 1
            stack.append(c)
    self.grad = 1.0
    ready = [self]
    while ready:
        v = ready.pop()
        v._backward()
        for c in v._prev:
            users[c] -= 1
            if users[c] == 0:
                ready.append(c)


RIGHT = {
    "reference": {},
    "sigmoid through tanh": {"sigmoid": sigmoid_via_tanh},
    "sigmoid through exp": {"sigmoid": sigmoid_via_exp},
    "tanh through exp": {"tanh": tanh_via_exp},
    "tanh through sigmoid": {"tanh": tanh_via_sigmoid},
    "subtraction written directly": {"__sub__": sub_direct, "__rsub__": rsub_direct},
    "division written directly": {"__truediv__": truediv_direct, "__rtruediv__": rtruediv_direct},
    "relu with gradient 1 at 0": {"relu": relu_ge},
    "pow from the output": {"__pow__": pow_from_output},
    "rmul written directly": {"__rmul__": rmul_direct},
    "iterative topological sort": {"backward": backward_iterative_dfs},
    "Kahn's algorithm": {"backward": backward_kahn},
}


@pytest.mark.parametrize("name", sorted(RIGHT))
def test_right_engine_passes_every_check(name, capsys):
    Value = variant(**RIGHT[name])
    A.check_engine(Value)
    A.check_engine(Value, seed=2026, hard=True)
    out = capsys.readouterr().out
    assert out.count("PASSED") == 2 * len(A._ALL)


def test_children_as_tuple_pass():
    """An engine that keeps _prev as a tuple (duplicates allowed) is still right."""
    Value = fresh_value()
    init = Value.__init__

    def tuple_init(self, data, _children=(), _op=""):
        init(self, data, _children, _op)
        self._prev = tuple(_children)
    Value.__init__ = tuple_init
    A.check_engine(Value, seed=3, hard=True)


def test_wrong_catalogue_is_large_enough():
    assert len(WRONG) >= 15 and len(RIGHT) >= 8


# ---------------------------------------------------------------- '=' instead of '+=' (issue 21)
def test_assign_is_caught_by_the_visible_cell_with_the_accumulate_hint():
    """Issue 21: '=' instead of '+=' fails the visible call already (not only the hidden one),
    and the message says to accumulate."""
    for name, (methods, check, method_name, phrase) in WRONG.items():
        if "'=' instead of '+='" not in name:
            continue
        with pytest.raises(CheckFailure) as info:
            check(variant(**methods))
        message = str(info.value)
        assert method_name in message and "used twice" in message and "+=" in message, (name, message)


# ---------------------------------------------------------------- a check fails only for its own method
def mul_own_value(self, other):  # each operand gets its own value, not the other's
    return _binary(self, other, lambda a, b: a * b, "*", lambda a, b: a, lambda a, b: b)


@pytest.mark.parametrize("broken", [mul_no_chain, mul_assign, mul_returns_float, mul_own_value, not_implemented])
def test_nonlinearities_and_pow_do_not_need_mul(broken, capsys):
    """Issue 21: relu, sigmoid, tanh and pow (hidden cases too) are built from the given + and
    unary - only, so a broken __mul__ does not cost their points."""
    Value = variant(__mul__=broken)
    for check in (A.check_pow, A.check_relu, A.check_sigmoid, A.check_tanh):
        check(Value)
        check(Value, seed=2026, hard=True)
    assert capsys.readouterr().out.count("PASSED") == 8


def test_relu_does_not_need_sub(capsys):
    Value = variant(__sub__=not_implemented, __rsub__=not_implemented)
    A.check_relu(Value)
    A.check_relu(Value, seed=2026, hard=True)
    assert capsys.readouterr().out.count("PASSED") == 2


@pytest.mark.parametrize("methods, check, culprit, part", [
    ({"__mul__": mul_own_value}, A.check_truediv, "Value.__mul__", "part b"),     # a / b = a * b ** -1
    ({"__mul__": not_implemented}, A.check_truediv, "Value.__mul__", "part b"),
    ({"__pow__": pow_no_factor}, A.check_truediv, "Value.__pow__", "part d"),
    ({"sigmoid": sigmoid_via_tanh, "tanh": tanh_input_derivative}, A.check_sigmoid, "Value.tanh", "part h"),
    ({"sigmoid": sigmoid_via_tanh, "__mul__": mul_own_value}, A.check_sigmoid, "Value.__mul__", "part b"),
])
def test_a_failure_caused_by_another_method_names_it(methods, check, culprit, part):
    """Issue 21: when the student's method calls another one that fails its own check, the
    message names that one (and its part), not the method under test."""
    Value = variant(**methods)
    before = dict(vars(Value))
    with pytest.raises(CheckFailure) as info:
        check(Value)
    message = str(info.value)
    assert f"your code calls {culprit}, which does not pass its own check ({part})" in message, message
    assert dict(vars(Value)) == before  # the methods watched during the check are put back


def test_a_method_written_directly_is_not_blamed_on_mul(capsys):
    Value = variant(__mul__=mul_own_value, __truediv__=truediv_direct, __rtruediv__=rtruediv_direct)
    A.check_truediv(Value)
    A.check_truediv(Value, seed=2026, hard=True)
    assert capsys.readouterr().out.count("PASSED") == 2


# ---------------------------------------------------------------- a method that is not there
def without(*names):
    Value = fresh_value()
    for name in names:
        delattr(Value, name)
    return Value


@pytest.mark.parametrize("check", A._ALL, ids=lambda c: c.__name__)
def test_missing_backward_is_named_with_its_part(check):
    """Issue 21: without backward() every check says so and points to part (a), instead of
    'the check could not use your object: AttributeError'."""
    with pytest.raises(CheckFailure) as info:
        check(without("backward"))
    message = str(info.value)
    assert "your Value has no backward() method. Part (a) asks you to write it" in message, message
    assert "could not use your object" not in message and "AttributeError" not in message, message


@pytest.mark.parametrize("name", [n for n in PARTS if n != "backward"])
def test_missing_operator_is_named_with_its_part(name):
    part = PARTS[name][0]
    check = {"b": A.check_mul, "c": A.check_sub, "d": A.check_pow, "e": A.check_truediv,
             "f": A.check_relu, "g": A.check_sigmoid, "h": A.check_tanh}[part]
    with pytest.raises(CheckFailure) as info:
        check(without(name))
    message = str(info.value)
    assert f"your Value has no {name} method" in message and f"Part ({part}) asks you to write it" in message, message
    assert f"`Value.{name} = {name}`" in message, message


def test_engine_problem_names_a_missing_backward():
    message = A.engine_problem(without("backward"))
    assert message.startswith("Value.backward: your Value has no backward() method. Part (a)"), message


# ---------------------------------------------------------------- part (i): the rebuilt example
def rebuild(Value, backward_in_build=False, step_runs=1, update_runs=1):
    """Part (i) as a student runs it: the cell that builds L, then the step cell ``step_runs``
    times (``L.backward()``, ``update_runs`` updates, ``L_new``)."""
    from course_lib.problems import HAND_GRADIENTS as P

    w1, w2, w3 = Value(P.w1), Value(P.w2), Value(P.w3)
    s = w1 + w2
    L = s * w3
    if backward_in_build:
        L.backward()
    L_new = None
    for _ in range(step_runs):
        L.backward()
        for _ in range(update_runs):
            for w in (w1, w2, w3):
                w.data -= P.eta * w.grad
        L_new = (w1 + w2) * w3
    return L, L_new, w1, w2, w3


def test_rebuilt_example_passes_the_solution(capsys):
    A.check_rebuilt_example(*rebuild(fresh_value()))
    assert "PASSED: rebuilt example" in capsys.readouterr().out


@pytest.mark.parametrize("how, runs", [({"step_runs": 2}, 2), ({"step_runs": 3}, 3),
                                       ({"backward_in_build": True}, 2)])
def test_rebuilt_example_names_gradients_that_added_up(how, runs):
    """Issue 21: backward() run twice (the step cell run again, or backward() in both cells)
    is reported as accumulation, with the cells to re-run; not as 'L built from other objects'."""
    with pytest.raises(CheckFailure) as info:
        A.check_rebuilt_example(*rebuild(fresh_value(), **how))
    message = str(info.value)
    assert f"L.backward() ran {runs} times on this same L" in message, message
    assert "re-run the cell that builds w1, w2, w3, s and L" in message and "step cell once" in message, message
    assert "same Value objects" not in message, message


def test_rebuilt_example_names_a_step_applied_twice():
    with pytest.raises(CheckFailure, match="the step was applied 2 times"):
        A.check_rebuilt_example(*rebuild(fresh_value(), update_runs=2))


def test_rebuilt_example_blames_the_engine_when_it_is_wrong():
    with pytest.raises(CheckFailure) as info:
        A.check_rebuilt_example(*rebuild(variant(__mul__=mul_own_value)))
    message = str(info.value)
    assert "Your Value itself is at fault" in message and "Value.__mul__" in message, message
    with pytest.raises(CheckFailure) as info:
        A.check_rebuilt_example(*rebuild(variant(backward=backward_no_seed)))
    message = str(info.value)
    assert "Your Value itself is at fault" in message and "seed" in message, message


def test_rebuilt_example_names_a_missing_backward():
    Value = without("backward")
    with pytest.raises(CheckFailure) as info:
        A.check_rebuilt_example(Value(6.0), None, Value(2.0), Value(-0.5), Value(4.0))
    assert "your Value has no backward() method" in str(info.value) and "Part (a)" in str(info.value)


def test_rebuilt_example_other_objects():
    """Gradients that fit no accumulation keep the 'other objects' message."""
    L, L_new, w1, w2, w3 = rebuild(fresh_value())
    w1.grad = 1.0
    with pytest.raises(CheckFailure, match="from these same Value objects"):
        A.check_rebuilt_example(L, L_new, w1, w2, w3)


def test_each_case_earns_its_share_of_the_points(capsys):
    """Partial credit: a __rsub__ that computes self - other loses only the cases that use it."""
    assert A.check_sub(fresh_value(), points=1) == 1.0
    earned = A.check_sub(variant(__rsub__=rsub_wrong_order), points=1)
    out = capsys.readouterr().out
    assert 0 < earned < 1, earned
    assert "FAILED: Value.__sub__ / __rsub__: for c = 2.0 - a" in out and "PARTLY PASSED" in out, out
    with pytest.raises(CheckFailure, match="no backward"):  # a missing method fails the whole cell
        Broken = fresh_value()
        del Broken.backward
        A.check_sub(Broken, points=1)


def test_each_check_is_named_after_its_method():
    assert [c.__name__ for c in A._ALL] == ["check_backward", "check_mul", "check_sub", "check_pow", "check_truediv",
                                           "check_relu", "check_sigmoid", "check_tanh"]
