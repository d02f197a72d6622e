package boltdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/kefuhq/kefu/relay/internal/store"
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"
)

func usernameKey(u string) []byte { return []byte(strings.ToLower(strings.TrimSpace(u))) }

// CreateAccount stores a new account; its username must be free.
func (s *Store) CreateAccount(ctx context.Context, a store.Account) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		ub := tx.Bucket(bucketUsernames)
		if ub.Get(usernameKey(a.Username)) != nil {
			return fmt.Errorf("username %q: %w", a.Username, store.ErrExists)
		}
		if err := ub.Put(usernameKey(a.Username), []byte(a.ID)); err != nil {
			return err
		}
		return putJSON(tx.Bucket(bucketAccounts), []byte(a.ID), a)
	}, nil)
	if err != nil {
		return fmt.Errorf("store: create account: %w", err)
	}
	return nil
}

// Account returns an account by id.
func (s *Store) Account(id string) (store.Account, error) {
	var a store.Account
	err := s.view(func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bucketAccounts), []byte(id), &a) })
	if err != nil {
		return store.Account{}, fmt.Errorf("store: account %s: %w", id, err)
	}
	return a, nil
}

// AccountByUsername finds an account by username, case-insensitively.
func (s *Store) AccountByUsername(username string) (store.Account, error) {
	var a store.Account
	err := s.view(func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketUsernames).Get(usernameKey(username))
		if id == nil {
			return store.ErrNotFound
		}
		return getJSON(tx.Bucket(bucketAccounts), id, &a)
	})
	if err != nil {
		return store.Account{}, fmt.Errorf("store: account by username: %w", err)
	}
	return a, nil
}

// Accounts lists every account by username.
func (s *Store) Accounts() ([]store.Account, error) {
	var out []store.Account
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAccounts).ForEach(func(k, v []byte) error {
			var a store.Account
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("decode account %s: %w: %w", k, store.ErrCorrupt, err)
			}
			out = append(out, a)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: accounts: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Username < out[j].Username })
	return out, nil
}

// UpdateAccount applies fn to an account and stores it. fn may run more
// than once; it must not change the username.
func (s *Store) UpdateAccount(ctx context.Context, id string, fn func(*store.Account) error) (store.Account, error) {
	var out store.Account
	err := s.update(ctx, func(tx *bolt.Tx) error {
		var a store.Account
		if err := getJSON(tx.Bucket(bucketAccounts), []byte(id), &a); err != nil {
			return err
		}
		username := a.Username
		if err := fn(&a); err != nil {
			return err
		}
		if a.Username != username {
			return errors.New("username cannot change")
		}
		out = a
		return putJSON(tx.Bucket(bucketAccounts), []byte(id), a)
	}, nil)
	if err != nil {
		return store.Account{}, fmt.Errorf("store: update account %s: %w", id, err)
	}
	return out, nil
}

// PutSession stores a session under the hash of its id.
func (s *Store) PutSession(ctx context.Context, hash []byte, sess store.Session) error {
	err := s.update(ctx, func(tx *bolt.Tx) error { return putJSON(tx.Bucket(bucketSessions), hash, sess) }, nil)
	if err != nil {
		return fmt.Errorf("store: put session: %w", err)
	}
	return nil
}

// Session returns the session stored under hash.
func (s *Store) Session(hash []byte) (store.Session, error) {
	var sess store.Session
	err := s.view(func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bucketSessions), hash, &sess) })
	if err != nil {
		return store.Session{}, fmt.Errorf("store: session: %w", err)
	}
	return sess, nil
}

// DeleteSessions removes sessions: the one under hash when given, or every
// session of accountID except keep. It returns the hashes removed.
func (s *Store) DeleteSessions(ctx context.Context, hash []byte, accountID string, keep []byte) ([][]byte, error) {
	var gone [][]byte
	err := s.update(ctx, func(tx *bolt.Tx) error {
		gone = nil
		b := tx.Bucket(bucketSessions)
		if hash != nil {
			if b.Get(hash) != nil {
				gone = append(gone, append([]byte(nil), hash...))
			}
		} else {
			err := b.ForEach(func(k, v []byte) error {
				var sess store.Session
				if err := json.Unmarshal(v, &sess); err != nil {
					return fmt.Errorf("decode session: %w: %w", store.ErrCorrupt, err)
				}
				if sess.AccountID == accountID && string(k) != string(keep) {
					gone = append(gone, append([]byte(nil), k...))
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		for _, k := range gone {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("store: delete sessions: %w", err)
	}
	return gone, nil
}

// PurgeSessions removes sessions for which expired reports true.
func (s *Store) PurgeSessions(ctx context.Context, expired func(store.Session) bool) (int, error) {
	n := 0
	err := s.update(ctx, func(tx *bolt.Tx) error {
		n = 0
		b := tx.Bucket(bucketSessions)
		var dead [][]byte
		err := b.ForEach(func(k, v []byte) error {
			var sess store.Session
			if err := json.Unmarshal(v, &sess); err != nil || expired(sess) {
				dead = append(dead, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range dead {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(dead)
		return nil
	}, nil)
	if err != nil {
		return 0, fmt.Errorf("store: purge sessions: %w", err)
	}
	return n, nil
}

// DeleteAccount removes an account, its username and its sessions, and
// reports whether it existed. Messages it wrote keep their text and the
// name they were signed with (docs/privacy.md).
func (s *Store) DeleteAccount(ctx context.Context, id string) (bool, error) {
	existed := false
	err := s.update(ctx, func(tx *bolt.Tx) error {
		existed = false
		var a store.Account
		if err := getJSON(tx.Bucket(bucketAccounts), []byte(id), &a); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		}
		existed = true
		ub := tx.Bucket(bucketUsernames)
		if string(ub.Get(usernameKey(a.Username))) == id {
			if err := ub.Delete(usernameKey(a.Username)); err != nil {
				return err
			}
		}
		sb := tx.Bucket(bucketSessions)
		var dead [][]byte
		err := sb.ForEach(func(k, v []byte) error {
			var sess store.Session
			if json.Unmarshal(v, &sess) == nil && sess.AccountID == id {
				dead = append(dead, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range dead {
			if err := sb.Delete(k); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketAccounts).Delete([]byte(id))
	}, nil)
	if err != nil {
		return false, fmt.Errorf("store: delete account %s: %w", id, err)
	}
	return existed, nil
}
