package router

import (
	"math"
	"sync"
)

// DefaultMargin is how far the best score must lead the runner-up when a
// fixed Options.Threshold is given: two near-equal intents mean the
// question is ambiguous, and a wrong canned answer costs more than asking
// the AI or a person. The calibrated rule (zero Threshold) weighs the
// runner-up in its confidence instead (calibrate.go).
const DefaultMargin = 0.01

// Options tune the decision rule. The zero value is what the product
// ships: a rule calibrated on the intents' own examples.
type Options struct {
	// Threshold, when not zero, replaces the calibrated rule by a fixed
	// one: match when the best score is at least Threshold, in (0,1].
	Threshold float64
	// Margin is the lead over the runner-up the fixed rule requires, in
	// [0,1); 0 means DefaultMargin. The calibrated rule ignores it.
	Margin float64
}

// Match is one intent and its score.
type Match struct {
	Intent string  `json:"intent"`
	Score  float64 `json:"score"`
}

// Result is what Classify decided. Intent, Action, Answer and Skill are
// empty unless Matched; Score is the best score either way.
type Result struct {
	Intent  string  `json:"intent"`
	Score   float64 `json:"score"`
	Matched bool    `json:"matched"`
	// Confidence is the estimated chance that the best intent is right,
	// from the curve fitted on the shop's own examples; the model answers
	// at AnswerTarget or more.
	Confidence float64 `json:"confidence"`
	Action     Action  `json:"action"`
	Answer     string  `json:"answer"`
	Skill      string  `json:"skill"`
	Ranked     []Match `json:"ranked"` // best first, at most RankedLen, scores > 0
	// Choices, when not Matched, are the two intents the question is
	// between ("did you mean …?"): the pair is confident where neither
	// is alone. Empty otherwise.
	Choices []Choice `json:"choices,omitempty"`
}

// Choice is an intent offered to the visitor as "did you mean …?".
type Choice struct {
	Intent string `json:"intent"`
	// Question is one of the intent's own examples, in the question's
	// writing system where it has one: the most typical (nearest its
	// prototype), so the visitor recognises what the answer is about.
	Question string `json:"question"`
	// Answer is the intent's answer, shown if the visitor picks it.
	Answer string `json:"answer"`
}

// RankedLen is how many intents Result.Ranked lists.
const RankedLen = 5

// Model is a fitted intent classifier. It is immutable after Fit or Load
// and safe for concurrent use.
type Model struct {
	intents []Intent // Examples dropped: classification does not need them
	vocab   vocab
	opts    Options
	cal     calib
	// questions holds each intent's sample question, non-CJK then CJK
	// ("" where the intent has no example in that script).
	questions [][2]string

	// Both heads are stored per feature (postings), so classifying costs
	// only the features present in the question.
	bias   []float32 // per intent, linear head
	linear postings  // softmax weights, input scale folded in
	proto  postings  // L2-normalised intent centroids

	// scratch holds *scratch: what Classify needs per call, reused so a
	// question allocates (almost) nothing; a pool because the relay
	// classifies from many goroutines at once.
	scratch sync.Pool

	raw      []byte // the serialised form, kept for Hash and MarshalBinary
	hashOnce sync.Once
	hash     string // computed on first use: SHA-256 of 1 MB costs the widget ~10 ms
}

// postings holds, for each feature f, its (intent, weight × scale)
// entries in data[start[f]:start[f+1]], as stored: (intent delta uvarint,
// int8 weight) pairs. They are decoded when a question has the feature,
// so loading a model does not touch them (docs/intents.md, "Load").
type postings struct {
	start []uint32
	data  []byte
	scale float32
}

// addTo adds v × weight into out[intent] for every (intent, weight) of
// feature f. Entries that are malformed or name an intent past len(out) end
// the feature: Load checked the checksum and the lengths, and a corrupt
// model must not panic. The decoding is inlined rather than handed to a
// callback: a question touches ~10 000 entries, and an indirect call per
// entry was a third of Classify in the widget's wasm.
func (p *postings) addTo(f int32, v float64, out []float64) {
	if int(f)+1 >= len(p.start) {
		return
	}
	b := p.data[p.start[f]:p.start[f+1]]
	scale := float64(p.scale)
	last := -1
	for i := 0; i+1 < len(b); {
		// Intent deltas are almost always one byte (150 intents).
		d := int(b[i])
		i++
		if d >= 0x80 {
			d &= 0x7f
			for shift := 7; ; shift += 7 {
				if i >= len(b) || shift > 28 {
					return
				}
				c := b[i]
				i++
				d |= int(c&0x7f) << shift
				if c < 0x80 {
					break
				}
			}
			if i >= len(b) {
				return
			}
		}
		if d == 0 || last+d >= len(out) {
			return
		}
		last += d
		out[last] += v * (float64(int8(b[i])) * scale)
		i++
	}
}

