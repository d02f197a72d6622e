package search

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kefuhq/kefu/relay/internal/store"
	"github.com/kefuhq/kefu/relay/internal/store/boltdb"
	"github.com/kefuhq/kefu/relay/internal/store/storetest"
	"github.com/kefuhq/kefu/relay/protocol"
	"github.com/kefuhq/kefu/router"
)

// BenchStore is `make bench`'s search scenario (bench/cmd/kefubench runs
// it with KEFU_SEARCH_BENCH=<out.json>; without it, it is skipped): a
// bbolt store of 10 000 conversations over a year, their texts from
// CLINC150's customer questions, some tagged, handled by five agents. It
// times the index's build and searches against a full scan of the store
// (the baseline, in the same run), and checks that both find exactly the
// same conversations for every query.
func BenchmarkStore(b *testing.B) {
	out := os.Getenv("KEFU_SEARCH_BENCH")
	if out == "" {
		b.Skip("set KEFU_SEARCH_BENCH=<file.json> (bench/cmd/kefubench does)")
	}
	convs := 10000
	if os.Getenv("KEFU_SEARCH_BENCH_QUICK") != "" {
		convs = 1000
	}
	res, err := runStoreBench(b, convs)
	if err != nil {
		b.Fatal(err)
	}
	raw, _ := json.MarshalIndent(res, "", "  ")
	if err := os.WriteFile(out, raw, 0o644); err != nil {
		b.Fatal(err)
	}
	if res.Mismatches > 0 {
		b.Fatalf("%d queries found other conversations than the full scan", res.Mismatches)
	}
}

// StoreBench is what BenchmarkStore measured (bench/cmd/kefubench reads it).
type StoreBench struct {
	Conversations int     `json:"conversations"`
	Messages      int     `json:"messages"`
	Terms         int     `json:"terms"`
	SeedS         float64 `json:"seed_s"`
	BuildS        float64 `json:"build_s"`
	HeapBytes     int64   `json:"heap_bytes"`
	Queries       int     `json:"queries"`
	Kinds         []Kind  `json:"kinds"`
	ScanRuns      int     `json:"scan_runs"`
	IndexP50MS    float64 `json:"index_p50_ms"`
	IndexP99MS    float64 `json:"index_p99_ms"`
	ServiceP50MS  float64 `json:"service_p50_ms"`
	ServiceP99MS  float64 `json:"service_p99_ms"`
	ScanP50MS     float64 `json:"scan_p50_ms"`
	ScanP99MS     float64 `json:"scan_p99_ms"`
	Mismatches    int     `json:"mismatches"`
	Checked       int     `json:"checked"`
	MeanHits      float64 `json:"mean_hits"`
}

// Kind is one kind of query in the mix, with its example and timings.
type Kind struct {
	Name       string  `json:"name"`
	Example    string  `json:"example"`
	Count      int     `json:"count"`
	IndexP50MS float64 `json:"index_p50_ms"`
	IndexP99MS float64 `json:"index_p99_ms"`
	MeanHits   float64 `json:"mean_hits"`
}

func clincTexts() ([]string, error) {
	rel := filepath.Join("shared", "datasets", "clinc150", "clinc150_train_val.json")
	for _, dir := range []string{"/work", "../../../..", "../../../../..", "../../../../../.."} {
		raw, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			continue
		}
		var d struct {
			Train [][2]string `json:"train"`
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			return nil, err
		}
		out := make([]string, len(d.Train))
		for i, p := range d.Train {
			out[i] = p[0]
		}
		return out, nil
	}
	return nil, fmt.Errorf("CLINC150 (%s) not found", rel)
}

var benchTags = []string{"refund", "vip", "bug", "shipping", "billing", "follow-up", "complaint", "b2b"}

