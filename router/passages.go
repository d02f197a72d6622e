//go:build !kefu_widget

package router

import (
	"errors"
	"sort"
)

// Passages is a TF-IDF index over passages of text (the business's
// knowledge-base articles), built with the same features and weighting as
// the intent model: the relay retrieves the passages that ground an AI
// answer with it. It is immutable once built and safe for concurrent use.
type Passages struct {
	v    *vocab
	rows []vec
}

// Hit is one passage that matched a question: its index in the texts the
// index was built from, and its cosine similarity (0–1).
type Hit struct {
	Doc   int
	Score float64
}

// IndexPassages builds the index of texts. An empty list is an error: the
// caller keeps no index when there is nothing to search.
func IndexPassages(texts []string) (*Passages, error) {
	if len(texts) == 0 {
		return nil, errors.New("router: index passages: no text")
	}
	v, rows, err := fitTFIDF(texts)
	if err != nil {
		return nil, err
	}
	return &Passages{v: v, rows: rows}, nil
}

// Search returns the k passages most similar to question with a score of
// at least minScore, best first (ties by position).
func (p *Passages) Search(question string, k int, minScore float64) []Hit {
	if p == nil || k <= 0 {
		return nil
	}
	q := p.v.vectorise(question, nil)
	var hits []Hit
	for i, r := range p.rows {
		if s := dot(q, r); s > 0 && s >= minScore {
			hits = append(hits, Hit{Doc: i, Score: s})
		}
	}
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].Score > hits[j].Score })
	return hits[:min(len(hits), k)]
}
