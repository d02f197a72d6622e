package router

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// The tuning runs behind DefaultThreshold and DefaultSmallThreshold. Both
// use CLINC150 train and oos_train only: the validation split we publish
// is never looked at. Run them with
//
//	KEFU_TUNE=1 go test -run TestTune -v ./router
//
// (about a minute and a half).

// TestTuneDefaults: 5-fold cross-validation on train (fold f holds out the
// examples whose index within their intent is f mod 5) with oos_train as
// the out-of-scope set, every fold scored at each threshold.
func TestTuneDefaults(t *testing.T) {
	if os.Getenv("KEFU_TUNE") == "" {
		t.Skip("set KEFU_TUNE=1 to print the tuning grid")
	}
	d := loadCLINC(t)
	grid := thresholds(0.05, 0.30)
	right := make([]int, len(grid)+1) // last: no threshold, best intent only
	rejected := make([]int, len(grid))
	nIn, nOOS := 0, 0
	for fold := 0; fold < 5; fold++ {
		seen := map[string]int{}
		var fit, held [][2]string
		for _, p := range d.Train {
			if seen[p[1]]%5 == fold {
				held = append(held, p)
			} else {
				fit = append(fit, p)
			}
			seen[p[1]]++
		}
		m, err := Fit(clincIntents(fit, 0), Options{})
		if err != nil {
			t.Fatalf("Fit: %v", err)
		}
		for _, p := range held {
			if r := m.Classify(p[0]); len(r.Ranked) > 0 && r.Ranked[0].Intent == p[1] {
				right[len(grid)]++
			}
		}
		for i, th := range grid {
			m.opts.Threshold = th
			acc, recall := evaluate(m, held, d.OOSTrain)
			right[i] += int(acc*float64(len(held)) + 0.5)
			rejected[i] += int(recall*float64(len(d.OOSTrain)) + 0.5)
		}
		nIn += len(held)
		nOOS += len(d.OOSTrain)
	}
	var b strings.Builder
	best := float64(right[len(grid)]) / float64(nIn)
	fmt.Fprintf(&b, "5-fold CV on train, no threshold: in-scope %.2f\n", 100*best)
	for i, th := range grid {
		acc, rec := float64(right[i])/float64(nIn), float64(rejected[i])/float64(nOOS)
		mark := ""
		if acc >= best-0.005 {
			mark = "  (within 0.5 point)"
		}
		fmt.Fprintf(&b, "threshold %.2f: in-scope %.2f oos recall %.1f%s\n", th, 100*acc, 100*rec, mark)
	}
	t.Log("\n" + b.String())
}

// TestTuneSmallSets simulates shops: 30 random groups of k CLINC150
// intents, each fitted on 10 train examples per intent; in scope are 20
// other train examples of each intent, out of scope 3 train examples of
// each of 25 intents outside the group plus 25 of oos_train.
func TestTuneSmallSets(t *testing.T) {
	if os.Getenv("KEFU_TUNE") == "" {
		t.Skip("set KEFU_TUNE=1 to print the tuning grid")
	}
	d := loadCLINC(t)
	all := clincIntents(d.Train, 0)
	grid := thresholds(0.20, 0.50)
	var b strings.Builder
	for _, k := range []int{4, 6, 8, 16, 29} {
		rng := rand.New(rand.NewPCG(1, 2))
		right, rejected := make([]float64, len(grid)), make([]float64, len(grid))
		for g := 0; g < 30; g++ {
			perm := rng.Perm(len(all))
			var intents []Intent
			var in, oos [][2]string
			for _, j := range perm[:k] {
				x := all[j]
				x.Examples = x.Examples[:10]
				intents = append(intents, x)
				for _, ex := range all[j].Examples[10:30] {
					in = append(in, [2]string{ex, x.Name})
				}
			}
			for _, j := range perm[k : k+25] {
				for _, ex := range all[j].Examples[50:53] {
					oos = append(oos, [2]string{ex, "oos"})
				}
			}
			oos = append(oos, d.OOSTrain[(g*25)%100:(g*25)%100+25]...)
			m, err := Fit(intents, Options{})
			if err != nil {
				t.Fatalf("Fit: %v", err)
			}
			for i, th := range grid {
				m.opts.Threshold = th
				acc, recall := evaluate(m, in, oos)
				right[i] += acc / 30
				rejected[i] += recall / 30
			}
		}
		fmt.Fprintf(&b, "%d intents:", k)
		for i, th := range grid {
			if i%2 == 0 {
				fmt.Fprintf(&b, " %.2f→%.1f/%.1f", th, 100*right[i], 100*rejected[i])
			}
		}
		for i, th := range grid {
			if rejected[i] >= 0.95 {
				fmt.Fprintf(&b, "\n  lowest threshold with oos recall >= 95%%: %.2f (in-scope %.1f)", th, 100*right[i])
				break
			}
		}
		b.WriteString("\n")
	}
	t.Log("\n" + b.String())
}

func thresholds(lo, hi float64) []float64 {
	var out []float64
	for i := 0; lo+float64(i)*0.01 <= hi+1e-9; i++ {
		out = append(out, lo+float64(i)*0.01)
	}
	return out
}