func runStoreBench(b *testing.B, nConvs int) (StoreBench, error) {
	texts, err := clincTexts()
	if err != nil {
		return StoreBench{}, err
	}
	rng := rand.New(rand.NewPCG(15, 15))
	start := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	var clock atomic.Int64
	clock.Store(start.UnixNano())
	st, err := boltdb.Open(b.TempDir(), boltdb.Options{Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	if err != nil {
		return StoreBench{}, err
	}
	defer st.Close()
	res := StoreBench{Conversations: nConvs}
	agents := []string{"agent-ann", "agent-bo", "agent-chen", "agent-dee", "agent-eli"}

	// Seed: a week at a time (the store's clock), the week's conversations
	// written at once by many writers (the store commits them together).
	t0 := time.Now()
	ctx := context.Background()
	perWeek := max(1, nConvs/52)
	type plan struct {
		msgs  []store.NewMessage
		agent string
		tags  []string
	}
	made := 0
	for week := 0; made < nConvs; week++ {
		clock.Store(start.AddDate(0, 0, 7*week).UnixNano())
		n := min(perWeek, nConvs-made)
		plans := make([]plan, n)
		for i := range plans {
			var p plan
			turns := 2 + rng.IntN(4)
			if rng.IntN(2) == 0 {
				p.agent = agents[rng.IntN(len(agents))]
			}
			for j := 0; j < turns; j++ {
				p.msgs = append(p.msgs, store.NewMessage{From: protocol.FromVisitor, Text: texts[rng.IntN(len(texts))]})
				switch {
				case p.agent != "":
					p.msgs = append(p.msgs, store.NewMessage{From: protocol.FromAgent, AuthorID: p.agent, Text: texts[rng.IntN(len(texts))]})
				default:
					p.msgs = append(p.msgs, store.NewMessage{From: protocol.FromBot, Text: texts[rng.IntN(len(texts))]})
				}
			}
			if rng.IntN(10) == 0 {
				p.tags = []string{benchTags[rng.IntN(len(benchTags))]}
				if rng.IntN(3) == 0 {
					p.tags = append(p.tags, benchTags[rng.IntN(len(benchTags))])
				}
			}
			res.Messages += len(p.msgs)
			plans[i] = p
		}
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range plans {
			wg.Add(1)
			go func(p plan, i int) {
				defer wg.Done()
				_, c, err := st.CreateVisitor(ctx, storetest.TokenHash(fmt.Sprintf("v%d-%d", week, i)), "")
				if err == nil {
					_, err = st.Append(ctx, c.ID, p.msgs...)
				}
				if err == nil && p.agent != "" {
					_, err = st.UpdateConversation(ctx, c.ID, func(cv *store.Conversation) error { return store.Assign(cv, p.agent, "") })
				}
				if err == nil && len(p.tags) > 0 {
					_, _, err = store.ChangeTags(ctx, st, c.ID, p.tags, nil, p.agent, time.Now())
				}
				if err != nil {
					errs <- err
				}
			}(plans[i], i)
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return res, err
		}
		made += n
	}
	res.SeedS = time.Since(t0).Seconds()

	// Build, as the relay does at start.
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	svc := New(st, Options{})
	t0 = time.Now()
	if err := svc.Build(ctx); err != nil {
		return res, err
	}
	res.BuildS = time.Since(t0).Seconds()
	runtime.GC()
	runtime.ReadMemStats(&after)
	res.HeapBytes = int64(after.HeapAlloc) - int64(before.HeapAlloc)
	res.Terms = svc.Index().Terms()

	// The query mix, from the seeded texts.
	words := map[string]int{}
	for _, t := range texts {
		router.Terms(t, 0, func(w string) { words[w]++ })
	}
	var byFreq []string
	for w := range words {
		byFreq = append(byFreq, w)
	}
	sort.Slice(byFreq, func(i, j int) bool {
		return words[byFreq[i]] > words[byFreq[j]] || words[byFreq[i]] == words[byFreq[j]] && byFreq[i] < byFreq[j]
	})
	pick := func(from, to int) string { return byFreq[from+rng.IntN(max(1, min(to, len(byFreq))-from))] }
	type query struct {
		kind string
		q    Query
	}
	var qs []query
	for i := 0; i < 40; i++ {
		text := texts[rng.IntN(len(texts))]
		var ws []string
		router.Terms(text, 0, func(w string) { ws = append(ws, w) })
		two := strings.Join(ws[:min(2, len(ws))], " ") + " "
		long := pick(50, 2000)
		prefix := long[:min(len(long), 3+rng.IntN(2))]
		from := start.AddDate(0, 0, rng.IntN(330))
		qs = append(qs,
			query{"a common word", Query{Text: pick(0, 50) + " "}},
			query{"an uncommon word", Query{Text: pick(50, 2000) + " "}},
			query{"a rare word", Query{Text: pick(2000, len(byFreq)) + " "}},
			query{"two words of one question", Query{Text: two}},
			query{"a word being typed (prefix)", Query{Text: prefix}},
			query{"a tag", Query{Tags: []string{benchTags[rng.IntN(len(benchTags))]}}},
			query{"a tag and a word", Query{Tags: []string{benchTags[rng.IntN(len(benchTags))]}, Text: pick(0, 200) + " "}},
			query{"an agent and a word", Query{Agent: agents[rng.IntN(len(agents))], Text: pick(0, 200) + " "}},
			query{"a month and a word", Query{From: from, To: from.AddDate(0, 1, 0), Text: pick(0, 200) + " "}},
		)
	}
	res.Queries = len(qs)

	// Index and service timings: every query, five rounds.
	kinds := map[string]*Kind{}
	var order []string
	var idxTimes, svcTimes []float64
	perKind := map[string][]float64{}
	hitsOf := map[string][]int{}
	for round := 0; round < 5; round++ {
		for _, q := range qs {
			t := time.Now()
			_, total := svc.Index().Search(q.q, 0, DefaultLimit)
			ms := float64(time.Since(t).Nanoseconds()) / 1e6
			idxTimes = append(idxTimes, ms)
			perKind[q.kind] = append(perKind[q.kind], ms)
			if round == 0 {
				hitsOf[q.kind] = append(hitsOf[q.kind], total)
				if kinds[q.kind] == nil {
					kinds[q.kind] = &Kind{Name: q.kind, Example: describe(q.q)}
					order = append(order, q.kind)
				}
				kinds[q.kind].Count++
			}
			t = time.Now()
			if _, err := svc.Search(q.q, 0, DefaultLimit); err != nil {
				return res, err
			}
			svcTimes = append(svcTimes, float64(time.Since(t).Nanoseconds())/1e6)
		}
	}
	res.IndexP50MS, res.IndexP99MS = pct(idxTimes, 50), pct(idxTimes, 99)
	res.ServiceP50MS, res.ServiceP99MS = pct(svcTimes, 50), pct(svcTimes, 99)
	var allHits float64
	for _, name := range order {
		k := kinds[name]
		k.IndexP50MS, k.IndexP99MS = pct(perKind[name], 50), pct(perKind[name], 99)
		sum := 0
		for _, h := range hitsOf[name] {
			sum += h
		}
		k.MeanHits = float64(sum) / float64(len(hitsOf[name]))
		allHits += float64(sum)
		res.Kinds = append(res.Kinds, *k)
	}
	res.MeanHits = allHits / float64(len(qs))

	// The baseline, and the check: a full scan of the store per query
	// (what a search without an index does), on one query of each kind a
	// round, finding exactly what the index finds.
	var scanTimes []float64
	for round := 0; round < 3; round++ {
		for k := range order {
			q := qs[round*len(order)+k].q
			t := time.Now()
			want, err := scan(st, q)
			if err != nil {
				return res, err
			}
			scanTimes = append(scanTimes, float64(time.Since(t).Nanoseconds())/1e6)
			hits, _ := svc.Index().Search(q, 0, nConvs)
			var got []string
			for _, h := range hits {
				got = append(got, h.ID)
			}
			sort.Strings(got)
			res.Checked++
			if !slices.Equal(got, want) {
				res.Mismatches++
				b.Logf("%s: index found %d, the scan %d", describe(q), len(got), len(want))
			}
		}
	}
	res.ScanRuns = len(scanTimes)
	res.ScanP50MS, res.ScanP99MS = pct(scanTimes, 50), pct(scanTimes, 99)
	return res, nil
}

// scan is the search without an index: every conversation, its messages
// and tags read from the store, matched word by word. Its matching is
// written apart from the index's, so the two check each other.
func scan(st *boltdb.Store, q Query) ([]string, error) {
	convs, err := st.Conversations(nil)
	if err != nil {
		return nil, err
	}
	var terms []string
	router.Terms(q.Text, 0, func(t string) { terms = append(terms, t) })
	prefix := ""
	if len(terms) > 0 && !strings.HasSuffix(q.Text, " ") {
		prefix, terms = terms[len(terms)-1], terms[:len(terms)-1]
	}
	var out []string
	for _, c := range convs {
		msgs, err := st.Messages(c.ID, 0, 0)
		if err != nil {
			return nil, err
		}
		tags, err := store.ReadTags(st, c.ID)
		if err != nil {
			return nil, err
		}
		have := map[string]bool{}
		agents := map[string]bool{c.AgentID: c.AgentID != ""}
		first, last := c.CreatedAt, c.UpdatedAt
		for _, m := range msgs {
			if m.From == protocol.FromAgent {
				agents[m.AuthorID] = true
			}
			first, last = minTime(first, m.Time), maxTime(last, m.Time)
			if m.From == protocol.FromSystem || m.From == protocol.FromRating {
				continue
			}
			router.Terms(m.Text, maxTermRunes, func(t string) { have[t] = true })
		}
		ok := true
		for _, t := range terms {
			ok = ok && have[t]
		}
		if ok && prefix != "" {
			found := false
			for t := range have {
				if strings.HasPrefix(t, prefix) {
					found = true
					break
				}
			}
			ok = found
		}
		for _, t := range q.Tags {
			ok = ok && slices.Contains(tags, t)
		}
		ok = ok && (q.Agent == "" || agents[q.Agent])
		ok = ok && (q.From.IsZero() || !last.Before(q.From)) && (q.To.IsZero() || first.Before(q.To))
		if ok {
			out = append(out, c.ID)
		}
	}
	sort.Strings(out)
	return out, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func describe(q Query) string {
	var parts []string
	if q.Text != "" {
		parts = append(parts, fmt.Sprintf("q=%q", q.Text))
	}
	for _, t := range q.Tags {
		parts = append(parts, "tag="+t)
	}
	if q.Agent != "" {
		parts = append(parts, "agent="+q.Agent)
	}
	if !q.From.IsZero() {
		parts = append(parts, "from="+q.From.Format(time.DateOnly), "to="+q.To.Format(time.DateOnly))
	}
	return strings.Join(parts, " ")
}

func pct(xs []float64, p int) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	return s[min(len(s)-1, len(s)*p/100)]
}
