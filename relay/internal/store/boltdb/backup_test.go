package boltdb

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
)

// A backup taken while writers append is one consistent snapshot: it
// opens clean, holds every message acknowledged before it started, and
// each conversation's messages are a gapless prefix.
func TestBackupWhileWriting(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx, stop := context.WithCancel(context.Background())
	var mu sync.Mutex
	acked := map[string][]uint64{}
	var wg sync.WaitGroup
	started := make(chan struct{}, 8)
	for w := range 8 {
		_, conv := newVisitor(t, s)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				a, err := s.Append(context.Background(), conv.ID, store.NewMessage{ClientID: fmt.Sprint(w, "-", i), From: protocol.FromVisitor, Text: "load"})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				acked[conv.ID] = append(acked[conv.ID], a.Messages[0].Seq)
				mu.Unlock()
				if i == 50 {
					started <- struct{}{}
				}
			}
		}()
	}
	for range 8 {
		<-started
	}
	mu.Lock()
	before := map[string]uint64{}
	for conv, seqs := range acked {
		before[conv] = seqs[len(seqs)-1]
	}
	mu.Unlock()
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.Backup(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	stop()
	wg.Wait()

	rep, err := CheckFile(context.Background(), filepath.Join(dir, FileName), 0)
	if err != nil || !rep.OK() {
		t.Fatalf("backup of %d bytes does not check clean: %v %v", n, err, rep.Problems)
	}
	b, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for conv, last := range before {
		msgs, err := b.Messages(conv, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if uint64(len(msgs)) < last {
			t.Errorf("conversation %s: backup holds %d messages, %d were acked before it began", conv, len(msgs), last)
		}
		for i, m := range msgs {
			if m.Seq != uint64(i+1) {
				t.Fatalf("conversation %s: seq %d at %d", conv, m.Seq, i)
			}
		}
	}
}
