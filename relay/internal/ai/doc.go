// Package ai answers visitors with a model behind any OpenAI-compatible
// chat-completions API, streamed, bounded and filtered. It knows nothing of
// the hub or the store: the conversation flow calls Client.Answer (or the
// parts: BuildMessages, Limiter, Budget, Cache, Client.Stream, Filter) and
// turns any error into a hand-off to a person. See docs/ai.md.
//
// Time: deadlines run on real timers (tests shrink them to milliseconds);
// the budget's day and the cache's TTL use an injected clock.
package ai
