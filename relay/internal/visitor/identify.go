package visitor

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/kefuhq/kefu/relay/internal/hub"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// traitsEvery is the most often one connection's identify frames are
// committed. Frames in between are merged and committed together, and a
// frame that changes nothing is never committed: a flood of identify
// costs no store writes.
const traitsEvery = time.Second

// traits coalesces one connection's identify frames into few commits.
type traits struct {
	h         *Handler
	visitorID string
	// tokenHash is the device's (its token's hash): a verified user's
	// other visitor is linked to it.
	tokenHash []byte
	report    func(hub.Frame) // queues an error frame on the connection
	// switched is told the user's visitor when a verified identify moved
	// this device to it (another device's conversation).
	switched func(visitorID string)

	mu      sync.Mutex
	pending map[string]string // merged, not yet committed
	last    time.Time         // when the last flush started
	timer   *time.Timer       // a flush due; nil when none

	flushMu sync.Mutex // one flush at a time, in order
}

// add merges what an identify frame says; it commits at once when no
// commit happened within traitsEvery, else it schedules one.
func (t *traits) add(ctx context.Context, in map[string]string) error {
	in, err := t.h.signedTraits(in)
	if err != nil {
		return err
	}
	t.mu.Lock()
	if t.pending == nil {
		t.pending = make(map[string]string, len(in))
	}
	merged := maps.Clone(t.pending)
	maps.Copy(merged, in)
	if len(merged) > protocol.MaxTraits {
		t.mu.Unlock()
		return tooManyTraits()
	}
	t.pending = merged
	wait := traitsEvery - time.Since(t.last)
	if wait <= 0 && t.timer == nil {
		t.mu.Unlock()
		return t.flush(ctx)
	}
	if t.timer == nil {
		t.timer = time.AfterFunc(wait, func() {
			if err := t.flush(context.Background()); err != nil {
				t.report(errorFrame(asProtocolError(err), ""))
			}
		})
	}
	t.mu.Unlock()
	return nil
}

// flush commits what is pending, if it changes the stored record. The
// session calls it before storing a message (an agent reading the message
// sees who sent it) and when the connection ends (nothing is lost). A
// nil t (no identify frame yet) has nothing to commit.
func (t *traits) flush(ctx context.Context) error {
	if t == nil {
		return nil
	}
	t.flushMu.Lock()
	defer t.flushMu.Unlock()
	t.mu.Lock()
	in := t.pending
	t.pending = nil
	t.last = time.Now()
	if t.timer != nil {
		t.timer.Stop()
		t.timer = nil
	}
	t.mu.Unlock()
	if len(in) == 0 {
		return nil
	}
	to, err := t.h.identify(ctx, t.visitorID, t.tokenHash, in)
	if to != "" {
		t.mu.Lock()
		t.visitorID = to
		t.mu.Unlock()
		if t.switched != nil {
			t.switched(to)
		}
	}
	return err
}

// identify merges traits into the visitor's record: a read first, and a
// commit only when something changes. A verified user_id moves the device
// to the user's visitor (linkUser); it returns that visitor's id when it
// is another one.
func (h *Handler) identify(ctx context.Context, visitorID string, tokenHash []byte, in map[string]string) (string, error) {
	v, err := h.store.Visitor(visitorID)
	if err != nil {
		h.log.Error("visitor: identify: read", "visitor", visitorID, "err", err)
		return "", protocol.Errorf(protocol.CodeStorage, "")
	}
	to := ""
	if in[TraitVerified] == "true" && tokenHash != nil {
		if to, err = h.linkUser(ctx, v, tokenHash, in[traitUserID]); err != nil {
			return "", err
		}
		if to != "" {
			// The traits are the user's, on the user's visitor. This
			// device's own visitor gets them too when it was nobody's, so
			// its conversation is found (and erased) with the user's.
			if err := h.mergeTraits(ctx, to, in); err != nil {
				return to, err
			}
			if verifiedAs(v) != "" {
				return to, nil
			}
		}
	}
	if changes(v.Traits, in) == 0 {
		return to, nil
	}
	return to, h.mergeTraits(ctx, visitorID, in)
}

// verifiedAs is the user a visitor was verified as ("" for nobody).
func verifiedAs(v store.Visitor) string {
	if v.Traits[TraitVerified] == "true" {
		return v.Traits[traitUserID]
	}
	return ""
}

// mergeTraits stores traits on a visitor.
func (h *Handler) mergeTraits(ctx context.Context, visitorID string, in map[string]string) error {
	_, err := h.store.UpdateVisitor(ctx, visitorID, func(v *store.Visitor) error {
		merged := maps.Clone(v.Traits)
		if merged == nil {
			merged = map[string]string{}
		}
		maps.Copy(merged, in)
		if len(merged) > protocol.MaxTraits {
			return tooManyTraits()
		}
		v.Traits = merged
		return nil
	})
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe
	}
	if err != nil {
		h.log.Error("visitor: identify", "visitor", visitorID, "err", err)
		return protocol.Errorf(protocol.CodeStorage, "")
	}
	return nil
}

// changes counts the traits in that differ from have.
func changes(have, in map[string]string) int {
	n := 0
	for k, v := range in {
		if old, ok := have[k]; !ok || old != v {
			n++
		}
	}
	return n
}

func tooManyTraits() *protocol.Error {
	return protocol.Errorf(protocol.CodeBadField, fmt.Sprintf("a visitor has at most %d traits", protocol.MaxTraits))
}
