package router

import (
	"math"
	"slices"
)

// vec is a sparse, L2-normalised TF-IDF vector: feature ids ascending.
type vec struct {
	idx    []int32
	val    []float32
	cjk    float64        // share of the text's squared feature weight that is CJK
	cjkIDs map[int32]bool // the ids of idx that are CJK features
}

// vocab maps features to ids and holds the inverse document frequency of
// each id; it is all the classifier needs to turn text into a vec.
//
// A fitted vocabulary (fitTFIDF) is a map; a loaded one keeps the sorted
// features in one byte blob and finds them by binary search, so Load
// allocates three slices instead of a string and a map entry per feature
// (a 150-intent model has ~100 000 features; issue 14).
type vocab struct {
	ids   map[string]int32 // fit time; nil in a loaded model
	blob  []byte           // loaded: the features, sorted, back to back
	off   []uint32         // loaded: feature i is blob[off[i]:off[i+1]]
	first [257]uint32      // loaded: features starting with byte b are first[b]:first[b+1]
	idf   []float32
	// unseenIDF and stopUnseenIDF weigh features of a question that no
	// training example had (a function word, or anything else). They count
	// towards the question's length but match nothing, so a question made
	// mostly of words the intents never used scores low.
	unseenIDF     float32
	stopUnseenIDF float32
}

// lookup returns the id of feature f.
func (v *vocab) lookup(f string) (int32, bool) {
	if v.ids != nil {
		id, ok := v.ids[f]
		return id, ok
	}
	if f == "" {
		return 0, false
	}
	lo, hi := int(v.first[f[0]]), int(v.first[int(f[0])+1])
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		switch c := compare(v.blob[v.off[mid]:v.off[mid+1]], f); {
		case c == 0:
			return int32(mid), true
		case c < 0:
			lo = mid + 1
		default:
			hi = mid
		}
	}
	return 0, false
}

// compare is bytes.Compare(a, []byte(b)) without the conversion.
func compare(a []byte, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return len(a) - len(b)
}

// tfWeight is the term-frequency part of a feature's weight: sublinear, so
// a feature said twice counts 1.7 times, not twice (measured on CLINC150
// train folds: slightly better accuracy and out-of-scope recall).
func tfWeight(count float64) float64 {
	return 1 + math.Log(count)
}

// vectorise turns text into a vec over the vocabulary. Term frequency
// (tfWeight) times IDF, then L2-normalised over all the text's features,
// the same weighting Fit gets from nlp.TfidfTransformer (TestVectoriseMatchesNLP
// checks the two agree); features outside the vocabulary are dropped after
// the norm is taken.
func (v *vocab) vectorise(text string, scratch []string) vec {
	feats := features(scratch[:0], text)
	counts := make(map[int32]float64, len(feats))
	var unseen map[string]float64
	var cjkIDs map[int32]bool
	for _, f := range feats {
		if id, ok := v.lookup(f); ok {
			counts[id]++
			if isCJKFeature(f) {
				if cjkIDs == nil {
					cjkIDs = make(map[int32]bool)
				}
				cjkIDs[id] = true
			}
		} else {
			if unseen == nil {
				unseen = make(map[string]float64)
			}
			unseen[f]++
		}
	}
	out := vec{idx: make([]int32, 0, len(counts)), val: make([]float32, 0, len(counts))}
	for id := range counts {
		out.idx = append(out.idx, id)
	}
	slices.Sort(out.idx)
	var norm, cjk float64
	for _, id := range out.idx {
		w := tfWeight(counts[id]) * float64(v.idf[id])
		out.val = append(out.val, float32(w))
		norm += w * w
		if cjkIDs[id] {
			cjk += w * w
		}
	}
	for f, c := range unseen {
		idf := v.unseenIDF
		if isStopFeature(f) {
			idf = v.stopUnseenIDF
		}
		w := tfWeight(c) * float64(idf)
		norm += w * w
		if isCJKFeature(f) {
			cjk += w * w
		}
	}
	if norm > 0 {
		out.cjk = cjk / norm
	}
	if len(out.idx) == 0 {
		return vec{cjk: out.cjk}
	}
	out.cjkIDs = cjkIDs
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
