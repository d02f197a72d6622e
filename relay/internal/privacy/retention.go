package privacy

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
)

// Settings documents of retention.
const (
	settingRetention = "retention"
	settingSweep     = "retention.status"
)

// MaxRetentionDays bounds a retention setting (a hundred years is
// "forever" enough; the bound keeps date arithmetic sane).
const MaxRetentionDays = 36500

// Retention is how long data is kept. Zero means forever (the default).
type Retention struct {
	// ClosedDays keeps a closed conversation this many days after its last
	// message or change; then it goes, with its visitor's record.
	ClosedDays int `json:"closed_days"`
	// InactiveDays keeps a visitor this many days after their
	// conversation's last activity, open or closed.
	InactiveDays int `json:"inactive_days"`
}

// Validate reports a setting out of range.
func (r Retention) Validate() error {
	for name, d := range map[string]int{"closed_days": r.ClosedDays, "inactive_days": r.InactiveDays} {
		if d < 0 || d > MaxRetentionDays {
			return fmt.Errorf("%s must be 0 (keep forever) to %d days", name, MaxRetentionDays)
		}
	}
	return nil
}

// On reports whether anything ever expires.
func (r Retention) On() bool { return r.ClosedDays > 0 || r.InactiveDays > 0 }

// Expired reports whether a conversation is past its time at now.
func (r Retention) Expired(c *store.Conversation, now time.Time) bool {
	if r.ClosedDays > 0 && c.Status == store.StatusClosed && c.UpdatedAt.Before(now.AddDate(0, 0, -r.ClosedDays)) {
		return true
	}
	return r.InactiveDays > 0 && c.UpdatedAt.Before(now.AddDate(0, 0, -r.InactiveDays))
}

// Retention reads the setting (zero: keep forever).
func (s *Service) Retention() (Retention, error) {
	var r Retention
	if _, err := s.st.Setting(settingRetention, &r); err != nil {
		return r, fmt.Errorf("privacy: retention: %w", err)
	}
	return r, nil
}

// SetRetention stores the setting; the next sweep applies it.
func (s *Service) SetRetention(ctx context.Context, r Retention) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if err := s.st.PutSetting(ctx, settingRetention, r); err != nil {
		return fmt.Errorf("privacy: retention: %w", err)
	}
	return nil
}

// SweepStatus is what the dashboard shows of the retention sweep.
type SweepStatus struct {
	LastStart     time.Time `json:"last_start,omitzero"`
	LastEnd       time.Time `json:"last_end,omitzero"`
	Conversations int       `json:"conversations"` // removed by the last sweep
	Visitors      int       `json:"visitors"`
	Passes        int       `json:"passes"`
	LastError     string    `json:"last_error,omitempty"`
	NextRun       time.Time `json:"next_run,omitzero"`
	// Unfinished is set while a sweep deletes and cleared when it has
	// compacted: a sweep killed part-way leaves it set, and the next one
	// compacts even if it finds nothing more to delete.
	Unfinished bool `json:"unfinished,omitempty"`
}

// SweepStatus reads the last sweep's status.
func (s *Service) SweepStatus() (SweepStatus, error) {
	var st SweepStatus
	if _, err := s.st.Setting(settingSweep, &st); err != nil {
		return st, fmt.Errorf("privacy: sweep status: %w", err)
	}
	return st, nil
}

// DefaultBatch bounds one pass of the sweep: one bbolt transaction, or as
// many JetStream conversations erased before the status is written again.
const DefaultBatch = 500

