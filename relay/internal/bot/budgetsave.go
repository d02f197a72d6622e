package bot

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/kefuhq/kefu/relay/internal/ai"
	"github.com/kefuhq/kefu/relay/internal/store"
)

// BudgetSaveEvery is how long the daily budget's usage waits, after an
// answer changed it, before it is stored. Stored once per answer, it was
// a durable write (a commit and an fsync) as each answer ended, while the
// answers still streaming waited for the processor it held (bench/notes.md,
// "AI streaming"); now the answers that end within a second share one. A
// relay killed with kill -9 forgets the tokens of the answers that ended
// in the last BudgetSaveEvery before it, beside those of the answers
// still streaming (as before: their usage is known only at their end); a
// stop, Close or Drain stores everything.
const BudgetSaveEvery = time.Second

// budgetStore is where the usage is kept (the store's settings).
type budgetStore interface {
	PutSetting(ctx context.Context, name string, v any) error
}

// budgetSaver stores a budget's usage at most once per every.
type budgetSaver struct {
	st     budgetStore
	budget *ai.Budget
	every  time.Duration
	log    *slog.Logger

	write sync.Mutex // held through a write: a flush waits for one under way

	mu     sync.Mutex
	dirty  bool        // the usage changed since it was last stored
	timer  *time.Timer // the save scheduled; nil: none
	closed bool        // the flow closed: nothing more is scheduled
}

// changed notes that an answer changed the usage: it is stored every
// after the first change not yet stored.
func (s *budgetSaver) changed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dirty = true
	if s.timer == nil && !s.closed {
		s.timer = time.AfterFunc(s.every, s.flush)
	}
}

// flush stores the usage now if a change is not stored yet; one under
// way is waited for.
func (s *budgetSaver) flush() {
	s.write.Lock()
	defer s.write.Unlock()
	s.mu.Lock()
	due := s.dirty
	s.dirty = false
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	s.mu.Unlock()
	if !due {
		return
	}
	// The snapshot is taken under write, so a later write never stores
	// an older usage.
	if err := s.st.PutSetting(context.Background(), SettingBudget, s.budget.Snapshot()); err != nil && !errors.Is(err, store.ErrClosed) {
		s.log.Error("bot: save budget", "err", err)
	}
}

// close stores what is not stored yet and schedules nothing after.
func (s *budgetSaver) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.flush()
}
