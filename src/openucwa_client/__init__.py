"""openucwa_client: a small UCWA client SDK that knows the server only through its links."""

from openucwa_client._client import AsyncClient
from openucwa_client._errors import UcwaClientError

__all__ = ["AsyncClient", "UcwaClientError"]
