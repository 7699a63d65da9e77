"""openucwa: a UCWA (Skype for Business 2015) online-meetings server."""

__version__ = "0.1.0"
