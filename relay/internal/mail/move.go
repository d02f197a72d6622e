package mail

import (
	"encoding/binary"
	"fmt"
)

// Moving to another store (kefu migrate). The outbox entries and the keys
// go as they are: an entry names its cause, not a place in the event log,
// and the keys are in every unsubscribe link already sent and in the
// inbound address the mail provider forwards to. The cursor is a position
// in the old store's event log, so it does not go; the new store's reader
// starts where its log ends (CursorDoc).
const (
	// DocKindJob is the kind of the outbox entries.
	DocKindJob = kindJob
	// DocKindState is the kind of the cursor and the keys.
	DocKindState = kindState
	// KeyCursor is the event log reader's position among DocKindState.
	KeyCursor = keyCursor
)

// CursorPos decodes the event log reader's position.
func CursorPos(data []byte) (uint64, error) {
	if len(data) != 8 {
		return 0, fmt.Errorf("mail: cursor of %d bytes, want 8", len(data))
	}
	return binary.BigEndian.Uint64(data), nil
}

// CursorDoc is the document of a reader at pos.
func CursorDoc(pos uint64) []byte { return binary.BigEndian.AppendUint64(nil, pos) }
