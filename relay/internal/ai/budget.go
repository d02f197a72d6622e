package ai

import (
	"fmt"
	"sync"
	"time"
)

// Budget is a daily token budget. An answer reserves its worst case
// (prompt estimate plus max answer tokens) before it starts, so concurrent
// answers cannot together overshoot the limit, and commits the real usage
// when it ends. The day is the calendar day in loc; usage starts from zero
// when it changes. Persistence is the caller's: Snapshot and Restore.
type Budget struct {
	now func() time.Time
	loc *time.Location

	mu       sync.Mutex
	limit    int64 // 0: unlimited
	day      string
	used     int64
	reserved int64
	spent    int64 // committed by this Budget's own answers, ever (Spent)
}

// BudgetSnapshot is the persistent state of a Budget.
type BudgetSnapshot struct {
	Day  string `json:"day"` // YYYY-MM-DD in the budget's location
	Used int64  `json:"used"`
}

// NewBudget returns a budget of limit tokens a day (0: unlimited), with the
// day boundary in loc (time.Local if nil) by the clock now (time.Now if nil).
func NewBudget(limit int64, loc *time.Location, now func() time.Time) *Budget {
	if now == nil {
		now = time.Now
	}
	if loc == nil {
		loc = time.Local
	}
	b := &Budget{now: now, loc: loc, limit: max(limit, 0)}
	b.day = b.today()
	return b
}

func (b *Budget) today() string { return b.now().In(b.loc).Format(time.DateOnly) }

// roll starts a new day's count when the day changed. Reservations made
// yesterday stay reserved: their answers are still running.
func (b *Budget) roll() {
	if d := b.today(); d != b.day {
		b.day, b.used = d, 0
	}
}

// Reservation is an answer's hold on the budget.
type Reservation struct {
	b    *Budget
	n    int64
	once sync.Once
}

// Reserve holds n tokens, or fails with ErrBudget when they do not fit in
// what is left today.
func (b *Budget) Reserve(n int) (*Reservation, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.roll()
	if b.limit > 0 && b.used+b.reserved+int64(n) > b.limit {
		return nil, fmt.Errorf("ai: reserve %d tokens: %w (%d of %d used today)", n, ErrBudget, b.used, b.limit)
	}
	b.reserved += int64(n)
	return &Reservation{b: b, n: int64(n)}, nil
}

// Commit replaces the reservation with the tokens actually used (0 for an
// answer that cost nothing). Only the first call counts.
func (r *Reservation) Commit(used int) {
	r.once.Do(func() {
		b := r.b
		b.mu.Lock()
		defer b.mu.Unlock()
		b.roll()
		b.reserved -= r.n
		b.used += int64(max(used, 0))
		b.spent += int64(max(used, 0))
	})
}

// Spent returns the tokens this budget's own answers have used since it
// was made (not reset by the day): in a cluster, each node tells the
// others what it spent since it last said (Add).
func (b *Budget) Spent() (day string, tokens int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.roll()
	return b.day, b.spent
}

// Add counts tokens spent elsewhere (another node of a cluster) on day;
// another day's are ignored.
func (b *Budget) Add(day string, tokens int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.roll()
	if day == b.day && tokens > 0 {
		b.used += tokens
	}
}

// Remaining returns the tokens left today (reservations count as spent);
// -1 if unlimited.
func (b *Budget) Remaining() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.roll()
	if b.limit == 0 {
		return -1
	}
	return max(b.limit-b.used-b.reserved, 0)
}

// SetLimit changes the daily limit (0: unlimited); today's usage stays.
func (b *Budget) SetLimit(limit int64) {
	b.mu.Lock()
	b.limit = max(limit, 0)
	b.mu.Unlock()
}

// Snapshot returns today's usage, for the store.
func (b *Budget) Snapshot() BudgetSnapshot {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.roll()
	return BudgetSnapshot{Day: b.day, Used: b.used}
}

// Restore loads a snapshot taken earlier; one from another day is ignored,
// since that day's usage no longer counts.
func (b *Budget) Restore(s BudgetSnapshot) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.roll()
	if s.Day == b.day && s.Used > b.used {
		b.used = s.Used
	}
}
