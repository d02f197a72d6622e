// Package admin serves the admin page's JSON API under /v1/admin/: FAQ
// intents and the model, agents, AI and widget settings, conversations
// with their transcripts, and a small dashboard. Every endpoint needs a
// signed-in admin (auth.HTTP.Require checks the session, and the CSRF
// token and origin on state changes); GETs change nothing. GET
// /v1/admin/backup downloads a copy of the whole database. The agent
// console's canned replies, GET /v1/canned, need an agent.
//
// docs/admin.md is the contract: every endpoint with examples and error
// codes.
package admin

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/kefuhq/kefu/relay/internal/ai"
	"github.com/kefuhq/kefu/relay/internal/auth"
	"github.com/kefuhq/kefu/relay/internal/httpx"
	"github.com/kefuhq/kefu/relay/internal/origin"
	"github.com/kefuhq/kefu/relay/internal/site"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/protocol"
	"github.com/kefuhq/kefu/router"
)

// Intents is the FAQ intents service (intents.Service).
type Intents interface {
	List() []router.Intent
	Model() (model *router.Model, data []byte, hash string)
	Classify(text string) router.Result
	Put(ctx context.Context, oldName string, in router.Intent) error
	Delete(ctx context.Context, name string) error
	Replace(ctx context.Context, intents []router.Intent) error
}

// AISettings holds the AI configuration (bot.AISettings).
type AISettings interface {
	Get() ai.Settings
	Update(ctx context.Context, p ai.SettingsPatch) (ai.Settings, error)
}

// Streamer streams one answer from the upstream (ai.Client): for the AI
// test, a client whose egress policy refuses non-public addresses unless
// the operator allowed them.
type Streamer interface {
	Stream(ctx context.Context, s ai.Settings, msgs []ai.Message, onDelta ai.DeltaFunc) (ai.Result, error)
}

// Widget holds the widget settings and knows the sites refused lately
// (site.Site).
type Widget interface {
	Settings() site.Settings
	SetSettings(ctx context.Context, s site.Settings) error
	Refused() []origin.Refusal
	RelaySites() []string
}

// Router knows the agents' presence and load, and takes account changes
// (assign.Router).
type Router interface {
	Upsert(ctx context.Context, acct store.Account)
	Agents() []protocol.AgentInfo
}

// Store is what the admin API reads and changes in the store.
type Store interface {
	Account(id string) (store.Account, error)
	Accounts() ([]store.Account, error)
	UpdateAccount(ctx context.Context, id string, fn func(*store.Account) error) (store.Account, error)
	Conversation(id string) (store.Conversation, error)
	Conversations(keep func(*store.Conversation) bool) ([]store.Conversation, error)
	Messages(convID string, after uint64, limit int) ([]store.Message, error)
	Visitor(id string) (store.Visitor, error)
	DeleteAccount(ctx context.Context, id string) (bool, error)
	store.Settings // the "learn" setting (learn.go)
	Notes(convID string) ([]store.Note, error)
}

// Deps is what the admin API works with. All fields but Now, PublicURL
// and BehindProxy are required.
type Deps struct {
	Store   Store
	Auth    *auth.HTTP
	Intents Intents
	AI      AISettings
	Stream  Streamer
	Widget  Widget
	Router  Router
	Privacy Privacy
	// Knowledge is the knowledge base; nil leaves its routes out.
	Knowledge Knowledge
	// Webhooks manages the webhook URLs; nil leaves their routes out.
	Webhooks Webhooks
	Log      *slog.Logger
	// Now is the clock (dashboard days). Default time.Now.
	Now func() time.Time
	// PublicURL is the relay's address as customer sites reach it, for the
	// embed snippet (e.g. https://chat.example.com). Empty: taken from the
	// admin's own request.
	PublicURL string
	// BehindProxy trusts X-Forwarded-Proto for the snippet's scheme.
	BehindProxy bool
	// AITestTimeout bounds one "test the AI" answer. Default 30s.
	AITestTimeout time.Duration
	// Backup serves GET /v1/admin/backup, a copy of the database
	// (ops.BackupHandler); nil leaves the route out.
	Backup http.Handler
}

