package intents

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"log/slog"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
	"github.com/kefuhq/kefu/router"
)

// OpenStored (the edge build) fits nothing, whatever it finds: a model
// stored with the intents is used, an older format as it is, and without
// one the intents answer nothing by classification and the log says why.
func TestOpenStoredFitsNothing(t *testing.T) {
	ctx := context.Background()
	m, err := router.Fit(router.DefaultIntents(), router.Options{})
	if err != nil {
		t.Fatal(err)
	}
	current, _ := m.MarshalBinary()
	older := asVersion3(t, current, len(router.DefaultIntents()))
	if o, err := router.Load(older); err != nil || o.Current() {
		t.Fatalf("the older model: %v (current %v)", err, o != nil && o.Current())
	}
	stored := func(version uint64, model []byte) []byte {
		if model == nil {
			return nil
		}
		return append(binary.BigEndian.AppendUint64(nil, version), model...)
	}
	for _, c := range []struct {
		name string
		// seed with this default model, or store the default intents at
		// version 3 with model (nil: none) under modelVersion.
		seed         bool
		model        []byte
		modelVersion uint64
		classifies   bool
		logs         string // a word the log must have ("" none above INFO)
	}{
		{name: "seeded with the model built in", seed: true, model: current, classifies: true},
		{name: "seeded without a model", seed: true, logs: "none seeded"},
		{name: "seeded with a model that does not load", seed: true, model: []byte("not a model"), logs: "none seeded"},
		{name: "stored with their model", model: current, modelVersion: 3, classifies: true},
		{name: "stored with an older format", model: older, modelVersion: 3, classifies: true, logs: "older format"},
		{name: "stored without a model", logs: "no usable model"},
		{name: "stored with another version's model", model: current, modelVersion: 2, logs: "no usable model"},
		{name: "stored with a corrupt model", model: current[:len(current)-1], modelVersion: 3, logs: "no usable model"},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, err := boltdb.Open(t.TempDir(), boltdb.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			var defaultModel []byte
			if c.seed {
				defaultModel = c.model
			} else {
				if m := stored(c.modelVersion, c.model); m != nil {
					if err := st.PutSettingBytes(ctx, SettingModel, m); err != nil {
						t.Fatal(err)
					}
				}
				if err := st.PutSetting(ctx, SettingIntents, doc{Version: 3, Intents: router.DefaultIntents()}); err != nil {
					t.Fatal(err)
				}
			}
			modelBefore, _ := st.SettingBytes(SettingModel)
			var logs bytes.Buffer
			in, err := OpenStored(ctx, st, slog.New(slog.NewTextHandler(&logs, nil)), true, defaultModel)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(logs.String(), "model fitted") {
				t.Errorf("fitted a model; log:\n%s", logs.String())
			}
			if c.logs != "" && !strings.Contains(logs.String(), c.logs) {
				t.Errorf("log lacks %q:\n%s", c.logs, logs.String())
			}
			if c.logs == "" && (strings.Contains(logs.String(), "WARN") || strings.Contains(logs.String(), "ERROR")) {
				t.Errorf("log warns:\n%s", logs.String())
			}
			got := in.Classify("how long does shipping take?").Intent
			_, data, hash := in.Model()
			if c.classifies && (got != "shipping" || data == nil || hash == "") {
				t.Errorf("classify: %q (model %d bytes, hash %q), want shipping", got, len(data), hash)
			}
			if !c.classifies && (got != "" || data != nil || hash != "") {
				t.Errorf("classify: %q (model %d bytes, hash %q), want nothing", got, len(data), hash)
			}
			if !c.seed {
				if modelAfter, _ := st.SettingBytes(SettingModel); !bytes.Equal(modelAfter, modelBefore) {
					t.Error("the stored model changed")
				}
				// The answers are served all the same.
				if a, ok := in.Answer("shipping", ""); !ok || a == "" {
					t.Errorf("answer of shipping: %q %v", a, ok)
				}
			}
			if c.seed && !c.classifies && len(in.List()) != 0 {
				t.Errorf("seeded %d intents without a model", len(in.List()))
			}
			// A change needs a fit: refused, nothing changed.
			before := in.List()
			if err := in.Replace(ctx, router.DefaultIntents()[:2]); !errors.Is(err, errNoFitter) {
				t.Errorf("Replace: %v, want errNoFitter", err)
			}
			if len(in.List()) != len(before) {
				t.Errorf("Replace changed the intents: %d, want %d", len(in.List()), len(before))
			}
		})
	}
}

// asVersion3 re-encodes a version 4 model of n intents as version 3, the
// format before the intents' two sample questions (router's own test,
// TestLoadVersion3, does the same with its reader): a model an older
// Kefu stored.
func asVersion3(t *testing.T, raw []byte, n int) []byte {
	t.Helper()
	off := 4 + 1 + 6*4 // magic, version, threshold, margin, two curves
	uv := func() int {
		v, k := binary.Uvarint(raw[off:])
		if k <= 0 {
			t.Fatalf("bad varint at %d", off)
		}
		off += k
		return int(v)
	}
	str := func() { l := uv(); off += l }
	if got := uv(); got != n {
		t.Fatalf("%d intents in the model, want %d", got, n)
	}
	out := append([]byte(nil), raw[:off]...)
	out[4] = 3
	for range n {
		start := off
		str() // name
		off++ // action
		str() // answer
		str() // skill
		out = append(out, raw[start:off]...)
		str() // the two sample questions, which version 3 lacks
		str()
	}
	out = append(out, raw[off:]...)
	binary.LittleEndian.PutUint32(out[len(out)-4:], crc32.ChecksumIEEE(out[:len(out)-4]))
	return out
}
