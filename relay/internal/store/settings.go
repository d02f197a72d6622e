package store

import "context"

// Settings is the small key-value part of a store: JSON documents and raw
// blobs by name (intents, widget and AI settings, the fitted model).
type Settings interface {
	// Setting reads the JSON document name into v; false when none is stored.
	Setting(name string, v any) (bool, error)
	// PutSetting stores v as the JSON document name.
	PutSetting(ctx context.Context, name string, v any) error
	// SettingBytes reads a raw document; nil when none is stored.
	SettingBytes(name string) ([]byte, error)
	// PutSettingBytes stores a raw document.
	PutSettingBytes(ctx context.Context, name string, data []byte) error
}
