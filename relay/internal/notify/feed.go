// Package notify reads the store's event log (store.Event) for the parts
// that tell people what happened: webhooks, mail and push. Each reader
// keeps its position in the log as a document, advanced only after it
// handled an event, so a crash between a commit and its delivery delays
// the delivery and never loses it (at least once). One process reads at a
// time (the only node, or the cluster's notifier); docs/notifications.md
// is the user's view.
package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
)

// Log is the store's event log and documents (boltdb and jetstream).
type Log interface {
	Events(ctx context.Context, after uint64, limit int) ([]store.Event, uint64, error)
	LastEventPos(ctx context.Context) (uint64, error)
	PruneEvents(ctx context.Context, upTo uint64) (int, error)
	FlushEvents(ctx context.Context) (int, error)
	Doc(kind, key string) (store.Doc, error)
	PutDoc(ctx context.Context, kind, key string, data []byte, rev uint64) (uint64, error)
	DeleteDoc(ctx context.Context, kind, key string, rev uint64) error
	Docs(kind string) ([]store.Doc, error)
}

// HeadsLog is a Log that can also read events without their messages
// (store.Event.Message nil; a message erased since is then not left
// out): a reader whose handler never looks at a message pays nothing per
// message. On bbolt that is a read and a decode of every message for
// every such reader: the push reader, which wants none of them, was 12 %
// of the relay's CPU at durable saturation (bench/notes.md, issue 16).
type HeadsLog interface {
	EventHeads(ctx context.Context, after uint64, limit int) ([]store.Event, uint64, error)
}

// KindCursor is the document kind of readers' positions.
const KindCursor = "cursor"

// PollEvery is how often an idle reader looks at the log when nothing woke
// it: writes on this node wake it at once (Waker); another node's writes
// are seen within this.
const PollEvery = time.Second

// Cursor is a reader's position, stored as a document.
type Cursor struct {
	// Pos is the last position handled.
	Pos uint64 `json:"pos"`
}

// Waker wakes readers when this node stored events: Kick never blocks, and
// every channel from C is closed by the next Kick.
type Waker struct {
	mu sync.Mutex
	ch chan struct{}
}

// Kick wakes everyone waiting.
func (w *Waker) Kick() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ch != nil {
		close(w.ch)
		w.ch = nil
	}
}

// C returns a channel the next Kick closes.
func (w *Waker) C() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ch == nil {
		w.ch = make(chan struct{})
	}
	return w.ch
}

// LoadCursor reads a reader's position. A reader without one starts at the
// end of the log (it hears of what happens from now on) and stores that.
func LoadCursor(ctx context.Context, log Log, name string) (Cursor, error) {
	d, err := log.Doc(KindCursor, name)
	if err == nil {
		var c Cursor
		if err := json.Unmarshal(d.Data, &c); err != nil {
			return Cursor{}, fmt.Errorf("notify: cursor %s: %w", name, err)
		}
		return c, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return Cursor{}, fmt.Errorf("notify: cursor %s: %w", name, err)
	}
	end, err := log.LastEventPos(ctx)
	if err != nil {
		return Cursor{}, fmt.Errorf("notify: cursor %s: %w", name, err)
	}
	c := Cursor{Pos: end}
	data, _ := json.Marshal(c)
	_, err = log.PutDoc(ctx, KindCursor, name, data, 0)
	if err == nil {
		return c, nil
	}
	if !errors.Is(err, store.ErrExists) {
		return Cursor{}, fmt.Errorf("notify: save cursor %s: %w", name, err)
	}
	// Another reader stored one first, or this read came from a copy
	// behind the write (a cluster's replica): theirs is the position, not
	// the end, which would skip what happened in between.
	wait := time.Duration(0)
	for range saveTries {
		if err := pause(ctx, wait); err != nil {
			return Cursor{}, fmt.Errorf("notify: cursor %s: %w", name, err)
		}
		wait = nextWait(wait)
		d, err := log.Doc(KindCursor, name)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return Cursor{}, fmt.Errorf("notify: cursor %s: %w", name, err)
		}
		var c Cursor
		if err := json.Unmarshal(d.Data, &c); err != nil {
			return Cursor{}, fmt.Errorf("notify: cursor %s: %w", name, err)
		}
		return c, nil
	}
	return Cursor{}, fmt.Errorf("notify: cursor %s: stored, yet not found when read back", name)
}

// saveTries bounds SaveCursor's attempts; with nextWait's pauses they
// span a few seconds, longer than a cluster's copies take to catch up.
const saveTries = 20

// nextWait is the pause before the next attempt after a read that was
// behind: 5 ms, doubling, at most half a second.
func nextWait(d time.Duration) time.Duration {
	return min(max(2*d, 5*time.Millisecond), 500*time.Millisecond)
}

// pause waits d, or until ctx ends.
func pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// SaveCursor stores a reader's position.
func SaveCursor(ctx context.Context, log Log, name string, c Cursor) error {
	return putCursor(ctx, log, name, c, false)
}

// putCursor stores c as a reader's position; forward leaves a stored
// position at or past c as it is. A conflict means the read was behind
// the stored revision (a replica that has not caught up) or a concurrent
// save: read again after a pause.
func putCursor(ctx context.Context, log Log, name string, c Cursor, forward bool) error {
	data, _ := json.Marshal(c)
	wait := time.Duration(0)
	for range saveTries {
		if err := pause(ctx, wait); err != nil {
			return fmt.Errorf("notify: save cursor %s: %w", name, err)
		}
		wait = nextWait(wait)
		d, err := log.Doc(KindCursor, name)
		var rev uint64
		switch {
		case err == nil:
			if forward {
				var stored Cursor
				if err := json.Unmarshal(d.Data, &stored); err != nil {
					return fmt.Errorf("notify: cursor %s: %w", name, err)
				}
				if stored.Pos >= c.Pos {
					return nil
				}
			}
			rev = d.Rev
		case !errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("notify: cursor %s: %w", name, err)
		}
		_, err = log.PutDoc(ctx, KindCursor, name, data, rev)
		if errors.Is(err, store.ErrConflict) || (rev == 0 && errors.Is(err, store.ErrExists)) {
			continue
		}
		if err != nil {
			return fmt.Errorf("notify: save cursor %s: %w", name, err)
		}
		return nil
	}
	return fmt.Errorf("notify: save cursor %s: %w", name, store.ErrConflict)
}

