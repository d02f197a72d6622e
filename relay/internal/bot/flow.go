// Package bot answers visitors until a person takes over: FAQ intents
// (answered in the browser or, as a fallback, on the relay), streamed AI
// answers, and the hand-off to the human queue when neither can help.
package bot

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/kefuhq/kefu/relay/internal/ai"
	"github.com/kefuhq/kefu/relay/internal/chat"
	"github.com/kefuhq/kefu/relay/internal/hub"
	"github.com/kefuhq/kefu/relay/internal/intents"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/visitor"
	"github.com/kefuhq/kefu/relay/protocol"
	"github.com/kefuhq/kefu/router"
)

// Authors of the bot's messages as visitors see them.
const (
	AuthorFAQ = "FAQ"
	AuthorAI  = "AI"
)

// Store is what the flow needs from the store: the conversation, its
// messages and settings (the AI's budget).
type Store interface {
	store.Settings
	Append(ctx context.Context, convID string, msgs ...store.NewMessage) (store.Appended, error)
	Conversation(id string) (store.Conversation, error)
	Visitor(id string) (store.Visitor, error)
	Messages(convID string, after uint64, limit int) ([]store.Message, error)
	UpdateConversation(ctx context.Context, id string, fn func(*store.Conversation) error) (store.Conversation, error)
}

// Metrics counts instant answers and hand-offs (the relay's Prometheus
// metrics; nothing on the edge).
type Metrics interface {
	InstantAnswer()
	// Handoff: reason (asked, model, ai_off, …), to queue or nobody.
	Handoff(reason, to string)
}

// Flow decides what answers each visitor message.
type Flow struct {
	store    Store
	hub      *hub.Hub
	intents  *intents.Service
	ai       *ai.Client
	settings *AISettings
	budget   *ai.Budget
	saver    *budgetSaver // stores budget's usage; nil without a budget
	log      *slog.Logger
	metrics  Metrics
	opts     Options

	// OnQueued runs after a conversation joined the human queue, with the
	// question that sent it there and the skill it needs (routing).
	OnQueued func(ctx context.Context, conv store.Conversation, question, skill string)
	// Available reports the team's availability now (agents online,
	// business hours, the away switch), for what a visitor is told on a
	// hand-off (Notice); set beside OnQueued by the router. Nil counts as
	// someone online.
	Available func() Availability

	ctx       context.Context // ends at Close: every AI answer stops
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	mu        sync.Mutex
	active    map[string]*stream      // conversation id → the answer streaming now
	remote    map[string]remoteStream // conversation id → another node streaming there
	spentSaid int64                   // this node's spend last told to the others
}

// Options tune the flow.
type Options struct {
	// HistoryMessages is how many recent messages the AI sees (before its
	// own token budget trims them further). Default 40.
	HistoryMessages int
	// AbandonAfter cancels an answer nobody is connected to receive for
	// this long (a reload takes less). Default 10s.
	AbandonAfter time.Duration
	// NoPeople says nobody can take a conversation over (the edge build
	// has no agents): a hand-off then keeps the conversation with the bot
	// and tells the visitor so, instead of queueing them for nobody.
	NoPeople bool
	// PollGrace is how long a client that sent or polled over plain HTTP
	// counts as listening after its last request (a socket or an SSE
	// stream counts while it is open). Default 60s: longer than a polling
	// interval, and than most answers.
	PollGrace time.Duration
	// StillWorkingAfter is the silence in the middle of an answer after
	// which the visitor is shown that the assistant is still working.
	// Default 4s.
	StillWorkingAfter time.Duration
	// Knowledge finds the knowledge-base passages that ground an answer;
	// nil for none.
	Knowledge Knowledge
	// Peers are the flows on a cluster's other nodes (cluster.go); nil on
	// one node.
	Peers Peers
}

// Knowledge finds the passages of the business's articles that best match
// a question, best first (GroundArticle entries with their URL).
type Knowledge interface {
	Passages(question string, k int) []ai.Grounding
}

// New builds the flow. budget may be nil (no daily limit).
func New(st Store, h *hub.Hub, in *intents.Service, client *ai.Client, settings *AISettings, budget *ai.Budget, log *slog.Logger, m Metrics, opts Options) *Flow {
	if opts.HistoryMessages <= 0 {
		opts.HistoryMessages = 40
	}
	if opts.AbandonAfter <= 0 {
		opts.AbandonAfter = 10 * time.Second
	}
	if opts.PollGrace <= 0 {
		opts.PollGrace = 60 * time.Second
	}
	if opts.StillWorkingAfter <= 0 {
		opts.StillWorkingAfter = 4 * time.Second
	}
	f := &Flow{store: st, hub: h, intents: in, ai: client, settings: settings, budget: budget,
		log: log, metrics: m, opts: opts, active: map[string]*stream{}, remote: map[string]remoteStream{}}
	if budget != nil {
		f.saver = &budgetSaver{st: st, budget: budget, every: BudgetSaveEvery, log: log}
	}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	return f
}

