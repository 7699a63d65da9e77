"""openucwa_client: a small UCWA client SDK that knows the server only through its links."""

__all__: list[str] = []
