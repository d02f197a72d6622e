package intents

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/kefuhq/kefu/router"
)

// ErrBadFile means an intents file could not be read at all, or left
// nothing to import; nothing changes.
var ErrBadFile = errors.New("intents: bad file")

// Problem is one thing wrong in an intents file, with the line it is on.
// A skipped intent is left out of the import; otherwise the problem was
// fixed (an example dropped or shortened) and the intent imported.
type Problem struct {
	Line    int    `json:"line"`
	Intent  string `json:"intent,omitempty"`
	Message string `json:"message"`
	Skipped bool   `json:"skipped"`
}

func (p Problem) String() string {
	what := "fixed"
	if p.Skipped {
		what = "skipped"
	}
	if p.Intent != "" {
		return fmt.Sprintf("line %d: intent %q %s: %s", p.Line, p.Intent, what, p.Message)
	}
	return fmt.Sprintf("line %d: %s: %s", p.Line, what, p.Message)
}

// rawIntent is an intent as a file spells it; examples keep their offsets.
type rawIntent struct {
	Name     string            `json:"name"`
	Examples json.RawMessage   `json:"examples"`
	Answer   string            `json:"answer"`
	Answers  map[string]string `json:"answers"`
	Action   router.Action     `json:"action"`
	Skill    string            `json:"skill"`
}

// ReadFile reads an intents file ({"intents":[…]}, as the admin page
// exports it, or a bare list) and returns what can be imported, with every
// problem it met by line. Whitespace is normalised: runs of spaces, tabs
// and newlines in names, examples and skills become one space; answers
// keep their line breaks (as \n). An example that is empty, repeated or
// invalid is dropped; an intent that stays invalid is skipped. It fails,
// wrapping ErrBadFile, only when the file is not JSON of that shape or
// leaves no intent to import.
func ReadFile(data []byte) ([]router.Intent, []Problem, error) {
	lineAt := func(off int64) int { return bytes.Count(data[:min(int(off), len(data))], []byte{'\n'}) + 1 }
	dec := json.NewDecoder(bytes.NewReader(data))
	elems, err := intentElements(dec, data)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrBadFile, err)
	}
	var out []router.Intent
	var problems []Problem
	seen := map[string]int{} // name → line
	for _, el := range elems {
		line := lineAt(el.off)
		var raw rawIntent
		d := json.NewDecoder(bytes.NewReader(el.raw))
		d.DisallowUnknownFields()
		if err := d.Decode(&raw); err != nil {
			problems = append(problems, Problem{Line: line, Message: "not an intent: " + jsonError(err), Skipped: true})
			continue
		}
		in := router.Intent{Name: oneLine(raw.Name), Answer: normaliseAnswer(raw.Answer), Action: raw.Action, Skill: oneLine(raw.Skill)}
		for lang, text := range raw.Answers {
			if in.Answers == nil {
				in.Answers = map[string]string{}
			}
			in.Answers[lang] = normaliseAnswer(text)
		}
		skip := func(msg string) {
			problems = append(problems, Problem{Line: line, Intent: in.Name, Message: msg, Skipped: true})
		}
		if in.Name == "" {
			skip("it has no name")
			continue
		}
		if first, dup := seen[in.Name]; dup {
			skip(fmt.Sprintf("the name is already used on line %d", first))
			continue
		}
		exs, exProblems, err := readExamples(raw.Examples, el.off+exampleOffset(el.raw), lineAt)
		if err != nil {
			skip(err.Error())
			continue
		}
		for i := range exProblems {
			exProblems[i].Intent = in.Name
		}
		problems = append(problems, exProblems...)
		in.Examples = exs
		if len(in.Examples) > router.MaxExamples {
			problems = append(problems, Problem{Line: line, Intent: in.Name, Message: fmt.Sprintf("%d examples, kept the first %d", len(in.Examples), router.MaxExamples)})
			in.Examples = in.Examples[:router.MaxExamples]
		}
		if err := router.Validate([]router.Intent{in}); err != nil {
			skip(strings.TrimPrefix(reason(err), fmt.Sprintf("intent 0 (%q): ", in.Name)))
			continue
		}
		seen[in.Name] = line
		out = append(out, in)
	}
	if len(out) == 0 {
		if len(problems) > 0 {
			return nil, problems, fmt.Errorf("%w: no intent could be imported (%s)", ErrBadFile, problems[0])
		}
		return nil, nil, fmt.Errorf("%w: the file has no intents", ErrBadFile)
	}
	if err := router.Validate(out); err != nil {
		return nil, problems, fmt.Errorf("%w: %s", ErrBadFile, reason(err))
	}
	return out, problems, nil
}

