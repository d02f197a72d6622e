//go:build !kefu_widget

package router

import (
	"math"
	"slices"
)

// fitTFIDFDirect is fitTFIDF without james-bowman/nlp, for the edge build
// (fit_tfidf_js.go says why): the same vocabulary (ids in order of first
// appearance, as nlp's CountVectoriser gives them), the same IDF
// (log((1+n)/(1+df)) over the documents and the stop-word prior's
// pseudo-documents, as nlp's TfidfTransformer fits it) and the same
// normalised rows, computed with the same float64 operations.
func fitTFIDFDirect(docs []string) (*vocab, []vec, error) {
	ids := map[string]int32{}
	var df []int
	counts := make([]map[int32]float64, len(docs))
	var scratch []string
	for d, doc := range docs {
		c := map[int32]float64{}
		scratch = features(scratch[:0], doc)
		for _, f := range scratch {
			id, ok := ids[f]
			if !ok {
				id = int32(len(ids))
				ids[f] = id
				df = append(df, 0)
			}
			c[id]++
		}
		for id := range c {
			df[id]++
		}
		counts[d] = c
	}
	prior := stopPriorDocs
	n := float64(len(docs) + prior)
	v := &vocab{
		ids:           ids,
		idf:           make([]float32, len(ids)),
		unseenIDF:     float32(math.Log(1 + n)),
		stopUnseenIDF: float32(math.Log((1 + n) / float64(1+prior))),
	}
	idf := make([]float64, len(ids))
	for f, id := range ids {
		d := df[id]
		if isStopFeature(f) {
			d += prior
		}
		idf[id] = math.Log((1 + n) / float64(1+d))
		v.idf[id] = float32(idf[id])
	}
	rows := make([]vec, len(docs))
	for d, c := range counts {
		r := vec{idx: make([]int32, 0, len(c)), val: make([]float32, 0, len(c))}
		for id := range c {
			r.idx = append(r.idx, id)
		}
		slices.Sort(r.idx)
		var sq float64
		for _, id := range r.idx {
			w := float32(idf[id] * tfWeight(c[id]))
			r.val = append(r.val, w)
			sq += float64(w) * float64(w)
		}
		rows[d] = r.normalised(sq)
	}
	return v, rows, nil
}
