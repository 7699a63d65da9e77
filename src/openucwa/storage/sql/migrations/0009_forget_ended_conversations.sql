-- depends: 0008_event_trims
-- Deleting an application now deletes its conversations, and a thread goes with its messages
-- and invitations once no conversation is left in it (storage/sql/conversations.py
-- forget_application). What applications deleted before this migration left behind goes now.

DELETE FROM conversations WHERE app_id NOT IN (SELECT app_id FROM applications);
DELETE FROM messages WHERE thread_id NOT IN (SELECT thread_id FROM conversations);
DELETE FROM invitations WHERE thread_id NOT IN (SELECT thread_id FROM conversations);
DELETE FROM threads WHERE thread_id NOT IN (SELECT thread_id FROM conversations);
