package router

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestWords(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []string
	}{
		{name: "lower and punctuation", text: "Where's MY order?!", want: []string{"wheres", "my", "order"}},
		{name: "full-width", text: "ＦＲＥＥ　ｓｈｉｐｐｉｎｇ！", want: []string{"free", "shipping"}},
		{name: "accents", text: "Café crème", want: []string{"cafe", "creme"}},
		{name: "combining accent", text: "cafe\u0301", want: []string{"cafe"}},
		{name: "cjk split from latin", text: "iPhone手机多少钱", want: []string{"iphone", "手机多少钱"}},
		{name: "cjk punctuation", text: "运费，多少？", want: []string{"运费", "多少"}},
		{name: "japanese", text: "配送料はいくらですか", want: []string{"配送料はいくらですか"}},
		{name: "digits", text: "order #12345", want: []string{"order", "12345"}},
		{name: "empty", text: "", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, w := range words(tt.text) {
				got = append(got, w.text)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("words(%q): got %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

func TestFeatures(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []string
	}{
		{name: "short word", text: "hi", want: []string{"<hi>", "<hi>", "<hi", "hi>"}},
		{name: "word grams", text: "ship", want: []string{"<ship>", "<ship>", "<sh", "shi", "hip", "ip>", "<shi", "ship", "hip>"}},
		{name: "bigram", text: "my id", want: []string{"<my>", "<my>", "<my", "my>", "<id>", "<id>", "<id", "id>", "my id", "my id"}},
		{name: "cjk", text: "运费多", want: []string{"运", "费", "运费", "多", "费多"}},
		{name: "digits have no grams", text: "12345", want: []string{"<12345>", "<12345>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := features(nil, tt.text); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("features(%q): got %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

// TestVectoriseMatchesNLP checks that Classify's own vectoriser gives the
// vectors james-bowman/nlp computed for the same texts during Fit.
func TestVectoriseMatchesNLP(t *testing.T) {
	docs := []string{"where is my order", "运费多少", "how much is shipping", "order status please", "退货"}
	v, rows, err := fitTFIDF(docs)
	if err != nil {
		t.Fatalf("fitTFIDF: %v", err)
	}
	for i, d := range docs {
		got := v.vectorise(d, nil)
		if !reflect.DeepEqual(got.idx, rows[i].idx) {
			t.Fatalf("doc %q: got ids %v, want %v", d, got.idx, rows[i].idx)
		}
		for j := range got.val {
			if math.Abs(float64(got.val[j]-rows[i].val[j])) > 1e-6 {
				t.Errorf("doc %q feature %d: got %v, want %v", d, got.idx[j], got.val[j], rows[i].val[j])
			}
		}
	}
}

func TestSimplified(t *testing.T) {
	tests := []struct{ in, want string }{
		{"運費怎麼算", "运费怎么算"},
		{"請問營業時間", "请问营业时间"},
		{"退貨退款", "退货退款"},
		{"运费多少", "运费多少"}, // already simplified
		{"ｒｅｆｕｎｄ 訂單", "refund 订单"},
	}
	for _, tt := range tests {
		var got []string
		for _, w := range words(tt.in) {
			got = append(got, w.text)
		}
		if g := strings.Join(got, " "); g != tt.want {
			t.Errorf("words(%q): got %q, want %q", tt.in, g, tt.want)
		}
	}
	// The table must be sorted for the binary search, and every entry found.
	for i := 3; i < len(tradChars); i += 3 {
		if tradChars[i-3:i] >= tradChars[i:i+3] {
			t.Fatalf("tradChars not sorted at %d", i/3)
		}
	}
	for i := 0; i < len(tradChars); i += 3 {
		r, _ := utf8.DecodeRuneInString(tradChars[i:])
		s, _ := utf8.DecodeRuneInString(simpChars[i:])
		if got := simplified(r); got != s {
			t.Errorf("simplified(%c): got %c, want %c", r, got, s)
		}
	}
}
