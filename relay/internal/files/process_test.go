package files

import (
	"archive/zip"
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"
)

// Test files are made here, not kept as binaries: each shows what it holds.

// photo is an opaque w×h image with a gradient (so JPEG keeps some detail).
func photo(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 255 / max(1, w-1)), uint8(y * 255 / max(1, h-1)), 90, 255})
		}
	}
	return img
}

func pngOf(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pngChunk is one PNG chunk with its CRC.
func pngChunk(typ string, data []byte) []byte {
	out := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	out = append(out, typ...)
	out = append(out, data...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(append([]byte(typ), data...)))
}

// scriptPNG is a real PNG carrying a script twice: in a text chunk after
// its header and as an HTML page appended after its end.
func scriptPNG(t testing.TB) []byte {
	clean := pngOf(t, photo(40, 30))
	ihdrEnd := 8 + 25
	var out []byte
	out = append(out, clean[:ihdrEnd]...)
	out = append(out, pngChunk("tEXt", []byte("Comment\x00<script>alert('png')</script>"))...)
	out = append(out, clean[ihdrEnd:]...)
	return append(out, []byte("<html><body><script>alert('after IEND')</script></body></html>")...)
}

// bombPNG declares a huge image in its header and holds almost nothing.
func bombPNG(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 6, 0, 0, 0)
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(make([]byte, 1000))
	zw.Close()
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, pngChunk("IHDR", ihdr)...)
	out = append(out, pngChunk("IDAT", z.Bytes())...)
	return append(out, pngChunk("IEND", nil)...)
}

// exifJPEG is a w×h JPEG whose EXIF says to rotate it (orientation) and
// holds a place name in its GPS-like text.
func exifJPEG(t testing.TB, w, h, orientation int, secret string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, photo(w, h), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	plain := buf.Bytes()
	// TIFF, big-endian: one directory with the orientation and an
	// ImageDescription (ASCII) pointing at the secret.
	tiff := []byte("MM\x00\x2a\x00\x00\x00\x08")
	tiff = binary.BigEndian.AppendUint16(tiff, 2)
	tiff = append(tiff, 0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1)
	tiff = binary.BigEndian.AppendUint16(tiff, uint16(orientation))
	tiff = append(tiff, 0, 0)
	descOff := uint32(8 + 2 + 2*12 + 4)
	tiff = append(tiff, 0x01, 0x0e, 0x00, 0x02)
	tiff = binary.BigEndian.AppendUint32(tiff, uint32(len(secret)+1))
	tiff = binary.BigEndian.AppendUint32(tiff, descOff)
	tiff = append(tiff, 0, 0, 0, 0)
	tiff = append(tiff, secret...)
	tiff = append(tiff, 0)
	app1 := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xff, 0xe1}
	seg = binary.BigEndian.AppendUint16(seg, uint16(len(app1)+2))
	seg = append(seg, app1...)
	return append(append(append([]byte{}, plain[:2]...), seg...), plain[2:]...)
}

// commentGIF is a two-frame animation with a comment block.
func commentGIF(t testing.TB, comment string) []byte {
	t.Helper()
	pal := color.Palette{color.Black, color.White, color.RGBA{255, 0, 0, 255}}
	g := &gif.GIF{LoopCount: 0}
	for i := range 2 {
		fr := image.NewPaletted(image.Rect(0, 0, 20, 10), pal)
		fr.SetColorIndex(i, i, 2)
		g.Image = append(g.Image, fr)
		g.Delay = append(g.Delay, 10)
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, g); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	// A comment extension right before the trailer.
	ext := []byte{0x21, 0xfe, byte(len(comment))}
	ext = append(ext, comment...)
	ext = append(ext, 0)
	return append(append(append([]byte{}, data[:len(data)-1]...), ext...), 0x3b)
}

// gifBomb is a GIF of many big frames, each a few bytes compressed.
func gifBomb(frames int) []byte {
	out := []byte("GIF89a")
	out = binary.LittleEndian.AppendUint16(out, 4000)
	out = binary.LittleEndian.AppendUint16(out, 4000)
	out = append(out, 0x80, 0, 0, 0, 0, 0, 255, 255, 255) // 2-colour global table
	for range frames {
		out = append(out, 0x2c, 0, 0, 0, 0)
		out = binary.LittleEndian.AppendUint16(out, 4000)
		out = binary.LittleEndian.AppendUint16(out, 4000)
		out = append(out, 0, 2, 2, 0x4c, 0x01, 0) // min code size, one sub-block
	}
	return append(out, 0x3b)
}

