package edge

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/kefuhq/kefu/relay/internal/intents"
	"github.com/kefuhq/kefu/relay/internal/kb"
	"github.com/kefuhq/kefu/relay/internal/web"
)

// Kept is what a Worker instance that serves many requests keeps across
// the edges it builds (one more each time someone else changes a settings
// document, an AI answer saving the day's token use among them): what
// costs CPU to make, reused while what it was made from is unchanged.
// The widget's files are built in and never change; the intents' model
// is decoded from, and the knowledge base's index fitted on, settings
// documents, kept by their bytes. A nil *Kept keeps nothing.
type Kept struct {
	mu      sync.Mutex
	assets  *web.Assets
	intents keptBy[*intents.Service]
	kb      keptBy[*kb.Service]
}

// keptBy is a value and the documents it was made from.
type keptBy[T any] struct {
	from [][]byte
	v    T
	ok   bool
}

// get returns the value made from exactly from.
func (k *keptBy[T]) get(from [][]byte) (T, bool) {
	if !k.ok || len(from) != len(k.from) {
		var zero T
		return zero, false
	}
	for i := range from {
		if !bytes.Equal(from[i], k.from[i]) {
			var zero T
			return zero, false
		}
	}
	return k.v, true
}

func (k *keptBy[T]) put(from [][]byte, v T) { *k = keptBy[T]{from: from, v: v, ok: true} }

// documents reads the settings documents names, as they are now.
func documents(st Store, names ...string) ([][]byte, error) {
	out := make([][]byte, len(names))
	for i, n := range names {
		b, err := st.SettingBytes(n)
		if err != nil {
			return nil, fmt.Errorf("edge: %w", err)
		}
		out[i] = b
	}
	return out, nil
}

// keptAssets returns the widget's files, loading them once.
func (k *Kept) keptAssets(load func() (*web.Assets, error)) (*web.Assets, error) {
	if k == nil {
		return load()
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.assets != nil {
		return k.assets, nil
	}
	a, err := load()
	if err == nil {
		k.assets = a
	}
	return a, err
}

// keptIntents returns the intents service made from the intents and model
// documents as st holds them now, opening it (open) when they changed.
func (k *Kept) keptIntents(st Store, open func() (*intents.Service, error)) (*intents.Service, error) {
	if k == nil {
		return open()
	}
	names := []string{intents.SettingIntents, intents.SettingModel}
	from, err := documents(st, names...)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if in, ok := k.intents.get(from); ok {
		return in, nil
	}
	in, err := open()
	if err != nil {
		return nil, err
	}
	// Opening may have seeded them: keyed by what is stored now.
	if from, err = documents(st, names...); err != nil {
		return nil, err
	}
	k.intents.put(from, in)
	return in, nil
}

// keptKnowledge returns the knowledge base made from its document as st
// holds it now, opening it (open: its index fitted) when it changed.
func (k *Kept) keptKnowledge(st Store, open func() (*kb.Service, error)) (*kb.Service, error) {
	if k == nil {
		return open()
	}
	from, err := documents(st, kb.SettingArticles)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if s, ok := k.kb.get(from); ok {
		return s, nil
	}
	s, err := open()
	if err != nil {
		return nil, err
	}
	k.kb.put(from, s)
	return s, nil
}
