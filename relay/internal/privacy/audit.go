package privacy

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Settings documents this package keeps.
const (
	settingAudit    = "privacy.audit"
	settingRequests = "privacy.requests"
)

// auditKeep bounds the audit document: the newest entries stay.
const auditKeep = 1000

// AuditEntry records one erasure (or retention sweep) without personal
// data: when, who, the hashes of the visitor ids (HashID), and counts.
type AuditEntry struct {
	At            time.Time `json:"at"`
	By            string    `json:"by"`
	Kind          string    `json:"kind"` // "erasure" or "retention"
	Visitors      []string  `json:"visitors,omitempty"`
	VisitorCount  int       `json:"visitor_count,omitempty"`
	Conversations int       `json:"conversations"`
	Messages      int       `json:"messages,omitempty"`
	Erasers       []string  `json:"erasers,omitempty"`
	Compacted     bool      `json:"compacted"`
}

// Audit returns the recorded erasures, newest first.
func (s *Service) Audit() ([]AuditEntry, error) {
	var entries []AuditEntry
	if _, err := s.st.Setting(settingAudit, &entries); err != nil {
		return nil, fmt.Errorf("privacy: audit: %w", err)
	}
	slices.Reverse(entries)
	return entries, nil
}

func (s *Service) audit(ctx context.Context, e AuditEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var entries []AuditEntry
	if _, err := s.st.Setting(settingAudit, &entries); err != nil {
		return fmt.Errorf("privacy: audit: %w", err)
	}
	entries = append(entries, e)
	if len(entries) > auditKeep {
		entries = entries[len(entries)-auditKeep:]
	}
	if err := s.st.PutSetting(ctx, settingAudit, entries); err != nil {
		return fmt.Errorf("privacy: audit: %w", err)
	}
	return nil
}

// Request is a visitor's own request, from the widget, to erase their
// data. It waits for an admin, who erases (or, with reason, does not).
type Request struct {
	VisitorID      string    `json:"visitor_id"`
	ConversationID string    `json:"conversation_id"`
	At             time.Time `json:"at"`
}

// maxRequests bounds the pending requests kept; a flood from one page
// cannot grow the document without end (one per visitor, and visitors
// are rate-limited per address).
const maxRequests = 10000

// Requests returns the pending erasure requests, oldest first.
func (s *Service) Requests() ([]Request, error) {
	var reqs []Request
	if _, err := s.st.Setting(settingRequests, &reqs); err != nil {
		return nil, fmt.Errorf("privacy: requests: %w", err)
	}
	if reqs == nil {
		reqs = []Request{}
	}
	return reqs, nil
}

// ErrTooManyRequests means the pending requests are at their bound.
var ErrTooManyRequests = fmt.Errorf("privacy: %d erasure requests are waiting; handle some first", maxRequests)

// Ask records a visitor's erasure request; asking twice keeps the first.
func (s *Service) Ask(ctx context.Context, visitorID, convID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	reqs, err := s.Requests()
	if err != nil {
		return err
	}
	if slices.ContainsFunc(reqs, func(r Request) bool { return r.VisitorID == visitorID }) {
		return nil
	}
	if len(reqs) >= maxRequests {
		return ErrTooManyRequests
	}
	reqs = append(reqs, Request{VisitorID: visitorID, ConversationID: convID, At: s.opts.Now().UTC()})
	if err := s.st.PutSetting(ctx, settingRequests, reqs); err != nil {
		return fmt.Errorf("privacy: request: %w", err)
	}
	s.opts.Log.Info("privacy: a visitor asked for erasure", "visitor", HashID(visitorID))
	return nil
}

// Dismiss drops a visitor's request without erasing (the admin decided
// otherwise, e.g. a legal hold).
func (s *Service) Dismiss(ctx context.Context, visitorID string) error {
	return s.dropRequests(ctx, []string{visitorID})
}

func (s *Service) dropRequests(ctx context.Context, ids []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	reqs, err := s.Requests()
	if err != nil {
		return err
	}
	kept := slices.DeleteFunc(slices.Clone(reqs), func(r Request) bool { return slices.Contains(ids, r.VisitorID) })
	if len(kept) == len(reqs) {
		return nil
	}
	if err := s.st.PutSetting(ctx, settingRequests, kept); err != nil {
		return fmt.Errorf("privacy: requests: %w", err)
	}
	return nil
}
