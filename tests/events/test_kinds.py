"""`events.kinds.TYPES` lists every event type the package writes to the outbox, and only
those: a type written but not listed could not be followed (webhook endpoints and live
subscriptions refuse it), a type listed but never written would be followed in vain.

The types written are found in the source: every call of `outbox.enqueue` and
`enqueue_many`, its type followed back to a literal or a module's constant (through the
functions that pass it on, as the catalog's `record_change` does with its `event`), every
`Report` the write statement inserts under (`usage.recorded`), and every module constant
named as an event type (`EVENT`, `EVENT_TYPE`, `..._EVENT`); no other code or migration
inserts into the outbox.
"""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import benefitgate
from benefitgate.events import kinds, outbox
from benefitgate.metering.repository import Report

ROOT = Path(benefitgate.__file__).parent
README = Path(__file__).resolve().parents[2] / "README.md"
CONSTANT = re.compile(r"EVENT|EVENT_TYPE|\w+_EVENT")
# Named as an event type, never written to the outbox: `webhookTestSend` sends it to an
# endpoint directly, whatever the endpoint follows.
NOT_WRITTEN = {"webhook.test"}
WRITERS = (outbox.enqueue, outbox.enqueue_many)


class Unresolved(Exception):
    """A call's type that the walk cannot follow to a string."""


@dataclass(frozen=True)
class Scope:
    module: ModuleType
    path: Path
    function: ast.FunctionDef | ast.AsyncFunctionDef | None


@dataclass(frozen=True)
class Call:
    node: ast.Call
    scope: Scope

    def where(self) -> str:
        return f"{self.scope.path.relative_to(ROOT.parent)}:{self.node.lineno}"


def _modules() -> Iterator[tuple[ModuleType, Path, ast.Module]]:
    for path in sorted(ROOT.rglob("*.py")):
        name = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts)
        name = name.removesuffix(".__init__")
        yield importlib.import_module(name), path, ast.parse(path.read_text(), str(path))


MODULES = list(_modules())


def _calls() -> list[Call]:
    """Every call in the package, with the module and function it is made in."""
    found: list[Call] = []

    def visit(node: ast.AST, scope: Scope) -> None:
        for child in ast.iter_child_nodes(node):
            inner = scope
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                inner = Scope(scope.module, scope.path, child)
            if isinstance(child, ast.Call):
                found.append(Call(child, scope))
            visit(child, inner)

    for module, path, tree in MODULES:
        visit(tree, Scope(module, path, None))
    return found


CALLS = _calls()


def _value(expr: ast.expr, module: ModuleType) -> Any:
    """What a name or a dotted name means at the top of `module`."""
    if isinstance(expr, ast.Name):
        if not hasattr(module, expr.id):
            raise Unresolved(expr.id)
        return getattr(module, expr.id)
    if isinstance(expr, ast.Attribute):
        return getattr(_value(expr.value, module), expr.attr)
    raise Unresolved(ast.unparse(expr))


def _callee(call: Call) -> Any:
    try:
        return _value(call.node.func, call.scope.module)
    except (Unresolved, AttributeError):
        return None  # a method, a local: no function the walk follows


def _argument(call: Call, position: int, name: str) -> ast.expr | None:
    if position < len(call.node.args):
        return call.node.args[position]
    return next((k.value for k in call.node.keywords if k.arg == name), None)


