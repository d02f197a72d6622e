-- Kefu's edge store on Cloudflare D1 (relay/internal/store/d1).
-- Applied by wrangler: npx wrangler d1 migrations apply kefu [--local|--remote].
-- Times are Unix milliseconds. D1 has no interactive transactions, so every
-- guarantee the relay gets from a bbolt transaction is made here by one
-- statement: unique constraints and the trigger below.

CREATE TABLE conversations (
  id           TEXT PRIMARY KEY,
  visitor_id   TEXT NOT NULL,
  status       TEXT NOT NULL,
  handler      TEXT NOT NULL,
  agent_id     TEXT NOT NULL DEFAULT '',
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  -- Kept equal to the newest message's seq by messages_appended.
  last_seq     INTEGER NOT NULL DEFAULT 0,
  preview      TEXT NOT NULL DEFAULT '',
  intent       TEXT NOT NULL DEFAULT '',
  -- The seq of the visitor message that last reopened the conversation,
  -- so an Append can tell whether it did.
  reopened_seq INTEGER NOT NULL DEFAULT 0
);

-- A conversation's messages. The primary key makes seqs unique; each
-- append computes MAX(seq)+1 inside its own INSERT, so seqs have no gaps.
-- A client's message id is stored once per conversation (idempotent
-- resends); NULL (no id) never conflicts.
CREATE TABLE messages (
  conversation_id TEXT NOT NULL REFERENCES conversations (id),
  seq             INTEGER NOT NULL,
  client_id       TEXT,
  sender          TEXT NOT NULL,
  author_id       TEXT NOT NULL DEFAULT '',
  author          TEXT NOT NULL DEFAULT '',
  text            TEXT NOT NULL,
  time            INTEGER NOT NULL,
  intent          TEXT NOT NULL DEFAULT '',
  via             TEXT NOT NULL DEFAULT '',
  incomplete      INTEGER NOT NULL DEFAULT 0,
  stream_id       TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (conversation_id, seq),
  UNIQUE (conversation_id, client_id)
) WITHOUT ROWID;

-- Runs inside the INSERT of each message, so the conversation can never
-- disagree with its messages: newest seq, activity time, the preview a list
-- shows (what people said, not system lines; clipped to 140 characters),
-- the last matched intent, and a visitor's message reopening a closed
-- conversation for the bot.
CREATE TRIGGER messages_appended AFTER INSERT ON messages
BEGIN
  UPDATE conversations SET
    last_seq     = max(last_seq, NEW.seq),
    updated_at   = max(updated_at, NEW.time),
    preview      = CASE
                     WHEN NEW.sender = 'system' THEN preview
                     WHEN length(NEW.text) <= 140 THEN NEW.text
                     ELSE substr(NEW.text, 1, 140) || '…'
                   END,
    intent       = CASE WHEN NEW.intent <> '' THEN NEW.intent ELSE intent END,
    reopened_seq = CASE WHEN NEW.sender = 'visitor' AND status = 'closed' THEN NEW.seq ELSE reopened_seq END,
    handler      = CASE WHEN NEW.sender = 'visitor' AND status = 'closed' THEN 'bot' ELSE handler END,
    agent_id     = CASE WHEN NEW.sender = 'visitor' AND status = 'closed' THEN '' ELSE agent_id END,
    status       = CASE WHEN NEW.sender = 'visitor' THEN 'open' ELSE status END
  WHERE id = NEW.conversation_id;
END;

-- Visitors, found by the SHA-256 of their token (hex); the token itself is
-- never stored. version is bumped by every update (compare-and-set).
CREATE TABLE visitors (
  id              TEXT PRIMARY KEY,
  token_hash      TEXT NOT NULL UNIQUE,
  conversation_id TEXT NOT NULL REFERENCES conversations (id),
  fingerprint     TEXT NOT NULL DEFAULT '',
  traits          TEXT NOT NULL DEFAULT '',
  created_at      INTEGER NOT NULL,
  version         INTEGER NOT NULL DEFAULT 0
);

-- Settings documents by name: intents and their fitted model, AI and
-- widget settings, the AI's daily token use. JSON, or raw bytes.
CREATE TABLE settings (
  name  TEXT PRIMARY KEY,
  value BLOB NOT NULL
);
