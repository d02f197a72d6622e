package router

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// clincPath is the CLINC150 train/val file in shared/ beside the
// repository: found from the test's working directory (router/) upwards,
// so the test runs in any clone or git worktree with shared/ above it.
var clincPath = func() string {
	rel := filepath.Join("shared", "datasets", "clinc150", "clinc150_train_val.json")
	dir := ".."
	for i := 0; i < 4; i++ {
		dir = filepath.Join(dir, "..")
		if _, err := os.Stat(filepath.Join(dir, rel)); err == nil {
			return filepath.Join(dir, rel)
		}
	}
	return filepath.Join("..", "..", rel)
}()

type clinc struct {
	Train    [][2]string `json:"train"`
	Val      [][2]string `json:"val"`
	OOSTrain [][2]string `json:"oos_train"`
	OOSVal   [][2]string `json:"oos_val"`
}

func loadCLINC(tb testing.TB) *clinc {
	tb.Helper()
	b, err := os.ReadFile(clincPath)
	if os.IsNotExist(err) {
		abs, _ := filepath.Abs(clincPath)
		tb.Skipf("SKIPPING CLINC150 QUALITY CHECK: %s not found (it lives in shared/ beside the repository)", abs)
	}
	if err != nil {
		tb.Fatalf("read CLINC150: %v", err)
	}
	var d clinc
	if err := json.Unmarshal(b, &d); err != nil {
		tb.Fatalf("parse CLINC150: %v", err)
	}
	if len(d.Train) == 0 || len(d.Val) == 0 || len(d.OOSVal) == 0 {
		tb.Fatalf("CLINC150: empty split (train %d, val %d, oos_val %d)", len(d.Train), len(d.Val), len(d.OOSVal))
	}
	return &d
}

// clincIntents groups utterances into intents, keeping at most perIntent
// examples of each (0: all), in file order.
func clincIntents(pairs [][2]string, perIntent int) []Intent {
	var out []Intent
	at := map[string]int{}
	for _, p := range pairs {
		i, ok := at[p[1]]
		if !ok {
			i = len(out)
			at[p[1]] = i
			out = append(out, Intent{Name: p[1], Action: ActionAI})
		}
		if perIntent == 0 || len(out[i].Examples) < perIntent {
			out[i].Examples = append(out[i].Examples, p[0])
		}
	}
	return out
}

// evaluate returns in-scope accuracy (matched and right) and out-of-scope
// recall (not matched), the two figures of Larson et al. 2019.
func evaluate(m *Model, inScope, oos [][2]string) (acc, recall float64) {
	right := 0
	for _, p := range inScope {
		if r := m.Classify(p[0]); r.Matched && r.Intent == p[1] {
			right++
		}
	}
	rejected := 0
	for _, p := range oos {
		if !m.Classify(p[0]).Matched {
			rejected++
		}
	}
	return float64(right) / float64(len(inScope)), float64(rejected) / float64(len(oos))
}

func TestCLINC150(t *testing.T) {
	if testing.Short() {
		t.Skip("CLINC150 fit takes a few seconds; skipped with -short")
	}
	if runtime.GOOS == "js" {
		// The same code as the native run, three to four times slower:
		// two calibrated CLINC150 fits took make test-wasm past ten minutes
		// on a loaded box. The wasm build is checked by the shop sets.
		t.Skip("CLINC150 fits run natively only (make test-go)")
	}
	d := loadCLINC(t)
	tests := []struct {
		name                 string
		perIntent            int
		minAcc, minOOSRecall float64
	}{
		// Floors sit a little under what we measured (docs/intents.md), so
		// a real regression fails while SGD noise does not. Since issue 14
		// the rule prefers no answer: full 85.7 / 87.0 measured (91.1 /
		// 56.0 before), first 10 examples 64.0 / 92.0 (70.4 / 78.0).
		{name: "full", perIntent: 0, minAcc: 0.84, minOOSRecall: 0.82},
		{name: "10-shot", perIntent: 10, minAcc: 0.62, minOOSRecall: 0.87},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Fit(clincIntents(d.Train, tt.perIntent), Options{})
			if err != nil {
				t.Fatalf("Fit: %v", err)
			}
			acc, recall := evaluate(m, d.Val, d.OOSVal)
			var texts []string
			for _, p := range append(d.Val, d.OOSVal...) {
				texts = append(texts, p[0])
			}
			checkClassifyMatchesRef(t, m, append(texts, randomTexts(texts, 1000, 1)...))
			t.Logf("CLINC150 %s, val: in-scope accuracy %.1f %%, out-of-scope recall %.1f %% (model %d bytes)",
				tt.name, 100*acc, 100*recall, len(m.raw))
			if acc < tt.minAcc {
				t.Errorf("in-scope accuracy: got %.3f, want >= %.3f", acc, tt.minAcc)
			}
			if recall < tt.minOOSRecall {
				t.Errorf("out-of-scope recall: got %.3f, want >= %.3f", recall, tt.minOOSRecall)
			}
		})
	}
}
