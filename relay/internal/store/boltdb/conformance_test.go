package boltdb

import (
	"testing"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	b := storetest.Backend[*Store]{
		Open: func(t *testing.T, onAppend func(store.Appended)) *Store {
			s, _ := openTest(t, Options{OnAppend: onAppend})
			return s
		},
		Close: func(s *Store) error { return s.Close() },
	}
	storetest.Desk(t, b)
	storetest.Privacy(t, b)
	storetest.Outbox(t, b)
	storetest.Files(t, b)
	storetest.Contact(t, b)
}
