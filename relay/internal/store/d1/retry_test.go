package d1

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestSeqConflict(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"seq taken", errors.New("D1_ERROR: UNIQUE constraint failed: messages.conversation_id, messages.seq: SQLITE_CONSTRAINT"), true},
		// A client id conflict is answered by ON CONFLICT DO NOTHING; if it
		// ever surfaced as an error, retrying would not help.
		{"client id taken", errors.New("UNIQUE constraint failed: messages.conversation_id, messages.client_id"), false},
		{"another table", errors.New("UNIQUE constraint failed: visitors.token_hash"), false},
		{"network", errors.New("D1_ERROR: Network connection lost."), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := seqConflict(tc.err); got != tc.want {
				t.Errorf("seqConflict(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestRetry(t *testing.T) {
	other := errors.New("boom")
	tests := []struct {
		name     string
		results  []error // what fn returns on each call
		attempts int
		calls    int
		wantErr  error
	}{
		{"first try", []error{nil}, 5, 1, nil},
		{"after two conflicts", []error{errConflict, errConflict, nil}, 5, 3, nil},
		{"other errors at once", []error{other}, 5, 1, other},
		{"gives up", []error{errConflict, errConflict, errConflict}, 3, 3, errConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := retry(context.Background(), tc.attempts, time.Microsecond, func() error {
				calls++
				return tc.results[calls-1]
			})
			if calls != tc.calls {
				t.Errorf("calls = %d, want %d", calls, tc.calls)
			}
			if (tc.wantErr == nil) != (err == nil) || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestRetryStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := retry(ctx, 5, time.Hour, func() error { calls++; cancel(); return errConflict })
	if calls != 1 || !errors.Is(err, context.Canceled) {
		t.Errorf("calls = %d, err = %v; want 1 call and context.Canceled", calls, err)
	}
}
