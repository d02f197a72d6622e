package router

// The tuning runs behind the calibrated rule (calibrate.go). Every one
// uses CLINC150 train only (never val, which docs/intents.md reports) and
// the shop sets in testdata; run them with
//
//	KEFU_TUNE=1 go test -run TestTune -v ./router
//
// (KEFU_TUNE_CASES=text keeps the draws whose name contains text). They
// print; the decisions they informed are in docs/intents.md.

import (
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"testing"
)

// scorer returns (predicted intent index, confidence) for a text.
type scorer struct {
	name string
	fn   func(m *Model, text string) (int, float64)
}

type pt struct {
	conf    float64
	correct bool
}

// oracle metrics of a confidence: top-1 accuracy, coverage at 95 %
// precision, precision at 80 % coverage, OOS recall at the 95 %-precision
// threshold.
func oracle(in []pt, oos []float64) (top1, cov95, prec80, oosAt95 float64) {
	sort.Slice(in, func(i, j int) bool { return in[i].conf > in[j].conf })
	right := 0
	th95 := math.Inf(1)
	for i, p := range in {
		if p.correct {
			right++
		}
		if float64(right)/float64(i+1) >= 0.95 {
			cov95 = float64(i+1) / float64(len(in))
			th95 = p.conf
		}
		if i+1 == int(0.8*float64(len(in))) {
			prec80 = float64(right) / float64(i+1)
		}
	}
	top1 = float64(right) / float64(len(in))
	n := 0
	for _, c := range oos {
		if c < th95 {
			n++
		}
	}
	oosAt95 = float64(n) / float64(len(oos))
	return
}

func argmax(xs []float64) int {
	b := 0
	for i, x := range xs {
		if x > xs[b] {
			b = i
		}
	}
	return b
}

func second(xs []float64, best int) float64 {
	s := 0.0
	for i, x := range xs {
		if i != best && x > s {
			s = x
		}
	}
	return s
}

var baseScorers = []scorer{
	{"sqrt(p*cos)", func(m *Model, t string) (int, float64) {
		s := m.scores(t)
		b := argmax(s)
		return b, s[b]
	}},
	{"p", func(m *Model, t string) (int, float64) {
		p, _, _ := m.heads(t)
		if p == nil {
			return 0, 0
		}
		b := argmax(p)
		return b, p[b]
	}},
	{"cos", func(m *Model, t string) (int, float64) {
		_, c, _ := m.heads(t)
		if c == nil {
			return 0, 0
		}
		b := argmax(c)
		return b, c[b]
	}},
	{"sqrt(p*cos)-margin", func(m *Model, t string) (int, float64) {
		s := m.scores(t)
		b := argmax(s)
		return b, s[b] - 0.5*second(s, b)
	}},
}

type drawCase struct {
	name string
	mk   func(seed uint64) draw
}

func devCases(t *testing.T) []drawCase {
	d := loadCLINC(t)
	en, zh := loadShopSet(t, "en"), loadShopSet(t, "zh")
	var cs []drawCase
	for _, shots := range []int{5, 10} {
		for _, n := range []int{10, 40, 150} {
			cs = append(cs, drawCase{fmt.Sprintf("clinc %3d int %2d-shot", n, shots), func(seed uint64) draw { return clincDraw(d, n, shots, seed, true) }})
		}
		for _, n := range []int{10, 24} {
			cs = append(cs, drawCase{fmt.Sprintf("en    %3d int %2d-shot", n, shots), func(seed uint64) draw { return shopDraw(en, n, shots, seed) }})
			cs = append(cs, drawCase{fmt.Sprintf("zh    %3d int %2d-shot", n, shots), func(seed uint64) draw { return shopDraw(zh, n, shots, seed) }})
		}
	}
	cs = append(cs, drawCase{"clinc 150 int 80-shot", func(seed uint64) draw { return clincDraw(d, 150, 80, seed, true) }})
	if f := os.Getenv("KEFU_TUNE_CASES"); f != "" {
		var keep []drawCase
		for _, c := range cs {
			if strings.Contains(c.name, f) {
				keep = append(keep, c)
			}
		}
		cs = keep
	}
	return cs
}