func zipBomb(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	f, err := zw.Create("zeros.bin")
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for range 64 { // 64 MB of zeros in a few tens of kilobytes
		f.Write(chunk)
	}
	zw.Close()
	return buf.Bytes()
}

const minimalPDF = "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"

var (
	webpLossless, _ = base64.StdEncoding.DecodeString("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")
	webpLossy, _    = base64.StdEncoding.DecodeString("UklGRiIAAABXRUJQVlA4IBYAAAAwAQCdASoBAAEADsD+JaQAA3AAAAAA")
)

func TestProcessRefuses(t *testing.T) {
	tests := []struct {
		name     string
		fileName string
		data     []byte
		code     string
		says     string
	}{
		{"an HTML page named .png", "cat.png", []byte("<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"), CodeType, "web page"},
		{"an SVG with a script", "logo.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), CodeType, "markup"},
		{"an SVG with an XML declaration", "logo.png", []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>`), CodeType, "XML"},
		{"text named .svg", "a.svg", []byte("just words"), CodeType, "markup"},
		{"a zip bomb named .png", "photo.png", zipBomb(t), CodeType, "archive"},
		{"a program", "setup.exe", []byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"), CodeType, "only images"},
		{"UTF-16 text", "notes.txt", []byte("\xff\xfeh\x00i\x00"), CodeType, "UTF-8"},
		{"text with binary after the sniffed part", "log.txt", append(bytes.Repeat([]byte("line\n"), 200), 0, 1, 2), CodeType, "not plain text"},
		{"a PNG header on nothing", "x.png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"), CodeUnreadable, "damaged"},
		{"a PNG cut short", "x.png", pngOf(t, photo(64, 64))[:120], CodeUnreadable, "damaged"},
		{"a decompression bomb", "x.png", bombPNG(60000, 60000), CodeTooBig, "60000×60000"},
		{"too many megapixels", "x.png", bombPNG(10000, 10000), CodeTooBig, "megapixels"},
		{"a GIF bomb", "x.gif", gifBomb(50), CodeTooBig, "frames"},
		{"a PDF cut short", "x.pdf", []byte("%PDF-1.7\n1 0 obj<</Type/Catalog>>"), CodeUnreadable, "PDF"},
		{"nothing at all", "empty.png", nil, CodeUnreadable, "empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Process(tc.fileName, tc.data)
			var r *Refusal
			if !errors.As(err, &r) {
				t.Fatalf("Process = %+v (%s), %v; want a refusal", p.Type, p.Name, err)
			}
			if r.Code != tc.code || !strings.Contains(r.Message, tc.says) {
				t.Errorf("refusal = %s %q; want %s saying %q", r.Code, r.Message, tc.code, tc.says)
			}
		})
	}
}

func TestProcessScriptInPNGIsDropped(t *testing.T) {
	in := scriptPNG(t)
	if _, err := png.Decode(bytes.NewReader(in)); err != nil {
		t.Fatalf("the test PNG does not decode: %v", err)
	}
	p, err := Process("holiday.png", in)
	if err != nil {
		t.Fatal(err)
	}
	if p.Type != TypePNG || p.Name != "holiday.png" || p.Width != 40 || p.Height != 30 {
		t.Errorf("processed = %s %q %d×%d", p.Type, p.Name, p.Width, p.Height)
	}
	for _, bad := range []string{"<script", "alert", "tEXt", "html"} {
		if bytes.Contains(p.Data, []byte(bad)) {
			t.Errorf("the stored PNG still holds %q", bad)
		}
	}
	got, err := png.Decode(bytes.NewReader(p.Data))
	if err != nil {
		t.Fatal(err)
	}
	if r, _, _, _ := got.At(39, 29).RGBA(); r>>8 != 255 {
		t.Errorf("the pixels changed: %v", got.At(39, 29))
	}
}

func TestProcessJPEGDropsEXIFAndTurnsUpright(t *testing.T) {
	for _, tc := range []struct {
		orientation int
		w, h        int
	}{{1, 60, 40}, {3, 60, 40}, {6, 40, 60}, {8, 40, 60}, {5, 40, 60}} {
		in := exifJPEG(t, 60, 40, tc.orientation, "Cafe-Luna-Street-12")
		if got := exifOrientation(in); got != tc.orientation {
			t.Fatalf("the test JPEG's orientation reads as %d, want %d", got, tc.orientation)
		}
		p, err := Process("IMG_0001.JPEG", in)
		if err != nil {
			t.Fatal(err)
		}
		if p.Type != TypeJPEG || p.Width != tc.w || p.Height != tc.h || p.Name != "IMG_0001.JPEG" {
			t.Errorf("orientation %d: processed = %s %q %d×%d, want %d×%d", tc.orientation, p.Type, p.Name, p.Width, p.Height, tc.w, tc.h)
		}
		if bytes.Contains(p.Data, []byte("Exif")) || bytes.Contains(p.Data, []byte("Cafe-Luna")) {
			t.Errorf("orientation %d: the stored JPEG still holds its EXIF", tc.orientation)
		}
		// The source's top-left is red 0, green 0: after turning it is where
		// the orientation says.
		img, err := jpeg.Decode(bytes.NewReader(p.Data))
		if err != nil {
			t.Fatal(err)
		}
		want := map[int]image.Point{1: {0, 0}, 3: {59, 39}, 6: {39, 0}, 8: {0, 59}, 5: {0, 0}}[tc.orientation]
		if r, g, _, _ := img.At(want.X, want.Y).RGBA(); r>>8 > 40 || g>>8 > 40 {
			t.Errorf("orientation %d: the source's top-left is not at %v (%v)", tc.orientation, want, img.At(want.X, want.Y))
		}
	}
}

func TestProcessGIFKeepsFramesDropsComments(t *testing.T) {
	p, err := Process("dance.gif", commentGIF(t, "secret-comment-8841"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(p.Data, []byte("secret-comment")) {
		t.Error("the stored GIF still holds its comment")
	}
	g, err := gif.DecodeAll(bytes.NewReader(p.Data))
	if err != nil || len(g.Image) != 2 {
		t.Fatalf("stored GIF = %v frames, %v", len(g.Image), err)
	}
	if p.ThumbType == "" || len(p.Thumb) == 0 {
		t.Error("an animation has no still thumbnail")
	}
}

func TestProcessWebPBecomesPNGOrJPEG(t *testing.T) {
	for _, tc := range []struct {
		data []byte
		want string
	}{{webpLossless, TypePNG}, {webpLossy, TypeJPEG}} {
		p, err := Process("sticker.webp", tc.data)
		if err != nil {
			t.Fatal(err)
		}
		ext := map[string]string{TypePNG: ".png", TypeJPEG: ".jpg"}[tc.want]
		if p.Type != tc.want || p.Name != "sticker"+ext || p.Width != 1 {
			t.Errorf("WebP stored as %s %q %d×%d, want %s sticker%s", p.Type, p.Name, p.Width, p.Height, tc.want, ext)
		}
		if _, _, err := image.Decode(bytes.NewReader(p.Data)); err != nil {
			t.Errorf("stored image does not decode: %v", err)
		}
	}
}

func TestProcessThumbnails(t *testing.T) {
	big, err := Process("big.png", pngOf(t, photo(1200, 600)))
	if err != nil {
		t.Fatal(err)
	}
	th, _, err := image.Decode(bytes.NewReader(big.Thumb))
	if err != nil || big.ThumbType != TypeJPEG || th.Bounds().Dx() != ThumbSide || th.Bounds().Dy() != ThumbSide/2 {
		t.Fatalf("thumbnail = %s %v, %v; want a %d×%d JPEG", big.ThumbType, th.Bounds(), err, ThumbSide, ThumbSide/2)
	}
	// Transparency stays: a PNG thumbnail.
	clear := image.NewNRGBA(image.Rect(0, 0, 500, 500))
	p, err := Process("clear.png", pngOf(t, clear))
	if err != nil || p.ThumbType != TypePNG {
		t.Errorf("a transparent image's thumbnail is %q, %v; want PNG", p.ThumbType, err)
	}
	small, err := Process("small.png", pngOf(t, photo(100, 80)))
	if err != nil || small.Thumb != nil || small.ThumbType != "" {
		t.Errorf("a small image got a thumbnail: %q, %v", small.ThumbType, err)
	}
}

func TestProcessPDFAndText(t *testing.T) {
	p, err := Process("invoice", []byte(minimalPDF))
	if err != nil || p.Type != TypePDF || p.Name != "invoice.pdf" || string(p.Data) != minimalPDF {
		t.Errorf("PDF = %s %q, %v", p.Type, p.Name, err)
	}
	for _, tc := range []struct{ name, want string }{
		{"server.log", "server.log"}, {"data.csv", "data.csv"}, {"notes", "notes.txt"},
		{"page.html.txt", "page.html.txt"}, {"run.sh", "run.sh.txt"}, {"evil.exe", "evil.exe.txt"},
	} {
		p, err := Process(tc.name, []byte("order 4471: the cup arrived broken\n"))
		if err != nil || p.Type != TypeText || p.Name != tc.want {
			t.Errorf("text %q stored as %s %q, %v; want %q", tc.name, p.Type, p.Name, err, tc.want)
		}
	}
	// Markup later in a text file is text: served as text/plain, it is inert.
	if _, err := Process("chat.txt", []byte("he wrote <script>alert(1)</script> in the form")); err != nil {
		t.Errorf("text mentioning a tag: %v", err)
	}
}

func TestSafeName(t *testing.T) {
	for _, tc := range []struct{ in, typ, want string }{
		{"photo.png", TypePNG, "photo.png"},
		{"photo.PNG", TypePNG, "photo.PNG"},
		{"cat.png", TypeJPEG, "cat.jpg"},
		{"cat", TypeGIF, "cat.gif"},
		{"../../etc/passwd", TypeText, "passwd.txt"},
		{`C:\Users\ann\Desktop\broken cup.jpg`, TypeJPEG, "broken cup.jpg"},
		{"photo\u202egnp.exe", TypePNG, "photognp.png"},
		{"  \t.hidden . ", "", "hidden"},
		{"\x00\x01\x1b[31m", TypePNG, "[31m.png"},
		{"", TypePDF, "file.pdf"},
		{"....", TypePDF, "file.pdf"},
		{"a\nb\r\nc.txt", TypeText, "a b c.txt"},
		{strings.Repeat("é", 300) + ".pdf", TypePDF, strings.Repeat("é", MaxNameRunes-4) + ".pdf"},
		{"invalid-\xff-utf8.pdf", TypePDF, "invalid--utf8.pdf"},
		{"zero\u200bwidth.png", TypePNG, "zerowidth.png"},
	} {
		if got := SafeName(tc.in, tc.typ); got != tc.want {
			t.Errorf("SafeName(%q, %s) = %q, want %q", tc.in, tc.typ, got, tc.want)
		}
	}
}

func TestScanGIFCountsFrames(t *testing.T) {
	frames, area, err := scanGIF(commentGIF(t, "x"))
	if err != nil || frames != 2 || area != 400 {
		t.Errorf("scanGIF = %d frames, %d pixels, %v; want 2, 400", frames, area, err)
	}
}

func FuzzProcess(f *testing.F) {
	for _, seed := range [][]byte{pngOf(f, photo(8, 8)), exifJPEG(f, 8, 8, 6, "x"), commentGIF(f, "c"), webpLossless, webpLossy,
		[]byte(minimalPDF), []byte("text"), bombPNG(9, 9), gifBomb(2)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Process("f.bin", data)
		if err != nil {
			var r *Refusal
			if !errors.As(err, &r) || r.Message == "" {
				t.Fatalf("error %v is not a refusal with words", err)
			}
			return
		}
		if p.Name == "" || p.SHA256 == "" {
			t.Fatalf("accepted with name %q sum %q", p.Name, p.SHA256)
		}
		switch p.Type {
		case TypePNG, TypeJPEG, TypeGIF:
			if _, _, err := image.Decode(bytes.NewReader(p.Data)); err != nil {
				t.Fatalf("a stored %s does not decode: %v", p.Type, err)
			}
		case TypePDF, TypeText:
			if !bytes.Equal(p.Data, data) {
				t.Fatal("a PDF or text file was changed")
			}
		default:
			t.Fatalf("accepted as %q", p.Type)
		}
	})
}

func FuzzExifOrientation(f *testing.F) {
	f.Add(exifJPEG(f, 4, 4, 6, "x"))
	f.Add([]byte{0xff, 0xd8, 0xff, 0xe1, 0x00, 0x08, 'E', 'x', 'i', 'f', 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if o := exifOrientation(data); o < 1 || o > 8 {
			t.Fatalf("orientation %d", o)
		}
	})
}

func FuzzScanGIF(f *testing.F) {
	f.Add(gifBomb(3))
	f.Add([]byte("GIF89a\x01\x00\x01\x00\x80\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		frames, area, _ := scanGIF(data)
		if frames < 0 || area < 0 {
			t.Fatalf("%d frames, %d pixels", frames, area)
		}
	})
}
