package bot

import (
	"context"
	"fmt"
	"sync"

	"github.com/kefuhq/kefu/relay/internal/ai"
	"github.com/kefuhq/kefu/relay/internal/store"
)

// Store names of the AI's persisted state.
const (
	settingAI     = "ai"        // ai.Settings in its stored form (key included)
	settingBudget = "ai.budget" // today's token use
)

// AISettings holds the AI configuration: the environment's defaults until
// an admin saves settings, then the stored ones.
type AISettings struct {
	store store.Settings
	mu    sync.RWMutex
	cur   ai.Settings
}

// LoadAISettings reads the stored settings, or takes defaults (built from
// OPENAI_API_KEY / OPENAI_BASE_URL) when none were saved.
func LoadAISettings(st store.Settings, defaults ai.Settings) (*AISettings, error) {
	a := &AISettings{store: st, cur: defaults}
	raw, err := st.SettingBytes(settingAI)
	if err != nil {
		return nil, fmt.Errorf("bot: load ai settings: %w", err)
	}
	if raw != nil {
		s, err := ai.UnmarshalStored(raw)
		if err != nil {
			return nil, fmt.Errorf("bot: load ai settings: %w", err)
		}
		a.cur = s
	}
	return a, nil
}

// Get returns the current settings.
func (a *AISettings) Get() ai.Settings {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.cur
}

// Update applies an admin's patch, validates it and stores the result.
func (a *AISettings) Update(ctx context.Context, p ai.SettingsPatch) (ai.Settings, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	next, err := a.cur.Apply(p)
	if err != nil {
		return ai.Settings{}, err
	}
	raw, err := next.MarshalStored()
	if err != nil {
		return ai.Settings{}, fmt.Errorf("bot: encode ai settings: %w", err)
	}
	if err := a.store.PutSettingBytes(ctx, settingAI, raw); err != nil {
		return ai.Settings{}, fmt.Errorf("bot: store ai settings: %w", err)
	}
	a.cur = next
	return next, nil
}

// LoadBudget restores today's token use into b.
func LoadBudget(st store.Settings, b *ai.Budget) error {
	var snap ai.BudgetSnapshot
	if _, err := st.Setting(settingBudget, &snap); err != nil {
		return fmt.Errorf("bot: load budget: %w", err)
	}
	b.Restore(snap)
	return nil
}