def _parameters(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    return [a.arg for a in [*function.args.posonlyargs, *function.args.args]]


def _resolve(expr: ast.expr, scope: Scope, item: int | None = None) -> dict[str, str]:
    """The strings `expr` can be in `scope` (its element `item` when it is a tuple), each
    with where it is written: the literal, or the name of a module's constant."""
    where = f"{scope.path.relative_to(ROOT.parent)}:{expr.lineno}"
    if item is not None and isinstance(expr, ast.Tuple):
        return _resolve(expr.elts[item], scope)
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str) and item is None:
        return {expr.value: where}
    if isinstance(expr, ast.IfExp):
        return _resolve(expr.body, scope, item) | _resolve(expr.orelse, scope, item)
    if isinstance(expr, ast.Name) and scope.function is not None:
        if expr.id in _parameters(scope.function):
            return _from_callers(scope, expr.id, item)
        assigned = _assignments(scope.function, expr.id)
        if assigned:
            types: dict[str, str] = {}
            for value, element in assigned:
                if element is not None and item is not None:
                    raise Unresolved(f"{ast.unparse(expr)}: a tuple in a tuple")
                types |= _resolve(value, scope, item if element is None else element)
            return types
    try:
        value = _value(expr, scope.module)
        if item is not None:
            value = value[item]
    except (Unresolved, AttributeError, LookupError, TypeError) as exc:
        raise Unresolved(ast.unparse(expr)) from exc
    if not isinstance(value, str):
        raise Unresolved(ast.unparse(expr))
    return {value: where}


def _assignments(
    function: ast.FunctionDef | ast.AsyncFunctionDef, name: str
) -> list[tuple[ast.expr, int | None]]:
    """What `name` is assigned in `function`: (value, None), or (value, i) when it is the
    i-th name a tuple is unpacked into."""
    found: list[tuple[ast.expr, int | None]] = []
    for node in ast.walk(function):
        if not isinstance(node, ast.Assign):
            continue
        for target in node.targets:
            if isinstance(target, ast.Name) and target.id == name:
                found.append((node.value, None))
            elif isinstance(target, ast.Tuple):
                for i, element in enumerate(target.elts):
                    if isinstance(element, ast.Name) and element.id == name:
                        found.append((node.value, i))
    return found


def _from_callers(scope: Scope, parameter: str, item: int | None) -> dict[str, str]:
    """What every caller in the package passes for `parameter` of `scope.function`."""
    assert scope.function is not None
    function = getattr(scope.module, scope.function.name, None)
    position = _parameters(scope.function).index(parameter)
    passed = [c for c in CALLS if function is not None and _callee(c) is function]
    if not passed:
        raise Unresolved(f"{scope.function.name}({parameter}): no caller in the package")
    types: dict[str, str] = {}
    for call in passed:
        argument = _argument(call, position, parameter)
        if argument is None:
            raise Unresolved(f"{call.where()}: {parameter} not passed")
        types |= _resolve(argument, call.scope, item)
    return types


def written_types() -> dict[str, list[str]]:
    """Each type the package enqueues, with where it is written: every enqueue call,
    followed back."""
    written: dict[str, list[str]] = {}
    for call in CALLS:
        if _callee(call) not in WRITERS:
            continue
        argument = _argument(call, 1, "type")
        assert argument is not None, call.where()
        try:
            types = _resolve(argument, call.scope)
        except Unresolved as exc:
            raise AssertionError(
                f"{call.where()}: cannot tell which event type this writes ({exc}); "
                "pass a literal or a module constant"
            ) from exc
        for t, where in types.items():
            written.setdefault(t, []).append(where)
    for module, path, _ in MODULES:
        for value in vars(module).values():
            if isinstance(value, Report):
                written.setdefault(value.event_type, []).append(str(path.relative_to(ROOT.parent)))
    return written


def named_types() -> dict[str, str]:
    """Every module constant named as an event type, by value, with where."""
    named: dict[str, str] = {}
    for module, _, tree in MODULES:
        for node in tree.body:
            targets: list[ast.expr] = [node.target] if isinstance(node, ast.AnnAssign) else []
            targets += node.targets if isinstance(node, ast.Assign) else []
            for target in targets:
                if isinstance(target, ast.Name) and CONSTANT.fullmatch(target.id):
                    value = getattr(module, target.id, None)
                    if isinstance(value, str):
                        named[value] = f"{module.__name__}.{target.id}"
    return named


