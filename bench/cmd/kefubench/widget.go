package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kefuhq/kefu/router"
)

// clincPath is CLINC150 in shared/ beside the repository (or beside the
// directory holding it, for a git worktree).
var clincPath = func() string {
	rel := filepath.Join("shared", "datasets", "clinc150", "clinc150_train_val.json")
	dir := ".."
	for i := 0; i < 3; i++ {
		if _, err := os.Stat(filepath.Join(dir, rel)); err == nil {
			return filepath.Join(dir, rel)
		}
		dir = filepath.Join(dir, "..")
	}
	return filepath.Join("..", rel)
}()

// widget measures the browser side: asset sizes, classify time with 150
// intents (wasm in Node, and native Go as its baseline), and a host page's
// first paint and blocking time with and without the widget.
func (b *bench) widget(ctx context.Context) error {
	w := &b.res.Widget
	for _, f := range []struct{ name, path string }{
		{"widget.js (loader)", "widget/widget.js"},
		{"panel.js (lazy)", "widget/panel.js"},
		{"kefu.wasm", "public/wasm/kefu.wasm"},
		{"wasm_exec.js", "public/wasm/wasm_exec.js"},
	} {
		w.Files = append(w.Files, sizeOf(ctx, f.name, f.path))
	}
	s, err := b.startKefu(ctx, "widget-kefu", nil, nil) // the demo intents, so the widget loads a model
	if err != nil {
		return err
	}
	defer s.stop()
	b.servedSizes(ctx, s)
	var errs []error
	if err := b.classify(ctx); err != nil {
		errs = append(errs, fmt.Errorf("classify: %w", err))
	}
	if err := b.paint(ctx, s); err != nil {
		errs = append(errs, fmt.Errorf("paint: %w", err))
	}
	return errors.Join(errs...)
}

func sizeOf(ctx context.Context, name, path string) FileSize {
	fs := FileSize{Name: name}
	raw, err := os.ReadFile(path)
	if err != nil {
		return fs
	}
	fs.Present, fs.Raw = true, len(raw)
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(raw)
	zw.Close()
	fs.Gzip = gz.Len()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "brotli", "-c", "-q", "11", path).Output(); err == nil {
		fs.Brotli = len(out)
	}
	return fs
}

