"""The SQL storage adapter (SQLite today; the PostgreSQL adapter will implement the same ports)."""

from __future__ import annotations

from openucwa.storage.cached import CachedApplications, CachedMeetings
from openucwa.storage.sql.applications import SqlApplicationRepository
from openucwa.storage.sql.conversations import SqlConversationRepository
from openucwa.storage.sql.engine import SqliteDatabase, migrate
from openucwa.storage.sql.event_log import SqlEventLog
from openucwa.storage.sql.meetings import SqlMeetingRepository
from openucwa.storage.sql.tokens import SqlTokenStore
from openucwa.storage.sql.users import SqlUserRepository


class SqliteStorage:
    """SQLite behind the ports. One server process owns the file, so applications and meetings
    are cached write-through (``storage/cached.py``); ``cached=False`` gives the bare adapter."""

    def __init__(self, url: str, cached: bool = True, busy_timeout: float = 10.0) -> None:
        self.db = SqliteDatabase(url, busy_timeout)
        self.users = SqlUserRepository(self.db)
        self.events = SqlEventLog(self.db)
        self.conversations = SqlConversationRepository(self.db)
        applications = SqlApplicationRepository(self.db)
        meetings = SqlMeetingRepository(self.db)
        self.tokens = SqlTokenStore(self.db)
        self.applications: SqlApplicationRepository | CachedApplications = (
            CachedApplications(applications) if cached else applications
        )
        self.meetings: SqlMeetingRepository | CachedMeetings = (
            CachedMeetings(meetings) if cached else meetings
        )

    async def start(self) -> None:
        await self.db.start()

    async def close(self) -> None:
        await self.db.close()


__all__ = ["SqliteStorage", "migrate"]
