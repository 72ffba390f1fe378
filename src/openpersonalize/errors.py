"""Every AWS error the service returns, in one place (habit 5: ``code`` is the AWS code, ``status`` HTTP)."""

from __future__ import annotations


class PersonalizeError(Exception):
    """Base of all AWS-shaped errors. Raised by control code, rendered once by the app."""

    code = "InternalFailure"
    status = 400
    # Runtime/events (REST-JSON) model some errors with other statuses (spec §1.4).
    rest_status: int | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def http_status(self, rest: bool) -> int:
        return self.rest_status if rest and self.rest_status else self.status


class InvalidInputException(PersonalizeError):
    code = "InvalidInputException"


class ResourceNotFoundException(PersonalizeError):
    code = "ResourceNotFoundException"
    rest_status = 404


class ResourceAlreadyExistsException(PersonalizeError):
    code = "ResourceAlreadyExistsException"


class ResourceInUseException(PersonalizeError):
    code = "ResourceInUseException"
    rest_status = 409


class LimitExceededException(PersonalizeError):
    code = "LimitExceededException"


class InvalidNextTokenException(PersonalizeError):
    code = "InvalidNextTokenException"


class TooManyTagsException(PersonalizeError):
    code = "TooManyTagsException"


class TooManyTagKeysException(PersonalizeError):
    code = "TooManyTagKeysException"


class UnknownOperationException(PersonalizeError):
    code = "UnknownOperationException"


class SerializationException(PersonalizeError):
    code = "SerializationException"


class UnrecognizedClientException(PersonalizeError):
    code = "UnrecognizedClientException"
    status = 403
    rest_status = 403


class InvalidSignatureException(PersonalizeError):
    code = "InvalidSignatureException"
    status = 403
    rest_status = 403


class InternalFailure(PersonalizeError):
    code = "InternalFailure"
    status = 500
