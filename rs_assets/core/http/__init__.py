"""HTTP as every rs-assets client speaks it: one retry policy, one rule for credentials across redirects, one
``Range`` resume and one 401 renewal, over urllib3 (``sync``) and aiohttp (``aio``)."""

from .aio import AsyncHttp
from .auth import Authorizer
from .errors import BadResponse, GaveUp, HttpError, Refused
from .hosts import HostTrust
from .policy import RetryPolicy, is_retriable_status
from .sync import SyncHttp, excerpt

__all__ = [
    "AsyncHttp",
    "Authorizer",
    "BadResponse",
    "GaveUp",
    "HostTrust",
    "HttpError",
    "Refused",
    "RetryPolicy",
    "SyncHttp",
    "excerpt",
    "is_retriable_status",
]
