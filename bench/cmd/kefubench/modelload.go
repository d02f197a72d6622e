package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kefuhq/kefu/router"
)

// ModelLoad is the intents scenario (issue 14): how long the relay takes
// to fit a 150-intent model as it ships (calibration included), and how
// long the widget takes to load it, in Node and in Chromium, against
// native Go's Load of the same bytes in the same run.
type ModelLoad struct {
	Intents    int            `json:"intents"`
	Examples   int            `json:"examples"`
	ModelBytes int            `json:"model_bytes"`
	FitS       float64        `json:"fit_s"`
	Runs       []ModelLoadRun `json:"runs"`
	Note       string         `json:"note,omitempty"`
}

// ModelLoadRun is one place the model was loaded.
type ModelLoadRun struct {
	Where      string  `json:"where"`
	FirstMS    float64 `json:"first_ms"` // a fresh Go heap
	WarmMS     float64 `json:"warm_median_ms"`
	ClassifyMS float64 `json:"first_classify_ms"`
}

// modelLoad fits CLINC150's train split (150 intents × 100 examples) with
// router.Options{} and times loading it.
func (b *bench) modelLoad(ctx context.Context) error {
	raw, err := os.ReadFile(clincPath)
	if err != nil {
		return fmt.Errorf("CLINC150 not found at %s: %w", clincPath, err)
	}
	var d struct {
		Train [][2]string `json:"train"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return fmt.Errorf("CLINC150: %w", err)
	}
	// Quick mode: 10 examples per intent, the same 150 intents.
	per := 0
	if b.cfg.Quick {
		per = 10
	}
	var intents []router.Intent
	at := map[string]int{}
	n := 0
	for _, p := range d.Train {
		i, ok := at[p[1]]
		if !ok {
			i = len(intents)
			at[p[1]] = i
			intents = append(intents, router.Intent{Name: p[1], Action: router.ActionAI})
		}
		if per == 0 || len(intents[i].Examples) < per {
			intents[i].Examples = append(intents[i].Examples, p[0])
			n++
		}
	}
	ml := &b.res.ModelLoad
	ml.Intents, ml.Examples = len(intents), n
	t := time.Now()
	m, err := router.Fit(intents, router.Options{})
	if err != nil {
		return fmt.Errorf("fit: %w", err)
	}
	ml.FitS = time.Since(t).Seconds()
	model, _ := m.MarshalBinary()
	ml.ModelBytes = len(model)

	// Native Go, the baseline: the relay's Load of the same bytes.
	var native []float64
	for i := 0; i < 11; i++ {
		t := time.Now()
		lm, err := router.Load(model)
		native = append(native, float64(time.Since(t).Microseconds())/1e3)
		if err != nil {
			return fmt.Errorf("load: %w", err)
		}
		if i == 0 {
			t = time.Now()
			lm.Classify("how long does shipping take")
			ml.Runs = append(ml.Runs, ModelLoadRun{Where: "native Go (relay side)", FirstMS: native[0], ClassifyMS: float64(time.Since(t).Microseconds()) / 1e3})
		}
	}
	ml.Runs[0].WarmMS = medianOf(native[1:])

	mf := filepath.Join(b.cfg.Work, "clinc150-full.model")
	if err := os.WriteFile(mf, model, 0o644); err != nil {
		return err
	}
	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	var errs []string
	for _, where := range []string{"node", "chromium"} {
		if where == "chromium" {
			if _, err := os.Stat(filepath.Join(b.cfg.Node, "node_modules", "playwright-core")); err != nil {
				errs = append(errs, "chromium: playwright-core is not installed (run `npm ci` in bench/widget)")
				continue
			}
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		cmd := exec.CommandContext(cctx, "node", filepath.Join(b.cfg.Node, "modelload.mjs"), where,
			abs("public/wasm/kefu.wasm"), abs("public/wasm/wasm_exec.js"), mf, "10", "/usr/bin/chromium")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		cancel()
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v: %s", where, err, strings.TrimSpace(stderr.String())))
			continue
		}
		var r struct {
			FirstMS    float64   `json:"first_ms"`
			WarmMS     []float64 `json:"warm_ms"`
			ClassifyMS float64   `json:"classify_ms"`
			Browser    string    `json:"browser"`
		}
		if err := json.Unmarshal(out, &r); err != nil {
			errs = append(errs, fmt.Sprintf("%s: output: %v", where, err))
			continue
		}
		name := "kefu.wasm in Node " + b.res.Machine.Node
		if where == "chromium" {
			name = "kefu.wasm in headless Chromium " + r.Browser
		}
		ml.Runs = append(ml.Runs, ModelLoadRun{Where: name, FirstMS: r.FirstMS, WarmMS: medianOf(r.WarmMS), ClassifyMS: r.ClassifyMS})
	}
	b.res.Commands = appendOnce(b.res.Commands, "node bench/widget/modelload.mjs node|chromium public/wasm/kefu.wasm public/wasm/wasm_exec.js MODEL 10")
	if len(errs) > 0 {
		ml.Note = strings.Join(errs, "; ")
		return fmt.Errorf("model load: %s", ml.Note)
	}
	return nil
}

func medianOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// mdModelLoad writes the scenario's section of the report.
func (b *bench) mdModelLoad(m *strings.Builder) {
	ml := b.res.ModelLoad
	if len(ml.Runs) == 0 {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(m, format, a...) }
	p("## Intent model: fit and load (issue 14)\n\n")
	p("Fit on the relay with `router.Options{}` (what ships: cross-validated calibration included): %d intents, %d examples, %.1f s; model %d B.\n\n", ml.Intents, ml.Examples, ml.FitS, ml.ModelBytes)
	p("| where | first loadModel (fresh heap) | warm (median of 10) | first classify | first load / native first load |\n|---|---|---|---|---|\n")
	base := ml.Runs[0].FirstMS
	for _, r := range ml.Runs {
		p("| %s | %s | %s | %s | %s |\n", r.Where, ms(r.FirstMS), ms(r.WarmMS), ms(r.ClassifyMS), ratio(r.FirstMS, base))
	}
	if ml.Note != "" {
		p("\nNot measured: %s.\n", ml.Note)
	}
	p("\nThe budget is 50 ms for the widget's first load (`node bench/widget/modelload.mjs …`; `./bin/kefubench --scenarios modelload` runs only this step).\n\n")
}
