package d1

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
)

// scanner is what a row offers: row and *rows (db.go).
type scanner interface {
	Scan(dest ...any) error
}

// Times are stored as Unix milliseconds: what the protocol shows, and
// exact in a JavaScript number (D1 hands every number through one).
func toMillis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms) }

// nullable stores an empty client id as NULL, which the unique constraint
// on (conversation_id, client_id) never counts as a duplicate.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// scanConversation reads conversationColumns. reopenedSeq is the seq of
// the visitor message that last reopened it.
func scanConversation(row scanner) (c store.Conversation, reopenedSeq uint64, err error) {
	var created, updated int64
	err = row.Scan(&c.ID, &c.VisitorID, &c.Status, &c.Handler, &c.AgentID, &created, &updated, &c.LastSeq, &c.Preview, &c.Intent, &reopenedSeq)
	if err != nil {
		return store.Conversation{}, 0, err
	}
	c.CreatedAt, c.UpdatedAt = fromMillis(created), fromMillis(updated)
	return c, reopenedSeq, nil
}

// scanMessage reads messageColumns of a message of convID.
func scanMessage(row scanner, convID string) (store.Message, error) {
	var (
		m          store.Message
		clientID   nullString
		ms         int64
		incomplete int64
	)
	err := row.Scan(&m.Seq, &clientID, &m.From, &m.AuthorID, &m.Author, &m.Text, &ms, &m.Intent, &m.Via, &incomplete, &m.StreamID)
	if err != nil {
		return store.Message{}, err
	}
	m.ConversationID, m.ClientID, m.Time, m.Incomplete = convID, clientID.String, fromMillis(ms), incomplete != 0
	return m, nil
}

// scanVisitor reads visitorColumns; version is for compare-and-set.
func scanVisitor(row scanner) (v store.Visitor, version int64, err error) {
	var (
		traits  string
		created int64
	)
	if err = row.Scan(&v.ID, &v.ConversationID, &v.Fingerprint, &traits, &created, &version, &v.Lang); err != nil {
		return store.Visitor{}, 0, err
	}
	if traits != "" {
		if err := json.Unmarshal([]byte(traits), &v.Traits); err != nil {
			return store.Visitor{}, 0, fmt.Errorf("decode traits of visitor %s: %w", v.ID, err)
		}
	}
	v.CreatedAt = fromMillis(created)
	return v, version, nil
}

// encodeTraits is the traits column: empty for none, else a JSON object.
func encodeTraits(t map[string]string) (string, error) {
	if len(t) == 0 {
		return "", nil
	}
	b, err := json.Marshal(t)
	if err != nil {
		return "", fmt.Errorf("encode traits: %w", err)
	}
	return string(b), nil
}

// appendArgs are qAppend's parameters for one new message.
func appendArgs(convID string, nm store.NewMessage, at time.Time) []any {
	return []any{convID, nullable(nm.ClientID), nm.From, nm.AuthorID, nm.Author, nm.Text, toMillis(at),
		nm.Intent, nm.Via, boolInt(nm.Incomplete), nm.StreamID}
}

// limitArg is qMessages' LIMIT: SQLite reads a negative limit as none.
func limitArg(limit int) int64 {
	if limit <= 0 {
		return -1
	}
	return int64(limit)
}
