package d1

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Without transactions, two writers can meet on one row: two appends on the
// same next seq (the primary key refuses the second), or an update whose
// compare-and-set finds the row changed. Both are retried, a few times,
// with a short growing pause: D1 runs one statement at a time, so a
// conflict means another write just won and the next try sees it.

// Retry policy defaults.
const (
	// DefaultAttempts bounds the tries of one write. A conflict needs a
	// concurrent write to the same conversation or visitor, and one
	// visitor's tabs rarely send within the same few milliseconds: five
	// is generous.
	DefaultAttempts = 5
	// DefaultBackoff is the first pause, doubled per retry (5, 10, 20, 40 ms).
	DefaultBackoff = 5 * time.Millisecond
)

// errConflict reports that a write lost a race and may be tried again.
var errConflict = errors.New("d1: concurrent write")

// seqConflict reports whether err is the messages primary key refusing a
// seq another append took first. Only that error is retried: any other
// failure may or may not have been applied, and a retry could store a
// message without a client id twice.
func seqConflict(err error) bool {
	if err == nil {
		return false
	}
	// SQLite's words, passed through by D1: "UNIQUE constraint failed:
	// messages.conversation_id, messages.seq" (a WITHOUT ROWID primary
	// key reports itself as a UNIQUE constraint).
	return strings.Contains(err.Error(), "UNIQUE constraint failed: messages.conversation_id, messages.seq")
}

// missingSchema reports whether err says the tables do not exist: the
// migrations were not applied to this database.
func missingSchema(err error) bool {
	return err != nil && strings.Contains(err.Error(), "no such table")
}

// wrap names the operation, and says what to do when the schema is missing.
func wrap(op string, err error) error {
	if missingSchema(err) {
		return fmt.Errorf("store: %s: %w (apply the migrations: npx wrangler d1 migrations apply <database>)", op, err)
	}
	return fmt.Errorf("store: %s: %w", op, err)
}

// retry runs fn until it succeeds, fails with something other than
// errConflict, or attempts run out (then the last conflict is returned).
func retry(ctx context.Context, attempts int, backoff time.Duration, fn func() error) error {
	if attempts < 1 {
		attempts = 1
	}
	var err error
	for i := range attempts {
		if err = fn(); !errors.Is(err, errConflict) {
			return err
		}
		if i == attempts-1 {
			break
		}
		t := time.NewTimer(backoff << i)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (after %v)", ctx.Err(), err)
		case <-t.C:
		}
	}
	return fmt.Errorf("%w: gave up after %d attempts", err, attempts)
}
