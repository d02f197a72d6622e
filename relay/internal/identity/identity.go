// Package identity holds the signed-identity settings (issue 15): the
// secret a shop's server signs its users' ids with (user_hash =
// hex(HMAC-SHA256(secret, user_id))) and whether unsigned identities are
// refused. An admin sets them on the admin page, the secret write-only and
// sealed with the installation's secret key like the AI key; the
// --identity-secret and --require-signed-identity flags override what the
// page set.
package identity

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/kefuhq/kefu/relay/internal/store"
)

// SettingName is the store's name for the settings.
const SettingName = "identity"

// MinSecret is the shortest secret accepted, as for --identity-secret.
const MinSecret = 32

// sealedName binds the sealed secret to its field.
const sealedName = "identity.secret"

// Sealer seals the secret for the store and opens it again (*secret.Key).
type Sealer interface {
	Seal(name string, plain []byte) (string, error)
	Open(name, sealed string) ([]byte, error)
}

// ErrUnreadable means the stored secret cannot be opened with the secret
// key (another key, or none on the edge).
var ErrUnreadable = errors.New("the stored identity secret cannot be opened with the secret key")

// ErrFromFlag means the admin page cannot change what a flag sets.
var ErrFromFlag = errors.New("set by the relay's configuration")

// stored is the settings document.
type stored struct {
	SecretSealed string `json:"secret_sealed,omitempty"`
	Require      bool   `json:"require"`
}

// Options are the flags' values and how to seal.
type Options struct {
	// FlagSecret (--identity-secret) overrides the stored secret.
	FlagSecret string
	// FlagRequire (--require-signed-identity) turns refusal on whatever
	// the page says.
	FlagRequire bool
	// Sealer seals the stored secret; nil can read and store none (the
	// edge without KEFU_SECRET_KEY: only the flag works there).
	Sealer Sealer
	// Forget drops a stored secret the Sealer cannot open instead of
	// failing (--forget-secrets).
	Forget bool
	// FlagsOnly serves without a stored secret it cannot open, with a
	// warning, rather than failing (the edge without KEFU_SECRET_KEY, which
	// never writes settings: the flags still work).
	FlagsOnly bool
	Log       *slog.Logger
}

// Service is the current settings.
type Service struct {
	st   store.Settings
	opts Options

	mu      sync.RWMutex
	secret  string // the stored one, opened
	require bool   // the stored switch
}

