"""Bearer tokens (:mod:`api.ops.tokens`): accepted until the second they expire, refused from then
on, and refused when signed with another key or altered."""

from __future__ import annotations

import pytest

from api.ops.tokens import Unauthorized, issue_token, read_token

SECRET = "test-secret"
ISSUED = 1_800_000_000.0
TTL = 8 * 3600


def test_accepted_one_second_before_expiry() -> None:
    token = issue_token(SECRET, 42, "调度员", TTL, now=ISSUED)
    claims = read_token(SECRET, token, now=ISSUED + TTL - 1)
    assert (claims.user_id, claims.role, claims.expires) == (42, "调度员", int(ISSUED) + TTL)


@pytest.mark.parametrize("after_s", [0, 1, 86_400])
def test_refused_at_and_after_expiry(after_s: int) -> None:
    token = issue_token(SECRET, 42, "调度员", TTL, now=ISSUED)
    with pytest.raises(Unauthorized) as err:
        read_token(SECRET, token, now=ISSUED + TTL + after_s)
    assert err.value.en == "token expired" and "过期" in err.value.zh


def test_refused_with_another_key_or_altered() -> None:
    token = issue_token(SECRET, 42, "调度员", TTL, now=ISSUED)
    with pytest.raises(Unauthorized, match="invalid token"):
        read_token("another-secret", token, now=ISSUED)
    body, sig = token.split(".")
    with pytest.raises(Unauthorized, match="invalid token"):
        read_token(SECRET, f"{body}x.{sig}", now=ISSUED)
