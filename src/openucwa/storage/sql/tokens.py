from __future__ import annotations

import sqlite3
from datetime import datetime

from openucwa.domain.tokens import TokenRecord
from openucwa.storage.sql.engine import SqliteDatabase
from openucwa.storage.sql.rows import from_us, to_us


class SqlTokenStore:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def add(self, record: TokenRecord) -> None:
        def insert(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO tokens (token_hash, subject_uri, kind, issued_at, expires_at, revoked)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    record.token_hash,
                    record.subject_uri,
                    record.kind,
                    to_us(record.issued_at),
                    to_us(record.expires_at),
                    int(record.revoked),
                ),
            )

        await self._db.write(insert)

    async def get(self, token_hash: str) -> TokenRecord | None:
        row = self._db.fetch_one(
            "SELECT subject_uri, kind, issued_at, expires_at, revoked FROM tokens"
            " WHERE token_hash = ?",
            (token_hash,),
        )
        if row is None:
            return None
        subject, kind, issued, expires, revoked = row
        return TokenRecord(
            token_hash=token_hash,
            subject_uri=subject,
            kind=kind,
            issued_at=from_us(issued),
            expires_at=from_us(expires),
            revoked=bool(revoked),
        )

    async def revoke(self, token_hash: str) -> bool:
        def update(conn: sqlite3.Connection) -> bool:
            cur = conn.execute("UPDATE tokens SET revoked = 1 WHERE token_hash = ?", (token_hash,))
            return cur.rowcount > 0

        return await self._db.write(update)

    async def revoke_for_subject(self, subject_uri: str) -> int:
        def update(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                "UPDATE tokens SET revoked = 1 WHERE subject_uri = ? AND revoked = 0",
                (subject_uri,),
            )
            return cur.rowcount

        return await self._db.write(update)

    async def purge_expired(self, now: datetime) -> int:
        def delete(conn: sqlite3.Connection) -> int:
            return conn.execute("DELETE FROM tokens WHERE expires_at < ?", (to_us(now),)).rowcount

        return await self._db.write(delete)
