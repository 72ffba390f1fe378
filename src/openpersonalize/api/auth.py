"""Who signed the request, and — when access keys are configured — whether the SigV4 signature is right.

Without configured keys any credentials are accepted, as AWS-local tools usually do (spec §1.7). With keys
(``OPENPERSONALIZE_ACCESS_KEYS=AKID:secret,...``) every request of all three services must carry a valid
``AWS4-HMAC-SHA256`` Authorization header for the signing name ``personalize``. The canonical request is
recomputed with botocore's own SigV4 helpers, so the server and the SDK cannot disagree on canonicalisation.
Messages follow AWS's (see "Signature Version 4 signing process" in the IAM user guide).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
from dataclasses import dataclass

import regex
from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials
from starlette.requests import Request

from ..errors import InvalidSignatureException, UnrecognizedClientException

SIGNING_NAME = "personalize"  # all three services sign with it (spec §1.1)
MAX_SKEW = dt.timedelta(minutes=15)  # AWS refuses a request whose X-Amz-Date is further off than this
BAD_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)

_CREDENTIAL = regex.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/,\s]+)/([^/,\s]+)/aws4_request")
_AUTHORIZATION = regex.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?<key>[^/,\s]+)/(?<date>\d{8})/(?<region>[^/,\s]+)/(?<service>[^/,\s]+)"
    r"/aws4_request\s*,\s*SignedHeaders=(?<headers>[a-z0-9\-;]+)\s*,\s*Signature=(?<signature>[0-9a-f]{64})\s*"
)
UNSIGNED = "The request is not signed: a SigV4 Authorization header is required."
_AMZ_DATE = regex.compile(r"\d{8}T\d{6}Z")


@dataclass(frozen=True)
class Caller:
    access_key: str | None
    region: str | None


@dataclass(frozen=True)
class Incoming:
    """The parts of an HTTP request that a SigV4 signature covers, exactly as received."""

    method: str
    path: str  # percent-encoded, as on the request line
    query: str
    headers: tuple[tuple[str, str], ...]  # (lower-case name, value), repeats kept in order
    body: bytes

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key == name), None)


@dataclass(frozen=True)
class Signed:
    """The pieces of an ``AWS4-HMAC-SHA256`` Authorization header."""

    access_key: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def incoming(request: Request, body: bytes) -> Incoming:
    """Capture a Starlette request for verification (raw path and query: the client signed those)."""
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    headers = tuple((k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in request.headers.raw)
    return Incoming(
        method=request.method,
        path=raw_path.decode("latin-1"),
        query=request.scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        body=body,
    )


def parse_authorization(header: str | None) -> Caller:
    """Region and key id from the credential scope; missing or foreign headers give an anonymous caller."""
    if not header:
        return Caller(None, None)
    match = _CREDENTIAL.search(header)
    if match is None:
        return Caller(None, None)
    return Caller(match.group(1), match.group(3))


def parse_signed(header: str) -> Signed:
    """The full Authorization header, or InvalidSignatureException saying what shape was expected."""
    match = _AUTHORIZATION.fullmatch(header.strip())
    if match is None:
        raise InvalidSignatureException(
            f"The Authorization header {header[:200]!r} is malformed: expected 'AWS4-HMAC-SHA256 "
            "Credential=<key>/<yyyymmdd>/<region>/personalize/aws4_request, SignedHeaders=<h1;h2>, Signature=<64 hex>'."
        )
    return Signed(
        access_key=match["key"],
        date=match["date"],
        region=match["region"],
        service=match["service"],
        signed_headers=tuple(match["headers"].split(";")),
        signature=match["signature"],
    )


def check_caller(
    caller: Caller, access_keys: dict[str, str], request: Incoming | None = None, now: dt.datetime | None = None
) -> None:
    """With keys configured: unsigned or unknown key → UnrecognizedClientException; bad signature → Invalid…."""
    if not access_keys:
        return
    header = request.header("authorization") if request is not None else None
    if request is None or not header:
        raise UnrecognizedClientException(UNSIGNED)
    check_caller_known(caller, access_keys)
    verify_signature(request, parse_signed(header), access_keys, now or dt.datetime.now(dt.timezone.utc))


def check_caller_known(caller: Caller, access_keys: dict[str, str]) -> None:
    """The part of the check that needs no body: a signature is present and names a configured key."""
    if caller.access_key is None:
        raise UnrecognizedClientException(UNSIGNED)
    if caller.access_key not in access_keys:
        raise UnrecognizedClientException("The security token included in the request is invalid.")


def verify_signature(request: Incoming, signed: Signed, access_keys: dict[str, str], now: dt.datetime) -> None:
    """Recompute the signature over what was received and compare it in constant time."""
    secret = access_keys.get(signed.access_key)
    if secret is None:
        raise UnrecognizedClientException("The security token included in the request is invalid.")
    if signed.service != SIGNING_NAME:
        raise InvalidSignatureException(f"Credential should be scoped to correct service: '{SIGNING_NAME}'.")
    if "host" not in signed.signed_headers:
        raise InvalidSignatureException("'Host' must be a 'SignedHeader' in the AWS Authorization.")
    if request.header("x-amz-target") is not None and "x-amz-target" not in signed.signed_headers:
        # The operation is chosen by this header: unsigned, a signed Describe could be replayed as a Delete.
        raise InvalidSignatureException("'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization.")
    amz_date = _checked_date(request, signed, now)
    _check_payload_hash(request)
    aws_request = _rebuild(request, signed.signed_headers, amz_date)
    verifier = _Verifier(Credentials(signed.access_key, secret), SIGNING_NAME, signed.region)
    canonical = verifier.canonical_request(aws_request)
    expected = verifier.signature(verifier.string_to_sign(aws_request, canonical), aws_request)
    if not hmac.compare_digest(expected, signed.signature):
        raise InvalidSignatureException(BAD_SIGNATURE)


def _checked_date(request: Incoming, signed: Signed, now: dt.datetime) -> str:
    """X-Amz-Date: present, well formed, matching the credential scope, within 15 minutes of now."""
    amz_date = request.header("x-amz-date")
    if amz_date is None:
        raise InvalidSignatureException("Authorization header requires existence of a 'X-Amz-Date' header.")
    if not _AMZ_DATE.fullmatch(amz_date):
        raise InvalidSignatureException(f"X-Amz-Date {amz_date!r} is not in ISO-8601 basic format (YYYYMMDD'T'HHMMSS'Z').")
    try:  # fixed-width fields: slicing avoids strptime (~50 us) on every signed request
        when = dt.datetime(
            int(amz_date[0:4]), int(amz_date[4:6]), int(amz_date[6:8]),
            int(amz_date[9:11]), int(amz_date[11:13]), int(amz_date[13:15]), tzinfo=dt.timezone.utc,
        )
    except ValueError:
        raise InvalidSignatureException(f"X-Amz-Date {amz_date!r} is not a valid date and time.") from None
    if amz_date[:8] != signed.date:
        raise InvalidSignatureException(
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{signed.date}' != '{amz_date[:8]}', from '{amz_date}'."
        )
    stamp = now.strftime(SIGV4_TIMESTAMP)
    if when < now - MAX_SKEW:
        earliest = (now - MAX_SKEW).strftime(SIGV4_TIMESTAMP)
        raise InvalidSignatureException(f"Signature expired: {amz_date} is now earlier than {earliest} ({stamp} - 15 min.)")
    if when > now + MAX_SKEW:
        latest = (now + MAX_SKEW).strftime(SIGV4_TIMESTAMP)
        raise InvalidSignatureException(f"Signature not yet current: {amz_date} is still later than {latest} ({stamp} + 15 min.)")
    return amz_date


def _check_payload_hash(request: Incoming) -> None:
    # A client may state the body hash in a header; it must then be the hash of the body actually received.
    claimed = request.header("x-amz-content-sha256")
    if claimed is not None and claimed != hashlib.sha256(request.body).hexdigest():
        raise InvalidSignatureException("The provided 'x-amz-content-sha256' header does not match what was computed.")


def _rebuild(request: Incoming, signed_headers: tuple[str, ...], amz_date: str) -> AWSRequest:
    """An AWSRequest holding exactly the signed headers, so botocore canonicalises what the client signed."""
    headers = HTTPHeaders()
    for name in signed_headers:
        values = [value for key, value in request.headers if key == name]
        if not values:
            raise InvalidSignatureException(f"The signed header {name!r} is not present in the request.")
        for value in values:
            headers[name] = value
    host = request.header("host") or "localhost"
    url = f"http://{host}{request.path}" + (f"?{request.query}" if request.query else "")
    aws_request = AWSRequest(method=request.method, url=url, headers=headers, data=request.body)
    aws_request.context["timestamp"] = amz_date
    return aws_request


class _Verifier(SigV4Auth):
    """botocore's SigV4 signer, made to canonicalise exactly the headers the client listed as signed.

    The stock ``headers_to_sign`` picks headers itself (dropping e.g. ``user-agent``); a verifier must use the
    client's SignedHeaders list instead, which ``_rebuild`` has already applied.
    """

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        header_map = HTTPHeaders()
        for name, value in request.headers.items():
            header_map[name.lower()] = value
        return header_map

    def payload(self, request: AWSRequest) -> str:
        # The body is the bytes received; hashing them directly skips AWSRequest.prepare() (a third of the cost).
        return hashlib.sha256(request.data or b"").hexdigest()

    def signature(self, string_to_sign: str, request: AWSRequest) -> str:
        key = _signing_key(self.credentials.secret_key, request.context["timestamp"][0:8], self._region_name)
        return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


@functools.lru_cache(maxsize=256)
def _signing_key(secret: str, date: str, region: str) -> bytes:
    """SigV4's derived key (HMAC chain over date, region, service): the same all day, so it is cached."""
    key = f"AWS4{secret}".encode()
    for part in (date, region, SIGNING_NAME, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key
