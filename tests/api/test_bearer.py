"""The Authorization header has one reader (:func:`api.http.deps.bearer_of`); the lean routes'
pre-check (:func:`api.http.lean.bearer`) takes only what that reader reads the same way."""

from __future__ import annotations

import pytest

from api.http.deps import bearer_of
from api.http.lean import bearer as lean_bearer

TOKEN = "eyJ1aWQiOjJ9.abc-_DEF"
CASES = {
    f"Bearer {TOKEN}": TOKEN,
    f"bearer {TOKEN}": TOKEN,
    f"BEARER  {TOKEN} ": TOKEN,
    "Bearer ": None,
    "Bearer": None,
    f"Basic {TOKEN}": None,
    "": None,
}


@pytest.mark.parametrize("value", list(CASES))
def test_one_reader_of_the_header(value: str) -> None:
    headers = [(b"host", b"x"), (b"authorization", value.encode()), (b"authorization", b"Bearer other")]
    assert bearer_of(headers) == CASES[value]  # the first Authorization header only
    lean = lean_bearer(headers)
    assert lean is None or lean == bearer_of(headers)


def test_no_header_no_token() -> None:
    assert bearer_of([(b"host", b"x")]) is None and lean_bearer([(b"host", b"x")]) is None
    assert lean_bearer([(b"authorization", f"Bearer {TOKEN}".encode())]) == TOKEN
