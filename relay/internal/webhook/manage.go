package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kefuhq/kefu/relay/internal/notify"
	"github.com/kefuhq/kefu/relay/internal/privacy"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// Status is what the admin page shows of an endpoint's deliveries.
type Status struct {
	// Paused: an event failed for longer than the retry window; nothing
	// after it is sent until the admin resumes (retry it) or skips it.
	Paused bool `json:"paused"`
	// Retrying is the event being retried now, if any.
	Retrying string `json:"retrying,omitempty"`
	// Deliveries are the newest deliveries, newest first.
	Deliveries []Delivery `json:"deliveries"`
}

func (s *Service) endpoint(id string) (Endpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.endpoints, func(e Endpoint) bool { return e.ID == id })
	if i < 0 {
		return Endpoint{}, fmt.Errorf("webhook %s: %w", id, store.ErrNotFound)
	}
	return s.endpoints[i], nil
}

// Status reads an endpoint's state and delivery log.
func (s *Service) Status(id string) (Status, error) {
	if _, err := s.endpoint(id); err != nil {
		return Status{}, err
	}
	st, _, err := s.readState(id)
	if err != nil {
		return Status{}, err
	}
	out := Status{Paused: st.Paused, Deliveries: []Delivery{}}
	if st.Failing != nil && st.Failing.Attempts > 0 {
		out.Retrying = st.Failing.EventID
	}
	docs, err := s.log.Docs(kindLog)
	if err != nil {
		return Status{}, fmt.Errorf("webhook: log: %w", err)
	}
	prefix := id + "-"
	for _, d := range docs {
		if !strings.HasPrefix(d.Key, prefix) {
			continue
		}
		var sd storedDelivery
		if err := json.Unmarshal(d.Data, &sd); err != nil {
			continue // a damaged entry hides itself; the next delivery replaces it
		}
		out.Deliveries = append(out.Deliveries, sd.Delivery)
	}
	sort.Slice(out.Deliveries, func(i, j int) bool { return out.Deliveries[i].Seq > out.Deliveries[j].Seq })
	return out, nil
}

// ErrNoBody means a delivery's body was not kept (over maxKeptBody).
var ErrNoBody = errors.New("this delivery's body was too large to keep; it cannot be sent again")

// Redeliver sends a logged delivery's body again, now, once, signed anew
// (outside the order of the log: it is the admin's request), and records
// the outcome in its entry.
func (s *Service) Redeliver(ctx context.Context, id string, slot int) (Delivery, error) {
	ep, err := s.endpoint(id)
	if err != nil {
		return Delivery{}, err
	}
	if slot < 0 || slot >= LogSize {
		return Delivery{}, fmt.Errorf("delivery %d: %w", slot, store.ErrNotFound)
	}
	if ep.secret == "" {
		return Delivery{}, badField("this URL has no secret: set one first")
	}
	d, err := s.log.Doc(kindLog, logKey(id, slot))
	if err != nil {
		return Delivery{}, fmt.Errorf("webhook: delivery %d: %w", slot, err)
	}
	var sd storedDelivery
	if err := json.Unmarshal(d.Data, &sd); err != nil {
		return Delivery{}, fmt.Errorf("webhook: delivery %d: %w", slot, err)
	}
	if len(sd.Body) == 0 {
		return Delivery{}, protocol.Errorf(protocol.CodeBadField, ErrNoBody.Error())
	}
	res := s.post(ctx, ep, sd.Body, sd.EventID, sd.Type, sd.Attempts+1)
	out := sd.Delivery
	out.Body = sd.Body
	out.Attempts++
	out.Redelivered++
	out.LastAt, out.Code, out.Error, out.Response = s.opts.Now(), res.code, res.err, res.response
	if res.ok && out.Status != StatusRetrying {
		out.Status, out.Error = StatusDelivered, ""
	}
	if err := s.putLog(ctx, id, out); err != nil {
		return Delivery{}, err
	}
	s.opts.Logger.Info("webhook: redelivered", "endpoint", id, "event", out.EventID, "ok", res.ok, "code", res.code)
	return out, nil
}

