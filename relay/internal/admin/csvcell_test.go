package admin

import "testing"

func TestCSVCell(t *testing.T) {
	for in, want := range map[string]string{
		"hello":      "hello",
		"=1+1":       "'=1+1",
		"+31 6 1234": "'+31 6 1234",
		"-5":         "'-5",
		"@cmd":       "'@cmd",
		"\t=cmd":     "'\t=cmd",
		" =x":        "' =x",
		"":           "",
		"a=b":        "a=b",
	} {
		if got := cell(in); got != want {
			t.Errorf("cell(%q) = %q, want %q", in, got, want)
		}
	}
}
