-- openucwa: initial schema (users, tokens, applications, scheduled meetings, extensions).
-- Times are integer microseconds since the Unix epoch, UTC.

CREATE TABLE users (
    uri TEXT PRIMARY KEY,
    user_part TEXT NOT NULL,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    email TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL DEFAULT '',
    company TEXT NOT NULL DEFAULT ''
);

CREATE TABLE tokens (
    token_hash TEXT PRIMARY KEY,
    subject_uri TEXT NOT NULL,
    kind TEXT NOT NULL,
    issued_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX tokens_by_subject ON tokens (subject_uri);

CREATE TABLE applications (
    app_id TEXT PRIMARY KEY,
    owner_uri TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    culture TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    type TEXT NOT NULL,
    etag TEXT NOT NULL,
    communication_etag TEXT NOT NULL,
    communication_put_guid TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    available INTEGER NOT NULL DEFAULT 0,
    sign_in_as TEXT NOT NULL DEFAULT '',
    supported_modalities TEXT NOT NULL DEFAULT '[]',
    supported_message_formats TEXT NOT NULL DEFAULT '["Plain"]',
    UNIQUE (owner_uri, endpoint_id, instance_id)
);

CREATE TABLE meetings (
    organizer_uri TEXT NOT NULL,
    meeting_id TEXT NOT NULL,
    organizer_user_part TEXT NOT NULL,
    online_meeting_rel TEXT NOT NULL,
    conference_id TEXT NOT NULL UNIQUE,
    conversation_guid TEXT NOT NULL,
    put_guid TEXT NOT NULL,
    etag TEXT NOT NULL,
    subject TEXT NOT NULL,
    description TEXT NOT NULL,
    access_level TEXT NOT NULL,
    attendees TEXT NOT NULL,
    leaders TEXT NOT NULL,
    automatic_leader_assignment TEXT NOT NULL,
    entry_exit_announcement TEXT NOT NULL,
    lobby_bypass_for_phone_users TEXT NOT NULL,
    phone_user_admission TEXT NOT NULL,
    expiration_time INTEGER NOT NULL,
    PRIMARY KEY (organizer_uri, meeting_id)
);
CREATE UNIQUE INDEX meetings_one_assigned ON meetings (organizer_uri)
    WHERE online_meeting_rel = 'myAssignedOnlineMeeting';
CREATE INDEX meetings_by_user_part ON meetings (organizer_user_part, meeting_id);

CREATE TABLE meeting_extensions (
    organizer_uri TEXT NOT NULL,
    meeting_id TEXT NOT NULL,
    extension_id TEXT NOT NULL,
    type TEXT NOT NULL,
    vals TEXT NOT NULL,
    etag TEXT NOT NULL,
    put_guid TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (organizer_uri, meeting_id, extension_id),
    FOREIGN KEY (organizer_uri, meeting_id) REFERENCES meetings (organizer_uri, meeting_id)
        ON DELETE CASCADE
);
