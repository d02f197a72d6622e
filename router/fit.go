//go:build !kefu_widget

package router

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// Training settings for the linear head, chosen on CLINC150 train with a
// held-out part of train (docs/intents.md). They are not options: the
// decision rule's defaults were tuned for exactly these.
const (
	// inputScale multiplies the unit-length TF-IDF vectors before the
	// softmax. Larger makes the model sharper and, measured, worse on
	// unseen phrasings and far worse at spotting out-of-scope questions.
	inputScale = 2.0
	// learningRate starts SGD and decays linearly to zero.
	learningRate = 1.0
	// minEpochs and minUpdates: a shop with 60 examples needs many passes
	// to converge, CLINC150's 15 000 need few.
	minEpochs  = 15
	maxEpochs  = 400
	minUpdates = 100_000
	// pruneBelow drops linear weights too small to matter: measured on
	// CLINC150, 0.1 keeps accuracy and takes the model from 2.0 to 1.4 MB.
	pruneBelow = 0.1
	// trainSeed makes Fit deterministic: the same intents give the same
	// bytes, so the relay's ETag only changes when the intents do.
	trainSeed = 0x6b656675
)

// fitConfig holds the training settings; Fit uses defaultFit. Tests vary
// it to compare designs.
type fitConfig struct {
	inputScale, learningRate float64
	minEpochs, maxEpochs     int
	minUpdates               int
	pruneBelow               float64
}

var defaultFit = fitConfig{inputScale: inputScale, learningRate: learningRate, minEpochs: minEpochs,
	maxEpochs: maxEpochs, minUpdates: minUpdates, pruneBelow: pruneBelow}

// Fit validates intents and fits a model on their examples. The same
// intents and options always give the same model bytes. With a zero
// Options.Threshold the acceptance rule is calibrated on the intents' own
// examples (calibrate.go).
func Fit(intents []Intent, opts Options) (*Model, error) {
	return fitWith(intents, opts, defaultFit)
}

func fitWith(intents []Intent, opts Options, cfg fitConfig) (*Model, error) {
	if err := Validate(intents); err != nil {
		return nil, fmt.Errorf("router: fit: %w", err)
	}
	if opts.Threshold != 0 && opts.Margin == 0 {
		opts.Margin = DefaultMargin
	}
	if !(opts.Threshold >= 0 && opts.Threshold <= 1) || !(opts.Margin >= 0 && opts.Margin < 1) {
		return nil, fmt.Errorf("router: fit: threshold %v must be in [0,1] and margin %v in [0,1)", opts.Threshold, opts.Margin)
	}
	cal := calib{latin: priorCurve, cjk: priorCurve}
	if opts.Threshold == 0 {
		cal = calibrate(crossValidate(intents, cfg))
	}
	m, err := fitModel(intents, opts, cfg, cal)
	if err != nil {
		return nil, fmt.Errorf("router: fit: %w", err)
	}
	return m, nil
}

// fitModel fits one model on valid intents.
func fitModel(intents []Intent, opts Options, cfg fitConfig, cal calib) (*Model, error) {
	var docs []string
	var labels []int
	for c, in := range intents {
		for _, ex := range in.Examples {
			docs = append(docs, ex)
			labels = append(labels, c)
		}
	}
	voc, rows, err := fitTFIDF(docs)
	if err != nil {
		return nil, err
	}
	f := &fitted{opts: opts, cal: cal, idf: make([]float64, len(voc.idf)), feats: make([]string, len(voc.idf)),
		unseenIDF: float64(voc.unseenIDF), stopUnseenIDF: float64(voc.stopUnseenIDF)}
	for _, in := range intents {
		in.Examples = nil
		if in.Action == "" {
			in.Action = ActionAnswer
		}
		f.intents = append(f.intents, in)
	}
	for s, id := range voc.ids {
		f.feats[id] = s
	}
	for i, w := range voc.idf {
		f.idf[i] = float64(w)
	}
	f.bias, f.linear = trainLinear(rows, labels, len(intents), len(f.feats), cfg)
	f.proto = centroids(rows, labels, len(intents), f.feats)
	f.questions = sampleQuestions(docs, rows, labels, len(intents), f.feats)
	// Going through the bytes means a fitted model and a loaded one are
	// the same thing, quantisation included.
	return Load(encode(f))
}

