"""Imports deferred to first use, so a Lambda function's cold start loads only what it runs.

Every function of the stage imports `app.py` (the API function) or one blueprint module (the
authorizer, the scanner, the sweeps...). A module that imports its services and schemas at the
top makes each of them pay for every other route's code: pydantic and the request and response
models alone are most of the API function's import. Route modules therefore name what they use
through these proxies, and the module is imported when a request first touches it:

    if TYPE_CHECKING:  # the type checker and the import contracts see the real modules
        from chalicelib.tickets import schemas, service
    else:
        schemas = deferred_names("chalicelib.tickets.schemas")
        service = lazy_module("chalicelib.tickets.service")

    @api_route(bp, "/tickets", methods=["POST"], body=schemas.CreateTicket, ...)

`lazy_module(name).attr` imports the module on first access. `deferred_names(name).Attr` does not
import at all: it is a `Deferred` reference that a route's declaration can hold, resolved when it
is used (`resolve()`, an attribute, a call). `importlib.import_module` takes the import system's
per-module lock, so two threads' first uses import once (the local stack serves requests on
threads; a Lambda invocation runs one at a time).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    """A module imported the first time one of its attributes is read."""

    __slots__ = ("_module", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def load(self) -> ModuleType:
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        return module

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.load(), attr)

    def __repr__(self) -> str:
        state = "loaded" if self._module is not None else "not loaded"
        return f"<lazy module {self._name!r} ({state})>"


class Deferred:
    """`module.name`, looked up when first used: a route declaration can name a model that
    nothing has imported yet. Reading an attribute of it, or calling it, resolves it."""

    __slots__ = ("_module", "_name", "_value")

    def __init__(self, module: LazyModule, name: str) -> None:
        self._module = module
        self._name = name
        self._value: Any = _UNRESOLVED

    def resolve(self) -> Any:
        value = self._value
        if value is _UNRESOLVED:
            value = self._value = getattr(self._module.load(), self._name)
        return value

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.resolve(), attr)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<deferred {self._module._name}.{self._name}>"


class DeferredNames:
    """The names of a module as `Deferred` references (`names.TicketOut`); imports nothing."""

    __slots__ = ("_module", "_refs")

    def __init__(self, name: str) -> None:
        self._module = LazyModule(name)
        self._refs: dict[str, Deferred] = {}

    def __getattr__(self, name: str) -> Deferred:
        if name.startswith("__"):
            raise AttributeError(name)  # copy, pickle and inspect probe dunders: not names
        ref = self._refs.get(name)
        if ref is None:
            ref = self._refs.setdefault(name, Deferred(self._module, name))
        return ref


_UNRESOLVED: Any = object()


def lazy_module(name: str) -> Any:
    """The module `name`, imported on first attribute access (typed as the module by the
    `TYPE_CHECKING` import beside it)."""
    return LazyModule(name)


def deferred_names(name: str) -> Any:
    """The names of module `name` as references resolved on first use (see `Deferred`)."""
    return DeferredNames(name)


def resolve(value: Any) -> Any:
    """`value`, or what it refers to if it is a `Deferred` reference."""
    return value.resolve() if isinstance(value, Deferred) else value
