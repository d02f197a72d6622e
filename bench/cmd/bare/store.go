package main

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// store is the smallest durable group commit: one writer goroutine commits
// every queued put in one bbolt transaction (one fsync) and then answers
// them all. One key per message; Kefu also writes an id index and the
// conversation record.
type store struct {
	db       *bolt.DB
	ops      chan *put
	commits  atomic.Uint64
	batched  atomic.Uint64
	commitNS atomic.Uint64
}

type put struct {
	key, val []byte
	err      chan error
}

var bucket = []byte("m")

func openStore(dir string) (*store, error) {
	db, err := bolt.Open(filepath.Join(dir, "bare.db"), 0o600, &bolt.Options{FreelistType: bolt.FreelistMapType})
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucketIfNotExists(bucket); return err }); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: bucket: %w", err)
	}
	s := &store{db: db, ops: make(chan *put, 1024)}
	go s.writer()
	return s, nil
}

func (s *store) put(conv string, seq uint64, val []byte) error {
	p := &put{key: binary.BigEndian.AppendUint64([]byte(conv), seq), val: val, err: make(chan error, 1)}
	s.ops <- p
	return <-p.err
}

func (s *store) writer() {
	batch := make([]*put, 0, 1024)
	for first := range s.ops {
		batch = append(batch[:0], first)
	fill:
		for len(batch) < cap(batch) {
			select {
			case p := <-s.ops:
				batch = append(batch, p)
			default:
				break fill
			}
		}
		t := time.Now()
		err := s.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucket)
			for _, p := range batch {
				if err := b.Put(p.key, p.val); err != nil {
					return err
				}
			}
			return nil
		})
		s.commitNS.Add(uint64(time.Since(t)))
		s.commits.Add(1)
		s.batched.Add(uint64(len(batch)))
		for _, p := range batch {
			p.err <- err
		}
	}
}
