-- depends: 0002_meeting_counts
-- The event channel (issue 3): one append-only log, streams followed by applications,
-- and the numbered batches each application was sent (kept until acknowledged).

CREATE TABLE event_log (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    stream TEXT NOT NULL,
    priority TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX event_log_by_stream ON event_log (stream, position);
CREATE INDEX event_log_by_time ON event_log (created_at);

CREATE TABLE event_follows (
    app_id TEXT NOT NULL,
    stream TEXT NOT NULL,
    since INTEGER NOT NULL,
    until INTEGER,
    PRIMARY KEY (app_id, stream, since)
);
CREATE INDEX event_follows_by_stream ON event_follows (stream) WHERE until IS NULL;

CREATE TABLE event_batches (
    app_id TEXT NOT NULL,
    ack INTEGER NOT NULL,
    after INTEGER NOT NULL,
    upto INTEGER NOT NULL,
    continuation TEXT NOT NULL DEFAULT 'next',
    PRIMARY KEY (app_id, ack)
);
