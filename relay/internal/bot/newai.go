package bot

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/kefuhq/kefu/relay/internal/ai"
	"github.com/kefuhq/kefu/relay/internal/config"
	"github.com/kefuhq/kefu/relay/internal/store"
)

// AIParts are what NewAI builds beside the client.
type AIParts struct {
	Client   *ai.Client
	Settings *AISettings
	Budget   *ai.Budget // nil without a daily limit
}

// AIOptions are what differs between the relay and the edge build.
type AIOptions struct {
	// Transport is the base round tripper (the Workers fetch on the edge);
	// nil dials directly.
	Transport http.RoundTripper
	// Cache serves repeated context-free questions; nil for none (an edge
	// instance lives for one request, so a cache there would never hit).
	Cache  *ai.Cache
	Logger *slog.Logger
	// NewMetrics builds the client's metrics from the parts NewAI makes
	// (the relay's register their gauges in Prometheus); nil records
	// nothing, as on the edge.
	NewMetrics func(cache *ai.Cache, budget *ai.Budget, limiter *ai.Limiter) (ai.Metrics, error)
	// Secrets seals the stored API key (*secret.Key): the key file's on
	// the relay, KEFU_SECRET_KEY's on the edge (a nil *secret.Key there
	// without one).
	Secrets ai.Sealer
}

// NewAI builds the AI client from the configuration: settings stored by
// an admin (the key opened with o.Secrets; --forget-secrets drops one it
// cannot open), else OPENAI_API_KEY / OPENAI_BASE_URL; the daily budget
// with today's use restored; the concurrency limits and timeouts.
func NewAI(ctx context.Context, st store.Settings, cfg config.Config, o AIOptions) (AIParts, error) {
	defaults, err := ai.SettingsFromEnv(func(k string) string {
		switch k {
		case "OPENAI_API_KEY":
			return cfg.OpenAIAPIKey
		case "OPENAI_BASE_URL":
			return cfg.OpenAIBaseURL
		}
		return ""
	})
	if err != nil {
		return AIParts{}, err
	}
	var p AIParts
	if p.Settings, err = LoadAISettings(ctx, st, defaults, SealOptions{Sealer: o.Secrets, Forget: cfg.ForgetSecrets, Log: o.Logger}); err != nil {
		return AIParts{}, err
	}
	if cfg.AIDailyTokens > 0 {
		p.Budget = ai.NewBudget(int64(cfg.AIDailyTokens), time.UTC, time.Now)
		if err := LoadBudget(st, p.Budget); err != nil {
			return AIParts{}, err
		}
	}
	limiter := ai.NewLimiter(cfg.AIMaxConcurrent, 1)
	var m ai.Metrics
	if o.NewMetrics != nil {
		if m, err = o.NewMetrics(o.Cache, p.Budget, limiter); err != nil {
			return AIParts{}, fmt.Errorf("bot: %w", err)
		}
	}
	p.Client, err = ai.New(ai.Options{
		Logger:    o.Logger,
		Timeouts:  ai.Timeouts{FirstToken: cfg.AIFirstToken, ChunkGap: cfg.AIChunkGap, Answer: cfg.AIAnswerTimeout},
		Limiter:   limiter,
		Budget:    p.Budget,
		Cache:     o.Cache,
		Transport: o.Transport,
		Metrics:   m,
	})
	if err != nil {
		return AIParts{}, fmt.Errorf("bot: %w", err)
	}
	return p, nil
}
