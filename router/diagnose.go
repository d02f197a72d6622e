//go:build !kefu_widget

package router

import (
	"fmt"
	"math/rand/v2"
	"sort"
)

// IntentReport says how well one intent is told apart from the others:
// each of its examples was held out, a model fitted on the rest, and the
// example classified.
type IntentReport struct {
	Name     string `json:"name"`
	Examples int    `json:"examples"`
	// Recognised counts held-out examples whose best intent was this one.
	Recognised int `json:"recognised"`
	// Overlaps are the intents its held-out examples went to instead,
	// most first: "add examples that tell them apart".
	Overlaps []Overlap `json:"overlaps"`
	// NeverMatched are the examples that, held out, went elsewhere or
	// matched nothing: phrasings no other example of the intent covers.
	NeverMatched []string `json:"never_matched"`
}

// Overlap is another intent and how many held-out examples went to it.
type Overlap struct {
	Intent string `json:"intent"`
	Count  int    `json:"count"`
}

// Diagnose runs the same cross-validation as Fit's calibration, with
// every intent kept, and reports per intent (in the given order) which of
// its examples the others would take. It costs up to cvFolds fits.
func Diagnose(intents []Intent) ([]IntentReport, error) {
	if err := Validate(intents); err != nil {
		return nil, fmt.Errorf("router: diagnose: %w", err)
	}
	out := make([]IntentReport, len(intents))
	index := map[string]int{}
	for i, in := range intents {
		out[i] = IntentReport{Name: in.Name, Examples: len(in.Examples), Overlaps: []Overlap{}, NeverMatched: []string{}}
		index[in.Name] = i
	}
	if len(intents) < 2 {
		for i := range out {
			out[i].Recognised = out[i].Examples
		}
		return out, nil
	}
	rng := rand.New(rand.NewPCG(trainSeed, 0xd1a9))
	fold := make([][]int, len(intents))
	for i, in := range intents {
		off := rng.IntN(cvFolds)
		fold[i] = make([]int, len(in.Examples))
		for j, k := range rng.Perm(len(in.Examples)) {
			fold[i][k] = (off + j) % cvFolds
		}
	}
	cfg := defaultFit
	cfg.minUpdates = min(cfg.minUpdates, 30_000)
	overlaps := make([]map[int]int, len(intents))
	for f := 0; f < cvFolds; f++ {
		var train []Intent
		for i, in := range intents {
			var ex []string
			for j, e := range in.Examples {
				if fold[i][j] != f {
					ex = append(ex, e)
				}
			}
			if len(ex) > 0 {
				train = append(train, Intent{Name: in.Name, Examples: ex, Answer: "-", Action: ActionAI})
			}
		}
		if len(train) < 2 {
			continue
		}
		m, err := fitModel(train, Options{Threshold: 1, Margin: DefaultMargin}, cfg, calib{latin: priorCurve, cjk: priorCurve})
		if err != nil {
			return nil, fmt.Errorf("router: diagnose: %w", err)
		}
		for i, in := range intents {
			for j, e := range in.Examples {
				if fold[i][j] != f {
					continue
				}
				r := m.Classify(e)
				got := -1
				if len(r.Ranked) > 0 {
					got = index[r.Ranked[0].Intent]
				}
				switch {
				case got == i:
					out[i].Recognised++
				default:
					out[i].NeverMatched = append(out[i].NeverMatched, e)
					if got >= 0 {
						if overlaps[i] == nil {
							overlaps[i] = map[int]int{}
						}
						overlaps[i][got]++
					}
				}
			}
		}
	}
	for i, o := range overlaps {
		for j, n := range o {
			out[i].Overlaps = append(out[i].Overlaps, Overlap{Intent: intents[j].Name, Count: n})
		}
		sort.Slice(out[i].Overlaps, func(a, b int) bool {
			x, y := out[i].Overlaps[a], out[i].Overlaps[b]
			return x.Count > y.Count || x.Count == y.Count && x.Intent < y.Intent
		})
	}
	return out, nil
}
