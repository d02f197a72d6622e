package router

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// Few-shot quality on random draws (issue 14). A draw picks nIntents
// CLINC150 intents at random and shots random train examples of each; the
// questions are either CLINC150 val (what we report) or other train
// examples (dev: what designs were compared on, so val is never tuned on).
// Out of scope are oos_val (dev: oos_train) plus questions of intents the
// draw left out: a shop with ten intents is asked about everything else.

// qualityMetrics is one fitted model scored on one draw. In-scope rates
// are of in-scope questions; OOSRecall of out-of-scope ones.
type qualityMetrics struct {
	Acc, Rej, Wrong, AccAnswered, OOSRecall float64
}

type draw struct {
	intents []Intent
	in      [][2]string // question, intent
	oos     []string
}

// clincDraw makes one random draw. dev takes the questions from train.
func clincDraw(d *clinc, nIntents, shots int, seed uint64, dev bool) draw {
	rng := rand.New(rand.NewPCG(seed, 0x51ab))
	all := clincIntents(d.Train, 0)
	val := map[string][]string{}
	for _, p := range d.Val {
		val[p[1]] = append(val[p[1]], p[0])
	}
	perm := rng.Perm(len(all))
	var dr draw
	for _, j := range perm[:nIntents] {
		x := all[j]
		order := rng.Perm(len(x.Examples))
		ex := make([]string, 0, shots)
		for _, k := range order[:shots] {
			ex = append(ex, x.Examples[k])
		}
		qs := val[x.Name]
		if dev {
			qs = nil
			for _, k := range order[shots:min(len(order), shots+20)] {
				qs = append(qs, x.Examples[k])
			}
		}
		for _, q := range qs {
			dr.in = append(dr.in, [2]string{q, x.Name})
		}
		dr.intents = append(dr.intents, Intent{Name: x.Name, Examples: ex, Answer: "answer " + x.Name})
	}
	// Questions about intents the shop does not have: 3 of each left-out
	// intent, at most 300, plus the dataset's own out-of-scope set.
	for _, j := range perm[nIntents:] {
		if len(dr.oos) >= 300 {
			break
		}
		x := all[j]
		qs := val[x.Name]
		if dev {
			qs = x.Examples[len(x.Examples)-3:]
		}
		dr.oos = append(dr.oos, qs[:3]...)
	}
	oos := d.OOSVal
	if dev {
		oos = d.OOSTrain
	}
	for _, p := range oos {
		dr.oos = append(dr.oos, p[0])
	}
	return dr
}

func score(m *Model, dr draw) qualityMetrics {
	var right, wrong, rej int
	for _, q := range dr.in {
		r := m.Classify(q[0])
		switch {
		case !r.Matched:
			rej++
		case r.Intent == q[1]:
			right++
		default:
			wrong++
		}
	}
	oosRej := 0
	for _, q := range dr.oos {
		if !m.Classify(q).Matched {
			oosRej++
		}
	}
	n := float64(len(dr.in))
	out := qualityMetrics{Acc: float64(right) / n, Rej: float64(rej) / n, Wrong: float64(wrong) / n,
		OOSRecall: float64(oosRej) / float64(max(1, len(dr.oos)))}
	if right+wrong > 0 {
		out.AccAnswered = float64(right) / float64(right+wrong)
	}
	return out
}

// meanSD is a figure over seeds.
type meanSD struct{ mean, sd float64 }

func (m meanSD) String() string { return fmt.Sprintf("%.1f ± %.1f", 100*m.mean, 100*m.sd) }

func summarise(xs []float64) meanSD {
	var s, sq float64
	for _, x := range xs {
		s += x
	}
	mean := s / float64(len(xs))
	for _, x := range xs {
		sq += (x - mean) * (x - mean)
	}
	sd := 0.0
	if len(xs) > 1 {
		sd = math.Sqrt(sq / float64(len(xs)-1))
	}
	return meanSD{mean, sd}
}