func exploreDraws(t *testing.T, scorers []scorer, fit func([]Intent) (*Model, error)) {
	var b strings.Builder
	for _, dc := range devCases(t) {
		seeds := 3
		type agg struct{ top1, cov95, prec80, oos []float64 }
		res := make([]agg, len(scorers))
		for s := 0; s < seeds; s++ {
			dr := dc.mk(uint64(s + 1))
			m, err := fit(dr.intents)
			if err != nil {
				t.Fatal(err)
			}
			idx := map[string]int{}
			for i, in := range m.intents {
				idx[in.Name] = i
			}
			for k, sc := range scorers {
				var in []pt
				var oos []float64
				for _, q := range dr.in {
					p, c := sc.fn(m, q[0])
					in = append(in, pt{c, p == idx[q[1]]})
				}
				for _, q := range dr.oos {
					_, c := sc.fn(m, q)
					oos = append(oos, c)
				}
				a, c95, p80, o := oracle(in, oos)
				res[k].top1 = append(res[k].top1, a)
				res[k].cov95 = append(res[k].cov95, c95)
				res[k].prec80 = append(res[k].prec80, p80)
				res[k].oos = append(res[k].oos, o)
			}
		}
		for k, sc := range scorers {
			fmt.Fprintf(&b, "%s %-22s top1 %v  cov@95 %v  prec@80 %v  oos@95 %v\n", dc.name, sc.name,
				summarise(res[k].top1), summarise(res[k].cov95), summarise(res[k].prec80), summarise(res[k].oos))
		}
	}
	t.Log("\n" + b.String())
}

func TestTuneBase(t *testing.T) {
	if os.Getenv("KEFU_TUNE") == "" {
		t.Skip()
	}
	exploreDraws(t, baseScorers, func(in []Intent) (*Model, error) { return Fit(in, Options{}) })
}

func TestTuneLR(t *testing.T) {
	if os.Getenv("KEFU_TUNE") == "" {
		t.Skip()
	}
	for _, c := range []struct {
		name string
		mod  func(*fitConfig)
	}{
		{"scale1", func(c *fitConfig) { c.inputScale = 1 }},
		{"scale3", func(c *fitConfig) { c.inputScale = 3 }},
		{"scale4", func(c *fitConfig) { c.inputScale = 4 }},
		{"upd30k", func(c *fitConfig) { c.minUpdates = 30000 }},
	} {
		cfg := defaultFit
		c.mod(&cfg)
		t.Log(c.name)
		exploreDraws(t, baseScorers[:2], func(in []Intent) (*Model, error) { return fitWith(in, Options{}, cfg) })
	}
}

func TestTuneCurves(t *testing.T) {
	if os.Getenv("KEFU_TUNE") == "" {
		t.Skip()
	}
	for _, dc := range devCases(t) {
		for s := 0; s < 2; s++ {
			dr := dc.mk(uint64(s + 1))
			samples := crossValidate(dr.intents, defaultFit)
			c := calibrate(samples)
			nr := 0
			for _, x := range samples {
				if x.right {
					nr++
				}
			}
			// raw (no prior) fit
			pw := priorWeight
			priorWeight = 0.0001
			raw := calibrate(samples)
			priorWeight = pw
			t.Logf("%s seed %d: %d samples %.2f right; latin %+.2f %+.2f (raw %+.2f %+.2f) cjk %+.2f %+.2f (raw %+.2f %+.2f)", dc.name, s, len(samples), float64(nr)/float64(len(samples)),
				c.latin.a, c.latin.b, raw.latin.a, raw.latin.b, c.cjk.a, c.cjk.b, raw.cjk.a, raw.cjk.b)
		}
	}
}

func TestTuneTarget(t *testing.T) {
	if os.Getenv("KEFU_TUNE") == "" {
		t.Skip()
	}
	taus := []float64{0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6}
	var b strings.Builder
	for _, dc := range devCases(t) {
		seeds := 3
		if strings.Contains(dc.name, "80-shot") {
			seeds = 1
		}
		acc := make([][]float64, len(taus))
		aa := make([][]float64, len(taus))
		oos := make([][]float64, len(taus))
		for s := 0; s < seeds; s++ {
			dr := dc.mk(uint64(s + 1))
			m, err := Fit(dr.intents, Options{})
			if err != nil {
				t.Fatal(err)
			}
			type res struct {
				conf  float64
				right bool
			}
			var in []res
			for _, q := range dr.in {
				r := m.Classify(q[0])
				in = append(in, res{r.Confidence, len(r.Ranked) > 0 && r.Ranked[0].Intent == q[1]})
			}
			var oc []float64
			for _, q := range dr.oos {
				oc = append(oc, m.Classify(q).Confidence)
			}
			for k, tau := range taus {
				right, ans := 0, 0
				for _, x := range in {
					if x.conf >= tau {
						ans++
						if x.right {
							right++
						}
					}
				}
				rej := 0
				for _, c := range oc {
					if c < tau {
						rej++
					}
				}
				acc[k] = append(acc[k], float64(right)/float64(len(in)))
				aa[k] = append(aa[k], float64(right)/math.Max(1, float64(ans)))
				oos[k] = append(oos[k], float64(rej)/float64(len(oc)))
			}
		}
		fmt.Fprintf(&b, "%s", dc.name)
		for k, tau := range taus {
			fmt.Fprintf(&b, " | %.2f: %4.1f %4.1f %4.1f", tau, 100*summarise(acc[k]).mean, 100*summarise(aa[k]).mean, 100*summarise(oos[k]).mean)
		}
		b.WriteString("\n")
	}
	t.Log("τ: accuracy, right-when-answered, oos rejected\n" + b.String())
}
