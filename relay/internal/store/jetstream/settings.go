package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	"github.com/nats-io/nats.go/jetstream"
)

// Settings are entries of the settings bucket. A document over
// inlineMax (a fitted intent model can be megabytes; a NATS message is 1 MB
// by default) goes to the object store, which chunks it, and its entry
// points there.
const inlineMax = 256 << 10

const (
	tagInline = 0 // the rest of the entry is the document
	tagObject = 1 // the document is the object of the same name
)

var settingNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)

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

// SettingBytes reads a raw document; nil when none is stored.
func (s *Store) SettingBytes(name string) ([]byte, error) {
	if !settingNameRE.MatchString(name) {
		return nil, fmt.Errorf("store: setting %q: not a valid name", name)
	}
	ctx, cancel := s.readCtx()
	defer cancel()
	// A document moved out of the object store between reading its entry
	// and its object is read again (twice is plenty: moves are admin edits).
	for range 3 {
		e, err := s.settings.Get(ctx, name)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("store: setting %s: %w", name, err)
		}
		v := e.Value()
		if len(v) == 0 {
			return nil, fmt.Errorf("store: setting %s: empty entry", name)
		}
		if v[0] == tagInline {
			return append([]byte{}, v[1:]...), nil
		}
		data, err := getObject(ctx, s.blobs, name)
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("store: setting %s: %w", name, err)
		}
		return data, nil
	}
	return nil, fmt.Errorf("store: setting %s: kept moving while read", name)
}

// PutSettingBytes stores a raw document.
func (s *Store) PutSettingBytes(ctx context.Context, name string, data []byte) error {
	if !settingNameRE.MatchString(name) {
		return fmt.Errorf("store: put setting %q: not a valid name", name)
	}
	end, err := s.begin()
	if err != nil {
		return fmt.Errorf("store: put setting %s: %w", name, err)
	}
	defer end()
	ctx, cancel := s.writeCtx(ctx)
	defer cancel()
	if len(data) > inlineMax {
		if _, err := s.blobs.PutBytes(ctx, name, data); err != nil {
			return fmt.Errorf("store: put setting %s: %w", name, err)
		}
		if _, err := s.settings.Put(ctx, name, []byte{tagObject}); err != nil {
			return fmt.Errorf("store: put setting %s: %w", name, err)
		}
		return nil
	}
	entry := append([]byte{tagInline}, data...)
	prev, err := s.settings.Get(ctx, name)
	if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("store: put setting %s: %w", name, err)
	}
	if _, err := s.settings.Put(ctx, name, entry); err != nil {
		return fmt.Errorf("store: put setting %s: %w", name, err)
	}
	if prev != nil && len(prev.Value()) > 0 && prev.Value()[0] == tagObject {
		// The large version is no longer pointed at.
		if err := s.blobs.Delete(ctx, name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			s.opts.Logger.Warn("jetstream: remove a replaced setting's object", "setting", name, "err", err)
		}
	}
	return nil
}
