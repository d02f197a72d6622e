package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kefuhq/kefu/relay/internal/egress"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// Body is what a delivery posts (docs/notifications.md has an example of
// each type).
type Body struct {
	ID             string    `json:"id"`
	Type           string    `json:"type"`
	CreatedAt      time.Time `json:"created_at"`
	ConversationID string    `json:"conversation_id"`
	Data           BodyData  `json:"data"`
}

// BodyData is the event's content.
type BodyData struct {
	Conversation *Conversation   `json:"conversation,omitempty"`
	Message      *Message        `json:"message,omitempty"`
	Rating       json.RawMessage `json:"rating,omitempty"`
	Details      json.RawMessage `json:"details,omitempty"`
}

// Conversation is a conversation as deliveries show it.
type Conversation struct {
	ID        string    `json:"id"`
	VisitorID string    `json:"visitor_id"`
	Status    string    `json:"status"`
	Handler   string    `json:"handler"`
	AgentID   string    `json:"agent_id,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	LastSeq   uint64    `json:"last_seq"`
	Intent    string    `json:"intent,omitempty"`
}

// Message is a message as deliveries show it.
type Message struct {
	Seq        uint64    `json:"seq"`
	From       string    `json:"from"`
	AuthorID   string    `json:"author_id,omitempty"`
	Author     string    `json:"author,omitempty"`
	Text       string    `json:"text"`
	Time       time.Time `json:"time"`
	Intent     string    `json:"intent,omitempty"`
	Via        string    `json:"via,omitempty"`
	Incomplete bool      `json:"incomplete,omitempty"`
	// Attachment is the file the message carries (its bytes stay on the
	// relay, served only to the conversation's people).
	Attachment *Attachment `json:"attachment,omitempty"`
}

// Attachment describes a file sent in a conversation.
type Attachment struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Type   string `json:"type"`
	Size   int64  `json:"size"`
	Width  int    `json:"width,omitempty"`
	Height int    `json:"height,omitempty"`
	SHA256 string `json:"sha256"`
}

// Rating is a visitor's rating of a closed conversation.
type Rating struct {
	Score   int       `json:"score"`
	Comment string    `json:"comment,omitempty"`
	AgentID string    `json:"agent_id,omitempty"`
	Seq     uint64    `json:"seq"`
	At      time.Time `json:"at"`
}

// typeOf is the type an event is delivered as: a stored rating is a
// message of its conversation (written in the rating's own commit), and
// is sent as conversation.rated.
func typeOf(ev store.Event) string {
	if ev.Type == store.EventMessageCreated && ev.Message != nil && ev.Message.Rating != nil && ev.Message.From == protocol.FromRating {
		return store.EventRated
	}
	return ev.Type
}

// BodyOf is the body delivered for ev.
func BodyOf(ev store.Event) Body {
	b := Body{ID: ev.ID, Type: typeOf(ev), CreatedAt: ev.Time.UTC(), ConversationID: ev.ConversationID}
	if b.Type == store.EventRated && ev.Type == store.EventMessageCreated {
		m := ev.Message
		raw, _ := json.Marshal(Rating{Score: m.Rating.Score, Comment: m.Rating.Comment, AgentID: m.Rating.AgentID, Seq: m.Seq, At: m.Time.UTC()})
		b.Data.Rating = raw
		return b
	}
	if c := ev.Conversation; c != nil {
		b.Data.Conversation = &Conversation{ID: c.ID, VisitorID: c.VisitorID, Status: c.Status, Handler: c.Handler, AgentID: c.AgentID,
			CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC(), LastSeq: c.LastSeq, Intent: c.Intent}
	}
	if m := ev.Message; m != nil {
		b.Data.Message = &Message{Seq: m.Seq, From: m.From, AuthorID: m.AuthorID, Author: m.Author, Text: m.Text,
			Time: m.Time.UTC(), Intent: m.Intent, Via: m.Via, Incomplete: m.Incomplete}
		if a := m.Attachment; a != nil {
			b.Data.Message.Attachment = &Attachment{ID: a.ID, Name: a.Name, Type: a.Type, Size: a.Size, Width: a.Width, Height: a.Height, SHA256: a.SHA256}
		}
	}
	if len(ev.Data) > 0 {
		if ev.Type == store.EventRated {
			b.Data.Rating = ev.Data
		} else {
			b.Data.Details = ev.Data
		}
	}
	return b
}

// Document kinds: an endpoint's delivery state, and its delivery log (one
// document per slot of a ring of LogSize).
const (
	kindState = "hook"
	kindLog   = "hooklog"
)

// LogSize is how many deliveries per endpoint the admin page shows.
const LogSize = 20

// maxKeptBody is the largest body kept in the log for "redeliver".
const maxKeptBody = 16 << 10

func logKey(id string, slot int) string { return id + "-" + strconv.Itoa(slot) }

// Delivery statuses.
const (
	StatusDelivered = "delivered"
	StatusRetrying  = "retrying"
	StatusFailed    = "failed"  // gave up: the URL is paused at this event
	StatusSkipped   = "skipped" // the admin skipped it
)

// Delivery is one entry of an endpoint's delivery log.
type Delivery struct {
	Slot           int       `json:"slot"`
	EventID        string    `json:"event_id"`
	Type           string    `json:"type"`
	ConversationID string    `json:"conversation_id"`
	Status         string    `json:"status"`
	Attempts       int       `json:"attempts"`
	Code           int       `json:"code,omitempty"`     // the receiver's HTTP status of the last attempt
	Error          string    `json:"error,omitempty"`    // why the last attempt failed
	Response       string    `json:"response,omitempty"` // the start of the receiver's last answer
	FirstAt        time.Time `json:"first_at"`
	LastAt         time.Time `json:"last_at"`
	NextAt         time.Time `json:"next_at,omitzero"`
	Redelivered    int       `json:"redelivered,omitempty"`
	Body           []byte    `json:"-"`
	Seq            uint64    `json:"seq"` // the delivery's number, newest highest
}

// storedDelivery keeps the body (base64 in JSON) beside what is shown.
type storedDelivery struct {
	Delivery
	Body []byte `json:"body,omitempty"`
}

// state is an endpoint's delivery state.
type state struct {
	N       uint64   `json:"n"` // deliveries logged so far
	Paused  bool     `json:"paused,omitempty"`
	Failing *failing `json:"failing,omitempty"`
}

// failing is the event an endpoint is retrying.
type failing struct {
	EventID  string    `json:"event_id"`
	Pos      uint64    `json:"pos"`
	Slot     int       `json:"slot"`
	Seq      uint64    `json:"seq"`
	Since    time.Time `json:"since"`
	Attempts int       `json:"attempts"`
}

// errPaused stops a reader whose endpoint was paused; errStopped one
// whose endpoint was disabled, deleted or changed meanwhile.
var (
	errPaused  = errors.New("webhook paused")
	errStopped = errors.New("webhook changed")
)

func (s *Service) readState(id string) (state, uint64, error) {
	d, err := s.log.Doc(kindState, id)
	if errors.Is(err, store.ErrNotFound) {
		return state{}, 0, nil
	}
	if err != nil {
		return state{}, 0, fmt.Errorf("webhook: state of %s: %w", id, err)
	}
	var st state
	if err := json.Unmarshal(d.Data, &st); err != nil {
		return state{}, 0, fmt.Errorf("webhook: state of %s: %w", id, err)
	}
	return st, d.Rev, nil
}

// changeState applies fn to an endpoint's state by compare-and-set.
func (s *Service) changeState(ctx context.Context, id string, fn func(*state) error) (state, error) {
	for range 20 {
		st, rev, err := s.readState(id)
		if err != nil {
			return state{}, err
		}
		if err := fn(&st); err != nil {
			return state{}, err
		}
		data, _ := json.Marshal(st)
		_, err = s.log.PutDoc(ctx, kindState, id, data, rev)
		if errors.Is(err, store.ErrConflict) || (rev == 0 && errors.Is(err, store.ErrExists)) {
			continue
		}
		if err != nil {
			return state{}, fmt.Errorf("webhook: state of %s: %w", id, err)
		}
		return st, nil
	}
	return state{}, fmt.Errorf("webhook: state of %s: %w", id, store.ErrConflict)
}

func (s *Service) paused(id string) bool {
	st, _, err := s.readState(id)
	return err == nil && st.Paused
}

// putLog writes a delivery log entry into its slot.
func (s *Service) putLog(ctx context.Context, id string, d Delivery) error {
	sd := storedDelivery{Delivery: d}
	if len(d.Body) <= maxKeptBody {
		sd.Body = d.Body
	}
	data, _ := json.Marshal(sd)
	key := logKey(id, d.Slot)
	for range 10 {
		var rev uint64
		if old, err := s.log.Doc(kindLog, key); err == nil {
			rev = old.Rev
		} else if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("webhook: log: %w", err)
		}
		_, err := s.log.PutDoc(ctx, kindLog, key, data, rev)
		if errors.Is(err, store.ErrConflict) || (rev == 0 && errors.Is(err, store.ErrExists)) {
			continue
		}
		if err != nil {
			return fmt.Errorf("webhook: log: %w", err)
		}
		return nil
	}
	return fmt.Errorf("webhook: log: %w", store.ErrConflict)
}

// worker delivers to one endpoint.
type worker struct {
	s  *Service
	ep Endpoint
}

// handle delivers ev if the endpoint takes its type, retrying until it is
// delivered, ctx ends, or GiveUpAfter passed (then the endpoint pauses).
func (w *worker) handle(ctx context.Context, ev store.Event) error {
	s := w.s
	// An admin's change on this node applies from the next event on, not
	// when the runner gets to restart this reader.
	if now, err := s.endpoint(w.ep.ID); err != nil || !sameEndpoints([]Endpoint{now}, []Endpoint{w.ep}) {
		return errStopped
	}
	// Events committed before the URL was last enabled are not its own
	// (a position left from before can be older).
	if ev.Pos <= w.ep.from {
		return nil
	}
	typ := typeOf(ev)
	if !w.ep.wants(typ) {
		return nil
	}
	body, err := json.Marshal(BodyOf(ev))
	if err != nil {
		return fmt.Errorf("webhook: encode %s: %w", ev.ID, err)
	}
	// Resume the retries of this event where a restart left them, or
	// start its entry in the log.
	var f failing
	st, err := s.changeState(ctx, w.ep.ID, func(st *state) error {
		if st.Failing != nil && st.Failing.EventID == ev.ID {
			return nil
		}
		st.N++
		st.Failing = &failing{EventID: ev.ID, Pos: ev.Pos, Slot: int((st.N - 1) % LogSize), Seq: st.N, Since: s.opts.Now()}
		return nil
	})
	if err != nil {
		return err
	}
	f = *st.Failing
	d := Delivery{Slot: f.Slot, Seq: f.Seq, EventID: ev.ID, Type: typ, ConversationID: ev.ConversationID, Attempts: f.Attempts, FirstAt: f.Since, Body: body}
	for {
		d.Attempts++
		res := s.post(ctx, w.ep, body, ev.ID, typ, d.Attempts)
		now := s.opts.Now()
		d.LastAt, d.Code, d.Error, d.Response = now, res.code, res.err, res.response
		if res.ok {
			d.Status, d.NextAt = StatusDelivered, time.Time{}
			if err := s.putLog(ctx, w.ep.ID, d); err != nil {
				return err
			}
			_, err := s.changeState(ctx, w.ep.ID, func(st *state) error { st.Failing = nil; return nil })
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err() // stopping: the attempt count is in the state
		}
		give := now.Sub(f.Since) >= s.opts.GiveUpAfter
		if give {
			d.Status, d.NextAt = StatusFailed, time.Time{}
		} else {
			d.Status, d.NextAt = StatusRetrying, now.Add(s.backoff(d.Attempts))
		}
		if err := s.putLog(ctx, w.ep.ID, d); err != nil {
			return err
		}
		if _, err := s.changeState(ctx, w.ep.ID, func(st *state) error {
			if st.Failing != nil && st.Failing.EventID == ev.ID {
				st.Failing.Attempts = d.Attempts
			}
			st.Paused = st.Paused || give
			return nil
		}); err != nil {
			return err
		}
		if give {
			s.opts.Logger.Warn("webhook: delivery failing for too long; the URL is paused until an admin resumes or skips it",
				"endpoint", w.ep.ID, "event", ev.ID, "attempts", d.Attempts, "since", f.Since, "err", d.Error)
			return errPaused
		}
		s.opts.Logger.Info("webhook: delivery failed; will retry", "endpoint", w.ep.ID, "event", ev.ID, "attempt", d.Attempts, "next", d.NextAt, "err", d.Error)
		t := time.NewTimer(d.NextAt.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// backoff is the wait after the nth failed attempt.
func (s *Service) backoff(n int) time.Duration {
	d := s.opts.FirstRetry
	for i := 1; i < n && d < s.opts.MaxRetry; i++ {
		d *= 2
	}
	return min(d, s.opts.MaxRetry)
}

// result is one attempt's outcome.
type result struct {
	ok       bool
	code     int
	err      string
	response string
}

// post makes one attempt.
func (s *Service) post(ctx context.Context, ep Endpoint, body []byte, eventID, typ string, attempt int) result {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return result{err: "bad URL: " + err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Kefu-Webhook/1")
	req.Header.Set("Kefu-Event-Id", eventID)
	req.Header.Set("Kefu-Event-Type", typ)
	req.Header.Set("Kefu-Attempt", strconv.Itoa(attempt))
	req.Header.Set(SignatureHeader, Sign(ep.secret, s.opts.Now(), body))
	resp, err := s.client.Do(req)
	if err != nil {
		return result{err: describe(err)}
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	r := result{code: resp.StatusCode, response: clean(head)}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		r.ok = true
		return r
	}
	r.err = "the receiver answered " + resp.Status
	return r
}

// describe says why a request failed, in an admin's words.
func describe(err error) string {
	switch {
	case errors.Is(err, egress.ErrRefused):
		var re *egress.RefusedError
		if errors.As(err, &re) {
			return "refused: " + re.Error()
		}
		return "refused: not an allowed destination"
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer in time"
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && strings.HasPrefix(msg, "Post ") {
		msg = msg[i+2:]
	}
	return msg
}

// clean keeps the printable start of a receiver's answer.
func clean(b []byte) string {
	s := strings.ToValidUTF8(string(b), "")
	s = strings.Map(func(r rune) rune {
		if r < ' ' && r != '\n' || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if utf8.RuneCountInString(s) > 200 {
		s = string([]rune(s)[:200]) + "…"
	}
	return strings.TrimSpace(s)
}
