package ai

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Request is everything one answer depends on. The conversation flow
// builds it for a visitor message no intent answered and no person owns.
type Request struct {
	Settings Settings
	// Grounding is the business's best-matching intents, best first.
	Grounding []Grounding
	// GroundingVersion changes whenever the intents change (cache key).
	GroundingVersion string
	// History is this conversation only, oldest first; the last turn is
	// the visitor's new message.
	History []Turn
	// Visitor identifies the visitor for the per-visitor limit.
	Visitor string
	// Scope is the session fingerprint: the cache scope of an answer that
	// depends on earlier turns. Empty disables caching for such answers.
	Scope string
}

// Answer is the whole flow for one visitor message: check the AI is on,
// build the prompt (BuildMessages), serve a cached answer if there is one,
// reserve the daily budget, take an upstream slot, stream through the
// output filter to onDelta, commit the real usage and cache a complete
// answer. Limiter, Budget and Cache are those of Options; nil ones are
// skipped.
//
// A nil error means Result is complete: store Result.Text as the bot's
// message. Any error means hand the conversation to a person; when it
// matches ErrIncomplete, Result.Text was already shown and should be
// stored marked incomplete.
func (c *Client) Answer(ctx context.Context, r Request, onDelta DeltaFunc) (Result, error) {
	res, err := c.answer(ctx, r, onDelta)
	c.metrics.Answer(outcome(res, err))
	return res, err
}

func (c *Client) answer(ctx context.Context, r Request, onDelta DeltaFunc) (Result, error) {
	const op = "ai: answer"
	if !r.Settings.Enabled {
		return Result{}, fmt.Errorf("%s: %w", op, ErrDisabled)
	}
	msgs := BuildMessages(r.Settings, r.Grounding, r.History)

	// A cached answer is free, so it is served before the budget and the
	// limiter are consulted.
	key, cacheable := cacheKeyFor(r)
	cacheable = cacheable && c.opts.Cache != nil
	if cacheable {
		if text, ok := c.opts.Cache.Get(key); ok {
			res := Result{Text: text, Complete: true, FinishReason: "stop", Cached: true}
			if onDelta != nil {
				if err := onDelta(text); err != nil {
					return Result{}, fmt.Errorf("%s: deliver: %w", op, err)
				}
			}
			return res, nil
		}
	}

	var reservation *Reservation
	if c.opts.Budget != nil {
		var err error
		reservation, err = c.opts.Budget.Reserve(EstimateMessages(msgs) + r.Settings.MaxAnswerTokens)
		if err != nil {
			return Result{}, fmt.Errorf("%s: %w", op, err)
		}
		defer reservation.Commit(0) // no-op once committed below
	}

	if c.opts.Limiter != nil {
		wctx, cancel := context.WithTimeout(ctx, c.opts.AcquireWait)
		release, err := c.opts.Limiter.Acquire(wctx, r.Visitor)
		cancel()
		if err != nil {
			return Result{}, fmt.Errorf("%s: %w", op, err)
		}
		defer release()
	}

	res, err := c.Stream(ctx, r.Settings, msgs, onDelta)
	if reservation != nil {
		reservation.Commit(res.Usage.Total())
	}
	c.metrics.Tokens(res.Usage.PromptTokens, res.Usage.CompletionTokens)
	c.metrics.Redactions(res.Redactions)
	if err == nil && cacheable && res.FinishReason == "stop" {
		c.opts.Cache.Put(key, res.Text)
	}
	return res, err // Stream's errors already name their operation
}

// cacheKeyFor decides whether an answer may be cached and under which key:
// a question with no earlier turns is context-free and shared (empty
// scope); one with earlier turns is cached only in its own session's scope.
func cacheKeyFor(r Request) (CacheKey, bool) {
	var turns []Turn
	for _, t := range r.History {
		if strings.TrimSpace(t.Text) != "" {
			turns = append(turns, t)
		}
	}
	if len(turns) == 0 || turns[len(turns)-1].Role != RoleVisitor {
		return CacheKey{}, false
	}
	question := turns[len(turns)-1].Text
	scope := ""
	if len(turns) > 1 {
		if r.Scope == "" {
			return CacheKey{}, false
		}
		scope = r.Scope
	}
	k := NewCacheKey(r.Settings, r.GroundingVersion, question, scope)
	if k.Question == "" {
		return CacheKey{}, false
	}
	return k, true
}

// outcome labels an answer for kefu_ai_answers_total.
func outcome(res Result, err error) string {
	switch {
	case err == nil && res.Cached:
		return outcomeCached
	case err == nil:
		return outcomeComplete
	case errors.Is(err, ErrHandoff):
		return outcomeHandoff
	case errors.Is(err, ErrDisabled):
		return outcomeDisabled
	case errors.Is(err, ErrBudget):
		return outcomeBudget
	case errors.Is(err, ErrBusy):
		return outcomeBusy
	case errors.Is(err, ErrTimeout):
		return outcomeTimeout
	case errors.Is(err, ErrIncomplete):
		return outcomeIncomplete
	case errors.Is(err, ErrUpstream):
		return outcomeUpstream
	default:
		return outcomeCanceled
	}
}