def test_every_type_the_package_enqueues_is_listed() -> None:
    written = written_types()

    unlisted = {t: where for t, where in written.items() if t not in kinds.TYPES}
    assert unlisted == {}, "add these to benefitgate.events.kinds.TYPES"
    assert "catalog.published" in written  # followed through record_change's `event`
    assert "partner.account_unlinked" in written  # through partners' `_report(action)`
    assert "usage.recorded" in written  # the write statement's Report


def test_the_outbox_is_written_only_by_enqueue_and_the_write_statements_report() -> None:
    """The walk above follows those two ways in; an insert into `events` written anywhere
    else would write types it never sees."""
    inserting = re.compile(r"insert\s+into\s+events\b", re.IGNORECASE)
    writers = {
        path.relative_to(ROOT).as_posix()
        for _, path, _ in MODULES
        if inserting.search(path.read_text())
    }
    assert writers == {"events/outbox.py", "metering/repository.py"}
    migrations = Path(__file__).resolve().parents[2] / "sql"
    assert not [p.name for p in migrations.rglob("*.sql") if inserting.search(p.read_text())]


def test_every_constant_named_as_an_event_type_is_listed() -> None:
    named = named_types()

    unlisted = {t: where for t, where in named.items() if t not in kinds.TYPES}
    assert unlisted == {t: named[t] for t in NOT_WRITTEN}
    assert "seats.changed" in named


def test_every_listed_type_is_written() -> None:
    assert sorted(set(kinds.TYPES) - set(written_types())) == []
    assert list(kinds.TYPES) == sorted(set(kinds.TYPES))  # sorted, each once
    assert not NOT_WRITTEN & set(kinds.TYPES)


def written_with_and_without_an_account() -> tuple[set[str], set[str]]:
    """The types some write enqueues with an account, and those some write enqueues with a
    literal None for it (a list of events, and the write statement's, have accounts)."""
    with_account: set[str] = set()
    without: set[str] = set()
    for call in CALLS:
        callee = _callee(call)
        if callee not in WRITERS:
            continue
        argument = _argument(call, 1, "type")
        assert argument is not None, call.where()
        account = _argument(call, 2, "account_id") if callee is outbox.enqueue else None
        accountless = isinstance(account, ast.Constant) and account.value is None
        (without if accountless else with_account).update(_resolve(argument, call.scope))
    for module, _, _ in MODULES:
        with_account.update(v.event_type for v in vars(module).values() if isinstance(v, Report))
    return with_account, without


def test_the_accountless_types_are_those_always_written_without_an_account() -> None:
    """A type listed as accountless is refused where only accounts' events come; one that
    is sometimes written with an account must not be, one never written with one must."""
    with_account, without = written_with_and_without_an_account()

    assert sorted(kinds.ACCOUNTLESS) == sorted(without - with_account)
    assert set(kinds.TYPES) >= kinds.ACCOUNTLESS


def test_an_accountless_refusal_names_those_types() -> None:
    assert kinds.accountless(["seats.changed", "milestone.reached"]) is None
    assert kinds.accountless(["seats.changed", "catalog.published", "catalog.published"]) == (
        "only accounts' events come here, and these carry no account: 'catalog.published'"
    )


def test_a_refusal_names_the_unknown_types_each_once_in_order() -> None:
    assert kinds.refusal(["seats.changed", "milestone.reached"]) is None
    assert kinds.refusal([]) is None
    assert kinds.refusal(["b.x", "seats.changed", "a.x", "b.x"]) == (
        "unknown event types: 'b.x', 'a.x'"
    )
    many = [f"t.{n}" for n in range(7)]
    assert kinds.refusal(many) == (
        "unknown event types: 't.0', 't.1', 't.2', 't.3', 't.4' and 2 more"
    )
    assert kinds.refusal(["x" * 500]) == f"unknown event types: '{'x' * 40}…'"


def test_the_readme_lists_the_types() -> None:
    text = README.read_text()
    found = re.search(r"<!-- event-types -->\n(.*?)\n\n", text, re.S)
    assert found is not None, "the README's list of event types"

    assert re.findall(r"`([^`]+)`", found.group(1)) == list(kinds.TYPES)
