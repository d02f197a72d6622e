// Package intents owns the business's FAQ intents and the model fitted from
// them: it stores both in bbolt, refits when the intents change, and serves
// the model to widgets and to the relay's own classification.
package intents

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/router"
)

// Setting names in the store (SettingIntents is written last: a change
// announced under it finds its model stored).
const (
	SettingIntents = "intents"       // doc: version and the intents
	SettingModel   = "intents.model" // version (8 bytes, big-endian) ‖ serialised model
)

// ErrNotFound means no intent has that name.
var ErrNotFound = errors.New("intents: no such intent")

type doc struct {
	Version uint64          `json:"version"`
	Intents []router.Intent `json:"intents"`
}

// current is one immutable generation: intents, their model, its bytes,
// and each language's translated answers (answers.go).
type current struct {
	version uint64
	intents []router.Intent
	model   *router.Model // nil when there are no intents, or no usable model (OpenStored)
	data    []byte
	hash    string
	answers map[string]langAnswers
}

// Service holds the current intents and model. Reads are lock-free; writes
// are serialised and swap in a new generation atomically.
type Service struct {
	store store.Settings
	// fitter fits a model; nil in a process that fits none (OpenStored).
	fitter  func([]router.Intent) (*router.Model, error)
	log     *slog.Logger
	cur     atomic.Pointer[current]
	writeMu sync.Mutex
	// OnChange, when set, runs after every change with the new model hash.
	OnChange func(hash string)
}

// Open loads the stored intents (seeding the defaults when there are none
// and seed is set) and their model, refitting only when the stored model
// is missing or stale.
func Open(ctx context.Context, st store.Settings, log *slog.Logger, seed bool) (*Service, error) {
	return open(ctx, st, log, seed, nil, fit)
}

// OpenSeeded is Open seeding the default intents with defaultModel, their
// model fitted ahead (router.Fit of router.DefaultIntents, serialised), so
// that the seed fits nothing here: for the edge build, which fits at build
// time what a Worker would pay CPU for. A defaultModel that does not load
// as a current model is ignored, and the defaults are fitted as Open does.
func OpenSeeded(ctx context.Context, st store.Settings, log *slog.Logger, defaultModel []byte) (*Service, error) {
	return open(ctx, st, log, true, defaultModel, fit)
}

// OpenStored is Open for a process that fits no model: the edge build, where
// fitting is CPU a Worker should not spend and code it should not carry
// (kefu-edge-intents fits natively and stores the model with the intents).
// The default intents are seeded (seed) only with defaultModel, a current
// model of them. A stored model of an older format is used as it is (it
// classifies as before; what newer formats add is missing until the
// intents are imported again); without a usable one, the intents' answers
// are served but Classify matches nothing (every message goes on to the AI
// or an agent), and the log says what to do. Changes (Replace, Put, Delete)
// fail: nothing can fit their model.
func OpenStored(ctx context.Context, st store.Settings, log *slog.Logger, seed bool, defaultModel []byte) (*Service, error) {
	return open(ctx, st, log, seed, defaultModel, nil)
}

// fit is router.Fit with the default options: what a relay fits with.
func fit(intents []router.Intent) (*router.Model, error) {
	return router.Fit(intents, router.Options{})
}

// errNoFitter is a change asked of a Service opened by OpenStored.
var errNoFitter = errors.New("intents: this build fits no models; fit them where kefu runs natively (kefu-edge-intents)")

