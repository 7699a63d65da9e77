from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence
from datetime import datetime

from openucwa.domain.applications import Application
from openucwa.domain.errors import Gone
from openucwa.domain.events import NewEvent
from openucwa.domain.ids import ApplicationId
from openucwa.services.ports import DuplicateId, StaleApplication
from openucwa.storage.sql.conversations import forget_application
from openucwa.storage.sql.engine import SqliteDatabase
from openucwa.storage.sql.event_log import append_events, follow
from openucwa.storage.sql.rows import dump, from_us, load, to_us

_COLUMNS = (
    "app_id, owner_uri, endpoint_id, instance_id, culture, user_agent, type, etag,"
    " communication_etag, communication_put_guid, created_at, last_seen, available, sign_in_as,"
    " supported_modalities, supported_message_formats, communication_settings, embedded_etag"
)


def _app(row: tuple[object, ...]) -> Application:
    (app_id, owner, endpoint, instance, culture, agent, type_, etag, c_etag, c_guid, created,
     seen, available, sign_in_as, modalities, formats, settings, embedded_etag) = row  # fmt: skip
    return Application(
        app_id=ApplicationId(str(app_id)),
        owner_uri=str(owner),
        endpoint_id=str(endpoint),
        instance_id=str(instance),
        culture=str(culture),
        user_agent=str(agent),
        type=str(type_),
        etag=str(etag),
        communication_etag=str(c_etag),
        communication_put_guid=str(c_guid),
        created_at=from_us(int(str(created))),
        last_seen=from_us(int(str(seen))),
        available=bool(available),
        sign_in_as=str(sign_in_as),
        supported_modalities=tuple(load(str(modalities))),
        supported_message_formats=tuple(load(str(formats))),
        communication_settings=tuple((str(k), v) for k, v in load(str(settings))),
        embedded_etag=str(embedded_etag),
    )


# Every column but app_id, from _values(app)[1:]; last_seen never goes back (touch may have
# moved it on since the caller read the application).
_UPDATE = (
    "UPDATE applications SET "
    + ", ".join(
        f"{c} = max(last_seen, ?)" if c == "last_seen" else f"{c} = ?"
        for c in (c.strip() for c in _COLUMNS.split(",")[1:])
    )
    + " WHERE app_id = ? AND communication_etag = ?"
)


def _values(app: Application) -> tuple[object, ...]:
    return (
        app.app_id,
        app.owner_uri,
        app.endpoint_id,
        app.instance_id,
        app.culture,
        app.user_agent,
        app.type,
        app.etag,
        app.communication_etag,
        app.communication_put_guid,
        to_us(app.created_at),
        to_us(app.last_seen),
        int(app.available),
        app.sign_in_as,
        dump(list(app.supported_modalities)),
        dump(list(app.supported_message_formats)),
        dump([list(pair) for pair in app.communication_settings]),
        app.embedded_etag,
    )


class SqlApplicationRepository:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def get(self, app_id: str) -> Application | None:
        row = self._db.fetch_one(f"SELECT {_COLUMNS} FROM applications WHERE app_id = ?", (app_id,))
        return _app(row) if row else None

    async def get_or_create(
        self,
        app: Application,
        max_per_user: int,
        streams: Sequence[str] = (),
        uncounted: Collection[str] = (),
    ) -> tuple[Application, bool]:
        skip = list(uncounted)

        def run(conn: sqlite3.Connection) -> tuple[Application, bool]:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM applications"
                " WHERE owner_uri = ? AND endpoint_id = ? AND instance_id = ?",
                (app.owner_uri, app.endpoint_id, app.instance_id),
            ).fetchall()
            if row:
                return _app(row[0]), False
            (count,) = conn.execute(
                "SELECT count(*) FROM applications WHERE owner_uri = ?"
                f" AND app_id NOT IN ({', '.join('?' * len(skip))})",
                (app.owner_uri, *skip),
            ).fetchone()
            if count >= max_per_user:
                raise Gone("TooManyApplications", "This user has too many applications.")
            try:
                conn.execute(
                    f"INSERT INTO applications ({_COLUMNS}) VALUES ({', '.join('?' * 18)})",
                    _values(app),
                )
            except sqlite3.IntegrityError:
                raise DuplicateId() from None
            for stream in streams:
                follow(conn, app.app_id, stream)
            return app, True

        return await self._db.write(run)

    async def save(
        self,
        app: Application,
        read_etag: str,
        events: Sequence[NewEvent] = (),
        now: datetime | None = None,
    ) -> None:
        def run(conn: sqlite3.Connection) -> None:
            # An UPDATE of the row the caller read, not a REPLACE: a REPLACE brought back an
            # application deleted meanwhile, and let two PUTs with one If-Match both win.
            changed = conn.execute(_UPDATE, (*_values(app)[1:], app.app_id, read_etag)).rowcount
            if not changed:
                raise StaleApplication()
            append_events(conn, events, now or app.last_seen)

        await self._db.write(run)

    async def touch(self, app_id: str, when: datetime) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE applications SET last_seen = max(last_seen, ?) WHERE app_id = ?",
                (to_us(when), app_id),
            )
            return cur.rowcount > 0

        return await self._db.write(run)

    async def delete(self, app_id: str, only_if_left: bool = False) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            if (
                only_if_left
                and conn.execute(
                    "SELECT 1 FROM conversations WHERE app_id = ? AND state != 'Disconnected'"
                    " LIMIT 1",
                    (app_id,),
                ).fetchall()
            ):
                raise StaleApplication()
            conn.execute("DELETE FROM event_batches WHERE app_id = ?", (app_id,))
            conn.execute("DELETE FROM event_follows WHERE app_id = ?", (app_id,))
            forget_application(conn, app_id)
            return conn.execute("DELETE FROM applications WHERE app_id = ?", (app_id,)).rowcount > 0

        return await self._db.write(run)

    async def list_all(self) -> Sequence[Application]:
        return [_app(r) for r in self._db.fetch_all(f"SELECT {_COLUMNS} FROM applications")]

    async def list_for_owner(self, owner_uri: str) -> Sequence[Application]:
        rows = self._db.fetch_all(
            f"SELECT {_COLUMNS} FROM applications WHERE owner_uri = ?", (owner_uri,)
        )
        return [_app(r) for r in rows]