// servedSizes asks the relay for the loader and the wasm as a browser
// would (Accept-Encoding: br, gzip) and notes what goes over the wire.
func (b *bench) servedSizes(ctx context.Context, s *server) {
	var cfg struct {
		Wasm *struct {
			URL string `json:"url"`
		} `json:"wasm"`
		Panel string `json:"panel"`
	}
	getJSON(ctx, s.url("/v1/widget/config"), &cfg)
	urls := map[string]string{"widget.js (loader)": "/widget.js", "panel.js (lazy)": cfg.Panel}
	if cfg.Wasm != nil {
		urls["kefu.wasm"] = cfg.Wasm.URL
	}
	for i, f := range b.res.Widget.Files {
		u := urls[f.Name]
		if u == "" {
			continue
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url(u), nil)
		req.Header.Set("Accept-Encoding", "br, gzip")
		resp, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
		if err != nil {
			continue
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		enc := resp.Header.Get("Content-Encoding")
		if enc == "" {
			enc = "identity"
		}
		b.res.Widget.Files[i].Served = fmt.Sprintf("%d B %s (HTTP %d)", n, enc, resp.StatusCode)
	}
}

// classify fits a 150-intent model from CLINC150's train split and times
// classify on the val queries in Node (the wasm) and natively.
func (b *bench) classify(ctx context.Context) error {
	raw, err := os.ReadFile(clincPath)
	if err != nil {
		return fmt.Errorf("CLINC150 not found at %s: %w", clincPath, err)
	}
	var d struct {
		Train [][2]string `json:"train"`
		Val   [][2]string `json:"val"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return fmt.Errorf("CLINC150: %w", err)
	}
	// Quick mode fits from 10 examples per intent (2 s instead of 6 s):
	// the same 150 intents, a smaller vocabulary.
	per := 0
	if b.cfg.Quick {
		per = 10
	}
	var intents []router.Intent
	at := map[string]int{}
	for _, p := range d.Train {
		i, ok := at[p[1]]
		if !ok {
			i = len(intents)
			at[p[1]] = i
			intents = append(intents, router.Intent{Name: p[1], Action: router.ActionAI})
		}
		if per == 0 || len(intents[i].Examples) < per {
			intents[i].Examples = append(intents[i].Examples, p[0])
		}
	}
	t := time.Now()
	m, err := router.Fit(intents, router.Options{})
	if err != nil {
		return fmt.Errorf("fit: %w", err)
	}
	w := &b.res.Widget
	w.FitS, w.Intents, w.PerIntent = time.Since(t).Seconds(), len(intents), per
	model, err := m.MarshalBinary()
	if err != nil {
		return err
	}
	w.ModelBytes = len(model)
	queries := d.Val
	if b.cfg.Quick {
		queries = queries[:500]
	}
	// Native Go: the same model and queries, as the baseline.
	loaded, err := router.Load(model)
	if err != nil {
		return err
	}
	var times []float64
	right := 0
	for _, q := range queries[:min(200, len(queries))] {
		loaded.Classify(q[0])
	}
	for _, q := range queries {
		t := time.Now()
		r := loaded.Classify(q[0])
		times = append(times, float64(time.Since(t))/1e3)
		if r.Matched && r.Intent == q[1] {
			right++
		}
	}
	w.Classify = append(w.Classify, classifyRun("native Go (relay side)", times, right, 0))

	mf := filepath.Join(b.cfg.Work, "clinc150.model")
	qf := filepath.Join(b.cfg.Work, "queries.json")
	qb, _ := json.Marshal(queries)
	if err := os.WriteFile(mf, model, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(qf, qb, 0o644); err != nil {
		return err
	}
	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(b.cfg.Node, "classify.mjs"),
		abs("public/wasm/kefu.wasm"), abs("public/wasm/wasm_exec.js"), mf, qf, "200")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("node classify.mjs: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var r struct {
		StartupMS float64   `json:"startup_ms"`
		Times     []float64 `json:"times_us"`
		Right     int       `json:"right"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return fmt.Errorf("node classify.mjs output: %w", err)
	}
	w.Classify = append(w.Classify, classifyRun("kefu.wasm in Node "+b.res.Machine.Node, r.Times, r.Right, r.StartupMS))
	b.res.Commands = appendOnce(b.res.Commands, "node bench/widget/classify.mjs public/wasm/kefu.wasm public/wasm/wasm_exec.js MODEL QUERIES.json 200")
	return nil
}

func classifyRun(where string, us []float64, right int, startup float64) ClassifyRun {
	c := ClassifyRun{Where: where, Queries: len(us), StartMS: startup}
	if len(us) == 0 {
		return c
	}
	s := slices.Clone(us)
	slices.Sort(s)
	var sum float64
	for _, v := range s {
		sum += v
	}
	q := func(p float64) float64 { return s[min(len(s)-1, int(p*float64(len(s))))] }
	c.MeanUS, c.P50US, c.P99US, c.MaxUS = sum/float64(len(s)), q(0.5), q(0.99), s[len(s)-1]
	c.Accuracy = float64(right) / float64(len(us))
	return c
}

// paint serves a stand-in host page from its own origin, with and without
// the widget's script tag pointing at the relay, and has Chromium load
// each several times.
func (b *bench) paint(ctx context.Context, s *server) error {
	if _, err := os.Stat(filepath.Join(b.cfg.Node, "node_modules", "playwright-core")); err != nil {
		b.res.Widget.PaintNote = "not measured: playwright-core is not installed (run `npm ci` in bench/widget)"
		return errors.New(b.res.Widget.PaintNote)
	}
	without, with, source, err := b.hostPage(ctx, s)
	if err != nil {
		return err
	}
	variants := map[string][]byte{"/without": without, "/with": with}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := variants[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(body)
	})}
	go hs.Serve(ln)
	defer hs.Close()
	host := "http://" + ln.Addr().String()
	runs, settle := 5, 5000
	if b.cfg.Quick {
		runs, settle = 1, 2500
	}
	b.res.Widget.PaintNote = fmt.Sprintf("%s, both variants served from one origin of their own (the relay is another origin, as on a customer's site); `with` has `%s`, `without` has no widget tag; %d runs each, fresh browser profile per run, order alternated; watched until %d ms after the load event (the loader fetches the panel and the wasm when the page is idle)",
		source, `<script src="http://RELAY/widget.js" async></script>`, runs, settle)
	opts, _ := json.Marshal(map[string]any{
		"urls": map[string]string{"without": host + "/without", "with": host + "/with"}, "runs": runs, "settleMs": settle,
		"relay": "http://" + s.addr, "chromium": "/usr/bin/chromium",
	})
	ctx, cancel := context.WithTimeout(ctx, time.Duration(runs)*2*time.Duration(settle+8000)*time.Millisecond)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(b.cfg.Node, "paint.mjs"), string(opts))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("node paint.mjs: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	sets := map[string]*PaintSet{"without": {Variant: "without"}, "with": {Variant: "with"}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r struct {
			Variant   string   `json:"variant"`
			FP        float64  `json:"fp"`
			FCP       float64  `json:"fcp"`
			TBT       float64  `json:"tbt"`
			LongTasks int      `json:"long_tasks"`
			Load      float64  `json:"load"`
			Requests  int      `json:"widget_requests"`
			Resources []string `json:"widget_resources"`
			Marks     []struct {
				Name string  `json:"name"`
				At   float64 `json:"at"`
			} `json:"marks"`
		}
		if json.Unmarshal(sc.Bytes(), &r) != nil || sets[r.Variant] == nil {
			continue
		}
		p := sets[r.Variant]
		p.Runs++
		p.FP, p.FCP, p.TBT, p.Load = append(p.FP, r.FP), append(p.FCP, r.FCP), append(p.TBT, r.TBT), append(p.Load, r.Load)
		p.LongTasks, p.WidgetReq, p.Resources = append(p.LongTasks, r.LongTasks), append(p.WidgetReq, r.Requests), r.Resources
		for _, m := range r.Marks {
			if m.Name == "kefu:launcher" {
				p.Launcher = append(p.Launcher, m.At)
			}
		}
	}
	b.res.Widget.Paint = []PaintSet{*sets["without"], *sets["with"]}
	b.res.Commands = appendOnce(b.res.Commands, "node bench/widget/paint.mjs '{\"urls\":{\"without\":…,\"with\":…},\"runs\":N,\"settleMs\":…}'")
	return nil
}

// hostPage returns the page without and with the widget's tag: the relay's
// own demo page (GET /demo) when it has one with the tag, else the
// stand-in bench/widget/host.html.
func (b *bench) hostPage(ctx context.Context, s *server) (without, with []byte, source string, err error) {
	tag := fmt.Sprintf(`<script src="%s" async></script>`, s.url("/widget.js"))
	const demoTag = `<script src="/widget.js" async></script>`
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url("/demo"), nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		page, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && bytes.Contains(page, []byte(demoTag)) {
			return bytes.Replace(page, []byte(demoTag), nil, 1), bytes.Replace(page, []byte(demoTag), []byte(tag), 1),
				"the relay's demo page (GET /demo, public/demo.html)", nil
		}
	}
	page, err := os.ReadFile(filepath.Join(b.cfg.Node, "host.html"))
	if err != nil {
		return nil, nil, "", fmt.Errorf("host page: %w", err)
	}
	return page, bytes.Replace(page, []byte("<!--WIDGET-->"), []byte(tag), 1),
		"the stand-in shop page bench/widget/host.html (the relay has no /demo with the widget tag)", nil
}
