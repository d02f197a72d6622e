package files

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNameRunes bounds a stored file name.
const MaxNameRunes = 100

// extFor is the extension a type's files get, and the others it may keep.
var extFor = map[string][]string{
	TypePNG:  {".png"},
	TypeJPEG: {".jpg", ".jpeg"},
	TypeGIF:  {".gif"},
	TypePDF:  {".pdf"},
}

// SafeName makes a sender's file name fit to show and to save: no folder
// parts, no control or direction-changing characters (which can make
// "photo\u202Egnp.exe" look like "photoexe.png"), at most MaxNameRunes,
// never empty; and, given the stored type, an extension that says what
// the file is ("cat.png" holding a JPEG becomes "cat.jpg", text keeps
// only harmless extensions). typ "" leaves the extension alone.
func SafeName(name, typ string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r' || r == ' ' || r == 0x3000:
			return ' '
		case r == utf8.RuneError, unicode.IsControl(r), unicode.Is(unicode.Bidi_Control, r), unicode.IsSpace(r),
			r >= 0x200b && r <= 0x200f, r == 0xfeff, r >= 0x2028 && r <= 0x202e, r >= 0x2060 && r <= 0x206f:
			return -1
		}
		return r
	}, strings.ToValidUTF8(name, ""))
	name = strings.Join(strings.Fields(name), " ")
	name = strings.Trim(name, " .")
	base, ext := name, extOf(name)
	base = strings.TrimSuffix(base, ext)
	if typ != "" {
		want := extFor[typ]
		switch {
		case typ == TypeText:
			if !textExts[strings.ToLower(ext)] {
				base, ext = name, ".txt"
			}
		case len(want) > 0 && !contains(want, strings.ToLower(ext)):
			ext = want[0]
		}
	}
	base = strings.Trim(base, " .")
	if base == "" {
		base = "file"
	}
	if r := []rune(base); len(r)+utf8.RuneCountInString(ext) > MaxNameRunes {
		base = strings.TrimRight(string(r[:max(1, MaxNameRunes-utf8.RuneCountInString(ext))]), " .")
	}
	return base + ext
}

// extOf is the name's extension with its dot ("" for none), if it is a
// plausible one: short and of letters and digits.
func extOf(name string) string {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 || len(name)-i > 6 {
		return ""
	}
	for _, r := range name[i+1:] {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return ""
		}
	}
	return name[i:]
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
