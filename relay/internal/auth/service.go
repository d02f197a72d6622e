// Package auth signs admins and agents in: accounts with argon2id
// passwords, server-side sessions in bbolt behind an HttpOnly,
// SameSite=Strict cookie, CSRF tokens, and a login throttle per account
// and per address.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/kefuhq/kefu/relay/internal/store"
)

// Sentinel errors.
var (
	// ErrBadLogin is the one answer to every failed login.
	ErrBadLogin = errors.New("wrong username or password")
	// ErrThrottled means too many failed sign-ins for the name or the
	// address; the error is a *ThrottledError saying how long to wait.
	ErrThrottled = errors.New("too many failed sign-ins")
	// ErrBusy means every password hash slot is taken and the queue in
	// front of them is full: the sign-in was not checked; try again soon.
	ErrBusy = errors.New("the relay is busy checking other sign-ins; try again in a moment")
	// ErrNoSession means the session is unknown, expired or its account is disabled.
	ErrNoSession = errors.New("not signed in")
)

// ThrottledError is a sign-in refused before its password was checked.
// It matches ErrThrottled.
type ThrottledError struct {
	Wait time.Duration // until the next attempt is allowed
}

func (e *ThrottledError) Error() string {
	return "Too many failed sign-ins. Try again in " + humanWait(e.Wait) + "."
}

// Is makes errors.Is(err, ErrThrottled) true.
func (e *ThrottledError) Is(target error) bool { return target == ErrThrottled }

// humanWait rounds a wait up to whole seconds or minutes, in words.
func humanWait(d time.Duration) string {
	s := int((d + time.Second - 1) / time.Second)
	switch {
	case s <= 1:
		return "1 second"
	case s < 120:
		return fmt.Sprintf("%d seconds", s)
	}
	return fmt.Sprintf("%d minutes", (s+59)/60)
}

// Options configure the service.
type Options struct {
	IdleTimeout     time.Duration // a session unused this long ends
	AbsoluteTimeout time.Duration // a session ends this long after login
	// HashMemory bounds the memory of the password hashes running at once,
	// in bytes (DefaultHashMemory if 0): HashSlots(HashMemory) run in
	// parallel, the rest queue.
	HashMemory int64
	// HashWait bounds a request's wait for a hash slot (DefaultHashWait if
	// 0); past it the request is refused with ErrBusy.
	HashWait time.Duration
	Now      func() time.Time
	// Peers are the other nodes of a cluster (nil on one node): sessions
	// live in the shared store, so they are valid on every node; an ended
	// session is announced so every node closes its sockets at once.
	Peers Peers
}

// Store is what accounts and sessions need from the store.
type Store interface {
	Accounts() ([]store.Account, error)
	Account(id string) (store.Account, error)
	AccountByUsername(username string) (store.Account, error)
	CreateAccount(ctx context.Context, a store.Account) error
	UpdateAccount(ctx context.Context, id string, fn func(*store.Account) error) (store.Account, error)
	PutSession(ctx context.Context, hash []byte, sess store.Session) error
	Session(hash []byte) (store.Session, error)
	DeleteSessions(ctx context.Context, hash []byte, accountID string, keep []byte) ([][]byte, error)
	PurgeSessions(ctx context.Context, expired func(store.Session) bool) (int, error)
}

// Service manages accounts and sessions.
type Service struct {
	store Store
	log   *slog.Logger
	opts  Options

	throttle *throttle
	gate     *hashGate
	// verify and hash are VerifyPassword and HashPassword; tests wrap them
	// to count what runs.
	verify func(hash, password string) bool
	hash   func(password string) (string, error)

	mu      sync.Mutex
	touched map[string]time.Time // session hash → last LastSeen written
	ended   []func(hashes [][]byte, accountID string)
}

// New builds the service; it does no I/O.
func New(st Store, log *slog.Logger, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.HashMemory <= 0 {
		opts.HashMemory = DefaultHashMemory
	}
	if opts.HashWait <= 0 {
		opts.HashWait = DefaultHashWait
	}
	return &Service{
		store: st, log: log, opts: opts,
		throttle: newThrottle(),
		gate:     newHashGate(opts.HashMemory, opts.HashWait),
		verify:   VerifyPassword,
		hash:     HashPassword,
		touched:  map[string]time.Time{},
	}
}

// HashSlots is how many password hashes this service runs at once.
func (s *Service) HashSlots() int { return cap(s.gate.slots) }

// checkPassword verifies p against hash in a hash slot.
func (s *Service) checkPassword(ctx context.Context, hash, p string) (bool, error) {
	var ok bool
	err := s.gate.run(ctx, func() { ok = s.verify(hash, p) })
	return ok, err
}

// hashPassword hashes a new password in a hash slot.
func (s *Service) hashPassword(ctx context.Context, p string) (string, error) {
	if err := CheckPassword(p); err != nil {
		return "", err
	}
	var h string
	var herr error
	if err := s.gate.run(ctx, func() { h, herr = s.hash(p) }); err != nil {
		return "", fmt.Errorf("auth: hash password: %w", err)
	}
	return h, herr
}

