from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from openucwa.domain.errors import Conflict
from openucwa.domain.users import User
from openucwa.storage.sql.engine import SqliteDatabase

_COLUMNS = "uri, name, password_hash, email, title, company"


def _user(row: tuple[object, ...]) -> User:
    uri, name, password_hash, email, title, company = row
    return User(
        uri=str(uri),
        name=str(name),
        password_hash=str(password_hash),
        email=str(email),
        title=str(title),
        company=str(company),
    )


class SqlUserRepository:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def get(self, uri: str) -> User | None:
        row = self._db.fetch_one(f"SELECT {_COLUMNS} FROM users WHERE uri = ?", (uri,))
        return _user(row) if row else None

    async def add(self, user: User) -> None:
        def insert(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO users (uri, user_part, name, password_hash, email, title, company)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        user.uri,
                        user.user_part,
                        user.name,
                        user.password_hash,
                        user.email,
                        user.title,
                        user.company,
                    ),
                )
            except sqlite3.IntegrityError:
                raise Conflict("AlreadyExists", f"{user.uri} already exists.") from None

        await self._db.write(insert)

    async def list(self) -> Sequence[User]:
        return [_user(r) for r in self._db.fetch_all(f"SELECT {_COLUMNS} FROM users ORDER BY uri")]

    async def remove(self, uri: str) -> bool:
        def delete(conn: sqlite3.Connection) -> bool:
            return conn.execute("DELETE FROM users WHERE uri = ?", (uri,)).rowcount > 0

        return await self._db.write(delete)

    async def set_password(self, uri: str, password_hash: str) -> bool:
        def update(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE users SET password_hash = ? WHERE uri = ?", (password_hash, uri)
            )
            return cur.rowcount > 0

        return await self._db.write(update)
