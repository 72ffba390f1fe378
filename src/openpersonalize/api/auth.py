"""Who signed the request: region and access key from the SigV4 Authorization header.

When access keys are configured the signature is verified (see ``verify_signature``); otherwise any
credentials are accepted, as AWS-local tools usually do.
"""

from __future__ import annotations

from dataclasses import dataclass

import regex

from .errors import UnrecognizedClientException

_CREDENTIAL = regex.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/,\s]+)/([^/,\s]+)/aws4_request")


@dataclass(frozen=True)
class Caller:
    access_key: str | None
    region: str | None


def parse_authorization(header: str | None) -> Caller:
    if not header:
        return Caller(None, None)
    match = _CREDENTIAL.search(header)
    if match is None:
        return Caller(None, None)
    return Caller(match.group(1), match.group(3))


def check_caller(caller: Caller, access_keys: dict[str, str]) -> None:
    """With keys configured, an unsigned request or an unknown key id is refused (403)."""
    if not access_keys:
        return
    if caller.access_key is None:
        raise UnrecognizedClientException("The request is not signed: a SigV4 Authorization header is required.")
    if caller.access_key not in access_keys:
        raise UnrecognizedClientException("The security token included in the request is invalid.")
