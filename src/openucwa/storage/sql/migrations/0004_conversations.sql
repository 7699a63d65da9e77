-- depends: 0003_event_log
-- Instant messaging between users (issue 3): threads, per-application conversations and
-- invitations, and the messages of each thread.

CREATE TABLE threads (
    thread_id TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    importance TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE conversations (
    app_id TEXT NOT NULL,
    conv_id TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    user_uri TEXT NOT NULL,
    state TEXT NOT NULL,
    messaging TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (app_id, conv_id)
);
CREATE UNIQUE INDEX conversations_by_thread ON conversations (thread_id, app_id);

CREATE TABLE invitations (
    app_id TEXT NOT NULL,
    inv_id TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    conv_id TEXT NOT NULL,
    direction TEXT NOT NULL,
    state TEXT NOT NULL,
    operation_id TEXT NOT NULL,
    from_uri TEXT NOT NULL,
    from_name TEXT NOT NULL,
    to_uri TEXT NOT NULL,
    subject TEXT NOT NULL,
    importance TEXT NOT NULL,
    message TEXT NOT NULL,
    message_type TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (app_id, inv_id)
);
CREATE INDEX invitations_by_thread ON invitations (thread_id);

CREATE TABLE messages (
    thread_id TEXT NOT NULL,
    msg_id TEXT NOT NULL,
    sender_uri TEXT NOT NULL,
    sender_name TEXT NOT NULL,
    sender_app TEXT NOT NULL,
    operation_id TEXT NOT NULL,
    content_type TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (thread_id, msg_id)
);
