//go:build !kefu_widget

package router

import (
	"math"
	"math/rand/v2"
)

// Calibration: how sure the model is, learnt from the shop's own examples
// at fit time (issue 14). Fit holds out part of the examples, fits models
// on the rest, and looks at what they make of the held-out ones: an
// example of a kept intent should be classified as that intent, and an
// example of an intent left out of that model entirely stands for a
// question the shop has no answer to. From those outcomes it fits, per
// writing system, a curve P(right | confidence) = σ(a + b·confidence), and
// Classify answers only where the curve says the answer is right at least
// AnswerTarget of the time. The curve moves smoothly with the data (more
// intents, more or fewer examples), so there is no step anywhere.

const (
	// cvFolds is how many parts the examples are split into.
	cvFolds = 5
	// cvMaxHeldOut bounds the held-out examples scored: beyond a few
	// thousand the curve does not move, and each fold costs a fit.
	cvMaxHeldOut = 3000
)

// prior is the curve assumed before any example is seen, and how many
// samples' worth of weight it carries: a shop with a dozen examples gets
// mostly the prior, one with hundreds mostly its own data.
var (
	priorCurve  = curve{a: -1.8, b: 9}
	priorWeight = 20.0
)

// maxSlope bounds the curve's coefficients (well inside maxCurve, what
// Load accepts): steeper is a step, which no sample justifies.
const maxSlope = 100

// cvSample is one held-out example scored by a model that did not see it.
type cvSample struct {
	conf  float64
	right bool // false: wrong intent, or an intent the model lacked
	oos   bool // the model lacked the example's intent
	cjk   bool
}

// crossValidate fits models on parts of the examples and scores the rest.
func crossValidate(intents []Intent, cfg fitConfig) []cvSample {
	total := 0
	for _, in := range intents {
		total += len(in.Examples)
	}
	if len(intents) < 2 || total < 4 {
		return nil
	}
	rng := rand.New(rand.NewPCG(trainSeed, 0xca11b))
	// fold[i][j]: the fold example j of intent i is held out in.
	fold := make([][]int, len(intents))
	for i, in := range intents {
		off := rng.IntN(cvFolds)
		fold[i] = make([]int, len(in.Examples))
		for j, k := range rng.Perm(len(in.Examples)) {
			fold[i][k] = (off + j) % cvFolds
		}
	}
	// A fifth of the intents (at least one) is left out of each fold's
	// model entirely: their held-out examples are out of scope for it.
	absent := make([]int, len(intents))
	for j, i := range rng.Perm(len(intents)) {
		absent[i] = j % cvFolds
	}
	folds := cvFolds
	if per := total / cvFolds; per > 0 && cvMaxHeldOut/per < folds {
		folds = max(1, cvMaxHeldOut/per)
	}
	cvCfg := cfg
	cvCfg.minUpdates = min(cfg.minUpdates, 30_000)
	var out []cvSample
	for f := 0; f < folds; f++ {
		var train []Intent
		var idx []int // train intent → original index
		has := make([]bool, len(intents))
		for i, in := range intents {
			if absent[i] == f {
				continue
			}
			var ex []string
			for j, e := range in.Examples {
				if fold[i][j] != f {
					ex = append(ex, e)
				}
			}
			if len(ex) == 0 {
				continue
			}
			train = append(train, Intent{Name: in.Name, Examples: ex, Answer: "-", Action: ActionAI})
			idx = append(idx, i)
			has[i] = true
		}
		if len(train) == 0 {
			continue
		}
		m, err := fitModel(train, Options{Threshold: 1, Margin: DefaultMargin}, cvCfg, calib{latin: priorCurve, cjk: priorCurve})
		if err != nil {
			continue
		}
		for i, in := range intents {
			for j, e := range in.Examples {
				if fold[i][j] != f {
					continue
				}
				best, conf, cjk := m.confidence(e)
				right := best >= 0 && idx[best] == i && absent[i] != f
				out = append(out, cvSample{conf: conf, right: right, oos: absent[i] == f || !has[i], cjk: cjk >= 0.5})
			}
		}
	}
	return out
}

// calibrate fits the per-script curves to the samples.
func calibrate(samples []cvSample) calib {
	var latin, cjk []cvSample
	for _, s := range samples {
		if s.cjk {
			cjk = append(cjk, s)
		} else {
			latin = append(latin, s)
		}
	}
	return calib{latin: fitCurve(latin), cjk: fitCurve(cjk)}
}

// fitCurve is a two-parameter logistic regression by Newton's method with
// a Gaussian prior centred on priorCurve: the maximum a posteriori curve.
func fitCurve(s []cvSample) curve {
	c := priorCurve
	// Prior precision per parameter, scaled so it weighs like priorWeight
	// samples spread over the usual range of confidences.
	la, lb := priorWeight*0.05, priorWeight*0.005
	for it := 0; it < 50; it++ {
		ga, gb := -la*(c.a-priorCurve.a), -lb*(c.b-priorCurve.b)
		haa, hab, hbb := la, 0.0, lb
		for _, x := range s {
			p := c.p(x.conf)
			y := 0.0
			if x.right {
				y = 1
			}
			ga += y - p
			gb += (y - p) * x.conf
			w := p * (1 - p)
			haa += w
			hab += w * x.conf
			hbb += w * x.conf * x.conf
		}
		det := haa*hbb - hab*hab
		if det <= 1e-12 {
			break
		}
		da := (hbb*ga - hab*gb) / det
		db := (haa*gb - hab*ga) / det
		// Damped: a separable sample must not send the curve to a step.
		if n := math.Hypot(da, db); n > 5 {
			da, db = da*5/n, db*5/n
		}
		c.a = math.Max(-maxSlope, math.Min(maxSlope, c.a+da))
		c.b = math.Max(-maxSlope, math.Min(maxSlope, c.b+db))
		if math.Abs(da) < 1e-9 && math.Abs(db) < 1e-9 {
			break
		}
	}
	return c
}