// qualityRow runs seeds draws of one configuration and returns the mean ±
// sd of each metric.
type qualityRow struct {
	name                                    string
	acc, rej, wrong, accAnswered, oosRecall meanSD
}

func (r qualityRow) String() string {
	return fmt.Sprintf("| %s | %v | %v | %v | %v | %v |", r.name, r.acc, r.rej, r.wrong, r.accAnswered, r.oosRecall)
}

const qualityHeader = "| set | accuracy | rejected | wrong | right when answered | out-of-scope rejected |\n|---|---|---|---|---|---|"

func runSeeds(tb testing.TB, name string, seeds int, mk func(seed uint64) draw, opts Options) qualityRow {
	tb.Helper()
	var acc, rej, wrong, aa, oos []float64
	for s := 0; s < seeds; s++ {
		dr := mk(uint64(s + 1))
		m, err := Fit(dr.intents, opts)
		if err != nil {
			tb.Fatalf("%s seed %d: Fit: %v", name, s, err)
		}
		q := score(m, dr)
		acc, rej, wrong, aa, oos = append(acc, q.Acc), append(rej, q.Rej), append(wrong, q.Wrong), append(aa, q.AccAnswered), append(oos, q.OOSRecall)
	}
	return qualityRow{name: name, acc: summarise(acc), rej: summarise(rej), wrong: summarise(wrong), accAnswered: summarise(aa), oosRecall: summarise(oos)}
}

// TestQualityCLINC150Random prints the random few-shot grid of
// docs/intents.md. KEFU_QUALITY=1 runs it on val (what we report),
// KEFU_QUALITY=dev on train held-out (what designs are compared on).
func TestQualityCLINC150Random(t *testing.T) {
	mode := os.Getenv("KEFU_QUALITY")
	if mode == "" {
		t.Skip("set KEFU_QUALITY=1 (val) or KEFU_QUALITY=dev to print the few-shot grid (a few minutes)")
	}
	d := loadCLINC(t)
	dev := mode == "dev"
	seeds := 5
	var b strings.Builder
	b.WriteString(qualityHeader + "\n")
	for _, shots := range []int{5, 10} {
		for _, n := range []int{10, 20, 40, 150} {
			row := runSeeds(t, fmt.Sprintf("%d intents, %d-shot", n, shots), seeds, func(seed uint64) draw {
				return clincDraw(d, n, shots, seed, dev)
			}, Options{})
			b.WriteString(row.String() + "\n")
		}
	}
	t.Logf("CLINC150 random few-shot, %d seeds, questions from %s:\n%s", seeds, map[bool]string{true: "train (dev)", false: "val"}[dev], b.String())
}

// shopSet is one of the shop-like sets in testdata (shopset_en.json,
// shopset_zh.json): 24 intents with 12 examples each, and visitor
// questions written separately from the examples.
type shopSet struct {
	Intents    []Intent    `json:"intents"`
	Questions  [][2]string `json:"questions"`
	OutOfScope []string    `json:"out_of_scope"`
}

func loadShopSet(tb testing.TB, lang string) *shopSet {
	tb.Helper()
	b, err := os.ReadFile("testdata/shopset_" + lang + ".json")
	if err != nil {
		tb.Fatalf("read shop set: %v", err)
	}
	var s shopSet
	if err := json.Unmarshal(b, &s); err != nil {
		tb.Fatalf("parse shop set %s: %v", lang, err)
	}
	return &s
}

// shopDraw picks nIntents of the set's intents and shots of each one's
// examples at random; questions of the intents left out are out of scope.
func shopDraw(s *shopSet, nIntents, shots int, seed uint64) draw {
	rng := rand.New(rand.NewPCG(seed, 0x5e7))
	perm := rng.Perm(len(s.Intents))
	var dr draw
	chosen := map[string]bool{}
	for _, j := range perm[:nIntents] {
		x := s.Intents[j]
		chosen[x.Name] = true
		var ex []string
		for _, k := range rng.Perm(len(x.Examples))[:shots] {
			ex = append(ex, x.Examples[k])
		}
		x.Examples = ex
		dr.intents = append(dr.intents, x)
	}
	for _, q := range s.Questions {
		if chosen[q[1]] {
			dr.in = append(dr.in, q)
		} else {
			dr.oos = append(dr.oos, q[0])
		}
	}
	dr.oos = append(dr.oos, s.OutOfScope...)
	return dr
}

