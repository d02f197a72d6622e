//go:build !js

package edge

import (
	"context"
	"encoding/binary"
	"sync"
	"testing"

	"github.com/kefuhq/kefu/relay/internal/intents"
	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/router"
)

// fitted is the default intents' model, fitted once for the package's
// tests: what make edge builds into the Worker, which fits none.
var fitted = sync.OnceValues(func() ([]byte, error) {
	m, err := router.Fit(router.DefaultIntents(), router.Options{})
	if err != nil {
		return nil, err
	}
	return m.MarshalBinary()
})

func defaultModel(t testing.TB) []byte {
	t.Helper()
	b, err := fitted()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// importIntents stores intents under version with their model fitted, as
// kefu-edge-intents does: the model first, then the intents announcing it.
func importIntents(t testing.TB, st store.Settings, version uint64, list []router.Intent) {
	t.Helper()
	ctx := context.Background()
	m, err := router.Fit(list, router.Options{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutSettingBytes(ctx, intents.SettingModel, append(binary.BigEndian.AppendUint64(nil, version), data...)); err != nil {
		t.Fatal(err)
	}
	doc := struct {
		Version uint64          `json:"version"`
		Intents []router.Intent `json:"intents"`
	}{version, list}
	if err := st.PutSetting(ctx, intents.SettingIntents, doc); err != nil {
		t.Fatal(err)
	}
}
