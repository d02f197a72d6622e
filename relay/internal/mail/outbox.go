package mail

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// Kinds of outbox entries.
const (
	jobAgent      = "agent"      // to the team: waiting, or replies nobody has open
	jobVisitor    = "visitor"    // to the visitor: the team's reply while they are gone
	jobTranscript = "transcript" // to the visitor: the whole conversation, at close
)

// job is one outbox entry: what to send about which messages, and its
// attempts. The mail is composed when it is sent, from the stored
// messages, so a batch grows until then.
type job struct {
	Kind string `json:"kind"`
	Conv string `json:"conv"`
	// From and To are the seqs the mail is about (To grows while the
	// batch is open: no attempt yet).
	From uint64 `json:"from"`
	To   uint64 `json:"to"`
	// New: the conversation just started waiting for a person.
	New       bool      `json:"new,omitempty"`
	Created   time.Time `json:"created"`
	Due       time.Time `json:"due"`
	Attempts  int       `json:"attempts,omitempty"`
	LastError string    `json:"last_error,omitempty"`
	// Waiting: the last attempt failed and the next waits for Due; new
	// settings (a fixed password) make it due at once.
	Waiting bool `json:"waiting,omitempty"`
	// Failed: the server refused this mail for good (a recipient it does
	// not know); kept for the admin page, never retried.
	Failed bool `json:"failed,omitempty"`
}

// readCursor is the event log position mail has decided up to; a store
// without one starts at the end of the log (mail for what happens from
// now on, not for the history).
func (s *Service) readCursor(ctx context.Context) (uint64, uint64, error) {
	d, err := s.st.Doc(kindState, keyCursor)
	if err == nil && len(d.Data) == 8 {
		return binary.BigEndian.Uint64(d.Data), d.Rev, nil
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return 0, 0, err
	}
	pos, err := s.st.LastEventPos(ctx) // a new cursor starts at the end
	if err != nil {
		return 0, 0, err
	}
	rev, err := s.st.PutDoc(ctx, kindState, keyCursor, binary.BigEndian.AppendUint64(nil, pos), 0)
	if errors.Is(err, store.ErrExists) {
		return s.readCursor(ctx) // another node made it first
	}
	return pos, rev, err
}

// ingest turns new events into outbox entries, then moves the cursor.
// An event read twice (a crash before the cursor moved, two nodes at
// once) finds its entry made already: entries are keyed by their cause.
func (s *Service) ingest(ctx context.Context) error {
	pos, rev, err := s.readCursor(ctx)
	if err != nil {
		return err
	}
	if _, _, err := s.config(); err != nil {
		// Mail is off: no event calls for a mail, so none is read (each
		// was, with its message, every tick: a burst of work on the
		// relay's CPU every Every, proportional to its traffic). The
		// cursor moves to the log's end, as reading them all did: what
		// happened while mail was off is not mailed once it is on.
		return s.skipTo(ctx, rev, pos)
	}
	for range 20 { // at most 2000 events a tick; the rest next tick
		evs, last, err := s.st.Events(ctx, pos, 100)
		if err != nil {
			return err
		}
		if last == pos {
			return nil
		}
		set, _, cerr := s.config()
		for _, ev := range evs {
			if cerr != nil {
				break // mail is off: nothing to decide
			}
			if err := s.decide(ctx, set, ev); err != nil {
				return fmt.Errorf("event %d (%s): %w", ev.Pos, ev.Type, err)
			}
		}
		rev, err = s.st.PutDoc(ctx, kindState, keyCursor, binary.BigEndian.AppendUint64(nil, last), rev)
		if errors.Is(err, store.ErrConflict) {
			return nil // another node moved it: read from there next tick
		}
		if err != nil {
			return err
		}
		pos = last
	}
	return nil
}

// skipTo moves the cursor from pos to the event log's end, if it moved.
func (s *Service) skipTo(ctx context.Context, rev, pos uint64) error {
	end, err := s.st.LastEventPos(ctx)
	if err != nil || end <= pos {
		return err
	}
	_, err = s.st.PutDoc(ctx, kindState, keyCursor, binary.BigEndian.AppendUint64(nil, end), rev)
	if errors.Is(err, store.ErrConflict) {
		return nil // another node moved it
	}
	return err
}

