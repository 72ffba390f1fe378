"""SigV4 verification (issue 2): a server with access keys accepts only correctly signed requests."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from typing import Any

import boto3
import botocore
import botocore.auth
import botocore.config
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from conftest import LiveServer

from openpersonalize.api import auth
from openpersonalize.errors import InvalidSignatureException, UnrecognizedClientException

KEY, SECRET = "AKIDTEST", "secret123"
AUTH_ERRORS = ("UnrecognizedClientException", "InvalidSignatureException")
NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def signed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp("auth"), env={"OPENPERSONALIZE_ACCESS_KEYS": f"{KEY}:{SECRET}"})
    live.start()
    yield live
    live.stop()


def _error(call: Any, **kwargs: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    response = info.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


def _calls(server: LiveServer, **creds: Any) -> list[tuple[Any, dict[str, Any]]]:
    """One call per service, each of which passes authentication with the right key."""
    control = server.client("personalize", **creds)
    runtime = server.client("personalize-runtime", **creds)
    events = server.client("personalize-events", **creds)
    campaign = "arn:aws:personalize:us-east-1:123456789012:campaign/none"
    return [
        (control.list_dataset_export_jobs, {}),
        (runtime.get_recommendations, {"campaignArn": campaign, "userId": "u1"}),
        (events.put_events, {"trackingId": "t", "sessionId": "s", "eventList": [{"eventType": "click", "sentAt": 1}]}),
    ]


# ---- live server, through boto3 -------------------------------------------------------------------------


def test_good_key_is_accepted_by_all_three_services(signed_server: LiveServer) -> None:
    creds = {"aws_access_key_id": KEY, "aws_secret_access_key": SECRET}
    control = signed_server.client("personalize", **creds)
    assert control.list_dataset_export_jobs()["datasetExportJobs"] == []
    assert control.list_data_deletion_jobs()["dataDeletionJobs"] == []
    for call, kwargs in _calls(signed_server, **creds)[1:]:
        try:
            call(**kwargs)
        except ClientError as error:  # the operation's own answer (e.g. unknown campaign), not an auth refusal
            assert error.response["Error"]["Code"] not in AUTH_ERRORS
            assert error.response["ResponseMetadata"]["HTTPStatusCode"] != 403


def test_wrong_secret_is_invalid_signature_on_every_service(signed_server: LiveServer) -> None:
    for call, kwargs in _calls(signed_server, aws_access_key_id=KEY, aws_secret_access_key="not-the-secret"):
        status, code, message = _error(call, **kwargs)
        assert (status, code) == (403, "InvalidSignatureException")
        assert message.startswith("The request signature we calculated does not match")


def test_unknown_key_is_unrecognized_client(signed_server: LiveServer) -> None:
    for call, kwargs in _calls(signed_server, aws_access_key_id="AKIDOTHER", aws_secret_access_key=SECRET):
        status, code, message = _error(call, **kwargs)
        assert (status, code) == (403, "UnrecognizedClientException")
        assert message == "The security token included in the request is invalid."


def test_unsigned_request_is_refused(signed_server: LiveServer) -> None:
    unsigned = botocore.config.Config(signature_version=botocore.UNSIGNED, retries={"max_attempts": 1})
    client = boto3.client("personalize", endpoint_url=signed_server.url, region_name="us-east-1", config=unsigned)
    status, code, message = _error(client.list_dataset_export_jobs)
    assert (status, code) == (403, "UnrecognizedClientException")
    assert "not signed" in message


def test_expired_signature_is_refused(signed_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    past = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(minutes=20)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: past)
    client = signed_server.client("personalize", aws_access_key_id=KEY, aws_secret_access_key=SECRET)
    status, code, message = _error(client.list_dataset_export_jobs)
    assert (status, code) == (403, "InvalidSignatureException")
    assert message.startswith(f"Signature expired: {past.strftime('%Y%m%dT%H%M%SZ')} is now earlier than")


def test_tampered_body_is_refused(signed_server: LiveServer) -> None:
    request = _signed_request(signed_server.url, b'{"maxResults": 5}')
    headers = dict(request.headers.items())
    response = httpx.post(signed_server.url + "/", headers=headers, content=b'{"maxResults": 6}')
    assert response.status_code == 403
    assert response.json()["__type"] == "InvalidSignatureException"
    untouched = httpx.post(signed_server.url + "/", headers=headers, content=b'{"maxResults": 5}')
    assert untouched.status_code == 200, untouched.text


def test_region_comes_from_the_credential_scope(signed_server: LiveServer) -> None:
    # Signed for eu-west-1: the signature only verifies if the server uses the scope's region.
    client = signed_server.client("personalize", region_name="eu-west-1", aws_access_key_id=KEY, aws_secret_access_key=SECRET)
    assert client.list_data_deletion_jobs()["dataDeletionJobs"] == []


# ---- the verifier itself (no server) --------------------------------------------------------------------


def _signed_request(url: str, body: bytes, service: str = "personalize", when: dt.datetime | None = None) -> AWSRequest:
    request = AWSRequest(
        method="POST",
        url=url + "/",
        data=body,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "AmazonPersonalize.ListDatasetExportJobs",
            "Host": url.split("://", 1)[1],
        },
    )
    signer = SigV4Auth(Credentials(KEY, SECRET), service, "us-east-1")
    if when is None:
        signer.add_auth(request)
        return request
    # add_auth always signs "now"; sign at a chosen time by filling what add_auth would
    stamp = when.strftime("%Y%m%dT%H%M%SZ")
    request.context["timestamp"] = stamp
    request.headers["X-Amz-Date"] = stamp
    canonical = signer.canonical_request(request)
    signature = signer.signature(signer.string_to_sign(request, canonical), request)
    headers = signer.signed_headers(signer.headers_to_sign(request))
    request.headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={signer.scope(request)}, SignedHeaders={headers}, Signature={signature}"
    )
    return request


def _incoming(request: AWSRequest, body: bytes | None = None) -> auth.Incoming:
    headers = tuple((k.lower(), v) for k, v in request.headers.items())
    return auth.Incoming("POST", "/", "", headers, request.body if body is None else body)


def _check(incoming: auth.Incoming, now: dt.datetime = NOW) -> None:
    caller = auth.parse_authorization(incoming.header("authorization"))
    auth.check_caller(caller, {KEY: SECRET}, incoming, now)


def test_verifier_accepts_a_botocore_signature_within_the_skew() -> None:
    for minutes in (-14, 0, 14):
        _check(_incoming(_signed_request("http://h:1", b"{}", when=NOW + dt.timedelta(minutes=minutes))))


def test_verifier_refuses_dates_outside_15_minutes() -> None:
    request = _signed_request("http://h:1", b"{}", when=NOW + dt.timedelta(minutes=16))
    with pytest.raises(InvalidSignatureException, match="Signature not yet current: 20260102T032005Z"):
        _check(_incoming(request))
    request = _signed_request("http://h:1", b"{}", when=NOW - dt.timedelta(minutes=16))
    with pytest.raises(InvalidSignatureException, match=r"Signature expired: 20260102T024805Z .* \(20260102T030405Z - 15 min.\)"):
        _check(_incoming(request))


def test_verifier_refuses_a_changed_signed_header_and_a_missing_one() -> None:
    request = _signed_request("http://h:1", b"{}", when=NOW)
    changed = tuple((k, "AmazonPersonalize.DeleteSchema" if k == "x-amz-target" else v) for k, v in _incoming(request).headers)
    with pytest.raises(InvalidSignatureException, match="does not match the signature you provided"):
        _check(auth.Incoming("POST", "/", "", changed, b"{}"))
    missing = tuple((k, v) for k, v in _incoming(request).headers if k != "x-amz-target")
    with pytest.raises(InvalidSignatureException, match="signed header 'x-amz-target' is not present"):
        _check(auth.Incoming("POST", "/", "", missing, b"{}"))


def test_verifier_refuses_wrong_service_scope_and_bad_payload_hash() -> None:
    with pytest.raises(InvalidSignatureException, match="scoped to correct service: 'personalize'"):
        _check(_incoming(_signed_request("http://h:1", b"{}", service="s3", when=NOW)))
    request = _signed_request("http://h:1", b"{}", when=NOW)
    headers = _incoming(request).headers + (("x-amz-content-sha256", hashlib.sha256(b"other").hexdigest()),)
    with pytest.raises(InvalidSignatureException, match="x-amz-content-sha256"):
        _check(auth.Incoming("POST", "/", "", headers, b"{}"))


def test_verifier_refuses_malformed_and_missing_headers() -> None:
    with pytest.raises(UnrecognizedClientException, match="not signed"):
        _check(auth.Incoming("POST", "/", "", (("host", "h"),), b""))
    bad = (("host", "h"), ("authorization", f"AWS4-HMAC-SHA256 Credential={KEY}/20260102/us-east-1/personalize/aws4_request"))
    with pytest.raises(InvalidSignatureException, match="is malformed"):
        _check(auth.Incoming("POST", "/", "", bad, b""))
    no_date = tuple((k, v) for k, v in _incoming(_signed_request("http://h:1", b"{}", when=NOW)).headers if k != "x-amz-date")
    with pytest.raises(InvalidSignatureException, match="X-Amz-Date"):
        _check(auth.Incoming("POST", "/", "", no_date, b"{}"))


def test_no_keys_configured_accepts_anything() -> None:
    auth.check_caller(auth.Caller(None, None), {}, auth.Incoming("POST", "/", "", (), b""))