// TestQualityShopSets prints the shop-set grid of docs/intents.md
// (KEFU_QUALITY=1).
func TestQualityShopSets(t *testing.T) {
	if os.Getenv("KEFU_QUALITY") == "" {
		t.Skip("set KEFU_QUALITY=1 to print the shop-set grid")
	}
	seeds := 10
	var b strings.Builder
	b.WriteString(qualityHeader + "\n")
	for _, lang := range []string{"en", "zh"} {
		s := loadShopSet(t, lang)
		for _, shots := range []int{5, 10} {
			for _, n := range []int{5, 10, 15, 20, 24} {
				row := runSeeds(t, fmt.Sprintf("%s, %d intents, %d-shot", lang, n, shots), seeds, func(seed uint64) draw {
					return shopDraw(s, n, shots, seed)
				}, Options{})
				b.WriteString(row.String() + "\n")
			}
		}
	}
	t.Logf("shop sets, %d seeds:\n%s", seeds, b.String())
}

// TestQualityNoCliff checks the rule has no step where the old one had
// (30 intents): nested draws (n+2 intents = the n of the same seed plus
// two), 10 examples each, val questions; accuracy, rejection and wrong
// answers may not move more than 2 points between neighbours.
func TestQualityNoCliff(t *testing.T) {
	if os.Getenv("KEFU_QUALITY") == "" {
		t.Skip("set KEFU_QUALITY=1 to measure the rule across 24–36 intents")
	}
	d := loadCLINC(t)
	var b strings.Builder
	b.WriteString(qualityHeader + "\n")
	var prev *qualityRow
	for n := 24; n <= 36; n += 2 {
		row := runSeeds(t, fmt.Sprintf("%d intents, 10-shot", n), 5, func(seed uint64) draw {
			return clincDraw(d, n, 10, seed, false)
		}, Options{})
		b.WriteString(row.String() + "\n")
		if prev != nil {
			for _, m := range []struct {
				name string
				a, b meanSD
			}{{"accuracy", prev.acc, row.acc}, {"rejected", prev.rej, row.rej}, {"wrong", prev.wrong, row.wrong}} {
				if d := math.Abs(m.b.mean - m.a.mean); d > 0.02 {
					t.Errorf("%s: %s moved %.1f points from %s", row.name, m.name, 100*d, prev.name)
				}
			}
		}
		prev = &row
	}
	t.Logf("CLINC150, nested random draws, 5 seeds, val questions:\n%s", b.String())
}

// TestShopSetFloors runs in every `go test`: a shop of 10 intents with 10
// examples each, in English and in Chinese, 3 draws, must be right when it
// answers and answer most in-scope questions. Floors sit under what
// docs/intents.md reports (98.3 / 80.8 % English, 99.7 / 84.0 % Chinese).
func TestShopSetFloors(t *testing.T) {
	for _, lang := range []string{"en", "zh"} {
		s := loadShopSet(t, lang)
		row := runSeeds(t, lang, 3, func(seed uint64) draw { return shopDraw(s, 10, 10, seed) }, Options{})
		t.Logf("%s", row)
		if row.accAnswered.mean < 0.95 {
			t.Errorf("%s: right when answered %.1f %%, want at least 95", lang, 100*row.accAnswered.mean)
		}
		if answered := 1 - row.rej.mean; answered < 0.72 {
			t.Errorf("%s: answered %.1f %% of in-scope questions, want at least 72", lang, 100*answered)
		}
		if row.oosRecall.mean < 0.8 {
			t.Errorf("%s: out-of-scope rejected %.1f %%, want at least 80", lang, 100*row.oosRecall.mean)
		}
	}
}
