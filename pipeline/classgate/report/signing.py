"""Signed reports: an HMAC-SHA256 that proves a report came from a holder of the key.

With a key in CLASSGATE_SIGNING_KEY (a CI secret, never written into the output
folder), every report.json a run writes carries `signature`: an HMAC-SHA256 of the
report's canonical bytes (its JSON without the signature, keys sorted, no spaces).
Every gate (`run`, `train --report`, `classgate.open_gate`) that has the key
refuses a report without a valid signature. Without the key nothing is signed and
nothing is asked: behaviour is as it always was.

What a signature proves: whoever wrote these bytes held the key, so a report edited
after the run, re-pointed at other data with a recomputed fingerprint, or written
by hand, does not open the gate. What it does not prove: that the key is safe (a
job that can read the secret can sign anything), that the run was the latest one
(an older signed pass of the same data and configs still opens the gate, as it
should: it is still true), or anything the fingerprint does not cover (a rewrite
that keeps a remote object's update time).
"""

import hashlib
import hmac
import json
import os

KEY_VARIABLE = "CLASSGATE_SIGNING_KEY"
_SCHEME = "hmac-sha256:"


def key() -> bytes | None:
    """The signing key from the environment; None when unset or empty."""
    found = os.environ.get(KEY_VARIABLE, "")
    return found.encode("utf-8") if found else None


def canonical(report) -> bytes:
    """The bytes a signature covers: the report as JSON, without its signature."""
    document = report.model_dump(mode="json", by_alias=True, exclude={"signature"})
    text = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return text.encode("utf-8")


def signature(report, secret: bytes) -> str:
    digest = hmac.new(secret, canonical(report), hashlib.sha256).hexdigest()
    return _SCHEME + digest


def signed(report):
    """The report with its signature when a key is set; as it is otherwise."""
    secret = key()
    if secret is None:
        return report
    return report.model_copy(update={"signature": signature(report, secret)})


def problem(report) -> str | None:
    """Why the report's signature does not hold, with a key set; None if it holds.

    None too when no key is set: signatures are then neither made nor asked for.
    """
    secret = key()
    if secret is None:
        return None
    if not report.signature:
        return f"it is not signed, and {KEY_VARIABLE} asks for a signed report"
    if not hmac.compare_digest(report.signature, signature(report, secret)):
        return (
            f"its signature does not match its content under {KEY_VARIABLE} "
            "(edited after the run, or signed with another key)"
        )
    return None
