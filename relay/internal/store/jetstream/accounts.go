package jetstream

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/nats-io/nats.go/jetstream"
)

func usernameKey(u string) string {
	return hex.EncodeToString([]byte(strings.ToLower(strings.TrimSpace(u))))
}

// CreateAccount stores a new account; its username must be free. The
// username is claimed first (create-if-absent, so two nodes cannot both
// take it), and released again if the account cannot be written.
func (s *Store) CreateAccount(ctx context.Context, a store.Account) error {
	end, err := s.begin()
	if err != nil {
		return fmt.Errorf("store: create account: %w", err)
	}
	defer end()
	ctx, cancel := s.writeCtx(ctx)
	defer cancel()
	if !validID(a.ID) {
		return fmt.Errorf("store: create account: bad id %q", a.ID)
	}
	if _, err := s.users.Create(ctx, usernameKey(a.Username), []byte(a.ID)); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("store: create account: username %q: %w", a.Username, store.ErrExists)
		}
		return fmt.Errorf("store: create account: %w", err)
	}
	if err := createJSON(ctx, s.accounts, a.ID, a); err != nil {
		if derr := s.users.Delete(ctx, usernameKey(a.Username)); derr != nil {
			err = errors.Join(err, fmt.Errorf("release username: %w", derr))
		}
		return fmt.Errorf("store: create account: %w", err)
	}
	return nil
}

// Account returns an account by id.
func (s *Store) Account(id string) (store.Account, error) {
	ctx, cancel := s.readCtx()
	defer cancel()
	var a store.Account
	if _, err := getJSON(ctx, s.accounts, id, &a); err != nil {
		return store.Account{}, fmt.Errorf("store: account %s: %w", id, err)
	}
	return a, nil
}

// AccountByUsername finds an account by username, case-insensitively.
func (s *Store) AccountByUsername(username string) (store.Account, error) {
	ctx, cancel := s.readCtx()
	defer cancel()
	key := usernameKey(username)
	if key == "" {
		return store.Account{}, fmt.Errorf("store: account by username: %w", store.ErrNotFound)
	}
	e, err := s.users.Get(ctx, key)
	if err != nil {
		return store.Account{}, fmt.Errorf("store: account by username: %w", notFound(err))
	}
	var a store.Account
	if _, err := getJSON(ctx, s.accounts, string(e.Value()), &a); err != nil {
		return store.Account{}, fmt.Errorf("store: account by username: %w", err)
	}
	return a, nil
}

// Accounts lists every account by username.
func (s *Store) Accounts() ([]store.Account, error) {
	ctx, cancel := s.readCtx()
	defer cancel()
	var out []store.Account
	err := s.scan(ctx, s.accounts, func(key string, data []byte) error {
		var a store.Account
		if err := json.Unmarshal(data, &a); err != nil {
			return fmt.Errorf("decode account %s: %w", key, err)
		}
		out = append(out, a)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: accounts: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Username < out[j].Username })
	return out, nil
}

// UpdateAccount applies fn to an account and stores it if nobody changed
// it meanwhile (otherwise fn runs again); fn must not change the username.
func (s *Store) UpdateAccount(ctx context.Context, id string, fn func(*store.Account) error) (store.Account, error) {
	var out store.Account
	err := s.update(ctx, s.accounts, id, func(data []byte) ([]byte, error) {
		var a store.Account
		if err := json.Unmarshal(data, &a); err != nil {
			return nil, fmt.Errorf("decode account: %w", err)
		}
		username := a.Username
		if err := fn(&a); err != nil {
			return nil, err
		}
		if a.Username != username {
			return nil, errors.New("username cannot change")
		}
		out = a
		return json.Marshal(a)
	})
	if err != nil {
		return store.Account{}, fmt.Errorf("store: update account %s: %w", id, err)
	}
	return out, nil
}

func sessionKey(hash []byte) string { return hex.EncodeToString(hash) }

// PutSession stores a session under the hash of its id.
func (s *Store) PutSession(ctx context.Context, hash []byte, sess store.Session) error {
	end, err := s.begin()
	if err != nil {
		return fmt.Errorf("store: put session: %w", err)
	}
	defer end()
	ctx, cancel := s.writeCtx(ctx)
	defer cancel()
	data, err := json.Marshal(sess)
	if err != nil {
		return fmt.Errorf("store: encode session: %w", err)
	}
	if _, err := s.sessions.Put(ctx, sessionKey(hash), data); err != nil {
		return fmt.Errorf("store: put session: %w", err)
	}
	return nil
}