// Intents returns the model's intents without their examples.
func (m *Model) Intents() []Intent {
	out := make([]Intent, len(m.intents))
	copy(out, m.intents)
	return out
}

// Options returns the decision rule the model was fitted with.
func (m *Model) Options() Options { return m.opts }

// scratch is the working memory of one Classify call. In the widget's
// single-threaded WebAssembly every allocation brings the garbage
// collector's stop closer, and it stopped a call for milliseconds
// (bench/notes.md, Widget).
type scratch struct {
	vec         vecScratch
	p, cos, cjk []float64 // per intent
	scores      []float64 // per intent
	order       []int
}

// Classify scores text against every intent and decides whether the best
// one is a confident match.
func (m *Model) Classify(text string) Result {
	s, _ := m.scratch.Get().(*scratch)
	if s == nil {
		s = new(scratch)
	}
	defer m.scratch.Put(s)
	p, cos, cjk := m.headsInto(text, s)
	if p == nil {
		return Result{}
	}
	scores := grow(s.scores, len(m.intents))
	s.scores = scores
	for c := range p {
		scores[c] = math.Sqrt(p[c] * cos[c])
	}
	var r Result
	// Ranked lists RankedLen; did-you-mean looks at the best three.
	order := topInto(s.order[:0], scores, max(RankedLen, 3))
	s.order = order
	n := 0
	for n < len(order) && n < RankedLen && scores[order[n]] > 0 {
		n++
	}
	if n == 0 {
		return r
	}
	r.Ranked = make([]Match, n)
	for j, i := range order[:n] {
		r.Ranked[j] = Match{Intent: m.intents[i].Name, Score: scores[i]}
	}
	best := order[0]
	r.Score = scores[best]
	second := 0.0
	if len(order) > 1 {
		second = scores[order[1]]
	}
	r.Confidence = m.cal.p(r.Score-confMargin*second, cjk)
	ok := r.Confidence >= AnswerTarget && r.Score >= scoreFloor(len(m.intents))
	if m.opts.Threshold > 0 {
		ok = r.Score >= m.opts.Threshold && r.Score-second >= m.opts.Margin
	}
	if ok {
		in := m.intents[best]
		r.Matched = true
		r.Intent, r.Action, r.Answer, r.Skill = in.Name, in.Action, in.Answer, in.Skill
		return r
	}
	if m.opts.Threshold == 0 && len(order) > 1 {
		r.Choices = m.choices(order, scores, p, cos, cjk, pairClose)
	}
	return r
}

// grow returns b resliced to n elements, zeroed, reallocated only when
// its capacity is short.
func grow(b []float64, n int) []float64 {
	if cap(b) < n {
		return make([]float64, n)
	}
	b = b[:n]
	clear(b)
	return b
}

// Did-you-mean: the pair rule.
const (
	// pairClose is how close the runner-up must be to the best score for
	// the two to be offered together (second ≥ pairClose × best): farther
	// apart, the runner-up is not what held the best one back.
	pairClose = 0.6
)

// choices returns the top two intents when the question is between them:
// both answer with text, the runner-up is close, and the pair taken as one
// intent is as confident as a match must be: its score is what one intent
// holding both would get (their softmax probabilities added, the nearer
// prototype), its runner-up the third intent, and it must clear the same
// curve and floor. A question far from everything, or between an answer
// and a hand-off, gets none: it goes to the AI or a person.
func (m *Model) choices(order []int, scores, p, cos []float64, cjk, close float64) []Choice {
	a, b := order[0], order[1]
	s3 := 0.0
	if len(order) > 2 {
		s3 = scores[order[2]]
	}
	if scores[b] < close*scores[a] || !m.answers(a) || !m.answers(b) {
		return nil
	}
	pair := math.Sqrt(math.Min(p[a]+p[b], 1) * math.Max(cos[a], cos[b]))
	if pair < scoreFloor(len(m.intents)) || m.cal.p(pair-confMargin*s3, cjk) < AnswerTarget {
		return nil
	}
	return []Choice{m.choice(a, cjk), m.choice(b, cjk)}
}

// answers reports whether intent i answers with a text of its own.
func (m *Model) answers(i int) bool {
	in := m.intents[i]
	return (in.Action == ActionAnswer || in.Action == "") && in.Answer != ""
}

// choice names intent i for a question whose feature weight is a share
// cjk Chinese or Japanese: its sample question in that script, else in
// the other, else its name.
func (m *Model) choice(i int, cjk float64) Choice {
	c := Choice{Intent: m.intents[i].Name, Answer: m.intents[i].Answer}
	if i < len(m.questions) {
		q := m.questions[i]
		if cjk >= 0.5 {
			q[0], q[1] = q[1], q[0]
		}
		c.Question = q[0]
		if c.Question == "" {
			c.Question = q[1]
		}
	}
	if c.Question == "" {
		c.Question = c.Intent
	}
	return c
}