// Sweep deletes what retention says has expired, in passes of at most
// batch conversations (oldest first), until nothing expired is left or
// ctx ends; then compacts. Every step is idempotent and the status is
// written before the first delete, so a sweep killed at any point is
// finished by the next one: what was expired is gone, nothing else. Any
// number of nodes may sweep at once (docs/privacy.md): they delete the
// same records, and deleting a deleted record is no error.
func (s *Service) Sweep(ctx context.Context, batch int, next time.Time) (SweepStatus, error) {
	if batch <= 0 {
		batch = DefaultBatch
	}
	prev, err := s.SweepStatus()
	if err != nil {
		return prev, err
	}
	r, err := s.Retention()
	if err != nil {
		return prev, err
	}
	now := s.opts.Now()
	st := SweepStatus{LastStart: now.UTC(), NextRun: next.UTC(), Unfinished: prev.Unfinished}
	fail := func(err error) (SweepStatus, error) {
		st.LastError = err.Error()
		st.LastEnd = s.opts.Now().UTC()
		if perr := s.st.PutSetting(context.WithoutCancel(ctx), settingSweep, st); perr != nil {
			s.opts.Log.Error("privacy: sweep status", "err", perr)
		}
		return st, err
	}
	if !r.On() && !prev.Unfinished {
		st.LastEnd = st.LastStart
		if err := s.st.PutSetting(ctx, settingSweep, st); err != nil {
			return st, fmt.Errorf("privacy: sweep status: %w", err)
		}
		return st, nil
	}
	for r.On() && ctx.Err() == nil {
		expired, err := s.st.Conversations(func(c *store.Conversation) bool { return r.Expired(c, now) })
		if err != nil {
			return fail(fmt.Errorf("privacy: sweep: %w", err))
		}
		if len(expired) == 0 {
			break
		}
		// Oldest first, so a bounded pass makes steady progress.
		slices.SortFunc(expired, func(a, b store.Conversation) int { return a.UpdatedAt.Compare(b.UpdatedAt) })
		expired = expired[:min(batch, len(expired))]
		if !st.Unfinished {
			st.Unfinished = true
			if err := s.st.PutSetting(ctx, settingSweep, st); err != nil {
				return fail(fmt.Errorf("privacy: sweep status: %w", err))
			}
		}
		nc, nv, err := s.sweepPass(ctx, expired)
		st.Conversations += nc
		st.Visitors += nv
		st.Passes++
		if err != nil {
			return fail(err)
		}
		s.opts.Log.Info("privacy: retention pass", "conversations", nc, "visitors", nv, "pass", st.Passes)
	}
	if ctx.Err() != nil {
		return fail(fmt.Errorf("privacy: sweep: %w", ctx.Err()))
	}
	if st.Unfinished {
		if c, ok := s.st.(Compacter); ok {
			if _, err := c.Compact(ctx); err != nil {
				return fail(fmt.Errorf("privacy: sweep: %w", err))
			}
		}
		st.Unfinished = false
	}
	st.LastEnd = s.opts.Now().UTC()
	if err := s.st.PutSetting(ctx, settingSweep, st); err != nil {
		return st, fmt.Errorf("privacy: sweep status: %w", err)
	}
	if st.Conversations > 0 {
		err := s.audit(ctx, AuditEntry{At: st.LastEnd, By: "retention", Kind: "retention",
			VisitorCount: st.Visitors, Conversations: st.Conversations, Compacted: true})
		if err != nil {
			return st, err
		}
	}
	s.opts.Log.Info("privacy: retention sweep done", "conversations", st.Conversations, "visitors", st.Visitors, "passes", st.Passes)
	return st, nil
}

// sweepPass erases one batch of expired conversations: the erasers first,
// then the visitors (their tokens stop working), then the conversations.
// A crash after the visitors leaves conversations that are still expired,
// so the next pass finds them again.
func (s *Service) sweepPass(ctx context.Context, convs []store.Conversation) (nc, nv int, err error) {
	subj := Subject{Retention: true}
	for _, c := range convs {
		subj.ConversationIDs = append(subj.ConversationIDs, c.ID)
		if c.VisitorID != "" {
			subj.VisitorIDs = append(subj.VisitorIDs, c.VisitorID)
		}
	}
	for _, e := range s.opts.Erasers {
		if err := e.Erase(ctx, subj); err != nil {
			return 0, 0, fmt.Errorf("privacy: sweep: %s: %w", e.Name(), err)
		}
	}
	if nv, err = s.st.DeleteVisitors(ctx, subj.VisitorIDs); err != nil {
		return 0, 0, fmt.Errorf("privacy: sweep: %w", err)
	}
	if nc, err = s.st.DeleteConversations(ctx, subj.ConversationIDs); err != nil {
		return nc, nv, fmt.Errorf("privacy: sweep: %w", err)
	}
	return nc, nv, nil
}

// Sweeper runs Sweep in the background.
type Sweeper struct {
	Svc   *Service
	Every time.Duration // between sweeps
	Batch int
}

// Run sweeps at once, then every s.Every, until ctx ends.
func (sw *Sweeper) Run(ctx context.Context) {
	for {
		next := time.Now().Add(sw.Every)
		if _, err := sw.Svc.Sweep(ctx, sw.Batch, next); err != nil && ctx.Err() == nil {
			sw.Svc.opts.Log.Error("privacy: retention sweep", "err", err)
		}
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
