package jetstream

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/jetstream/natstest"
)

// Bad configuration and bad input get a clear error and change nothing.
func TestBadInput(t *testing.T) {
	c := natstest.Run(t, natstest.Options{})
	nc := c.Connect(0)
	if _, err := Open(context.Background(), nc, Options{Prefix: "Kefu.prod"}); err == nil || !strings.Contains(err.Error(), "lower-case letters") {
		t.Errorf("Open with a bad prefix: %v", err)
	}
	if _, err := Open(context.Background(), nc, Options{Prefix: "three", Replicas: 3}); err == nil || !strings.Contains(err.Error(), "replicas 3") {
		t.Errorf("Open with more replicas than servers: %v", err)
	}
	s, err := Open(context.Background(), nc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Replicas() != 1 {
		t.Errorf("replicas on one server = %d, want 1", s.Replicas())
	}
	for _, id := range []string{"", "a.b", "kefu.>", "*", strings.Repeat("x", 65)} {
		if _, err := s.Conversation(id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Conversation(%q) = %v, want ErrNotFound", id, err)
		}
		if _, err := s.Append(context.Background(), id, store.NewMessage{From: "visitor", Text: "x"}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Append(%q) = %v, want ErrNotFound", id, err)
		}
		if _, err := s.Visitor(id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Visitor(%q) = %v, want ErrNotFound", id, err)
		}
	}
	if err := s.PutSetting(context.Background(), "a b", 1); err == nil || !strings.Contains(err.Error(), "not a valid name") {
		t.Errorf("PutSetting with a bad name: %v", err)
	}
}