// Close stops every answer in progress (what was said is stored marked
// incomplete) and waits for them, then stores the token budget's usage.
// Call it before closing the store.
func (f *Flow) Close() {
	f.cancel()
	f.wg.Wait()
	if f.saver != nil {
		f.saver.close()
	}
}

// Drain lets the answers in progress finish and be stored, then returns;
// if ctx ends first it stops them as Close does. The edge build calls it
// once its one request is answered, since the program ends after.
func (f *Flow) Drain(ctx context.Context) {
	done := make(chan struct{})
	go func() { f.wg.Wait(); close(done) }()
	select {
	case <-done:
		if f.saver != nil {
			f.saver.flush() // the program may end before BudgetSaveEvery
		}
	case <-ctx.Done():
		f.Close()
	}
}

// OnVisitorMessage is the visitor hook: it runs after a new visitor message
// was stored and acknowledged.
func (f *Flow) OnVisitorMessage(ctx context.Context, s *visitor.Session, a store.Appended) {
	q := a.Messages[0]
	if len(a.Messages) > 1 {
		// The browser answered from an FAQ intent; both are stored.
		f.metrics.InstantAnswer()
		return
	}
	if a.Conversation.Handler != store.HandlerBot {
		return // a person answers (or will)
	}
	res := f.intents.Classify(q.Text)
	switch {
	// Asking for a person wins over an FAQ the question also touches.
	case res.Matched && res.Action == router.ActionHandoff, WantsPerson(q.Text):
		f.Handoff(ctx, a.Conversation.ID, reasonAsked, q.Text, res.Skill)
	case res.Matched && (res.Action == router.ActionAnswer || res.Action == "") && res.Answer != "":
		lang := s.Lang
		switch {
		case lang != "":
		case s.LangStored:
			lang = chat.LangOf(q.Text) // the visitor has none: the store says no more
		default:
			lang = f.visitorLang(s.VisitorID, q.Text)
		}
		f.answerFromIntent(ctx, q, res, lang)
	default:
		f.StartAI(a.Conversation.ID, s.VisitorID, s.Fingerprint, nil)
	}
}

// answerFromIntent stores the intent's answer in the visitor's language
// lang: the browser could not classify (no wasm, or a CSP that blocks
// it), so the relay did.
func (f *Flow) answerFromIntent(ctx context.Context, q store.Message, res router.Result, lang string) {
	text := res.Answer
	if t, ok := f.intents.Answer(res.Intent, lang); ok {
		text = t
	}
	_, err := f.store.Append(ctx, q.ConversationID, store.NewMessage{
		ClientID: q.ClientID + "#answer", From: protocol.FromBot, Author: AuthorFAQ,
		Text: text, Intent: res.Intent, Via: "relay",
	})
	if err != nil {
		f.log.Error("bot: store intent answer", "conversation", q.ConversationID, "err", err)
		return
	}
	f.metrics.InstantAnswer()
}

// Handoff moves a conversation from the bot to the human queue and tells
// the visitor so in plain words (Notice: why, and what happens next given
// who is available). A conversation already queued or with an agent is
// left alone. Where nobody can take over (Options.NoPeople) the bot keeps
// the conversation and says so.
func (f *Flow) Handoff(ctx context.Context, convID string, r reason, question, skill string) {
	av := f.availability()
	text := Notice(r, f.lang(convID, question), av)
	if av.NoPeople {
		if _, err := f.store.Append(ctx, convID, store.NewMessage{From: protocol.FromSystem, Text: text}); err != nil {
			f.log.Error("bot: store no-people message", "conversation", convID, "err", err)
			return
		}
		f.metrics.Handoff(r.String(), "nobody")
		f.log.Info("bot: hand-off asked, but nobody takes chats here", "conversation", convID, "reason", r.String())
		return
	}
	conv, err := f.store.UpdateConversation(ctx, convID, store.HandOff)
	if errors.Is(err, store.ErrNotBot) || errors.Is(err, store.ErrNotOpen) {
		return
	}
	if err != nil {
		f.log.Error("bot: hand off", "conversation", convID, "err", err)
		return
	}
	via := ""
	if av.AskContact() {
		via = ViaContact
	}
	if _, err := f.store.Append(ctx, convID, store.NewMessage{From: protocol.FromSystem, Text: text, Via: via}); err != nil {
		f.log.Error("bot: store hand-off message", "conversation", convID, "err", err)
	}
	f.hub.Publish(chat.Topic(convID), chat.ConversationFrame(conv, ""))
	f.metrics.Handoff(r.String(), "queue")
	f.log.Info("bot: handed off", "conversation", convID, "reason", r.String(), "online", av.Online)
	if f.OnQueued != nil {
		f.OnQueued(ctx, conv, question, skill)
	}
}

// availability is the team's, as Notice needs it.
func (f *Flow) availability() Availability {
	if f.opts.NoPeople {
		return Availability{NoPeople: true}
	}
	if f.Available == nil {
		return Availability{Online: 1}
	}
	return f.Available()
}