// DeleteCursor forgets a reader (a webhook removed), so the log is no
// longer kept for it.
func DeleteCursor(ctx context.Context, log Log, name string) error {
	if err := log.DeleteDoc(ctx, KindCursor, name, 0); err != nil {
		return fmt.Errorf("notify: delete cursor %s: %w", name, err)
	}
	return nil
}

// Handler handles one event. An error stops the reader without moving
// past the event: it is handled again when the reader runs next. Handlers
// that retry (webhooks) do so inside, until ctx ends.
type Handler func(ctx context.Context, ev store.Event) error

// SaveEvery is how often, at most, a reader stores its position while
// events keep coming. Storing it is a durable write of its own (a commit
// and an fsync on bbolt): once per event it doubled the writes of a burst
// of new conversations (one per question, for a push reader that wants
// none of them) and held a processor through each fsync while AI answers
// streamed (bench/notes.md, "AI streaming"). A relay killed with kill -9
// hands the events of the last SaveEvery again after it starts: at least
// once, as before, with a window of a second instead of one event.
const SaveEvery = time.Second

// stopSaveTimeout bounds storing the position when a reader stops (its
// context has ended by then).
const stopSaveTimeout = 10 * time.Second

// Feed reads the log for one named reader.
type Feed struct {
	Log   Log
	Name  string
	Wake  *Waker // nil: poll only
	Poll  time.Duration
	Batch int // events read at once; default 100
	// SaveEvery is how often, at most, the position is stored while events
	// come (default SaveEvery): the first event after a quiet spell is
	// stored at once, later ones when SaveEvery has passed since the last
	// save, and the position reached is always stored when the reader
	// stops (its context ends, or h fails).
	SaveEvery time.Duration
	// Wants picks the events h is given (nil: all); the position moves
	// past the others as past those handled.
	Wants func(store.Event) bool
	// NoMessages says h never reads an event's Message: a HeadsLog then
	// leaves the messages out of what it reads.
	NoMessages bool
	// Logger receives read failures. Default discards.
	Logger *slog.Logger
}

// Run hands every event after the reader's position to h (those Wants
// picks), in log order, until ctx ends or h fails. The position is stored
// at most every SaveEvery while events come, and when Run returns; it is
// never moved back (advanceCursor), so a position an admin set ahead
// while the reader was stopping (a webhook's skipped event) stands.
func (f *Feed) Run(ctx context.Context, h Handler) (err error) {
	if f.Poll <= 0 {
		f.Poll = PollEvery
	}
	if f.Batch <= 0 {
		f.Batch = 100
	}
	if f.SaveEvery <= 0 {
		f.SaveEvery = SaveEvery
	}
	if f.Logger == nil {
		f.Logger = slog.New(slog.DiscardHandler)
	}
	cur, err := LoadCursor(ctx, f.Log, f.Name)
	if err != nil {
		return err
	}
	saved := cur.Pos      // the position stored
	var savedAt time.Time // when; zero: a quiet spell, the next save is at once
	save := func(ctx context.Context) error {
		if cur.Pos == saved {
			return nil
		}
		if err := advanceCursor(ctx, f.Log, f.Name, cur); err != nil {
			return err
		}
		saved, savedAt = cur.Pos, time.Now()
		return nil
	}
	defer func() {
		// Stopping: store what was handled, even though ctx has ended.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopSaveTimeout)
		defer cancel()
		if serr := save(sctx); serr != nil {
			f.Logger.Warn("notify: store the position on stopping; the events after the last stored one will be handed again", "reader", f.Name, "err", serr)
		}
	}()
	read := f.Log.Events
	if hl, ok := f.Log.(HeadsLog); ok && f.NoMessages {
		read = hl.EventHeads
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		var wake <-chan struct{}
		if f.Wake != nil {
			wake = f.Wake.C() // taken before reading, so no kick is missed
		}
		evs, last, err := read(ctx, cur.Pos, f.Batch)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			f.Logger.Warn("notify: read the event log", "reader", f.Name, "err", err)
		}
		for _, ev := range evs {
			if f.Wants == nil || f.Wants(ev) {
				if err := h(ctx, ev); err != nil {
					return err
				}
			}
			cur.Pos = ev.Pos
		}
		if last > cur.Pos && err == nil {
			// Only skipped entries (erased messages) after the last event.
			cur.Pos = last
		}
		due := f.SaveEvery - time.Since(savedAt) // ≤ 0: a save may happen now
		if cur.Pos != saved && due <= 0 {
			if err := save(ctx); err != nil {
				return err
			}
			due = f.SaveEvery
		}
		if len(evs) == f.Batch {
			continue
		}
		wait := f.Poll
		if cur.Pos != saved {
			wait = min(wait, max(due, 0)) // store the rest once the window ends
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		case <-timer.C:
		}
	}
}

// advanceCursor stores c as a reader's position unless the stored one is
// already at or past it.
func advanceCursor(ctx context.Context, log Log, name string, c Cursor) error {
	return putCursor(ctx, log, name, c, true)
}
