package web

import (
	"bytes"
	"path"
	"regexp"
	"strings"
	"testing"
)

// linkHashedRE is linkHashed as it was written with the expression its
// comment names: the fuzz test holds the hand-written scan to it.
func linkHashedRE(name string, html []byte, versions map[string]string) []byte {
	dir := path.Dir(name)
	re := regexp.MustCompile(`(\s(?:src|href)=")([^"]*)(")`)
	return re.ReplaceAllFunc(html, func(m []byte) []byte {
		parts := re.FindSubmatch(m)
		ref := string(parts[2])
		if ref == "" || strings.ContainsAny(ref, ":?#") || strings.HasPrefix(ref, "/") {
			return m
		}
		target := path.Join(dir, ref)
		v, ok := versions[target]
		if !ok {
			return m
		}
		return []byte(string(parts[1]) + "/assets/" + v + "/" + target + string(parts[3]))
	})
}

func FuzzLinkHashed(f *testing.F) {
	for _, s := range []string{
		``, `<script src="app.js"></script>`, `<link href="style.css"><img src="../img/a.png">`,
		"<a\nhref=\"app.js\">\t<a\rsrc=\"app.js\" \fhref=\"style.css\">", `<a href="app.js`, `<a href="" src="app.js">`,
		`<a href="/widget.js"> <a href="https://x/app.js"> <a href="app.js#x"> <a href="app.js?v=1">`,
		`<a data-src="app.js"> <a  src="app.js"src="style.css"> <a href="app.js"href="app.js">`,
		`<a SRC="app.js"> <a src='app.js'> <a src = "app.js"> <a href="x" src="app.js">`,
	} {
		f.Add("admin/index.html", s)
		f.Add("index.html", s)
	}
	versions := map[string]string{"admin/app.js": "aaaaaaaaaaaa", "admin/style.css": "bbbbbbbbbbbb", "img/a.png": "cccccccccccc", "app.js": "dddddddddddd"}
	f.Fuzz(func(t *testing.T, name, html string) {
		got := linkHashed(name, []byte(html), versions)
		if want := linkHashedRE(name, []byte(html), versions); !bytes.Equal(got, want) {
			t.Fatalf("linkHashed(%q, %q) =\n%q\nthe expression gives\n%q", name, html, got, want)
		}
	})
}