// New loads the stored settings.
func New(ctx context.Context, st store.Settings, o Options) (*Service, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	s := &Service{st: st, opts: o}
	err := s.Reload()
	if errors.Is(err, ErrUnreadable) && o.FlagsOnly {
		o.Log.Warn("identity: the stored identity secret cannot be opened here; only KEFU_IDENTITY_SECRET verifies", "err", err)
		return s, nil
	}
	if errors.Is(err, ErrUnreadable) && o.Forget {
		s.mu.Lock()
		require := s.require
		s.mu.Unlock()
		if perr := s.put(ctx, "", require && o.FlagSecret != ""); perr != nil {
			return nil, fmt.Errorf("identity: forget the stored secret: %w", perr)
		}
		o.Log.Warn("identity: forgot the stored identity secret, which this secret key cannot open; generate a new one on the admin page (Widget tab) and give it to your server", "err", err)
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Reload rereads the stored settings (another node of a cluster saved
// them; every node has the same secret key).
func (s *Service) Reload() error {
	var d stored
	if _, err := s.st.Setting(SettingName, &d); err != nil {
		return fmt.Errorf("identity: load settings: %w", err)
	}
	secret := ""
	var openErr error
	if d.SecretSealed != "" {
		if s.opts.Sealer == nil {
			openErr = fmt.Errorf("identity: %w: no secret key configured to open it with", ErrUnreadable)
		} else if plain, err := s.opts.Sealer.Open(sealedName, d.SecretSealed); err != nil {
			openErr = fmt.Errorf("identity: %w: %w", ErrUnreadable, err)
		} else {
			secret = string(plain)
		}
	}
	s.mu.Lock()
	s.secret, s.require = secret, d.Require
	s.mu.Unlock()
	return openErr
}

// Get is what verifies identities now: the flag's secret, else the stored
// one ("" verifies nothing), and whether unsigned identities are refused
// (the flag, or the page's switch while a secret is set).
func (s *Service) Get() (secret string, require bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	secret = s.opts.FlagSecret
	if secret == "" {
		secret = s.secret
	}
	return secret, s.opts.FlagRequire || (s.require && secret != "")
}

// View is what the admin page shows: never the secret.
type View struct {
	SecretSet bool `json:"secret_set"`
	// SecretSource is "flag" (--identity-secret, which the page cannot
	// change), "admin" or "" (none).
	SecretSource string `json:"secret_source"`
	Require      bool   `json:"require"`
	// RequireFromFlag: --require-signed-identity is on, the page cannot
	// turn it off.
	RequireFromFlag bool `json:"require_from_flag"`
}

// View returns the settings as the admin page shows them.
func (s *Service) View() View {
	secret, require := s.Get()
	v := View{SecretSet: secret != "", Require: require, RequireFromFlag: s.opts.FlagRequire}
	switch {
	case s.opts.FlagSecret != "":
		v.SecretSource = "flag"
	case secret != "":
		v.SecretSource = "admin"
	}
	return v
}

// SetRequire turns refusal of unsigned identities on or off; on needs a
// secret.
func (s *Service) SetRequire(ctx context.Context, on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !on && s.opts.FlagRequire {
		return fmt.Errorf("identity: --require-signed-identity is on: %w", ErrFromFlag)
	}
	if on && s.opts.FlagSecret == "" && s.secret == "" {
		return errors.New("set a secret first: without one no identity can be verified")
	}
	return s.putLocked(ctx, s.secret, on)
}

// SetSecret stores a new secret; "" generates one (64 hex digits). It
// returns the secret, for the admin to give the shop's server: it is never
// shown again.
func (s *Service) SetSecret(ctx context.Context, secret string) (string, error) {
	if s.opts.FlagSecret != "" {
		return "", fmt.Errorf("identity: --identity-secret is given: %w", ErrFromFlag)
	}
	if secret == "" {
		var b [32]byte
		rand.Read(b[:])
		secret = hex.EncodeToString(b[:])
	}
	if len(secret) < MinSecret {
		return "", fmt.Errorf("the secret needs at least %d characters (openssl rand -hex 32)", MinSecret)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.putLocked(ctx, secret, s.require); err != nil {
		return "", err
	}
	return secret, nil
}

// RemoveSecret deletes the stored secret; refused while refusal is on and
// no flag gives a secret (every identity would be refused).
func (s *Service) RemoveSecret(ctx context.Context) error {
	if s.opts.FlagSecret != "" {
		return fmt.Errorf("identity: --identity-secret is given: %w", ErrFromFlag)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.require || s.opts.FlagRequire {
		return errors.New("turn off \"require signed identity\" first: without a secret every identity would be refused")
	}
	return s.putLocked(ctx, "", false)
}

func (s *Service) put(ctx context.Context, secret string, require bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.putLocked(ctx, secret, require)
}

func (s *Service) putLocked(ctx context.Context, secret string, require bool) error {
	d := stored{Require: require}
	if secret != "" {
		if s.opts.Sealer == nil {
			return &storeError{errors.New("identity: no secret key to seal the secret with")}
		}
		sealed, err := s.opts.Sealer.Seal(sealedName, []byte(secret))
		if err != nil {
			return &storeError{fmt.Errorf("identity: seal: %w", err)}
		}
		d.SecretSealed = sealed
	}
	if err := s.st.PutSetting(ctx, SettingName, d); err != nil {
		return &storeError{fmt.Errorf("identity: store settings: %w", err)}
	}
	s.secret, s.require = secret, require
	return nil
}