// Resume unpauses an endpoint: the event that failed is tried again at
// once, with a new retry window.
func (s *Service) Resume(ctx context.Context, id string) error {
	if _, err := s.endpoint(id); err != nil {
		return err
	}
	_, err := s.changeState(ctx, id, func(st *state) error {
		st.Paused = false
		if st.Failing != nil {
			st.Failing.Since = s.opts.Now()
		}
		return nil
	})
	if err == nil {
		s.changed()
	}
	return err
}

// Skip gives up on the event a paused endpoint is stuck at (its log entry
// says skipped) and goes on with the next.
func (s *Service) Skip(ctx context.Context, id string) error {
	if _, err := s.endpoint(id); err != nil {
		return err
	}
	st, _, err := s.readState(id)
	if err != nil {
		return err
	}
	if !st.Paused || st.Failing == nil {
		return errConflict("this URL is not paused")
	}
	f := *st.Failing
	if d, err := s.log.Doc(kindLog, logKey(id, f.Slot)); err == nil {
		var sd storedDelivery
		if json.Unmarshal(d.Data, &sd) == nil && sd.EventID == f.EventID {
			sd.Status, sd.NextAt = StatusSkipped, time.Time{}
			sd.Delivery.Body = sd.Body
			if err := s.putLog(ctx, id, sd.Delivery); err != nil {
				return err
			}
		}
	}
	if err := notify.SaveCursor(ctx, s.log, readerName(id), notify.Cursor{Pos: f.Pos}); err != nil {
		return err
	}
	if _, err := s.changeState(ctx, id, func(st *state) error { st.Paused, st.Failing = false, nil; return nil }); err != nil {
		return err
	}
	s.opts.Logger.Warn("webhook: event skipped by an admin", "endpoint", id, "event", f.EventID)
	s.changed()
	return nil
}

// errConflict is an action that does not apply now.
type errConflict string

func (e errConflict) Error() string { return string(e) }

// Conflict marks the error for the admin API (409).
func (e errConflict) Conflict() bool { return true }

// Ping sends a test body ({"type":"ping"}) to an endpoint now, outside
// the log, and says how it went.
func (s *Service) Ping(ctx context.Context, id string) (Delivery, error) {
	ep, err := s.endpoint(id)
	if err != nil {
		return Delivery{}, err
	}
	if ep.secret == "" {
		return Delivery{}, badField("this URL has no secret: set one first")
	}
	now := s.opts.Now().UTC()
	b := Body{ID: "ping-" + store.NewID(), Type: "ping", CreatedAt: now}
	body, _ := json.Marshal(b)
	res := s.post(ctx, ep, body, b.ID, b.Type, 1)
	d := Delivery{EventID: b.ID, Type: b.Type, Attempts: 1, FirstAt: now, LastAt: now, Code: res.code, Error: res.err, Response: res.response, Status: StatusDelivered}
	if !res.ok {
		d.Status = StatusFailed
	}
	return d, nil
}

// Name names webhooks in the erasure audit (privacy.Eraser).
func (s *Service) Name() string { return "webhook-log" }

// Erase drops the logged deliveries about the erased conversations: their
// bodies hold what the visitors wrote. Events not yet delivered are in the
// store's event log, which erases them with their conversations.
func (s *Service) Erase(ctx context.Context, sub privacy.Subject) error {
	if len(sub.ConversationIDs) == 0 {
		return nil
	}
	gone := make(map[string]bool, len(sub.ConversationIDs))
	for _, id := range sub.ConversationIDs {
		gone[id] = true
	}
	docs, err := s.log.Docs(kindLog)
	if err != nil {
		return fmt.Errorf("webhook: erase: %w", err)
	}
	for _, d := range docs {
		var sd storedDelivery
		if json.Unmarshal(d.Data, &sd) != nil || !gone[sd.ConversationID] {
			continue
		}
		if err := s.log.DeleteDoc(ctx, kindLog, d.Key, 0); err != nil {
			return fmt.Errorf("webhook: erase: %w", err)
		}
	}
	return nil
}