func open(ctx context.Context, st store.Settings, log *slog.Logger, seed bool, defaultModel []byte, fitter func([]router.Intent) (*router.Model, error)) (*Service, error) {
	s := &Service{store: st, log: log, fitter: fitter}
	var d doc
	found, err := st.Setting(SettingIntents, &d)
	if err != nil {
		return nil, fmt.Errorf("intents: load: %w", err)
	}
	if !found && seed {
		d = doc{Version: 1, Intents: router.DefaultIntents()}
		usable := false
		if len(defaultModel) > 0 {
			if m, err := router.Load(defaultModel); err != nil || !m.Current() {
				log.Warn("intents: the default intents' model given is unusable", "err", err)
			} else {
				usable = true
				// The model first: the intents document announces it.
				raw := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(defaultModel)), d.Version)
				if err := st.PutSettingBytes(ctx, SettingModel, append(raw, defaultModel...)); err != nil {
					return nil, fmt.Errorf("intents: seed defaults: store model: %w", err)
				}
			}
		}
		if !usable && fitter == nil {
			log.Error("intents: no model of the default intents to seed them with (make edge builds one in); none seeded, so there are no FAQ answers until intents are imported (kefu-edge-intents)")
			d = doc{}
		} else {
			if err := st.PutSetting(ctx, SettingIntents, d); err != nil {
				return nil, fmt.Errorf("intents: seed defaults: %w", err)
			}
			log.Info("intents: seeded the default FAQ intents", "count", len(d.Intents))
		}
	}
	c := &current{version: d.Version, intents: d.Intents}
	if err := s.useModel(ctx, c, d); err != nil {
		return nil, err
	}
	c.answers = answersByLang(c.intents)
	s.cur.Store(c)
	return s, nil
}

// Reload rereads the intents and their model from the store, when another
// node of a cluster changed them: the model stored with them is used
// (refitted only if it is missing or older). Nothing changes when the
// stored version is the one in use.
func (s *Service) Reload(ctx context.Context) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	var d doc
	if _, err := s.store.Setting(SettingIntents, &d); err != nil {
		return fmt.Errorf("intents: reload: %w", err)
	}
	if d.Version == s.cur.Load().version {
		return nil
	}
	c := &current{version: d.Version, intents: d.Intents}
	if err := s.useModel(ctx, c, d); err != nil {
		return err
	}
	s.cur.Store(c)
	s.log.Info("intents: reloaded after a change on another node", "version", d.Version, "intents", len(d.Intents))
	if s.OnChange != nil {
		s.OnChange(c.hash)
	}
	return nil
}

// useModel gives c, the generation of d's intents, their model: the one
// stored with them when it is current, else one fitted now (and stored).
// Without a fitter, an older stored format is used as it is, and none at
// all leaves c without a model.
func (s *Service) useModel(ctx context.Context, c *current, d doc) error {
	if len(d.Intents) == 0 {
		return nil
	}
	m, data, err := s.loadModel(d.Version)
	switch {
	case m != nil && m.Current():
		c.model, c.data = m, data
	case s.fitter != nil:
		if err != nil {
			s.log.Warn("intents: stored model unusable; refitting", "err", err)
		}
		// An older format is refitted too, so widgets get what it lacks.
		if c.model, c.data, err = s.fit(ctx, d); err != nil {
			return err
		}
	case m != nil:
		s.log.Warn("intents: the stored model is of an older format; using it as it is until the intents are imported again (kefu-edge-intents)", "version", d.Version)
		c.model, c.data = m, data
	default:
		s.log.Error("intents: no usable model stored with the intents: FAQ questions go unanswered by them until the intents are imported again (kefu-edge-intents)", "version", d.Version, "err", err)
		return nil
	}
	c.hash = c.model.Hash()
	return nil
}

// loadModel returns the stored model of the intents' version, of whatever
// format Load reads; nil when there is none for that version.
func (s *Service) loadModel(version uint64) (*router.Model, []byte, error) {
	raw, err := s.store.SettingBytes(SettingModel)
	if err != nil || len(raw) < 8 || binary.BigEndian.Uint64(raw) != version {
		return nil, nil, err
	}
	m, err := router.Load(raw[8:])
	if err != nil {
		return nil, nil, fmt.Errorf("intents: load model: %w", err)
	}
	return m, raw[8:], nil
}

