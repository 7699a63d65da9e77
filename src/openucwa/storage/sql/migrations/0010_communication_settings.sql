-- depends: 0009_forget_ended_conversations
-- The communication resource's other writable settings (communication_ref PUT: audioPreference,
-- phoneNumber, ...), as a JSON list of [name, value] pairs. Before, a PUT answered 200 and
-- dropped them.

ALTER TABLE applications ADD COLUMN communication_settings TEXT NOT NULL DEFAULT '[]';
