package router

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// The reference classifier: Classify as it was before it reused scratch
// memory (a map per question for the counts, a string per feature, fresh
// score slices), kept here so the faster path is checked against it. One
// change: the unseen features' weights are summed in byte order, as the
// new path does, where the old one summed them in map order, which moved
// the norm in its last bit from one call to the next.

func refFeatures(dst []string, text string) []string {
	prev := ""
	for _, w := range words(text) {
		if w.cjk {
			dst = refCJKFeatures(dst, w.text)
			prev = ""
			continue
		}
		marked := "<" + w.text + ">"
		dst = append(dst, marked, marked)
		if !w.digits {
			dst = refCharGrams(dst, marked)
		}
		if prev != "" {
			dst = append(dst, prev+" "+w.text, prev+" "+w.text)
		}
		prev = w.text
	}
	return dst
}

func refCharGrams(dst []string, marked string) []string {
	if utf8.RuneCountInString(marked) == len(marked) {
		n := len(marked)
		for size := minGram; size <= maxGram && size < n; size++ {
			for i := 0; i+size <= n; i++ {
				dst = append(dst, marked[i:i+size])
			}
		}
		return dst
	}
	starts := make([]int, 0, len(marked)+1)
	for i := range marked {
		starts = append(starts, i)
	}
	n := len(starts)
	starts = append(starts, len(marked))
	for size := minGram; size <= maxGram && size < n; size++ {
		for i := 0; i+size <= n; i++ {
			dst = append(dst, marked[starts[i]:starts[i+size]])
		}
	}
	return dst
}

func refCJKFeatures(dst []string, run string) []string {
	prev := -1
	for i, r := range run {
		end := i + utf8.RuneLen(r)
		dst = append(dst, run[i:end])
		if prev >= 0 {
			dst = append(dst, run[prev:end])
		}
		prev = i
	}
	return dst
}

func refVectorise(v *vocab, text string) (vec, map[int32]bool) {
	feats := refFeatures(nil, text)
	counts := make(map[int32]float64, len(feats))
	unseen := map[string]float64{}
	cjkIDs := map[int32]bool{}
	for _, f := range feats {
		if id, ok := lookup(v, f); ok {
			counts[id]++
			if isCJKFeature(f) {
				cjkIDs[id] = true
			}
		} else {
			unseen[f]++
		}
	}
	out := vec{}
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
	keys := make([]string, 0, len(unseen))
	for f := range unseen {
		keys = append(keys, f)
	}
	slices.Sort(keys) // the one change, see above
	for _, f := range keys {
		idf := v.unseenIDF
		if isStopFeature(f) {
			idf = v.stopUnseenIDF
		}
		w := tfWeight(unseen[f]) * float64(idf)
		norm += w * w
		if isCJKFeature(f) {
			cjk += w * w
		}
	}
	if norm > 0 {
		out.cjk = cjk / norm
	}
	if len(out.idx) == 0 {
		return vec{cjk: out.cjk}, nil
	}
	return out.normalised(norm), cjkIDs
}

func refHeads(m *Model, text string) (p, cos []float64, cjkShare float64) {
	x, cjkIDs := refVectorise(&m.vocab, text)
	if len(x.idx) == 0 {
		return nil, nil, x.cjk
	}
	p = make([]float64, len(m.intents))
	for c, b := range m.bias {
		p[c] = float64(b)
	}
	m.linear.accumulate(x, p)
	softmax(p)
	cos = make([]float64, len(m.intents))
	cjk := make([]float64, len(m.intents))
	for i, f := range x.idx {
		dst := cos
		if cjkIDs[f] {
			dst = cjk
		}
		m.proto.addTo(f, float64(x.val[i]), dst)
	}
	for c := range cos {
		a, b := math.Max(cos[c], 0), math.Max(cjk[c], 0)
		cos[c] = math.Min(math.Sqrt(a*a+b*b), 1)
	}
	return p, cos, x.cjk
}

