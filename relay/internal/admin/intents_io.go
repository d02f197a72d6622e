package admin

import (
	"encoding/json"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/kefuhq/kefu/relay/internal/httpx"
	"github.com/kefuhq/kefu/relay/internal/intents"
	"github.com/kefuhq/kefu/relay/internal/kb"
	"github.com/kefuhq/kefu/router"
)

// maxTryBytes bounds the "try a sentence" text: a visitor message is at
// most a few KiB.
const maxTryBytes = 8 << 10

// intentFile is the export format, and what an import takes.
type intentFile struct {
	Intents []router.Intent `json:"intents"`
}

// exportIntents downloads the intents as a JSON file an import accepts.
func (a *Admin) exportIntents(w http.ResponseWriter, r *http.Request) {
	list := a.d.Intents.List()
	if list == nil {
		list = []router.Intent{}
	}
	data, err := json.MarshalIndent(intentFile{Intents: list}, "", "  ")
	if err != nil {
		a.fail(w, r, "export intents", err)
		return
	}
	name := "kefu-intents-" + a.d.Now().UTC().Format("2006-01-02") + ".json"
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "no-store")
	w.Write(append(data, '\n'))
}

// importIntents replaces the whole set with a file's intents. The body is
// the file as Export writes it: whitespace is normalised, and every
// problem is reported with its line (intents.ReadFile); what is valid is
// imported, and nothing changes when nothing is. With ?check=1 it only
// reports what an import would do.
func (a *Admin) importIntents(w http.ResponseWriter, r *http.Request) {
	// The shared strict decoder vets the file's shape (one object, no
	// unknown or repeated key); ReadFile reads the intents by line.
	var shape struct {
		Intents json.RawMessage `json:"intents"`
	}
	body, err := httpx.DecodeJSONBody(w, r, maxImportBytes, &shape)
	if err != nil {
		return
	}
	list, problems, err := intents.ReadFile(body)
	if err != nil {
		badField(w, strings.TrimPrefix(err.Error(), intents.ErrBadFile.Error()+": "))
		return
	}
	if problems == nil {
		problems = []intents.Problem{}
	}
	if r.URL.Query().Get("check") != "" {
		httpx.JSON(w, http.StatusOK, map[string]any{"count": len(list), "problems": problems})
		return
	}
	a.intentsMu.Lock()
	defer a.intentsMu.Unlock()
	if err := a.d.Intents.Replace(r.Context(), list); err != nil {
		a.fail(w, r, "import intents", err)
		return
	}
	a.d.Log.Info("admin: intents imported", "count", len(list), "problems", len(problems), "by", who(r))
	httpx.JSON(w, http.StatusOK, map[string]any{"count": len(list), "problems": problems, "model": a.modelInfo()})
}

type tryRequest struct {
	Text string `json:"text"`
}

// tryResult is what the current model makes of a sentence.
type tryResult struct {
	Model string `json:"model"`
	router.Result
	// Passages are the knowledge-base passages that would ground an AI
	// answer to the sentence, best first.
	Passages []kb.Hit `json:"passages"`
}

// tryIntents classifies a sentence with the current model, the one
// widgets run: the ranked intents with their scores, and whether the best
// one would answer.
func (a *Admin) tryIntents(w http.ResponseWriter, r *http.Request) {
	var req tryRequest
	if err := httpx.DecodeJSON(w, r, maxTryBytes, &req); err != nil {
		return
	}
	if strings.TrimSpace(req.Text) == "" || !utf8.ValidString(req.Text) {
		badField(w, `field "text" must be non-empty UTF-8 text`)
		return
	}
	res := a.d.Intents.Classify(req.Text)
	if res.Ranked == nil {
		res.Ranked = []router.Match{}
	}
	passages := []kb.Hit{}
	if a.d.Knowledge != nil {
		passages = append(passages, a.d.Knowledge.Search(req.Text, 3)...)
	}
	httpx.JSON(w, http.StatusOK, tryResult{Model: a.modelInfo().Hash, Result: res, Passages: passages})
}

// qualityReport is router.Diagnose's report on the intents of one model.
type qualityReport struct {
	Model   string                `json:"model"`
	Intents []router.IntentReport `json:"intents"`
}

// intentQuality reports, per intent, which of its examples the other
// intents would take when each is held out: where the intents overlap and
// which examples are never matched (docs/intents.md). One report per
// model is computed (a few fits) and kept until the intents change.
func (a *Admin) intentQuality(w http.ResponseWriter, r *http.Request) {
	a.qualityMu.Lock()
	defer a.qualityMu.Unlock()
	_, _, hash := a.d.Intents.Model()
	if a.quality.Model != hash || a.quality.Intents == nil {
		list := a.d.Intents.List()
		rep := []router.IntentReport{}
		if len(list) > 0 {
			var err error
			if rep, err = router.Diagnose(list); err != nil {
				a.fail(w, r, "intent quality", err)
				return
			}
		}
		a.quality = qualityReport{Model: hash, Intents: rep}
	}
	httpx.JSON(w, http.StatusOK, a.quality)
}
