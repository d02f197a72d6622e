package router

import (
	"math"
	"sort"
)

// vec is a sparse, L2-normalised TF-IDF vector: feature ids ascending.
type vec struct {
	idx []int32
	val []float32
}

// vocab maps features to ids and holds the inverse document frequency of
// each id; it is all the classifier needs to turn text into a vec.
type vocab struct {
	ids map[string]int32
	idf []float32
}

// vectorise turns text into a vec over the vocabulary; unknown features are
// ignored. Term frequency is raw counts times IDF, then L2-normalised, the
// same weighting nlp.TfidfTransformer applies during Fit (fit_test.go checks
// the two agree).
func (v *vocab) vectorise(text string, scratch []string) vec {
	feats := features(scratch[:0], text)
	counts := make(map[int32]float32, len(feats))
	for _, f := range feats {
		if id, ok := v.ids[f]; ok {
			counts[id]++
		}
	}
	out := vec{idx: make([]int32, 0, len(counts)), val: make([]float32, 0, len(counts))}
	for id := range counts {
		out.idx = append(out.idx, id)
	}
	sort.Slice(out.idx, func(i, j int) bool { return out.idx[i] < out.idx[j] })
	var norm float64
	for _, id := range out.idx {
		w := counts[id] * v.idf[id]
		out.val = append(out.val, w)
		norm += float64(w) * float64(w)
	}
	return out.normalised(norm)
}

// normalised scales v to unit length given its squared norm; a zero vector
// stays empty so callers can tell "nothing known" from a weak match.
func (v vec) normalised(sq float64) vec {
	if sq == 0 {
		return vec{}
	}
	inv := float32(1 / math.Sqrt(sq))
	for i := range v.val {
		v.val[i] *= inv
	}
	return v
}

// dot is the inner product of two vecs; for normalised vecs, their cosine.
func dot(a, b vec) float64 {
	var s float64
	i, j := 0, 0
	for i < len(a.idx) && j < len(b.idx) {
		switch {
		case a.idx[i] == b.idx[j]:
			s += float64(a.val[i]) * float64(b.val[j])
			i++
			j++
		case a.idx[i] < b.idx[j]:
			i++
		default:
			j++
		}
	}
	return s
}
