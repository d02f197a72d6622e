package intents

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/router"
)

func TestReadFileNormalisesAndReportsByLine(t *testing.T) {
	file := `{
  "intents": [
    {
      "name": "shipping",
      "examples": [
        "how long does\nshipping take",
        "  when will it   arrive ",
        "",
        "when will it arrive",
        "?!"
      ],
      "answer": "Two days.\r\nThree at most.",
      "action": "answer"
    },
    {
      "name": "returns",
      "examples": ["how do i return"],
      "action": "answer"
    },
    {
      "name": "shipping",
      "examples": ["again"],
      "answer": "x"
    },
    {"name": "  hours\t", "examples": ["when are\tyou open"], "answer": "9-5"}
  ]
}`
	got, problems, err := ReadFile([]byte(file))
	if err != nil {
		t.Fatalf("ReadFile: %v", err)
	}
	want := []router.Intent{
		{Name: "shipping", Examples: []string{"how long does shipping take", "when will it arrive"}, Answer: "Two days.\nThree at most.", Action: router.ActionAnswer},
		{Name: "hours", Examples: []string{"when are you open"}, Answer: "9-5"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("intents:\n got %+v\nwant %+v", got, want)
	}
	wantProblems := []Problem{
		{Line: 8, Intent: "shipping", Message: "an empty example was dropped"},
		{Line: 9, Intent: "shipping", Message: `the example "when will it arrive" is repeated; kept once`},
		{Line: 10, Intent: "shipping", Message: `the example "?!" has no words; dropped`},
		{Line: 15, Intent: "returns", Message: "action answer needs an answer", Skipped: true},
		{Line: 20, Intent: "shipping", Message: "the name is already used on line 3", Skipped: true},
	}
	if !reflect.DeepEqual(problems, wantProblems) {
		t.Errorf("problems:\n got %v\nwant %v", problems, wantProblems)
	}
}

func TestReadFileBareList(t *testing.T) {
	got, problems, err := ReadFile([]byte(`[{"name":"a","examples":["hello there"],"action":"ai"}]`))
	if err != nil || len(got) != 1 || len(problems) != 0 {
		t.Fatalf("got %v, %v, %v; want one intent, no problem", got, problems, err)
	}
}

func TestReadFileRejects(t *testing.T) {
	tests := []struct {
		name, file, want string
	}{
		{name: "not json", file: `{"intents": [`, want: "not JSON"},
		{name: "wrong shape", file: `{"things": []}`, want: `want {"intents"`},
		{name: "a string", file: `"intents"`, want: `want {"intents"`},
		{name: "empty list", file: `{"intents": []}`, want: "no intents"},
		{name: "nothing valid", file: "{\"intents\": [\n{\"name\": \"a\", \"examples\": [\"\"], \"answer\": \"x\"}]}", want: "line 2"},
		{name: "unknown field", file: `{"intents": [{"name": "a", "exemples": ["hi"], "answer": "x"}]}`, want: "unknown field"},
		{name: "examples not texts", file: `{"intents": [{"name": "a", "examples": [1], "answer": "x"}]}`, want: "list of texts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ReadFile([]byte(tt.file))
			if !errors.Is(err, ErrBadFile) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want ErrBadFile containing %q", err, tt.want)
			}
		})
	}
}

func FuzzReadFile(f *testing.F) {
	f.Add([]byte(`{"intents":[{"name":"a","examples":["hi there","x\ny"],"answer":"z"}]}`))
	f.Add([]byte(`[{"name":"a","examples":[""],"answer":""},{"name":"a"}]`))
	f.Add([]byte(`{"x":1,"intents":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, problems, err := ReadFile(data)
		if err != nil {
			if !errors.Is(err, ErrBadFile) || got != nil {
				t.Fatalf("error %v with %d intents, want ErrBadFile and none", err, len(got))
			}
			return
		}
		if verr := router.Validate(got); verr != nil {
			t.Fatalf("ReadFile returned intents that do not validate: %v", verr)
		}
		for _, p := range problems {
			if p.Line < 1 || p.Message == "" {
				t.Fatalf("bad problem %+v", p)
			}
		}
	})
}

func TestReadFileAnswersPerLanguage(t *testing.T) {
	got, problems, err := ReadFile([]byte(`[{"name":"shipping","examples":["how long is shipping"],"answer":"Two days.",
  "answers":{"de":"Zwei Tage.\r\nHöchstens drei.","zh":"两天。"}},
 {"name":"hours","examples":["when are you open"],"answer":"9-5","answers":{"DE":"9-17"}}]`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"de": "Zwei Tage.\nHöchstens drei.", "zh": "两天。"}
	if len(got) != 1 || !reflect.DeepEqual(got[0].Answers, want) {
		t.Errorf("imported %+v, want shipping with answers %v", got, want)
	}
	if len(problems) != 1 || problems[0].Intent != "hours" || !strings.Contains(problems[0].Message, "language tag") {
		t.Errorf("problems %+v, want hours skipped for its answer language", problems)
	}
}
