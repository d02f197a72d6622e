package boltdb

import (
	"testing"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	for _, c := range []struct {
		name string
		opts Options
	}{
		// Messages stay in the log until Close moves them.
		{"log", Options{}},
		// The writer moves the log after every other message: reads
		// find messages in both places.
		{"moved", Options{LogCompactAt: 2}},
		// The layout before the log.
		{"nolog", Options{NoLog: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := storetest.Backend[*Store]{
				Open: func(t *testing.T, onAppend func(store.Appended)) *Store {
					opts := c.opts
					opts.OnAppend = onAppend
					s, _ := openTest(t, opts)
					return s
				},
				Close: func(s *Store) error { return s.Close() },
			}
			storetest.Desk(t, b)
			storetest.Privacy(t, b)
			storetest.Outbox(t, b)
			storetest.Files(t, b)
			storetest.Contact(t, b)
			storetest.Context(t, b)
			storetest.Tags(t, b)
			storetest.Identities(t, b)
			storetest.Users(t, b)
		})
	}
}
