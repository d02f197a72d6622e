package mail

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/store"
)

// laggingDocs is a document store whose reads trail its writes: the first
// lag reads of a key miss it, as a node's read may trail another node's
// create in a cluster that starts together.
type laggingDocs struct {
	Store // only Doc and PutDoc are used
	docs  map[string][]byte
	lag   int
	reads int
	puts  int
}

func (l *laggingDocs) Doc(kind, key string) (store.Doc, error) {
	l.reads++
	d, ok := l.docs[kind+"/"+key]
	if !ok || l.reads <= l.lag {
		return store.Doc{}, fmt.Errorf("doc %s/%s: %w", kind, key, store.ErrNotFound)
	}
	return store.Doc{Key: key, Data: d, Rev: 1}, nil
}

func (l *laggingDocs) PutDoc(_ context.Context, kind, key string, data []byte, rev uint64) (uint64, error) {
	l.puts++
	if _, ok := l.docs[kind+"/"+key]; ok && rev == 0 {
		return 0, fmt.Errorf("put %s/%s: %w", kind, key, store.ErrExists)
	}
	l.docs[kind+"/"+key] = data
	return 1, nil
}

func TestStateKeyWhenReadsTrail(t *testing.T) {
	theirs := []byte("made-by-another-node")
	for _, tc := range []struct {
		name     string
		existing []byte // made by another node before this one starts
		lag      int
	}{
		{"another node made it, reads trail", theirs, 5},
		{"another node made it, reads see it", theirs, 0},
		{"this node makes it, its own read trails", nil, 5},
		{"this node makes it", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &laggingDocs{docs: map[string][]byte{}, lag: tc.lag}
			if tc.existing != nil {
				st.docs[kindState+"/"+keyUnsub] = tc.existing
			}
			s := &Service{st: st}
			got, err := s.stateKey(context.Background(), keyUnsub)
			if err != nil {
				t.Fatalf("stateKey: %v (reads %d, puts %d)", err, st.reads, st.puts)
			}
			want := st.docs[kindState+"/"+keyUnsub]
			if tc.existing != nil && !bytes.Equal(got, tc.existing) {
				t.Fatalf("got key %q, want the other node's %q", got, tc.existing)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("got key %q, stored %q", got, want)
			}
		})
	}
}

func TestStateKeyGivesUpWhenCanceled(t *testing.T) {
	st := &laggingDocs{docs: map[string][]byte{kindState + "/" + keyUnsub: []byte("x")}, lag: 1 << 30}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (&Service{st: st}).stateKey(ctx, keyUnsub); err == nil {
		t.Fatal("stateKey: no error with a canceled context and a key never readable")
	}
}
