package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/kefuhq/kefu/bench/internal/hist"
	bolt "go.etcd.io/bbolt"
)

// BoltFloor is what bbolt alone does on this disk, in this process, with
// no sockets: group commits of one batch size in the key layouts that
// matter, so the chat figures can be read against the store's own cost.
type BoltFloor struct {
	Layout      string  `json:"layout"`
	Batch       int     `json:"batch"`
	MsgsPerS    float64 `json:"msgs_per_s"`
	MsPerCommit float64 `json:"ms_per_commit"`
	PagesPerCmt float64 `json:"pages_written_per_commit"`
	FsyncShare  float64 `json:"commit_share"` // of the time, inside Commit (page writes and fsyncs)
	CommitP50   float64 `json:"commit_p50_ms"`
	CommitP99   float64 `json:"commit_p99_ms"`
	CommitMax   float64 `json:"commit_max_ms"`
}

// boltLayouts are the key layouts measured.
var boltLayouts = []struct {
	name      string
	scattered bool // keyed by conversation then seq: one leaf per conversation
	kefu      bool // also the client id next to the message and the conversation record once per batch, like Kefu's Append
}{
	{"append-only log (one tree, increasing keys)", false, false},
	{"per conversation (one tree, conversation+seq keys; bare+bbolt)", true, false},
	{"per conversation + client id beside it + conversation record once per batch (Kefu's Append)", true, true},
}

// boltFloor measures each layout with batches of batch writes of 200-byte
// messages spread over convs conversations.
func (b *bench) boltFloor(batch, convs, commits int) ([]BoltFloor, error) {
	var out []BoltFloor
	msg := make([]byte, 350) // a 200-byte text as Kefu stores it, JSON included
	rec := make([]byte, 300) // a conversation record
	for _, l := range boltLayouts {
		dir, err := os.MkdirTemp(b.cfg.Work, "boltfloor-")
		if err != nil {
			return nil, err
		}
		db, err := bolt.Open(filepath.Join(dir, "floor.db"), 0o600, &bolt.Options{FreelistType: bolt.FreelistMapType})
		if err != nil {
			return nil, fmt.Errorf("bolt floor: %w", err)
		}
		names := [][]byte{[]byte("m"), []byte("i"), []byte("c")}
		err = db.Update(func(tx *bolt.Tx) error {
			for _, n := range names {
				if _, err := tx.CreateBucket(n); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("bolt floor: %w", err)
		}
		var seq uint64
		var inCommit, total time.Duration
		var pages int64
		var lat hist.H
		for range commits {
			t0 := time.Now()
			tx, err := db.Begin(true)
			if err != nil {
				db.Close()
				return nil, fmt.Errorf("bolt floor: %w", err)
			}
			m, c := tx.Bucket(names[0]), tx.Bucket(names[2])
			touched := map[string]bool{}
			for range batch {
				seq++
				var k []byte
				conv := []byte("conv" + strconv.FormatUint(seq*7919%uint64(convs), 36))
				if l.scattered {
					k = binary.BigEndian.AppendUint64(append([]byte(nil), conv...), seq)
				} else {
					k = binary.BigEndian.AppendUint64(nil, seq)
				}
				m.Put(k, msg)
				if l.kefu {
					m.Put(append(append(append([]byte(nil), conv...), 0), strconv.FormatUint(seq*2654435761, 36)...), k[len(k)-8:])
					touched[string(conv)] = true
				}
			}
			for conv := range touched {
				c.Put([]byte(conv), rec)
			}
			t1 := time.Now()
			if err := tx.Commit(); err != nil {
				db.Close()
				return nil, fmt.Errorf("bolt floor: %w", err)
			}
			st := tx.Stats()
			pages += st.GetWrite()
			inCommit += time.Since(t1)
			total += time.Since(t0)
			lat.Record(time.Since(t0))
		}
		db.Close()
		os.RemoveAll(dir)
		out = append(out, BoltFloor{
			Layout: l.name, Batch: batch, MsgsPerS: float64(batch*commits) / total.Seconds(),
			MsPerCommit: float64(total) / 1e6 / float64(commits), PagesPerCmt: float64(pages) / float64(commits),
			FsyncShare: float64(inCommit) / float64(total),
			CommitP50:  lat.Summarize().P50M, CommitP99: lat.Summarize().P99M, CommitMax: lat.Summarize().MaxM,
		})
	}
	return out, nil
}