func refClassify(m *Model, text string) Result {
	p, cos, cjk := refHeads(m, text)
	scores := make([]float64, len(m.intents))
	for c := range p {
		scores[c] = math.Sqrt(p[c] * cos[c])
	}
	var r Result
	order := top(scores, max(RankedLen, 3))
	for _, i := range order {
		if len(r.Ranked) == RankedLen || scores[i] <= 0 {
			break
		}
		r.Ranked = append(r.Ranked, Match{Intent: m.intents[i].Name, Score: scores[i]})
	}
	if len(r.Ranked) == 0 {
		return r
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

// checkClassifyMatchesRef fails when Classify and the reference differ on
// any of texts, classifying each twice so reused scratch is exercised.
func checkClassifyMatchesRef(t *testing.T, m *Model, texts []string) {
	t.Helper()
	bad := 0
	for _, text := range texts {
		want := refClassify(m, text)
		for range 2 {
			if got := m.Classify(text); !reflect.DeepEqual(got, want) {
				bad++
				if bad <= 5 {
					t.Errorf("Classify(%q):\n got %+v\nwant %+v", text, got, want)
				}
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d classifications differ from the reference", bad, 2*len(texts))
	}
}

// randomTexts returns n texts mixing words of base with random runes
// (ASCII, Latin accents, CJK, full-width, apostrophes, marks, invalid UTF-8).
func randomTexts(base []string, n int, seed uint64) []string {
	rng := rand.New(rand.NewPCG(seed, 1))
	pieces := []string{"'", "’", "é", "\u0301", "Ｗ", "　", "运", "費", "の", "ー", "\xff", "\xe2\x82", "12", "?", " ", "-", "İ"}
	var words []string
	for _, b := range base {
		words = append(words, strings.Fields(b)...)
	}
	out := make([]string, n)
	for i := range out {
		var sb strings.Builder
		for k := rng.IntN(12); k >= 0; k-- {
			if len(words) > 0 && rng.IntN(3) > 0 {
				w := words[rng.IntN(len(words))]
				if rng.IntN(4) == 0 && len(w) > 1 { // a typo
					j := rng.IntN(len(w))
					w = w[:j] + w[j+1:]
				}
				sb.WriteString(w)
			} else {
				sb.WriteString(pieces[rng.IntN(len(pieces))])
			}
			if rng.IntN(5) > 0 {
				sb.WriteByte(' ')
			}
		}
		out[i] = sb.String()
	}
	return out
}

func TestClassifyMatchesReference(t *testing.T) {
	m := loadShop(t)
	b, err := os.ReadFile("testdata/shop_intents.json")
	if err != nil {
		t.Fatalf("read shop intents: %v", err)
	}
	var intents []Intent
	if err := json.Unmarshal(b, &intents); err != nil {
		t.Fatalf("parse shop intents: %v", err)
	}
	var base []string
	for _, in := range intents {
		base = append(base, in.Examples...)
	}
	texts := append([]string{"", "   ", "where is my order", "运费多少", "how do i retrun this", "tell me a joke",
		"WHERE'S MY ORDER??", "退貨", "ｒｅｔｕｒｎ", "order #12345 12345", strings.Repeat("shipping ", 400)}, base...)
	checkClassifyMatchesRef(t, m, append(texts, randomTexts(base, 2000, 7)...))
}

func FuzzClassifyMatchesReference(f *testing.F) {
	for _, s := range []string{"where is my order", "运费多少", "café crème", "i'd like a refund", "\xff\xfe", "ｒｅｔｕｒｎ 退貨"} {
		f.Add(s)
	}
	m := loadShop(f)
	f.Fuzz(func(t *testing.T, text string) {
		if got := features(nil, text); !reflect.DeepEqual(got, refFeatures(nil, text)) {
			t.Fatalf("features(%q) = %q, reference %q", text, got, refFeatures(nil, text))
		}
		if got, want := m.Classify(text), refClassify(m, text); !reflect.DeepEqual(got, want) {
			t.Fatalf("Classify(%q):\n got %+v\nwant %+v", text, got, want)
		}
	})
}

// TestClassifyConcurrent classifies from several goroutines at once, as
// the relay does: the scratch memory must never be shared between calls
// (go test -race watches it) and every answer must be the lone call's.
func TestClassifyConcurrent(t *testing.T) {
	m := loadShop(t)
	texts := randomTexts([]string{"where is my order", "运费多少", "how do i return this", "refund please"}, 200, 3)
	want := make([]Result, len(texts))
	for i, text := range texts {
		want[i] = m.Classify(text)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for g := range 4 {
		wg.Go(func() {
			for k := range texts {
				i := (k + g*len(texts)/4) % len(texts)
				if got := m.Classify(texts[i]); !reflect.DeepEqual(got, want[i]) {
					errs <- fmt.Sprintf("goroutine %d, %q: got %+v, want %+v", g, texts[i], got, want[i])
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