// DefaultAITestTimeout bounds the AI test: long enough for a slow model's
// first token (the answer itself is a sentence), short enough that a
// stuck upstream does not hold the admin's page.
const DefaultAITestTimeout = 30 * time.Second

// Admin serves the admin API.
type Admin struct {
	d Deps
	// intentsMu makes "does this name exist?" and the write that follows
	// one step, so two admins cannot create the same intent twice.
	intentsMu sync.Mutex
	// agentsMu serialises account edits (see updateAccount).
	agentsMu sync.Mutex
	// aiTest lets one AI test run at a time: each costs upstream tokens.
	aiTest chan struct{}
	// quality caches the last intents report by model hash: it costs up
	// to five fits (intentQuality).
	qualityMu sync.Mutex
	quality   qualityReport
	// learnMu serialises changes of the "learn" setting.
	learnMu sync.Mutex
}

// New builds the admin API; it does no I/O.
func New(d Deps) *Admin {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.AITestTimeout <= 0 {
		d.AITestTimeout = DefaultAITestTimeout
	}
	return &Admin{d: d, aiTest: make(chan struct{}, 1)}
}

// Routes registers the endpoints.
func (a *Admin) Routes(mux httpx.Mux) {
	admin := func(pattern string, h http.HandlerFunc) {
		mux.Handle(pattern, a.d.Auth.Require(store.RoleAdmin, h))
	}
	admin("GET /v1/admin/intents", a.listIntents)
	admin("POST /v1/admin/intents", a.createIntent)
	admin("GET /v1/admin/intents/export", a.exportIntents)
	admin("POST /v1/admin/intents/import", a.importIntents)
	admin("POST /v1/admin/intents/try", a.tryIntents)
	admin("GET /v1/admin/intents/quality", a.intentQuality)
	admin("GET /v1/admin/intents/suggestions", a.suggestions)
	admin("POST /v1/admin/intents/suggestions/dismiss", a.dismiss)
	admin("POST /v1/admin/intents/{name}/examples", a.postExamples)
	admin("GET /v1/admin/learn", a.getLearn)
	admin("PUT /v1/admin/learn", a.putLearn)
	admin("PUT /v1/admin/intents/{name}", a.editIntent)
	admin("DELETE /v1/admin/intents/{name}", a.deleteIntent)

	admin("GET /v1/admin/agents", a.listAgents)
	admin("POST /v1/admin/agents", a.createAgent)
	admin("PATCH /v1/admin/agents/{id}", a.editAgent)
	admin("POST /v1/admin/agents/{id}/password", a.resetPassword)

	if a.d.Knowledge != nil {
		a.kbRoutes(admin)
	}

	admin("GET /v1/admin/ai", a.getAI)
	admin("PATCH /v1/admin/ai", a.patchAI)
	admin("POST /v1/admin/ai/test", a.testAI)

	admin("GET /v1/admin/widget", a.getWidget)
	admin("PUT /v1/admin/widget", a.putWidget)

	admin("GET /v1/admin/conversations", a.listConversations)
	admin("GET /v1/admin/conversations/{id}", a.getConversation)

	admin("GET /v1/admin/dashboard", a.dashboard)
	a.privacyRoutes(admin)
	a.webhookRoutes(admin)

	if a.d.Backup != nil {
		admin("GET /v1/admin/backup", a.backup)
	}

	mux.Handle("GET /v1/canned", a.d.Auth.Require(store.RoleAgent, a.canned))
	mux.Handle("GET /v1/learn/conversations/{id}", a.d.Auth.Require(store.RoleAgent, a.learnConversation))
	mux.Handle("POST /v1/learn/example", a.d.Auth.Require(store.RoleAgent, a.learnExample))
	mux.Handle("POST /v1/learn/intent", a.d.Auth.Require(store.RoleAgent, a.learnIntent))
}

// backup sends a copy of the database; the log says who took it.
func (a *Admin) backup(w http.ResponseWriter, r *http.Request) {
	a.d.Log.Info("admin: backup requested", "by", who(r))
	a.d.Backup.ServeHTTP(w, r)
}

// who names the signed-in person in log lines.
func who(r *http.Request) string {
	if p := auth.FromContext(r.Context()); p != nil {
		return p.Account.Username
	}
	return ""
}
