"""UCWA errors as domain values: a code, an optional subcode, a message, never an HTTP status.

The tree::

    UcwaError(code, subcode, message, parameters)
     ├── BadRequest              code BadRequest (ParameterValidationFailure, ...)
     ├── Forbidden               code Forbidden
     ├── NotFound                code NotFound (ApplicationNotFound, ...)
     ├── MethodNotAllowed        code MethodNotAllowed
     ├── Conflict                code Conflict (AlreadyExists, TooManyOnlineMeetings, ...)
     ├── Gone                    code Gone (InactiveApplicationExpired, ...)
     ├── PreconditionFailed      code PreconditionFailed
     ├── EntityTooLarge          code EntityTooLarge
     ├── UnsupportedMediaType    code UnsupportedMediaType
     ├── PreconditionRequired    code PreconditionRequired
     ├── NotAcceptable           code NotAcceptable
     ├── TooManyRequests         code TooManyRequests (too many requests in one batch)
     ├── ServiceFailure          code ServiceFailure
     └── ServiceUnavailable      code ServiceUnavailable (the database is locked, ...)

``web/errors.py`` holds the one table that maps a code to an HTTP status; the same error can
also travel inside an event as a ``reason``.
"""

from __future__ import annotations

from collections.abc import Mapping


class UcwaError(Exception):
    code = "ServiceFailure"
    default_message = "The server encountered an error. Please try again later."

    def __init__(
        self,
        subcode: str | None = None,
        message: str | None = None,
        parameters: Mapping[str, str] | None = None,
    ) -> None:
        self.subcode = subcode
        self.message = message or self.default_message
        self.parameters: dict[str, str] = dict(parameters or {})
        super().__init__(f"{self.code}/{subcode}: {self.message}")


class BadRequest(UcwaError):
    code = "BadRequest"
    default_message = "Please check what you entered and try again."


class Forbidden(UcwaError):
    code = "Forbidden"
    default_message = "You are not allowed to do that."


class NotFound(UcwaError):
    code = "NotFound"
    default_message = "The requested resource was not found."


class MethodNotAllowed(UcwaError):
    code = "MethodNotAllowed"
    default_message = "The method is not supported on this resource."


class Conflict(UcwaError):
    code = "Conflict"
    default_message = "The request conflicts with the current state of the resource."


class Gone(UcwaError):
    code = "Gone"
    default_message = "The resource is no longer available."


class PreconditionFailed(UcwaError):
    code = "PreconditionFailed"
    default_message = "The resource was changed by someone else. Get it again and retry."


class PreconditionRequired(UcwaError):
    code = "PreconditionRequired"
    default_message = "This request needs an If-Match header."


class EntityTooLarge(UcwaError):
    code = "EntityTooLarge"
    default_message = "The request body is too large."


class UnsupportedMediaType(UcwaError):
    code = "UnsupportedMediaType"
    default_message = "The content-type is not supported."


class NotAcceptable(UcwaError):
    code = "NotAcceptable"
    default_message = "None of the requested media types can be produced."


class TooManyRequests(UcwaError):
    code = "TooManyRequests"
    default_message = "There are too many outstanding requests. Retry later with fewer."


class ServiceFailure(UcwaError):
    code = "ServiceFailure"


class ServiceUnavailable(UcwaError):
    code = "ServiceUnavailable"
    default_message = "The service is temporarily unavailable. Please try again later."


def validation_failure(parameters: Mapping[str, str]) -> BadRequest:
    """The 400 ParameterValidationFailure error naming each offending input property."""
    return BadRequest("ParameterValidationFailure", parameters=parameters)
