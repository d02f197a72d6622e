package d1

// The SQL the store runs, in one place so a test can check it against the
// schema in migrations/. Parameters are positional (D1 binds ?NNN).

// Column lists, in the order the scan functions read them.
const (
	conversationColumns = `id, visitor_id, status, handler, agent_id, created_at, updated_at, last_seq, preview, intent, reopened_seq`
	messageColumns      = `seq, client_id, sender, author_id, author, text, time, intent, via, incomplete, stream_id`
	visitorColumns      = `id, conversation_id, fingerprint, traits, created_at, version, lang`
)

const (
	// qAppend stores one message at the end of a conversation in a single
	// statement: its seq is one more than the conversation's highest,
	// computed inside the INSERT, so two appends can never take the same
	// seq without one of them failing the primary key (then it is
	// retried). A client id already stored in the conversation makes it
	// insert nothing and return no row. No row either when the
	// conversation does not exist. The trigger messages_appended updates
	// the conversation in the same statement.
	//
	// ?1 conversation, ?2 client id (NULL for none), ?3 sender,
	// ?4 author id, ?5 author, ?6 text, ?7 time, ?8 intent, ?9 via,
	// ?10 incomplete, ?11 stream id.
	qAppend = `INSERT INTO messages (conversation_id, seq, client_id, sender, author_id, author, text, time, intent, via, incomplete, stream_id)
SELECT c.id, COALESCE((SELECT MAX(m.seq) FROM messages m WHERE m.conversation_id = c.id), 0) + 1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11
FROM conversations c WHERE c.id = ?1
ON CONFLICT (conversation_id, client_id) DO NOTHING
RETURNING seq, ` + appendedConversation

	// appendedConversation is the conversation as qAppend's RETURNING sees
	// it, in conversationColumns' order less the id: so an append needs no
	// second statement to read it back. SQLite evaluates RETURNING before
	// the row's AFTER triggers, so these are the values before
	// messages_appended ran; appliedTrigger (messages.go) does the rest, and
	// also accepts them after it, should an engine run it first.
	appendedConversation = `(SELECT visitor_id FROM conversations WHERE id = ?1), (SELECT status FROM conversations WHERE id = ?1),
(SELECT handler FROM conversations WHERE id = ?1), (SELECT agent_id FROM conversations WHERE id = ?1),
(SELECT created_at FROM conversations WHERE id = ?1), (SELECT updated_at FROM conversations WHERE id = ?1),
(SELECT last_seq FROM conversations WHERE id = ?1), (SELECT preview FROM conversations WHERE id = ?1),
(SELECT intent FROM conversations WHERE id = ?1), (SELECT reopened_seq FROM conversations WHERE id = ?1)`

	// qMessageByClientID finds the message an earlier append stored under
	// a client id (a resend).
	qMessageByClientID = `SELECT ` + messageColumns + ` FROM messages WHERE conversation_id = ?1 AND client_id = ?2`

	// qMessages pages through a conversation in seq order; LIMIT -1 is
	// SQLite's "no limit".
	qMessages = `SELECT ` + messageColumns + ` FROM messages WHERE conversation_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3`

	// qMessagesPage is qMessages with the conversation's newest seq on
	// every row, in one statement: a conversation without messages past
	// ?2 gives one row whose message columns are zeros (seq 0: none), one
	// that does not exist none.
	qMessagesPage = `SELECT c.last_seq, COALESCE(m.seq, 0), m.client_id, COALESCE(m.sender, ''), COALESCE(m.author_id, ''), COALESCE(m.author, ''),
COALESCE(m.text, ''), COALESCE(m.time, 0), COALESCE(m.intent, ''), COALESCE(m.via, ''), COALESCE(m.incomplete, 0), COALESCE(m.stream_id, '')
FROM conversations c LEFT JOIN messages m ON m.conversation_id = c.id AND m.seq > ?2
WHERE c.id = ?1 ORDER BY m.seq LIMIT ?3`

	qConversation = `SELECT ` + conversationColumns + ` FROM conversations WHERE id = ?1`

	qInsertConversation = `INSERT INTO conversations (id, visitor_id, status, handler, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)`

	// qUpdateConversation writes the fields an update may change, only if
	// they are still what the update read (compare-and-set): an append's
	// trigger may have reopened the conversation meanwhile. Counters and
	// the preview belong to the trigger and are never written here.
	//
	// ?1 id, ?2 status, ?3 handler, ?4 agent id, ?5 time, ?6..?8 the
	// status, handler and agent id read before.
	qUpdateConversation = `UPDATE conversations SET status = ?2, handler = ?3, agent_id = ?4, updated_at = max(updated_at, ?5)
WHERE id = ?1 AND status = ?6 AND handler = ?7 AND agent_id = ?8`

	qInsertVisitor = `INSERT INTO visitors (id, token_hash, conversation_id, fingerprint, created_at, lang) VALUES (?1, ?2, ?3, ?4, ?5, ?6)`

	qVisitorByToken = `SELECT ` + visitorColumns + ` FROM visitors WHERE token_hash = ?1`

	qVisitor = `SELECT ` + visitorColumns + ` FROM visitors WHERE id = ?1`

	// qUpdateVisitor writes a visitor's changeable fields if nobody changed
	// them since they were read (version).
	qUpdateVisitor = `UPDATE visitors SET fingerprint = ?2, traits = ?3, lang = ?5, version = version + 1 WHERE id = ?1 AND version = ?4`

	qSetting = `SELECT value FROM settings WHERE name = ?1`

	qSettings = `SELECT name, value FROM settings`

	qPutSetting = `INSERT INTO settings (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = excluded.value`

	// qSettingsVersion reads the counter the settings' triggers move
	// (migrations/0004_settings_version.sql).
	qSettingsVersion = `SELECT version FROM settings_version WHERE id = 1`
)
