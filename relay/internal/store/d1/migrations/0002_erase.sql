-- Erasure and retention (docs/privacy.md). Deleting a conversation takes
-- its messages and the visitor whose conversation it is with it, in the
-- one DELETE statement (SQLite runs a statement and its triggers
-- atomically): D1 has no transactions, and the foreign keys would refuse
-- the conversation's row while its messages or visitor still name it.
CREATE TRIGGER conversations_deleted BEFORE DELETE ON conversations
BEGIN
  DELETE FROM messages WHERE conversation_id = OLD.id;
  DELETE FROM visitors WHERE conversation_id = OLD.id;
END;