// OnSessionsEnded registers fn to learn of ended sessions (to close their
// sockets): the hashes of the sessions, and the account when all of an
// account's sessions ended.
func (s *Service) OnSessionsEnded(fn func(hashes [][]byte, accountID string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended = append(s.ended, fn)
}

func (s *Service) notifyEnded(hashes [][]byte, accountID string) {
	s.runEnded(hashes, accountID)
	if s.opts.Peers != nil && (len(hashes) > 0 || accountID != "") {
		s.opts.Peers.Publish(kindEnded, endedMsg{Hashes: hashes, Account: accountID})
	}
}

func (s *Service) runEnded(hashes [][]byte, accountID string) {
	s.mu.Lock()
	fns := append([]func([][]byte, string){}, s.ended...)
	for _, h := range hashes {
		delete(s.touched, string(h))
	}
	s.mu.Unlock()
	for _, fn := range fns {
		fn(hashes, accountID)
	}
}

// Bootstrap creates the first admin when there is no account at all: with
// password when given, else a random one, which it returns so it can be
// printed once. It returns "" when accounts already exist.
func (s *Service) Bootstrap(ctx context.Context, password string) (string, error) {
	accounts, err := s.store.Accounts()
	if err != nil {
		return "", err
	}
	if len(accounts) > 0 {
		return "", nil
	}
	generated := password == ""
	if generated {
		password = RandomPassword()
	}
	_, err = s.CreateAccount(ctx, NewAccount{Username: "admin", Name: "Admin", Role: store.RoleAdmin, Password: password, Capacity: 5})
	if errors.Is(err, store.ErrExists) {
		// Another node of a new cluster made it first (and printed its
		// password if it chose one).
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("auth: first admin: %w", err)
	}
	if generated {
		return password, nil
	}
	return "", nil
}

// NewAccount is what an admin fills in to add a person.
type NewAccount struct {
	Username string `json:"username"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	Password string `json:"password"`
	Skills   string `json:"skills"`
	Capacity int    `json:"capacity"`
}

// CheckAccountFields validates the fields an admin can set.
func CheckAccountFields(username, name, role, skills string, capacity int) error {
	switch {
	case !validUsername(username):
		return errors.New("username must be 2 to 64 letters, digits, dots, dashes, underscores or @")
	case strings.TrimSpace(name) == "" || utf8.RuneCountInString(name) > 80:
		return errors.New("name must be 1 to 80 characters")
	case role != store.RoleAdmin && role != store.RoleAgent:
		return errors.New("role must be admin or agent")
	case utf8.RuneCountInString(skills) > 1000:
		return errors.New("skills must be at most 1000 characters")
	case capacity < 0 || capacity > 100:
		return errors.New("capacity must be between 0 and 100 chats")
	}
	return nil
}

func validUsername(u string) bool {
	if len(u) < 2 || len(u) > 64 {
		return false
	}
	for _, r := range u {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-@", r)) {
			return false
		}
	}
	return true
}

// CreateAccount validates and stores a new account.
func (s *Service) CreateAccount(ctx context.Context, n NewAccount) (store.Account, error) {
	if err := CheckAccountFields(n.Username, n.Name, n.Role, n.Skills, n.Capacity); err != nil {
		return store.Account{}, err
	}
	hash, err := s.hashPassword(ctx, n.Password)
	if err != nil {
		return store.Account{}, err
	}
	a := store.Account{ID: store.NewID(), Username: n.Username, Name: strings.TrimSpace(n.Name), Role: n.Role,
		PasswordHash: hash, Skills: n.Skills, Capacity: n.Capacity, CreatedAt: s.opts.Now()}
	if err := s.store.CreateAccount(ctx, a); err != nil {
		return store.Account{}, err
	}
	return a, nil
}

// Login checks a username and password from addr and starts a session. It
// returns the session id (for the cookie), the session and the account.
// The attempt is counted by the throttle before the password is hashed, and
// the hash waits for a slot: a refused attempt costs no hash at all.
func (s *Service) Login(ctx context.Context, username, password, addr string) (string, store.Session, store.Account, error) {
	res, wait := s.throttle.reserve(username, addr, s.opts.Now())
	if res == nil {
		return "", store.Session{}, store.Account{}, &ThrottledError{Wait: wait}
	}
	a, err := s.store.AccountByUsername(username)
	hash := a.PasswordHash
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			res.cancel()
			return "", store.Session{}, store.Account{}, err
		}
		hash = dummyHash // same work as for a real account
	}
	ok, cerr := s.checkPassword(ctx, hash, password)
	if cerr != nil {
		res.cancel()
		return "", store.Session{}, store.Account{}, cerr
	}
	if !ok || err != nil || a.Disabled {
		return "", store.Session{}, store.Account{}, ErrBadLogin
	}
	res.succeeded()
	id, sess, err := s.startSession(ctx, a.ID)
	return id, sess, a, err
}

// startSession creates a fresh session (a new id at every login: no
// fixation) and returns its id.
func (s *Service) startSession(ctx context.Context, accountID string) (string, store.Session, error) {
	id := randomToken()
	now := s.opts.Now()
	sess := store.Session{AccountID: accountID, CSRF: randomToken(), CreatedAt: now, LastSeen: now}
	if err := s.store.PutSession(ctx, HashSession(id), sess); err != nil {
		return "", store.Session{}, fmt.Errorf("auth: start session: %w", err)
	}
	return id, sess, nil
}

// touchEvery limits how often a session's last use is written: a write per
// request would cost an fsync per click.
const touchEvery = time.Minute

// Check returns the live session and account of a session id, refreshing
// its idle timer.
func (s *Service) Check(ctx context.Context, id string) (store.Session, store.Account, error) {
	if id == "" {
		return store.Session{}, store.Account{}, ErrNoSession
	}
	h := HashSession(id)
	sess, err := s.store.Session(h)
	if errors.Is(err, store.ErrNotFound) {
		return store.Session{}, store.Account{}, ErrNoSession
	}
	if err != nil {
		return store.Session{}, store.Account{}, err
	}
	now := s.opts.Now()
	if s.expired(sess, now) {
		s.end(ctx, h)
		return store.Session{}, store.Account{}, ErrNoSession
	}
	a, err := s.store.Account(sess.AccountID)
	if err != nil || a.Disabled {
		return store.Session{}, store.Account{}, ErrNoSession
	}
	s.mu.Lock()
	stale := now.Sub(s.touched[string(h)]) > touchEvery && now.Sub(sess.LastSeen) > touchEvery
	if stale {
		s.touched[string(h)] = now
	}
	s.mu.Unlock()
	if stale {
		sess.LastSeen = now
		if err := s.store.PutSession(ctx, h, sess); err != nil {
			s.log.Warn("auth: refresh session", "err", err)
		}
	}
	return sess, a, nil
}

func (s *Service) expired(sess store.Session, now time.Time) bool {
	return now.Sub(sess.LastSeen) > s.opts.IdleTimeout || now.Sub(sess.CreatedAt) > s.opts.AbsoluteTimeout
}

func (s *Service) end(ctx context.Context, h []byte) {
	gone, err := s.store.DeleteSessions(ctx, h, "", nil)
	if err != nil {
		s.log.Error("auth: end session", "err", err)
		return
	}
	s.notifyEnded(gone, "")
}

// Logout ends the session with this id.
func (s *Service) Logout(ctx context.Context, id string) {
	s.end(ctx, HashSession(id))
}

// ChangePassword sets a new password after checking the old one, and ends
// every other session of the account. A wrong old password from addr
// counts as a failed sign-in to the account.
func (s *Service) ChangePassword(ctx context.Context, sessionID, accountID, old, next, addr string) error {
	a, err := s.store.Account(accountID)
	if err != nil {
		return err
	}
	if err := CheckPassword(next); err != nil {
		return err // before the throttle: a weak new password is no guess
	}
	res, wait := s.throttle.reserve(a.Username, addr, s.opts.Now())
	if res == nil {
		return &ThrottledError{Wait: wait}
	}
	ok, err := s.checkPassword(ctx, a.PasswordHash, old)
	if err != nil {
		res.cancel()
		return err
	}
	if !ok {
		return ErrBadLogin
	}
	res.succeeded()
	return s.SetPassword(ctx, accountID, next, HashSession(sessionID))
}

// SetPassword replaces an account's password (an admin resetting it) and
// ends its sessions except keep.
func (s *Service) SetPassword(ctx context.Context, accountID, password string, keep []byte) error {
	hash, err := s.hashPassword(ctx, password)
	if err != nil {
		return err
	}
	if _, err := s.store.UpdateAccount(ctx, accountID, func(a *store.Account) error { a.PasswordHash = hash; return nil }); err != nil {
		return err
	}
	return s.EndAccountSessions(ctx, accountID, keep)
}

// EndAccountSessions ends every session of an account except keep (after a
// password change, when disabling someone).
func (s *Service) EndAccountSessions(ctx context.Context, accountID string, keep []byte) error {
	gone, err := s.store.DeleteSessions(ctx, nil, accountID, keep)
	if err != nil {
		return err
	}
	s.notifyEnded(gone, accountID)
	return nil
}

// Purge deletes expired sessions; the relay calls it now and then.
func (s *Service) Purge(ctx context.Context) {
	now := s.opts.Now()
	if n, err := s.store.PurgeSessions(ctx, func(sess store.Session) bool { return s.expired(sess, now) }); err != nil {
		s.log.Warn("auth: purge sessions", "err", err)
	} else if n > 0 {
		s.log.Debug("auth: purged expired sessions", "count", n)
	}
}

// HashSession is how a session id is stored: never the id itself.
func HashSession(id string) []byte {
	h := sha256.Sum256([]byte(id))
	return h[:]
}

func randomToken() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