// confidence returns the best intent (-1: none), the calibration input
// (best − confMargin × second score) and whether text is mostly CJK.
func (m *Model) confidence(text string) (best int, conf float64, cjk float64) {
	scores, cjk := m.scoresCJK(text)
	best, first, second := -1, 0.0, 0.0
	for i, s := range scores {
		switch {
		case s > first:
			best, first, second = i, s, first
		case s > second:
			second = s
		}
	}
	return best, first - confMargin*second, cjk
}

// p is the estimated chance of being right at confidence x for a text
// whose features are a share cjk (0..1) Chinese or Japanese: the two
// scripts' curves blended.
func (c calib) p(x, cjk float64) float64 {
	return (1-cjk)*c.latin.p(x) + cjk*c.cjk.p(x)
}

// Grounding returns up to k intents (name, answer, action, skill) that best
// match text, even below the threshold, to ground an AI answer. Intents
// sharing nothing with text are left out.
func (m *Model) Grounding(text string, k int) []Intent {
	if k <= 0 {
		return nil
	}
	scores := m.scores(text)
	var out []Intent
	for _, i := range top(scores, k) {
		if len(out) == k || scores[i] <= 0 {
			break
		}
		out = append(out, m.intents[i])
	}
	return out
}

// scores returns one score per intent in [0,1]: the geometric mean of the
// linear head's softmax probability (which intent, relative to the others)
// and the cosine to the intent's centroid (how close to anything it was
// taught, whatever the number of intents). The softmax alone would call a
// question about anything "80 % shipping" in a three-intent shop.
func (m *Model) scores(text string) []float64 {
	s, _ := m.scoresCJK(text)
	return s
}

// scoresCJK is scores and the share of the text's feature weight that is
// Chinese or Japanese (0..1).
func (m *Model) scoresCJK(text string) ([]float64, float64) {
	p, cos, cjk := m.heads(text)
	if p == nil {
		return make([]float64, len(m.intents)), cjk
	}
	for c := range cos {
		cos[c] = math.Sqrt(p[c] * cos[c])
	}
	return cos, cjk
}

// heads returns the linear head's softmax probabilities and the centroid
// cosines (clamped to [0,1]), or nils when text has no known feature, and
// the share of the text's feature weight that is CJK.
func (m *Model) heads(text string) (p, cos []float64, cjkShare float64) {
	return m.headsInto(text, new(scratch))
}

// headsInto is heads working in s: p and cos are s's until its next use.
func (m *Model) headsInto(text string, s *scratch) (p, cos []float64, cjkShare float64) {
	x := m.vocab.vectorise(text, &s.vec)
	if len(x.idx) == 0 {
		return nil, nil, x.cjk
	}
	p = grow(s.p, len(m.intents))
	s.p = p
	for c, b := range m.bias {
		p[c] = float64(b)
	}
	m.linear.accumulate(x, p)
	softmax(p)
	// The cosine to the span of an intent's script prototypes: they are
	// orthogonal, so it is the root of the sum of squared cosines.
	cos = grow(s.cos, len(m.intents))
	s.cos = cos
	cjk := grow(s.cjk, len(m.intents))
	s.cjk = cjk
	for i, f := range x.idx {
		v := float64(x.val[i])
		dst := cos
		if x.cjkAt[i] {
			dst = cjk
		}
		m.proto.addTo(f, v, dst)
	}
	for c := range cos {
		a, b := math.Max(cos[c], 0), math.Max(cjk[c], 0)
		cos[c] = math.Min(math.Sqrt(a*a+b*b), 1)
	}
	return p, cos, x.cjk
}

// accumulate adds x times each feature's weights into out.
func (p *postings) accumulate(x vec, out []float64) {
	for i, f := range x.idx {
		p.addTo(f, float64(x.val[i]), out)
	}
}

// softmax turns logits into probabilities in place.
func softmax(s []float64) {
	hi := math.Inf(-1)
	for _, v := range s {
		hi = math.Max(hi, v)
	}
	var z float64
	for i, v := range s {
		s[i] = math.Exp(v - hi)
		z += s[i]
	}
	for i := range s {
		s[i] /= z
	}
}

// top returns the indices of the k best scores, best first, ties by index
// so the order is deterministic. Callers need a handful of intents, so one
// pass with an insertion into k places beats sorting all of them (sorting
// was a quarter of Classify in the widget's wasm).
func top(scores []float64, k int) []int {
	return topInto(make([]int, 0, min(k, len(scores))), scores, k)
}

// topInto is top appending to out (empty), so Classify can reuse it.
func topInto(out []int, scores []float64, k int) []int {
	k = min(k, len(scores))
	for i, s := range scores {
		pos := len(out)
		for pos > 0 && scores[out[pos-1]] < s {
			pos--
		}
		if pos == k {
			continue
		}
		if len(out) < k {
			out = append(out, 0)
		}
		copy(out[pos+1:], out[pos:len(out)-1])
		out[pos] = i
	}
	return out
}