// trainLinear fits multinomial logistic regression with SGD, averaging the
// weights over the second half of the epochs (averaged SGD generalises
// better than the last iterate and is as cheap). It returns the bias and
// the pruned weights by feature, input scale folded in.
func trainLinear(rows []vec, labels []int, nClass, nFeat int, cfg fitConfig) ([]float64, [][]entry) {
	w := make([]float32, nFeat*nClass)
	b := make([]float64, nClass)
	avgW := make([]float32, nFeat*nClass)
	avgB := make([]float64, nClass)
	navg := 0

	epochs := max(cfg.minEpochs, (cfg.minUpdates+len(rows)-1)/len(rows))
	epochs = min(epochs, cfg.maxEpochs)
	rng := rand.New(rand.NewPCG(trainSeed, trainSeed))
	order := rng.Perm(len(rows))
	p := make([]float64, nClass)
	step, total := 0, epochs*len(rows)
	for e := 0; e < epochs; e++ {
		for _, k := range order {
			r := rows[k]
			copy(p, b)
			for i, id := range r.idx {
				x := float64(r.val[i]) * cfg.inputScale
				for c, wc := range w[int(id)*nClass : int(id+1)*nClass] {
					p[c] += x * float64(wc)
				}
			}
			softmax(p)
			p[labels[k]]-- // p is now the gradient of the loss wrt logits
			eta := cfg.learningRate * (1 - float64(step)/float64(total))
			step++
			for c := range b {
				b[c] -= eta * p[c]
			}
			for i, id := range r.idx {
				x := float64(r.val[i]) * cfg.inputScale
				row := w[int(id)*nClass : int(id+1)*nClass]
				for c := range row {
					row[c] -= float32(eta * x * p[c])
				}
			}
		}
		if e >= epochs/2 {
			for i := range w {
				avgW[i] += w[i]
			}
			for c := range b {
				avgB[c] += b[c]
			}
			navg++
		}
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	}

	post := make([][]entry, nFeat)
	for f := range post {
		for c := 0; c < nClass; c++ {
			v := float64(avgW[f*nClass+c]) / float64(navg)
			if math.Abs(v) >= cfg.pruneBelow {
				post[f] = append(post[f], entry{intent: c, w: v * cfg.inputScale})
			}
		}
	}
	for c := range avgB {
		avgB[c] /= float64(navg)
	}
	return avgB, post
}

// centroids returns, by feature, each intent's mean example split by
// writing system (isCJKFeature) with each part L2-normalised: one
// prototype per script, orthogonal to each other, so a question in one
// language is not diluted by the intent's examples in the other.
func centroids(rows []vec, labels []int, nClass int, feats []string) [][]entry {
	type key struct {
		intent int
		cjk    bool
	}
	sum := make(map[key]map[int32]float64)
	for k, r := range rows {
		for i, id := range r.idx {
			g := key{labels[k], isCJKFeature(feats[id])}
			if sum[g] == nil {
				sum[g] = make(map[int32]float64)
			}
			sum[g][id] += float64(r.val[i])
		}
	}
	post := make([][]entry, len(feats))
	for g, s := range sum {
		var sq float64
		for _, v := range s {
			sq += v * v
		}
		norm := math.Sqrt(sq)
		for id, v := range s {
			post[id] = append(post[id], entry{intent: g.intent, w: v / norm})
		}
	}
	return post
}

// sampleQuestions picks, per intent and writing system (non-CJK, CJK),
// the example most typical of the intent and least of the others: the
// highest dot with the intent's mean example in that script minus the dot
// with the mean of every intent's examples in it (an example two intents
// share says nothing about either). It is what a visitor offered "did you
// mean …?" sees. An example belongs to the script holding most of its
// feature weight.
func sampleQuestions(docs []string, rows []vec, labels []int, nClass int, feats []string) [][2]string {
	script := func(r vec) int {
		var cjk, all float64
		for i, id := range r.idx {
			w := float64(r.val[i]) * float64(r.val[i])
			all += w
			if isCJKFeature(feats[id]) {
				cjk += w
			}
		}
		if all > 0 && cjk/all >= 0.5 {
			return 1
		}
		return 0
	}
	scripts := make([]int, len(rows))
	mean := make([][2]map[int32]float64, nClass)
	count := make([][2]float64, nClass)
	var all [2]map[int32]float64
	var total [2]float64
	for k, r := range rows {
		c, s := labels[k], script(r)
		scripts[k] = s
		if mean[c][s] == nil {
			mean[c][s] = map[int32]float64{}
		}
		if all[s] == nil {
			all[s] = map[int32]float64{}
		}
		count[c][s]++
		total[s]++
		for i, id := range r.idx {
			mean[c][s][id] += float64(r.val[i])
			all[s][id] += float64(r.val[i])
		}
	}
	out := make([][2]string, nClass)
	best := make([][2]float64, nClass)
	for k, r := range rows {
		c, s := labels[k], scripts[k]
		var d float64
		for i, id := range r.idx {
			d += float64(r.val[i]) * (mean[c][s][id]/count[c][s] - all[s][id]/total[s])
		}
		if out[c][s] == "" || d > best[c][s] {
			out[c][s], best[c][s] = strings.Join(strings.Fields(docs[k]), " "), d
		}
	}
	return out
}