// element is one raw JSON value of a list and its byte offset.
type element struct {
	raw json.RawMessage
	off int64
}

// intentElements finds the intents list ({"intents":[…]} or […]) and
// returns its elements with their offsets.
func intentElements(dec *json.Decoder, data []byte) ([]element, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not JSON: %s", jsonError(err))
	}
	if tok == json.Delim('{') {
		found := false
		for dec.More() {
			key, err := dec.Token()
			if err != nil {
				return nil, fmt.Errorf("not JSON: %s", jsonError(err))
			}
			if key == "intents" {
				found = true
				break
			}
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, fmt.Errorf("not JSON: %s", jsonError(err))
			}
		}
		if !found {
			return nil, errors.New(`want {"intents": […]}, as Export writes it`)
		}
		if tok, err = dec.Token(); err != nil {
			return nil, fmt.Errorf("not JSON: %s", jsonError(err))
		}
	}
	if tok != json.Delim('[') {
		return nil, errors.New(`want {"intents": […]}, as Export writes it`)
	}
	var out []element
	for dec.More() {
		off := dec.InputOffset()
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("not JSON: %s", jsonError(err))
		}
		out = append(out, element{raw: raw, off: valueStart(data, off)})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("not JSON: %s", jsonError(err))
	}
	return out, nil
}

// valueStart skips the separator and spaces that a decoder's InputOffset
// leaves before the next value.
func valueStart(data []byte, off int64) int64 {
	for off < int64(len(data)) && (data[off] == ',' || data[off] == ':' || unicode.IsSpace(rune(data[off]))) {
		off++
	}
	return off
}

// exampleOffset is the offset of the "examples" value inside an intent's
// raw JSON (0 when absent).
func exampleOffset(raw []byte) int64 {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return 0
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return 0
		}
		off := dec.InputOffset()
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return 0
		}
		if key == "examples" {
			return off
		}
	}
	return 0
}

// readExamples normalises a list of examples, dropping empty, repeated and
// invalid ones with a problem each.
func readExamples(raw json.RawMessage, base int64, lineAt func(int64) int) ([]string, []Problem, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil, errors.New("it has no examples")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return nil, nil, errors.New("examples must be a list of texts")
	}
	var out []string
	var problems []Problem
	seen := map[string]bool{}
	for dec.More() {
		off := base + valueStart(raw, dec.InputOffset())
		var s string
		if err := dec.Decode(&s); err != nil {
			return nil, nil, errors.New("examples must be a list of texts")
		}
		line := lineAt(off)
		s = oneLine(s)
		drop := func(msg string) { problems = append(problems, Problem{Line: line, Message: msg}) }
		switch {
		case s == "":
			drop("an empty example was dropped")
		case seen[s]:
			drop(fmt.Sprintf("the example %q is repeated; kept once", clip(s)))
		case len(s) > router.MaxExampleLen:
			drop(fmt.Sprintf("the example %q is %d bytes, at most %d; dropped", clip(s), len(s), router.MaxExampleLen))
		case router.Validate([]router.Intent{{Name: "x", Examples: []string{s}, Action: router.ActionAI}}) != nil:
			drop(fmt.Sprintf("the example %q has no words; dropped", clip(s)))
		default:
			seen[s] = true
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, problems, errors.New("it has no usable examples")
	}
	return out, problems, nil
}

// oneLine collapses every run of white space and control characters to
// one space and trims the ends: an example pasted with its line break is
// the same example.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
}

// normaliseAnswer keeps an answer's line breaks (Markdown needs them) but
// makes them \n, drops other control characters and trims the ends.
func normaliseAnswer(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r == '\r':
			return '\n'
		case unicode.IsControl(r):
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

// reason strips the package prefixes of a validation error.
func reason(err error) string {
	return strings.TrimPrefix(err.Error(), router.ErrInvalidIntents.Error()+": ")
}

func jsonError(err error) string { return strings.TrimPrefix(err.Error(), "json: ") }

func clip(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}
