package intents

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/kefuhq/kefu/relay/internal/httpx"
	"github.com/kefuhq/kefu/relay/internal/i18n"
	"github.com/kefuhq/kefu/relay/protocol"
	"github.com/kefuhq/kefu/router"
)

// Per-language answers (issue 15). An intent's translations stay out of
// the model, which every widget downloads whole: a widget fetches only its
// own language's answers, one small JSON document per language at an
// immutable URL, and shows them in place of the model's default answer.

// langAnswers is one language's answers: intent name → text, as served.
type langAnswers struct {
	data []byte // {"intent": "text", …}
	hash string
}

// answersByLang builds every language's document from intents (answer
// intents only: the others have no answer to show).
func answersByLang(intents []router.Intent) map[string]langAnswers {
	by := map[string]map[string]string{}
	for _, in := range intents {
		if in.Action != router.ActionAnswer && in.Action != "" {
			continue
		}
		for lang, text := range in.Answers {
			if by[lang] == nil {
				by[lang] = map[string]string{}
			}
			by[lang][in.Name] = text
		}
	}
	out := make(map[string]langAnswers, len(by))
	for lang, m := range by {
		data, _ := json.Marshal(m) // map keys are sorted: the same answers give the same bytes
		sum := sha256.Sum256(data)
		out[lang] = langAnswers{data: data, hash: hex.EncodeToString(sum[:8])}
	}
	return out
}

// checkAnswerLangs refuses translations into a language the widget does
// not speak: no visitor could ever be shown them.
func checkAnswerLangs(intents []router.Intent) error {
	set := i18n.Builtin()
	for i, in := range intents {
		for lang := range in.Answers {
			if !set.Has(lang) {
				return fmt.Errorf("%w: intent %d (%q): the widget has no language %q for an answer (it has %s)",
					router.ErrInvalidIntents, i, in.Name, lang, strings.Join(set.Langs(), ", "))
			}
		}
	}
	return nil
}

// AnswersHash is the hash of lang's answers document, "" when no intent
// has an answer in lang: the widget config names /v1/answers/{lang}/{hash}.
func (s *Service) AnswersHash(lang string) string {
	return s.cur.Load().answers[lang].hash
}

// AnswerLangs lists the languages some answer is translated into.
func (s *Service) AnswerLangs() []string {
	langs := make([]string, 0, len(s.cur.Load().answers))
	for l := range s.cur.Load().answers {
		langs = append(langs, l)
	}
	slices.Sort(langs)
	return langs
}

// serveAnswers is GET /v1/answers/{lang}/{hash}: one language's answers,
// immutable under its hash (a changed set has another).
func (s *Service) serveAnswers(w http.ResponseWriter, r *http.Request) {
	a, ok := s.cur.Load().answers[r.PathValue("lang")]
	if !ok || a.hash != r.PathValue("hash") {
		httpx.Error(w, http.StatusNotFound, protocol.CodeNotFound, "no such answers; fetch /v1/widget/config for the current ones")
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Header().Set("ETag", `"`+a.hash+`"`)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(a.data)
}
