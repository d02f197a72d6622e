package router

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestTuneDefaults prints the grid we chose DefaultThreshold and
// DefaultMargin from. It fits on the first 80 training examples of each
// CLINC150 intent and scores the other 20 plus oos_train: the validation
// split we publish is never looked at. Run it with
//
//	KEFU_TUNE=1 go test -run TestTuneDefaults -v ./router
func TestTuneDefaults(t *testing.T) {
	if os.Getenv("KEFU_TUNE") == "" {
		t.Skip("set KEFU_TUNE=1 to print the tuning grid")
	}
	d := loadCLINC(t)
	seen := map[string]int{}
	var fit, held [][2]string
	for _, p := range d.Train {
		if seen[p[1]]++; seen[p[1]] <= 80 {
			fit = append(fit, p)
		} else {
			held = append(held, p)
		}
	}
	m, err := Fit(clincIntents(fit, 0), Options{})
	if err != nil {
		t.Fatalf("Fit: %v", err)
	}
	var b strings.Builder
	for _, th := range []float64{0.1, 0.125, 0.15, 0.175, 0.2, 0.225, 0.25, 0.3} {
		for _, mg := range []float64{0.001, 0.01, 0.02, 0.05} {
			m.opts = Options{Threshold: th, Margin: mg}
			acc, recall := evaluate(m, held, d.OOSTrain)
			fmt.Fprintf(&b, "threshold %.3f margin %.3f: in-scope %.1f oos recall %.1f\n", th, mg, 100*acc, 100*recall)
		}
	}
	t.Log("\n" + b.String())
}
