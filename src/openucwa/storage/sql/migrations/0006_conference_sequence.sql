-- depends: 0005_drop_count_index
-- Every index keyed by a random value dirties a random B-tree page per new meeting; WAL writes
-- whole pages, so each such index cost ~15 us of writing and fsync per meeting (measured,
-- bench/README.md). Two of them go:
--  * conferenceId: no longer random-then-checked (UNIQUE) but the keyed permutation of a
--    sequence number (domain/ids.py ConferenceIds), unique by construction. Ids minted before
--    this migration are kept and reserved, so the permutation never hands one out again.
--  * (organizer_user_part, meeting_id): the join page looks meetings up by primary key, one
--    candidate organizer per organisation domain.
-- SQLite cannot drop a UNIQUE constraint in place: the table is rebuilt (foreign keys are off
-- on the migration connection, so meeting_extensions keep their rows; the rebuilt table keeps
-- the rowid order that lists follow).

CREATE TABLE sequences (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO sequences (name, value) VALUES ('conference', 0);

CREATE TABLE secrets (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;
INSERT INTO secrets (name, value) VALUES ('conference_ids', randomblob(32));

CREATE TABLE reserved_conference_ids (
    conference_id TEXT PRIMARY KEY
) WITHOUT ROWID;
INSERT INTO reserved_conference_ids (conference_id) SELECT conference_id FROM meetings;

CREATE TABLE meetings_rebuilt (
    organizer_uri TEXT NOT NULL,
    meeting_id TEXT NOT NULL,
    organizer_user_part TEXT NOT NULL,
    online_meeting_rel TEXT NOT NULL,
    conference_id TEXT NOT NULL,
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
INSERT INTO meetings_rebuilt SELECT
    organizer_uri, meeting_id, organizer_user_part, online_meeting_rel, conference_id,
    conversation_guid, put_guid, etag, subject, description, access_level, attendees, leaders,
    automatic_leader_assignment, entry_exit_announcement, lobby_bypass_for_phone_users,
    phone_user_admission, expiration_time
FROM meetings ORDER BY rowid;
DROP TABLE meetings;
ALTER TABLE meetings_rebuilt RENAME TO meetings;
CREATE UNIQUE INDEX meetings_one_assigned ON meetings (organizer_uri)
    WHERE online_meeting_rel = 'myAssignedOnlineMeeting';