// Session returns the session stored under hash.
func (s *Store) Session(hash []byte) (store.Session, error) {
	ctx, cancel := s.readCtx()
	defer cancel()
	var sess store.Session
	if _, err := getJSON(ctx, s.sessions, sessionKey(hash), &sess); err != nil {
		return store.Session{}, fmt.Errorf("store: session: %w", err)
	}
	return sess, nil
}

// DeleteSessions removes sessions: the one under hash when given, or every
// session of accountID except keep. It returns the hashes removed.
func (s *Store) DeleteSessions(ctx context.Context, hash []byte, accountID string, keep []byte) ([][]byte, error) {
	end, err := s.begin()
	if err != nil {
		return nil, fmt.Errorf("store: delete sessions: %w", err)
	}
	defer end()
	ctx, cancel := s.writeCtx(ctx)
	defer cancel()
	var gone [][]byte
	if hash != nil {
		if _, err := s.sessions.Get(ctx, sessionKey(hash)); err == nil {
			gone = append(gone, append([]byte(nil), hash...))
		} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, fmt.Errorf("store: delete sessions: %w", err)
		}
	} else {
		err := s.scan(ctx, s.sessions, func(key string, data []byte) error {
			var sess store.Session
			if err := json.Unmarshal(data, &sess); err != nil {
				return fmt.Errorf("decode session: %w", err)
			}
			h, err := hex.DecodeString(key)
			if err != nil {
				return fmt.Errorf("session key %q: %w", key, err)
			}
			if sess.AccountID == accountID && string(h) != string(keep) {
				gone = append(gone, h)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("store: delete sessions: %w", err)
		}
	}
	if err := s.purgeSessions(ctx, gone); err != nil {
		return nil, err
	}
	return gone, nil
}

// PurgeSessions removes sessions for which expired reports true.
func (s *Store) PurgeSessions(ctx context.Context, expired func(store.Session) bool) (int, error) {
	end, err := s.begin()
	if err != nil {
		return 0, fmt.Errorf("store: purge sessions: %w", err)
	}
	defer end()
	ctx, cancel := s.writeCtx(ctx)
	defer cancel()
	var dead [][]byte
	err = s.scan(ctx, s.sessions, func(key string, data []byte) error {
		var sess store.Session
		if json.Unmarshal(data, &sess) != nil || expired(sess) {
			h, err := hex.DecodeString(key)
			if err != nil {
				return fmt.Errorf("session key %q: %w", key, err)
			}
			dead = append(dead, h)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: purge sessions: %w", err)
	}
	if err := s.purgeSessions(ctx, dead); err != nil {
		return 0, err
	}
	return len(dead), nil
}

// purgeSessions removes keys and their history, so a signed-out session
// leaves nothing behind.
func (s *Store) purgeSessions(ctx context.Context, hashes [][]byte) error {
	for _, h := range hashes {
		if err := s.sessions.Purge(ctx, sessionKey(h)); err != nil {
			return fmt.Errorf("store: delete session: %w", err)
		}
	}
	return nil
}

// DeleteAccount erases an account and its username, ends its sessions, and
// reports whether it existed. The username goes first: a crash part-way
// leaves the account to be found and deleted again, never a name claimed
// by nobody. Messages it wrote keep their text and the name they were
// signed with (docs/privacy.md).
func (s *Store) DeleteAccount(ctx context.Context, id string) (bool, error) {
	a, err := s.Account(id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: delete account: %w", err)
	}
	if _, err := s.DeleteSessions(ctx, nil, id, nil); err != nil {
		return false, fmt.Errorf("store: delete account: %w", err)
	}
	end, err := s.begin()
	if err != nil {
		return false, fmt.Errorf("store: delete account: %w", err)
	}
	defer end()
	ctx, cancel := s.writeCtx(ctx)
	defer cancel()
	if e, err := s.users.Get(ctx, usernameKey(a.Username)); err == nil && string(e.Value()) == id {
		if _, err := s.eraseKey(ctx, s.users, usernameKey(a.Username)); err != nil {
			return false, fmt.Errorf("store: delete account: %w", err)
		}
	}
	if _, err := s.eraseKey(ctx, s.accounts, id); err != nil {
		return false, fmt.Errorf("store: delete account: %w", err)
	}
	return true, nil
}
