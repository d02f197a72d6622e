package d1

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
)

// LoadSettings reads every settings document in one query and serves
// Setting and SettingBytes from memory from then on (writes go to both).
// It is for a store that lives as long as one request, as on Workers,
// where each request starts the program anew and would otherwise pay a
// round trip to D1 per document (intents, model, AI, widget, budget).
// Another instance's later writes are not seen: do not call it in a
// long-lived process.
func (s *Store) LoadSettings(ctx context.Context) error {
	rows, err := s.query(ctx, qSettings)
	if err != nil {
		return wrap("load settings", err)
	}
	defer rows.Close()
	all := map[string][]byte{}
	for rows.Next() {
		var (
			name  string
			value []byte
		)
		if err := rows.Scan(&name, &value); err != nil {
			return wrap("load settings", err)
		}
		all[name] = value
	}
	if err := rows.Err(); err != nil {
		return wrap("load settings", err)
	}
	s.settingsMu.Lock()
	s.settings = all
	s.settingsMu.Unlock()
	return nil
}

// SettingsVersion reads the counter that every change to a settings
// document moves (by a trigger, so writes by other instances and by
// wrangler d1 execute count too). A Worker that keeps its Go instance
// across requests reads it per request and builds again from the
// settings when it moved; read it before the settings, so a change made
// in between shows as a move next time rather than being missed.
func (s *Store) SettingsVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := s.queryRow(ctx, qSettingsVersion).Scan(&v); err != nil {
		return 0, wrap("settings version", err)
	}
	return v, nil
}

// SettingsMoved reads the settings version, as SettingsVersion, and
// reports whether anything but this store's own writes moved it since
// since, the version an earlier call returned. Every write of a document
// moves it by exactly one (the triggers), and what this store wrote its
// caller already holds (the settings read by LoadSettings are updated on
// write): a Worker that keeps its instance rebuilds only for the writes of
// others, not after every AI answer that saved the day's token use. When
// it cannot be sure (a write failed, or ran while a version was read) it
// says moved.
func (s *Store) SettingsMoved(ctx context.Context, since int64) (version int64, moved bool, err error) {
	own, unsure := s.own.readBegins()
	v, err := s.SettingsVersion(ctx)
	unsure = s.own.readEnds() || unsure
	if err != nil {
		return 0, true, err
	}
	return v, unsure || v != since+own, nil
}

// ownWrites counts a store's settings writes between two reads of the
// version, and whether any of them could be on either side of a read.
type ownWrites struct {
	mu       sync.Mutex
	gen      uint64 // moved by every read's start and end
	n        int64  // writes completed since the last read began
	inflight int
	unsure   bool // the next read cannot tell its own writes from others'
}

// writeBegins returns the token writeEnds takes.
func (o *ownWrites) writeBegins() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.inflight++
	return o.gen
}

// writeEnds counts a write begun at gen; one a read overlapped, or that
// failed (it may have been applied), makes the next read unsure.
func (o *ownWrites) writeEnds(gen uint64, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.inflight--
	if gen != o.gen || !ok {
		o.unsure = true
		return
	}
	o.n++
}

// readBegins takes the writes counted so far.
func (o *ownWrites) readBegins() (n int64, unsure bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.gen++
	n, unsure = o.n, o.unsure || o.inflight > 0
	o.n, o.unsure = 0, false
	return n, unsure
}

// readEnds reports whether a write ran during the read; then the next
// read is unsure too, as the write may be on either side of this one.
func (o *ownWrites) readEnds() (unsure bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.gen++
	if o.inflight > 0 || o.n > 0 {
		o.unsure = true
		return true
	}
	return false
}

// ForgetSettings drops the settings read by LoadSettings: with
// SettingsOnFirstRead the next read loads them all again. For a store that
// outlives one request, when SettingsVersion says they changed.
func (s *Store) ForgetSettings() {
	s.settingsMu.Lock()
	s.settings = nil
	s.settingsMu.Unlock()
}

// Setting reads the JSON document stored under name into v. It reports
// false, with v untouched, when nothing is stored yet.
func (s *Store) Setting(name string, v any) (bool, error) {
	data, err := s.SettingBytes(name)
	if err != nil || data == nil {
		return false, err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("store: decode setting %s: %w", name, err)
	}
	return true, nil
}

// PutSetting stores v as the JSON document name.
func (s *Store) PutSetting(ctx context.Context, name string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode setting %s: %w", name, err)
	}
	return s.PutSettingBytes(ctx, name, data)
}

// SettingBytes reads a raw document (a serialised model, say); nil when
// none is stored.
func (s *Store) SettingBytes(name string) ([]byte, error) {
	s.settingsMu.RLock()
	cached, loaded := s.settings[name], s.settings != nil
	s.settingsMu.RUnlock()
	if loaded {
		return cloneBytes(cached), nil
	}
	if s.opts.SettingsOnFirstRead {
		// Setting has no context; the query is one indexed scan of a
		// small table.
		if err := s.LoadSettings(context.Background()); err != nil {
			return nil, err
		}
		s.settingsMu.RLock()
		cached = s.settings[name]
		s.settingsMu.RUnlock()
		return cloneBytes(cached), nil
	}
	var data []byte
	err := s.queryRow(context.Background(), qSetting, name).Scan(&data)
	if errors.Is(err, errNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap("setting "+name, err)
	}
	if data == nil {
		data = []byte{} // stored, but empty: not "none"
	}
	return data, nil
}

// PutSettingBytes stores a raw document. A document is one D1 row, which
// holds at most 2 MB.
func (s *Store) PutSettingBytes(ctx context.Context, name string, data []byte) error {
	data = cloneBytes(data)
	if data == nil {
		data = []byte{}
	}
	gen := s.own.writeBegins()
	_, err := s.exec(ctx, qPutSetting, name, data)
	s.own.writeEnds(gen, err == nil)
	if err != nil {
		return wrap("put setting "+name, err)
	}
	s.settingsMu.Lock()
	if s.settings != nil {
		s.settings[name] = data
	}
	s.settingsMu.Unlock()
	return nil
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}
