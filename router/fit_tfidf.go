//go:build !kefu_widget

package router

import (
	"bytes"
	"fmt"
	"math"

	"github.com/james-bowman/nlp"
	"github.com/james-bowman/sparse"
)

// nlpTokeniser adapts features to nlp.Tokeniser so the library's
// CountVectoriser sees exactly the features Classify will see.
type nlpTokeniser struct{}

func (nlpTokeniser) ForEachIn(text string, f func(token string)) {
	for _, t := range features(nil, text) {
		f(t)
	}
}

func (nlpTokeniser) Tokenise(text string) []string { return features(nil, text) }

// fitTFIDF learns the vocabulary and IDF weights of docs with
// james-bowman/nlp and returns each doc as a normalised vec.
//
// The IDF is fitted on docs plus stopPriorDocs pseudo-documents that hold
// every function word of the vocabulary (isStopFeature) and nothing else:
// a prior saying function words are common in any text, which a few dozen
// examples cannot show and thousands make irrelevant.
func fitTFIDF(docs []string) (*vocab, []vec, error) {
	cv := &nlp.CountVectoriser{Vocabulary: map[string]int{}, Tokeniser: nlpTokeniser{}}
	counts, err := cv.FitTransform(docs...)
	if err != nil {
		return nil, nil, fmt.Errorf("tf-idf: count: %w", err)
	}
	conv, ok := counts.(sparse.TypeConverter)
	if !ok {
		return nil, nil, fmt.Errorf("tf-idf: unexpected matrix type %T", counts)
	}
	csr := conv.ToCSR()
	nTerms, nDocs := csr.Dims()
	stop := make([]bool, nTerms)
	for f, id := range cv.Vocabulary {
		stop[id] = isStopFeature(f)
	}
	prior := stopPriorDocs
	// Rows are terms, columns documents. tf holds the weighted term
	// frequencies; withPrior adds the pseudo-documents' columns.
	var tfInd, priorInd []int
	var tfVal, priorVal []float64
	tfPtr, priorPtr := []int{0}, []int{0}
	for t := 0; t < nTerms; t++ {
		csr.DoRowNonZero(t, func(_, d int, c float64) {
			tfInd = append(tfInd, d)
			tfVal = append(tfVal, tfWeight(c))
			priorInd = append(priorInd, d)
			priorVal = append(priorVal, c)
		})
		if stop[t] {
			for d := nDocs; d < nDocs+prior; d++ {
				priorInd = append(priorInd, d)
				priorVal = append(priorVal, 1)
			}
		}
		tfPtr = append(tfPtr, len(tfInd))
		priorPtr = append(priorPtr, len(priorInd))
	}
	tfidf := nlp.NewTfidfTransformer()
	tfidf.Fit(sparse.NewCSR(nTerms, nDocs+prior, priorPtr, priorInd, priorVal))
	m, err := tfidf.Transform(sparse.NewCSR(nTerms, nDocs, tfPtr, tfInd, tfVal))
	if err != nil {
		return nil, nil, fmt.Errorf("tf-idf: %w", err)
	}
	// The transformer keeps its IDF diagonal private; Save is its public
	// way out.
	var buf bytes.Buffer
	if err := tfidf.Save(&buf); err != nil {
		return nil, nil, fmt.Errorf("tf-idf: save weights: %w", err)
	}
	var dia sparse.DIA
	if _, err := dia.UnmarshalBinaryFrom(&buf); err != nil {
		return nil, nil, fmt.Errorf("tf-idf: read weights: %w", err)
	}
	// The same formula as nlp's, for a feature in no document, or only in
	// the pseudo-documents.
	n := float64(nDocs + prior)
	v := &vocab{
		ids:           make(map[string]int32, len(cv.Vocabulary)),
		idf:           make([]float32, len(cv.Vocabulary)),
		unseenIDF:     float32(math.Log(1 + n)),
		stopUnseenIDF: float32(math.Log((1 + n) / float64(1+prior))),
	}
	for f, id := range cv.Vocabulary {
		v.ids[f] = int32(id)
	}
	for i, w := range dia.Diagonal() {
		v.idf[i] = float32(w)
	}

	out, ok := m.(*sparse.CSR)
	if !ok {
		return nil, nil, fmt.Errorf("tf-idf: unexpected matrix type %T", m)
	}
	// Walk it once, collecting columns.
	rows := make([]vec, nDocs)
	out.DoNonZero(func(term, doc int, w float64) {
		rows[doc].idx = append(rows[doc].idx, int32(term))
		rows[doc].val = append(rows[doc].val, float32(w))
	})
	for i := range rows {
		var sq float64
		for _, w := range rows[i].val {
			sq += float64(w) * float64(w)
		}
		rows[i] = rows[i].normalised(sq)
	}
	return v, rows, nil
}
