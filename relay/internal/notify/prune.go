package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"
)

// PruneEvery is how often the event log is trimmed: events every reader
// has passed are deleted, and events a dead node left behind are moved in.
const PruneEvery = time.Minute

// Housekeeper keeps the event log short and complete.
type Housekeeper struct {
	Log   Log
	Every time.Duration
	// Readers are the positions of readers that keep theirs elsewhere than
	// a KindCursor document (mail): each says its position, or false when
	// it has none yet.
	Readers []func() (uint64, bool, error)
	Logger  *slog.Logger
}

// Run works every Every until ctx ends.
func (h *Housekeeper) Run(ctx context.Context) {
	if h.Every <= 0 {
		h.Every = PruneEvery
	}
	if h.Logger == nil {
		h.Logger = slog.New(slog.DiscardHandler)
	}
	t := time.NewTicker(h.Every)
	defer t.Stop()
	for {
		if err := h.Once(ctx); err != nil && ctx.Err() == nil {
			h.Logger.Warn("notify: event log housekeeping", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Once moves events left behind (FlushEvents), then deletes those every
// reader has passed: up to the lowest cursor, or all when no one reads (a
// reader made later starts at the end anyway).
func (h *Housekeeper) Once(ctx context.Context) error {
	if n, err := h.Log.FlushEvents(ctx); err != nil {
		return err
	} else if n > 0 {
		h.Logger.Info("notify: moved events a stopped node left behind", "conversations", n)
	}
	upTo, err := h.Log.LastEventPos(ctx)
	if err != nil {
		return err
	}
	docs, err := h.Log.Docs(KindCursor)
	if err != nil {
		return err
	}
	for _, d := range docs {
		var c Cursor
		if err := json.Unmarshal(d.Data, &c); err != nil {
			return fmt.Errorf("notify: cursor %s: %w", d.Key, err)
		}
		upTo = min(upTo, c.Pos)
	}
	for _, r := range h.Readers {
		pos, ok, err := r()
		if err != nil {
			return err // prune nothing rather than what a reader still needs
		}
		if ok {
			upTo = min(upTo, pos)
		}
	}
	if _, err := h.Log.PruneEvents(ctx, upTo); err != nil {
		return err
	}
	return nil
}
