"""Field types the request bodies and parameters share: text both databases can store and
integers that fit their columns, checked here once, so SQLite and PostgreSQL answer alike.

PostgreSQL refuses NUL in text and strings longer than a VARCHAR's length, where SQLite stores
them; neither can store a lone surrogate (JSON's "\\ud800"), which is not UTF-8. An INTEGER
column ends at 2**31 - 1.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, Field, StringConstraints, TypeAdapter, ValidationError

from veorelay.errors import InvalidRequest

MAX_INT32 = 2**31 - 1  # an INTEGER column (the ledger's ids, per-token limits)


def _storable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


Storable = AfterValidator(_storable)
# The lengths are the columns' (db/tables.py).
Name = Annotated[str, StringConstraints(min_length=1, max_length=200), Storable]
Note = Annotated[str, StringConstraints(max_length=500), Storable]
GroupName = Annotated[str, StringConstraints(min_length=1, max_length=60), Storable]
ModelName = Annotated[str, StringConstraints(min_length=1, max_length=100), Storable]
Ref = Annotated[str, StringConstraints(max_length=200), Storable]  # an id to look up
Positive32 = Annotated[int, Field(ge=1, le=MAX_INT32)]
UsageLimit = Annotated[int, Field(ge=1, le=1_000_000)]  # creates a minute, videos in flight

_T = TypeVar("_T")
_adapters: dict[Any, TypeAdapter[Any]] = {}


def checked(kind: Any, value: _T, param: str) -> _T:
    """`value` validated as `kind` (one of the types above), or a 400 naming `param`. For the
    arguments a handler takes outside a body (path, query), when the command line calls it."""
    adapter = _adapters.get(kind)
    if adapter is None:
        adapter = _adapters[kind] = TypeAdapter(kind)
    try:
        adapter.validate_python(value, strict=True)
    except ValidationError as exc:
        message = exc.errors()[0]["msg"] if exc.errors() else "is invalid"
        raise InvalidRequest(f"{param}: {message}.", param=param) from None
    return value