// decide makes the mail one event calls for.
func (s *Service) decide(ctx context.Context, set Settings, ev store.Event) error {
	now := s.opts.Now()
	p := s.opts.Presence
	switch ev.Type {
	case store.EventHandedOff:
		if len(set.AgentTo) == 0 || p.Online() > 0 || ev.Conversation == nil {
			return nil // those online see it in the console
		}
		return s.batch(ctx, jobAgent, ev.ConversationID, 1, ev.Conversation.LastSeq, now, true)
	case store.EventMessageCreated:
		m := ev.Message
		if m == nil || m.From != protocol.FromVisitor && m.From != protocol.FromAgent {
			return nil // the bot's and the system's call for no mail
		}
		conv, err := s.st.Conversation(m.ConversationID)
		if errors.Is(err, store.ErrNotFound) {
			return nil // erased since
		}
		if err != nil {
			return err
		}
		switch m.From {
		case protocol.FromVisitor:
			nobody := conv.Handler == store.HandlerQueue && p.Online() == 0 ||
				conv.Handler == store.HandlerAgent && !p.AgentOnline(conv.AgentID)
			if len(set.AgentTo) == 0 || conv.Status != store.StatusOpen || !nobody {
				return nil
			}
			return s.batch(ctx, jobAgent, conv.ID, m.Seq, m.Seq, now.Add(time.Duration(set.BatchSeconds)*time.Second), false)
		case protocol.FromAgent:
			if !s.reachable(conv.VisitorID) {
				return nil
			}
			return s.batch(ctx, jobVisitor, conv.ID, m.Seq, m.Seq, now.Add(time.Duration(set.VisitorDelaySeconds)*time.Second), false)
		}
	case store.EventClosed:
		if ev.Conversation == nil {
			return nil
		}
		v, err := s.st.Visitor(ev.Conversation.VisitorID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if v.Contact == nil || !v.Contact.Transcript || v.Contact.Unsubscribed {
			return nil
		}
		j := job{Kind: jobTranscript, Conv: ev.ConversationID, From: 1, To: ev.Conversation.LastSeq, Created: now, Due: now}
		_, err = s.st.PutDoc(ctx, kindJob, "t-"+ev.ConversationID+"-"+strconv.FormatUint(ev.Conversation.LastSeq, 10), encode(j), 0)
		if errors.Is(err, store.ErrExists) {
			return nil
		}
		return err
	}
	return nil
}

// reachable reports whether a visitor left an email and still wants mail.
func (s *Service) reachable(visitorID string) bool {
	v, err := s.st.Visitor(visitorID)
	return err == nil && v.Contact != nil && v.Contact.Email != "" && !v.Contact.Unsubscribed
}

// batch adds seqs from..to of conv to its open entry of kind (one not
// tried yet), or opens one due at due. isNew marks a conversation that
// started waiting: sent at once.
func (s *Service) batch(ctx context.Context, kind, conv string, from, to uint64, due time.Time, isNew bool) error {
	for range 5 {
		docs, err := s.st.Docs(kindJob)
		if err != nil {
			return err
		}
		prefix := kind[:1] + "-" + conv + "-"
		var open *store.Doc
		var j job
		for i := range docs {
			if !strings.HasPrefix(docs[i].Key, prefix) {
				continue
			}
			var cand job
			if json.Unmarshal(docs[i].Data, &cand) == nil && cand.Attempts == 0 && !cand.Failed {
				open, j = &docs[i], cand
				break
			}
		}
		if open == nil {
			j = job{Kind: kind, Conv: conv, From: from, To: to, New: isNew, Created: s.opts.Now(), Due: due}
			_, err := s.st.PutDoc(ctx, kindJob, prefix+strconv.FormatUint(from, 10), encode(j), 0)
			if errors.Is(err, store.ErrExists) {
				return nil // made before (this event, read again)
			}
			return err
		}
		if to <= j.To && (!isNew || j.New) {
			return nil // in it already
		}
		j.To = max(j.To, to)
		j.From = min(j.From, from)
		if isNew {
			j.New, j.Due = true, due
		}
		_, err = s.st.PutDoc(ctx, kindJob, open.Key, encode(j), open.Rev)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		return err
	}
	return fmt.Errorf("batch %s/%s: %w", kind, conv, store.ErrConflict)
}

// claimLease is how long an entry being sent is kept from other senders;
// a node that dies while sending leaves it to be sent again after.
const claimLease = 2 * time.Minute

// backoff is the wait after attempt n failed: 10 s doubling, at most 30 min.
func backoff(n int) time.Duration {
	d := 10 * time.Second
	for i := 1; i < n && d < 30*time.Minute; i++ {
		d *= 2
	}
	return min(d, 30*time.Minute)
}

// deliver sends what is due.
func (s *Service) deliver(ctx context.Context) error {
	set, password, err := s.config()
	if err != nil {
		return nil // off: mail waits in the outbox
	}
	docs, err := s.st.Docs(kindJob)
	if err != nil {
		return err
	}
	now := s.opts.Now()
	for _, d := range docs {
		if ctx.Err() != nil {
			return nil
		}
		var j job
		if err := json.Unmarshal(d.Data, &j); err != nil {
			s.opts.Log.Error("mail: unreadable outbox entry, removed", "key", d.Key, "err", err)
			s.st.DeleteDoc(ctx, kindJob, d.Key, d.Rev)
			continue
		}
		if j.Failed || j.Due.After(now) {
			continue
		}
		// Claim it: other nodes see it taken until the lease ends.
		j.Attempts++
		j.Due = now.Add(claimLease)
		j.Waiting = false
		rev, err := s.st.PutDoc(ctx, kindJob, d.Key, encode(j), d.Rev)
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		sent, err := s.sendJob(ctx, set, password, d.Key, j)
		switch {
		case err == nil:
			if err := s.st.DeleteDoc(ctx, kindJob, d.Key, rev); err != nil {
				s.opts.Log.Error("mail: remove a sent entry", "key", d.Key, "err", err)
			}
			if sent {
				s.noteSent()
				s.opts.Log.Info("mail: sent", "kind", j.Kind, "conversation", j.Conv, "attempt", j.Attempts)
			} else {
				s.statMu.Lock()
				s.dropped++
				s.statMu.Unlock()
			}
		default:
			var se *SendError
			j.LastError = err.Error()
			if errors.As(err, &se) && se.Permanent && !se.Auth && strings.HasPrefix(err.Error(), "recipient") {
				j.Failed = true
			}
			j.Due = s.opts.Now().Add(backoff(j.Attempts))
			j.Waiting = true
			// The attempt is stored before the admin page can show its
			// error: until then the entry holds its claim, and a relay
			// killed in between tries it again only when the claim ends.
			if _, perr := s.st.PutDoc(ctx, kindJob, d.Key, encode(j), rev); perr != nil {
				s.opts.Log.Error("mail: record a failed attempt", "key", d.Key, "err", perr)
			}
			s.noteErr(err)
			s.opts.Log.Warn("mail: not sent; will try again", "kind", j.Kind, "conversation", j.Conv, "attempt", j.Attempts, "failed_for_good", j.Failed, "err", err)
		}
	}
	return nil
}

// retryNow makes every entry waiting after a failed attempt due now: the
// settings changed, so the next attempt may well succeed.
func (s *Service) retryNow(ctx context.Context) error {
	docs, err := s.st.Docs(kindJob)
	if err != nil {
		return err
	}
	for _, d := range docs {
		var j job
		if json.Unmarshal(d.Data, &j) != nil || !j.Waiting || j.Failed {
			continue
		}
		j.Due = s.opts.Now()
		if _, err := s.st.PutDoc(ctx, kindJob, d.Key, encode(j), d.Rev); err != nil && !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil
}

// Position is the event log position mail has read up to, false before
// it first ran: the log's housekeeping (notify.Housekeeper) keeps every
// event after it.
func (s *Service) Position() (uint64, bool, error) {
	d, err := s.st.Doc(kindState, keyCursor)
	if errors.Is(err, store.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("mail: cursor: %w", err)
	}
	if len(d.Data) != 8 {
		return 0, false, fmt.Errorf("mail: cursor: %d bytes, want 8", len(d.Data))
	}
	return binary.BigEndian.Uint64(d.Data), true, nil
}
