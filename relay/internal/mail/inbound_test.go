package mail

import (
	"strings"
	"testing"
)

func TestStripQuoted(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"gmail", "Thanks, that works!\n\nOn Mon, 7 Dec 2026 at 09:00, Tea Shop <support@shop.test> wrote:\n> Your parcel ships today", "Thanks, that works!"},
		{"quote marks", "Yes please.\r\n> earlier\r\n> text", "Yes please."},
		{"signature", "See you\n-- \nAnn\nCEO", "See you"},
		{"outlook", "ok\n\n-----Original Message-----\nFrom: x", "ok"},
		{"german", "Danke!\nAm 07.12.2026 um 09:00 schrieb Tea Shop <support@shop.test>:\n> alt", "Danke!"},
		{"chinese", "好的，谢谢\n在 2026年12月7日 09:00，Tea Shop 写道：\n> 旧", "好的，谢谢"},
		{"nothing but a quote", "> only quoted", ""},
		{"no quote", "line one\nline two", "line one\nline two"},
	} {
		if got := StripQuoted(tc.in); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

const sampleReply = "From: Ann <ANN@example.com>\r\nTo: support@shop.test\r\nSubject: Re: New reply\r\n" +
	"Message-ID: <r1@example.com>\r\nIn-Reply-To: <conversation.abcdefghijklmnop@shop.test>\r\n" +
	"MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n" +
	"--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
	"Great, thank you =E2=80=94 see you Monday.\r\n\r\nOn Mon, Tea Shop wrote:\r\n> Your parcel ships\r\n" +
	"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Great</p>\r\n--b--\r\n"

func TestParseInbound(t *testing.T) {
	in, err := ParseInbound([]byte(sampleReply))
	if err != nil {
		t.Fatal(err)
	}
	if in.Conversation != "abcdefghijklmnop" || in.From != "ann@example.com" || in.MessageID != "<r1@example.com>" || in.Text != "Great, thank you — see you Monday." {
		t.Fatalf("%+v", in)
	}
	for name, raw := range map[string]string{
		"no thread":   strings.Replace(sampleReply, "In-Reply-To: <conversation.abcdefghijklmnop@shop.test>\r\n", "", 1),
		"no text":     strings.Replace(sampleReply, "text/plain", "text/enriched", 1),
		"only quoted": strings.Replace(sampleReply, "Great, thank you =E2=80=94 see you Monday.\r\n", "", 1),
		"not mail":    "hello",
		"no sender":   strings.Replace(sampleReply, "From: Ann <ANN@example.com>\r\n", "", 1),
	} {
		if _, err := ParseInbound([]byte(raw)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	b64 := "From: ann@example.com\r\nReferences: <x@y> <conversation.abcdefghijklmnop@shop.test>\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		"SGVsbG8g\r\nd29ybGQ=\r\n"
	if in, err := ParseInbound([]byte(b64)); err != nil || in.Text != "Hello world" {
		t.Fatalf("base64 single part: %+v %v", in, err)
	}
}

// Any bytes: an error or a reply, never a panic, and a reply is never
// empty nor longer than the bound.
func FuzzParseInbound(f *testing.F) {
	f.Add([]byte(sampleReply))
	f.Add([]byte("From: a@b.c\r\nIn-Reply-To: <conversation.abcdefghijklmnop@x>\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n\r\nhi\r\n--z--"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		in, err := ParseInbound(raw)
		if err != nil {
			return
		}
		if in.Text == "" || len([]rune(in.Text)) > maxInboundText || in.Conversation == "" {
			t.Fatalf("bad reply %+v", in)
		}
	})
}
