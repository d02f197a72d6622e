package router

import (
	"bytes"
	"fmt"

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
func fitTFIDF(docs []string) (*vocab, []vec, error) {
	cv := &nlp.CountVectoriser{Vocabulary: map[string]int{}, Tokeniser: nlpTokeniser{}}
	tfidf := nlp.NewTfidfTransformer()
	m, err := nlp.NewPipeline(cv, tfidf).FitTransform(docs...)
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
	v := &vocab{ids: make(map[string]int32, len(cv.Vocabulary)), idf: make([]float32, len(cv.Vocabulary))}
	for f, id := range cv.Vocabulary {
		v.ids[f] = int32(id)
	}
	for i, w := range dia.Diagonal() {
		v.idf[i] = float32(w)
	}

	csr, ok := m.(*sparse.CSR)
	if !ok {
		return nil, nil, fmt.Errorf("tf-idf: unexpected matrix type %T", m)
	}
	// Rows are terms, columns documents: walk it once, collecting columns.
	rows := make([]vec, len(docs))
	csr.DoNonZero(func(term, doc int, w float64) {
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
