package bot

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/ai"
)

// settingsLog keeps every budget usage stored, in order.
type settingsLog struct {
	mu    sync.Mutex
	saved []int64
}

func (l *settingsLog) PutSetting(_ context.Context, name string, v any) error {
	if name != SettingBudget {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.saved = append(l.saved, v.(ai.BudgetSnapshot).Used)
	return nil
}

func (l *settingsLog) get() []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int64(nil), l.saved...)
}

// spend makes an answer that used n tokens, as the flow does at its end.
func spend(t *testing.T, b *ai.Budget, s *budgetSaver, n int) {
	t.Helper()
	r, err := b.Reserve(n)
	if err != nil {
		t.Fatal(err)
	}
	r.Commit(n)
	s.changed()
}

// Answers ending within one window share one write; a flush (a stop)
// stores what is pending, and nothing when nothing changed.
func TestBudgetSaverOneWritePerWindow(t *testing.T) {
	st := &settingsLog{}
	b := ai.NewBudget(1_000_000, time.UTC, nil)
	s := &budgetSaver{st: st, budget: b, every: time.Hour, log: slog.New(slog.DiscardHandler)}
	for range 50 {
		spend(t, b, s, 10)
	}
	if got := st.get(); len(got) != 0 {
		t.Fatalf("50 answers in one window stored %v, want nothing before the window ends", got)
	}
	s.flush()
	s.flush()
	if got := st.get(); len(got) != 1 || got[0] != 500 {
		t.Fatalf("flushed twice: stored %v, want [500]", got)
	}
	spend(t, b, s, 7)
	s.close()
	spend(t, b, s, 1) // after Close: nothing is scheduled
	if got := st.get(); len(got) != 2 || got[1] != 507 {
		t.Fatalf("closed: stored %v, want [500 507]", got)
	}
}

// Without a stop, the usage is stored once the window ends: a relay killed
// later than that has lost nothing.
func TestBudgetSaverStoresWhenTheWindowEnds(t *testing.T) {
	st := &settingsLog{}
	b := ai.NewBudget(1_000_000, time.UTC, nil)
	s := &budgetSaver{st: st, budget: b, every: 10 * time.Millisecond, log: slog.New(slog.DiscardHandler)}
	spend(t, b, s, 3)
	spend(t, b, s, 4)
	for deadline := time.Now().Add(30 * time.Second); ; {
		if got := st.get(); len(got) > 0 && got[len(got)-1] == 7 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stored %v, want 7 at the end", st.get())
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
	s.close()
}
