-- depends: 0010_communication_settings
-- The container ETag under which an embedded resource last changed ('' if none has): a
-- meeting's extensions, an application's me and communication. A change there leaves the
-- container's ETag as it is (PayloadFormat), so while embedded_etag = etag a GET with
-- If-None-Match naming that ETag answers 200, not 304: the client's copy may be older.
-- Rows written before this migration are marked as changed where that may be so.

ALTER TABLE meetings ADD COLUMN embedded_etag TEXT NOT NULL DEFAULT '';
UPDATE meetings SET embedded_etag = etag
    WHERE EXISTS (SELECT 1 FROM meeting_extensions e
                  WHERE e.organizer_uri = meetings.organizer_uri
                    AND e.meeting_id = meetings.meeting_id);

ALTER TABLE applications ADD COLUMN embedded_etag TEXT NOT NULL DEFAULT '';
UPDATE applications SET embedded_etag = etag;