// fit fits d's intents and stores the model next to them.
func (s *Service) fit(ctx context.Context, d doc) (*router.Model, []byte, error) {
	if s.fitter == nil {
		return nil, nil, errNoFitter
	}
	start := time.Now()
	m, err := s.fitter(d.Intents)
	if err != nil {
		return nil, nil, fmt.Errorf("intents: fit: %w", err)
	}
	data, err := m.MarshalBinary()
	if err != nil {
		return nil, nil, fmt.Errorf("intents: encode model: %w", err)
	}
	raw := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(data)), d.Version)
	if err := s.store.PutSettingBytes(ctx, SettingModel, append(raw, data...)); err != nil {
		return nil, nil, fmt.Errorf("intents: store model: %w", err)
	}
	s.log.Info("intents: model fitted", "intents", len(d.Intents), "bytes", len(data), "took", time.Since(start).Round(time.Millisecond))
	return m, data, nil
}

// List returns the current intents (shared; do not modify).
func (s *Service) List() []router.Intent { return s.cur.Load().intents }

// Model returns the current model, its serialised bytes and hash; model is
// nil when there are no intents.
func (s *Service) Model() (model *router.Model, data []byte, hash string) {
	c := s.cur.Load()
	return c.model, c.data, c.hash
}

// Classify classifies text with the current model.
func (s *Service) Classify(text string) router.Result {
	m := s.cur.Load().model
	if m == nil {
		return router.Result{}
	}
	return m.Classify(text)
}

// Answer returns the stored answer of an intent whose action is answer, in
// the visitor's language lang when the intent has it, else its default.
func (s *Service) Answer(name, lang string) (string, bool) {
	for _, in := range s.cur.Load().intents {
		if in.Name == name && (in.Action == router.ActionAnswer || in.Action == "") && in.Answer != "" {
			return in.AnswerIn(lang), true
		}
	}
	return "", false
}

// Replace swaps the whole set (import), validating and refitting first.
// Nothing changes when an error is returned.
func (s *Service) Replace(ctx context.Context, intents []router.Intent) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	return s.replaceLocked(ctx, intents)
}

func (s *Service) replaceLocked(ctx context.Context, intents []router.Intent) error {
	old := s.cur.Load()
	c := &current{version: old.version + 1, intents: intents, answers: answersByLang(intents)}
	if len(intents) > 0 {
		if err := router.Validate(intents); err != nil {
			return err
		}
		if err := checkAnswerLangs(intents); err != nil {
			return err
		}
		var err error
		if c.model, c.data, err = s.fit(ctx, doc{Version: c.version, Intents: intents}); err != nil {
			return err
		}
		c.hash = c.model.Hash()
	}
	if err := s.store.PutSetting(ctx, SettingIntents, doc{Version: c.version, Intents: intents}); err != nil {
		return fmt.Errorf("intents: store: %w", err)
	}
	s.cur.Store(c)
	if s.OnChange != nil {
		s.OnChange(c.hash)
	}
	return nil
}

// Put creates the intent, or replaces the one with the same name (or with
// the name oldName, when renaming).
func (s *Service) Put(ctx context.Context, oldName string, in router.Intent) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if oldName == "" {
		oldName = in.Name
	}
	cur := s.cur.Load().intents
	next := make([]router.Intent, 0, len(cur)+1)
	replaced := false
	for _, x := range cur {
		switch {
		case x.Name == oldName:
			next = append(next, in)
			replaced = true
		case x.Name == in.Name:
			return fmt.Errorf("%w: an intent named %q already exists", router.ErrInvalidIntents, in.Name)
		default:
			next = append(next, x)
		}
	}
	if !replaced {
		next = append(next, in)
	}
	return s.replaceLocked(ctx, next)
}

// Delete removes the named intent.
func (s *Service) Delete(ctx context.Context, name string) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	cur := s.cur.Load().intents
	next := make([]router.Intent, 0, len(cur))
	for _, x := range cur {
		if x.Name != name {
			next = append(next, x)
		}
	}
	if len(next) == len(cur) {
		return ErrNotFound
	}
	return s.replaceLocked(ctx, next)
}
