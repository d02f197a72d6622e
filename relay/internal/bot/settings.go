package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/kefuhq/kefu/relay/internal/ai"
	"github.com/kefuhq/kefu/relay/internal/store"
)

// Store names of the AI's persisted state.
const (
	SettingAI     = "ai"        // ai.Settings in its stored form (key sealed)
	SettingBudget = "ai.budget" // today's token use
)

// AISettings holds the AI configuration: the environment's defaults until
// an admin saves settings, then the stored ones.
type AISettings struct {
	store  store.Settings
	sealer ai.Sealer
	mu     sync.RWMutex
	cur    ai.Settings
}

// SealOptions say how the stored API key is sealed.
type SealOptions struct {
	// Sealer seals the key before it is stored and opens it again
	// (*secret.Key); a nil *secret.Key on the edge without KEFU_SECRET_KEY.
	Sealer ai.Sealer
	// Forget drops a stored key the Sealer cannot open (a lost key file)
	// instead of failing: the settings are stored again without it, and
	// an admin enters the key again.
	Forget bool
	Log    *slog.Logger
}

// LoadAISettings reads the stored settings, or takes defaults (built from
// OPENAI_API_KEY / OPENAI_BASE_URL) when none were saved. A key stored in
// clear (before keys were sealed) is sealed and stored back.
func LoadAISettings(ctx context.Context, st store.Settings, defaults ai.Settings, o SealOptions) (*AISettings, error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &AISettings{store: st, sealer: o.Sealer, cur: defaults}
	raw, err := st.SettingBytes(SettingAI)
	if err != nil {
		return nil, fmt.Errorf("bot: load ai settings: %w", err)
	}
	if raw == nil {
		return a, nil
	}
	s, inClear, err := ai.UnmarshalStored(raw, o.Sealer)
	switch {
	case errors.Is(err, ai.ErrKeyUnreadable) && o.Forget:
		if err := a.put(ctx, s); err != nil {
			return nil, fmt.Errorf("bot: load ai settings: forget the key: %w", err)
		}
		log.Warn("bot: forgot the stored AI key, which this secret key cannot open; enter it again in the admin page", "err", err)
	case err != nil:
		return nil, fmt.Errorf("bot: load ai settings: %w", err)
	case inClear:
		if perr := a.put(ctx, s); perr != nil {
			// The edge without KEFU_SECRET_KEY cannot seal; the key still works.
			log.Warn("bot: the stored AI key is in clear and could not be sealed", "err", perr)
		} else {
			log.Info("bot: sealed the stored AI key, which was stored in clear")
		}
	}
	a.cur = s
	return a, nil
}

// put stores s, its key sealed.
func (a *AISettings) put(ctx context.Context, s ai.Settings) error {
	raw, err := s.MarshalStored(a.sealer)
	if err != nil {
		return fmt.Errorf("encode ai settings: %w", err)
	}
	if err := a.store.PutSettingBytes(ctx, SettingAI, raw); err != nil {
		return fmt.Errorf("store ai settings: %w", err)
	}
	return nil
}

// Get returns the current settings.
func (a *AISettings) Get() ai.Settings {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.cur
}

// Reload rereads the stored settings (another node of a cluster saved
// them; every node has the same secret key); with none stored, the
// current ones stay.
func (a *AISettings) Reload() error {
	raw, err := a.store.SettingBytes(SettingAI)
	if err != nil || raw == nil {
		return err
	}
	s, _, err := ai.UnmarshalStored(raw, a.sealer)
	if err != nil {
		return fmt.Errorf("bot: reload ai settings: %w", err)
	}
	a.mu.Lock()
	a.cur = s
	a.mu.Unlock()
	return nil
}

// Update applies an admin's patch, validates it and stores the result,
// its key sealed.
func (a *AISettings) Update(ctx context.Context, p ai.SettingsPatch) (ai.Settings, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	next, err := a.cur.Apply(p)
	if err != nil {
		return ai.Settings{}, err
	}
	if err := a.put(ctx, next); err != nil {
		return ai.Settings{}, fmt.Errorf("bot: %w", err)
	}
	a.cur = next
	return next, nil
}

// LoadBudget restores today's token use into b.
func LoadBudget(st store.Settings, b *ai.Budget) error {
	var snap ai.BudgetSnapshot
	if _, err := st.Setting(SettingBudget, &snap); err != nil {
		return fmt.Errorf("bot: load budget: %w", err)
	}
	b.Restore(snap)
	return nil
}
