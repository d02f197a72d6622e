package router

import (
	"bytes"
	"math"
	"slices"
)

// vec is a sparse, L2-normalised TF-IDF vector: feature ids ascending.
type vec struct {
	idx   []int32
	val   []float32
	cjk   float64 // share of the text's squared feature weight that is CJK
	cjkAt []bool  // whether idx[i] is a CJK feature
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
func lookup[S string | []byte](v *vocab, f S) (int32, bool) {
	if v.ids != nil {
		id, ok := v.ids[string(f)]
		return id, ok
	}
	if len(f) == 0 {
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
func compare[S string | []byte](a []byte, b S) int {
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

// vecScratch holds what vectorising a text needs, so a caller that keeps
// one (Classify, through the model's pool) allocates nothing per text.
// A vec made with it views its slices until the next use.
type vecScratch struct {
	buf    []byte  // the text's features back to back
	ends   []int32 // where each feature of buf ends
	seen   []int64 // id<<1 | 1 if CJK, per feature in the vocabulary
	unseen [][2]int32
	idx    []int32
	val    []float32
	cjkAt  []bool
}

// vectorise turns text into a vec over the vocabulary. Term frequency
// (tfWeight) times IDF, then L2-normalised over all the text's features,
// the same weighting Fit gets from nlp.TfidfTransformer (TestVectoriseMatchesNLP
// checks the two agree); features outside the vocabulary are dropped after
// the norm is taken.
func (v *vocab) vectorise(text string, s *vecScratch) vec {
	if s == nil {
		s = new(vecScratch)
	}
	s.buf, s.ends = appendFeatures(s.buf[:0], s.ends[:0], text)
	s.seen, s.unseen = s.seen[:0], s.unseen[:0]
	start := int32(0)
	for _, end := range s.ends {
		f := s.buf[start:end]
		if id, ok := lookup(v, f); ok {
			k := int64(id) << 1
			if isCJKFeature(f) {
				k |= 1
			}
			s.seen = append(s.seen, k)
		} else {
			s.unseen = append(s.unseen, [2]int32{start, end})
		}
		start = end
	}
	// Sorting and counting runs stands in for a map per text: the ids
	// come out ascending, as vec wants them.
	slices.Sort(s.seen)
	out := vec{idx: s.idx[:0], val: s.val[:0], cjkAt: s.cjkAt[:0]}
	var norm, cjk float64
	for i := 0; i < len(s.seen); {
		j := i + 1
		for j < len(s.seen) && s.seen[j] == s.seen[i] {
			j++
		}
		id, isCJK := int32(s.seen[i]>>1), s.seen[i]&1 == 1
		w := tfWeight(float64(j-i)) * float64(v.idf[id])
		out.idx = append(out.idx, id)
		out.val = append(out.val, float32(w))
		out.cjkAt = append(out.cjkAt, isCJK)
		norm += w * w
		if isCJK {
			cjk += w * w
		}
		i = j
	}
	s.idx, s.val, s.cjkAt = out.idx, out.val, out.cjkAt
	// Unseen features are counted the same way, in byte order, so the
	// norm is summed in one order every time (a map's order varied it in
	// the last bit).
	feat := func(sp [2]int32) []byte { return s.buf[sp[0]:sp[1]] }
	slices.SortFunc(s.unseen, func(a, b [2]int32) int { return bytes.Compare(feat(a), feat(b)) })
	for i := 0; i < len(s.unseen); {
		f := feat(s.unseen[i])
		j := i + 1
		for j < len(s.unseen) && bytes.Equal(feat(s.unseen[j]), f) {
			j++
		}
		idf := v.unseenIDF
		if isStopFeature(string(f)) {
			idf = v.stopUnseenIDF
		}
		w := tfWeight(float64(j-i)) * float64(idf)
		norm += w * w
		if isCJKFeature(f) {
			cjk += w * w
		}
		i = j
	}
	if norm > 0 {
		out.cjk = cjk / norm
	}
	if len(out.idx) == 0 {
		return vec{cjk: out.cjk}
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
