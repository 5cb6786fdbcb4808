"""The base of every config spec: unknown keys refused, frozen, and no boolean read as a number.

pydantic's lax mode reads `true` as 1 and `false` as 0 for an int or float field, so
`epochs: true` would train one epoch and `hidden: [true]` build one unit. A field whose
type takes numbers but not booleans refuses a boolean here, in lists and pairs too; YAML
strings that spell numbers (PyYAML reads `1e-3` as the string '1e-3') stay numbers.
"""

from __future__ import annotations

import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError


def _members(tp: Any) -> list[Any]:
    """The types a value of `tp` may have: the members of a union, `Annotated` unwrapped."""
    origin = get_origin(tp)
    if origin is Annotated:
        return _members(get_args(tp)[0])
    if origin is Union or origin is types.UnionType:
        return [m for arg in get_args(tp) for m in _members(arg)]
    return [tp]


def _takes_bool(tp: Any) -> bool:
    return tp is bool or tp is Any or (get_origin(tp) is Literal
                                       and any(isinstance(a, bool) for a in get_args(tp)))


def bool_as_number(tp: Any, value: Any) -> bool:
    """Whether `value` holds a boolean where the type `tp` wants a number (int or float),
    at the top or inside a list or tuple."""
    members = _members(tp)
    if isinstance(value, bool):
        return (any(m in (int, float) for m in members)
                and not any(_takes_bool(m) for m in members))
    if isinstance(value, list | tuple):
        for m in members:
            if get_origin(m) in (list, tuple):
                items = [a for a in get_args(m) if a is not Ellipsis]
                if items:
                    return any(bool_as_number(items[min(i, len(items) - 1)], v)
                               for i, v in enumerate(value))
    return False


def key_error(title: str, loc: tuple[str | int, ...], value: Any, detail: str
              ) -> ValidationError:
    """A pydantic ValidationError at `loc` whose message is `detail` (raised inside a
    validator, its location joins the path of the field being validated)."""
    error = InitErrorDetails(type=PydanticCustomError("value_error", "{detail}",
                                                      {"detail": detail}),
                             loc=loc, input=value)
    return ValidationError.from_exception_data(title, [error])


def as_yaml(value: Any) -> str:
    """`value` as YAML writes it: true, false, [1, true]."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(as_yaml(v) for v in value) + "]"
    return repr(value)


class Spec(BaseModel):
    """A config spec: unknown keys are errors, instances are frozen, and a field that takes
    numbers refuses booleans (see the module doc)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _no_bool_as_number(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        for key, value in data.items():
            field = cls.model_fields.get(key) if isinstance(key, str) else None
            if field is None or any(isinstance(m, BeforeValidator) for m in field.metadata):
                continue  # not a field, or one that reads its input itself (data.classes)
            if bool_as_number(field.annotation, value):
                raise key_error(cls.__name__, (key,), value,
                                f"{as_yaml(value)}: a boolean where a number belongs "
                                "(write a number such as 1 or 0.5)")
        return data
