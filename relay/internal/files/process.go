// Package files is attachments: what a visitor or an agent may send (type
// checked by content, images decoded and encoded again), the resumable
// HTTP upload, serving a file only to its conversation's people, the
// per-visitor quota, the sweep of abandoned uploads, and erasure.
// docs/protocol.md ("Attachments") is the contract with clients.
package files

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/kefuhq/kefu/relay/protocol"
	"golang.org/x/image/webp"
)

// The types a file may be, by what its content is.
const (
	TypePNG  = "image/png"
	TypeJPEG = "image/jpeg"
	TypeGIF  = "image/gif"
	TypePDF  = "application/pdf"
	TypeText = "text/plain; charset=utf-8"
	typeWebP = "image/webp" // accepted, stored as PNG or JPEG
)

// Limits on what is decoded. A small file can declare a huge image (a
// decompression bomb); these are checked from the header before any
// pixel is decoded.
const (
	// MaxPixels bounds one image (a 50-megapixel phone photo passes; its
	// decoded form takes up to 200 MB, so images are processed one at a
	// time, see Service).
	MaxPixels = 50_000_000
	// MaxSide bounds either side of an image.
	MaxSide = 16384
	// MaxGIFPixels bounds the sum of a GIF's frames' areas, MaxGIFFrames
	// their number.
	MaxGIFPixels = 100_000_000
	MaxGIFFrames = 1000
	// ThumbSide is the longer side of a thumbnail; images already within
	// it (and small) get none, their own bytes serve.
	ThumbSide = 320
	// thumbFrom is the file size above which even a small image gets a
	// thumbnail.
	thumbFrom = 256 << 10
)

// Refusal is why a file is not accepted, in words for the person who sent
// it; Code is the protocol's error code.
type Refusal struct {
	Code    string
	Message string
}

func (r *Refusal) Error() string { return r.Code + ": " + r.Message }

// Refusal codes (docs/protocol.md).
const (
	CodeType       = string(protocol.CodeFileType)       // not a kind of file Kefu takes
	CodeUnreadable = string(protocol.CodeFileUnreadable) // claims a kind it is not, or is damaged
	CodeTooBig     = string(protocol.CodeFileTooBig)
)

func refuse(code, format string, args ...any) *Refusal {
	return &Refusal{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Processed is a file as it will be stored.
type Processed struct {
	Name          string
	Type          string
	Data          []byte
	Width, Height int
	Thumb         []byte
	ThumbType     string
	SHA256        string
}

// Process checks a file by its content and makes what is stored of it:
// images decoded and encoded again (which drops metadata, comments, and
// anything hidden in or after the image data) with their EXIF rotation
// applied, PDFs and UTF-8 text as they are. name is the sender's file
// name; the stored one is made safe and given the extension of what the
// file is. It returns a *Refusal for a file it does not take.
func Process(name string, data []byte) (Processed, error) {
	if len(data) == 0 {
		return Processed{}, refuse(CodeUnreadable, "%s is empty", quoteName(name))
	}
	sniffed := http.DetectContentType(data)
	var p Processed
	var err error
	switch {
	case sniffed == TypePNG, sniffed == TypeJPEG, sniffed == TypeGIF, sniffed == typeWebP:
		p, err = processImage(sniffed, data)
	case sniffed == TypePDF:
		p, err = processPDF(data)
	case strings.HasPrefix(sniffed, "text/plain"):
		p, err = processText(name, sniffed, data)
	default:
		err = refuse(CodeType, "%s is %s; only images (PNG, JPEG, GIF, WebP), PDF and plain text can be sent", quoteName(name), describe(sniffed))
	}
	if err != nil {
		return Processed{}, err
	}
	p.Name = SafeName(name, p.Type)
	sum := sha256.Sum256(p.Data)
	p.SHA256 = hex.EncodeToString(sum[:])
	return p, nil
}

// describe says what a sniffed type is, for a refusal.
func describe(t string) string {
	base, _, _ := strings.Cut(t, ";")
	switch base {
	case "text/html":
		return "a web page (HTML)"
	case "text/xml":
		return "an XML document (SVG images are XML)"
	case "application/zip", "application/x-gzip", "application/x-rar-compressed":
		return "an archive"
	case "application/octet-stream":
		return "of a kind Kefu does not recognise"
	case "image/bmp", "image/x-icon", "image/vnd.microsoft.icon":
		return "an image of a kind Kefu does not take (" + base + ")"
	}
	return base
}

func quoteName(name string) string {
	if n := SafeName(name, ""); n != "file" {
		return fmt.Sprintf("%q", n)
	}
	return "the file"
}

func processPDF(data []byte) (Processed, error) {
	// DetectContentType wants "%PDF-"; a real one has a version and ends
	// with an end-of-file marker near its end.
	if len(data) < 8 || !bytes.HasPrefix(data, []byte("%PDF-")) || !bytes.Contains(data[max(0, len(data)-2048):], []byte("%%EOF")) {
		return Processed{}, refuse(CodeUnreadable, "this PDF is damaged or cut short")
	}
	return Processed{Type: TypePDF, Data: data}, nil
}

// textExts are the extensions a text file keeps; any other gets ".txt"
// added, so a download never opens as a web page or a program.
var textExts = map[string]bool{".txt": true, ".log": true, ".csv": true, ".tsv": true, ".md": true, ".json": true}

func processText(name, sniffed string, data []byte) (Processed, error) {
	if sniffed != TypeText {
		return Processed{}, refuse(CodeType, "%s is text in %s; save it as UTF-8 and send it again", quoteName(name), strings.TrimPrefix(sniffed, "text/plain; charset="))
	}
	// The sniffer reads 512 bytes; a text file is text to its end.
	if !utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0 {
		return Processed{}, refuse(CodeType, "%s is not plain text all through", quoteName(name))
	}
	// Markup is not text: an SVG or a web page sniffs as text when it
	// does not open with what the sniffer knows.
	body := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), " \t\r\n")
	lower := strings.ToLower(extOf(name))
	if bytes.HasPrefix(body, []byte("<")) || lower == ".svg" || lower == ".html" || lower == ".htm" || lower == ".xhtml" || lower == ".xml" {
		return Processed{}, refuse(CodeType, "%s is markup (an SVG image or a web page); only images (PNG, JPEG, GIF, WebP), PDF and plain text can be sent", quoteName(name))
	}
	return Processed{Type: TypeText, Data: data}, nil
}

func processImage(sniffed string, data []byte) (Processed, error) {
	cfg, err := decodeConfig(sniffed, data)
	if err != nil {
		return Processed{}, refuse(CodeUnreadable, "this image is damaged or not what it claims to be")
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > MaxSide || cfg.Height > MaxSide || int64(cfg.Width)*int64(cfg.Height) > MaxPixels {
		return Processed{}, refuse(CodeTooBig, "this image is %d×%d pixels; the limit is %d megapixels and %d pixels a side", cfg.Width, cfg.Height, MaxPixels/1_000_000, MaxSide)
	}
	if sniffed == TypeGIF {
		return processGIF(data)
	}
	var img image.Image
	switch sniffed {
	case TypePNG:
		img, err = png.Decode(bytes.NewReader(data))
	case TypeJPEG:
		img, err = jpeg.Decode(bytes.NewReader(data))
	case typeWebP:
		img, err = webp.Decode(bytes.NewReader(data))
	}
	if err != nil {
		return Processed{}, refuse(CodeUnreadable, "this image is damaged or not what it claims to be")
	}
	if sniffed == TypeJPEG {
		img = orient(img, exifOrientation(data))
	}
	out := Processed{Type: sniffed}
	if sniffed == typeWebP {
		out.Type = TypeJPEG
		if !opaque(img) {
			out.Type = TypePNG
		}
	}
	if out.Data, err = encode(out.Type, img, 90); err != nil {
		return Processed{}, fmt.Errorf("files: encode %s: %w", out.Type, err)
	}
	b := img.Bounds()
	out.Width, out.Height = b.Dx(), b.Dy()
	if err := out.thumbnail(img); err != nil {
		return Processed{}, err
	}
	return out, nil
}

func decodeConfig(sniffed string, data []byte) (image.Config, error) {
	r := bytes.NewReader(data)
	switch sniffed {
	case TypePNG:
		return png.DecodeConfig(r)
	case TypeJPEG:
		return jpeg.DecodeConfig(r)
	case TypeGIF:
		return gif.DecodeConfig(r)
	case typeWebP:
		return webp.DecodeConfig(r)
	}
	return image.Config{}, errors.New("not an image")
}

func processGIF(data []byte) (Processed, error) {
	frames, area, err := scanGIF(data)
	if err != nil {
		return Processed{}, refuse(CodeUnreadable, "this GIF is damaged")
	}
	if frames > MaxGIFFrames || area > MaxGIFPixels {
		return Processed{}, refuse(CodeTooBig, "this GIF has %d frames of %d megapixels in all; the limit is %d frames and %d megapixels", frames, area/1_000_000, MaxGIFFrames, MaxGIFPixels/1_000_000)
	}
	g, err := gif.DecodeAll(bytes.NewReader(data))
	if err != nil || len(g.Image) == 0 {
		return Processed{}, refuse(CodeUnreadable, "this GIF is damaged")
	}
	var buf bytes.Buffer
	// EncodeAll writes the frames, their timing and the loop count only:
	// comments and application blocks stay behind.
	if err := gif.EncodeAll(&buf, g); err != nil {
		return Processed{}, refuse(CodeUnreadable, "this GIF is damaged")
	}
	out := Processed{Type: TypeGIF, Data: buf.Bytes(), Width: g.Config.Width, Height: g.Config.Height}
	if err := out.thumbnail(g.Image[0]); err != nil {
		return Processed{}, err
	}
	return out, nil
}

// thumbnail makes a still thumbnail of img when the file is larger than
// one.
func (p *Processed) thumbnail(img image.Image) error {
	b := img.Bounds()
	if b.Dx() <= ThumbSide && b.Dy() <= ThumbSide && len(p.Data) <= thumbFrom && p.Type != TypeGIF {
		return nil
	}
	t := shrink(img, ThumbSide)
	typ := TypeJPEG
	if !t.Opaque() {
		typ = TypePNG
	}
	data, err := encode(typ, t, 80)
	if err != nil {
		return fmt.Errorf("files: thumbnail: %w", err)
	}
	p.Thumb, p.ThumbType = data, typ
	return nil
}

func encode(typ string, img image.Image, quality int) ([]byte, error) {
	var buf bytes.Buffer
	var err error
	switch typ {
	case TypePNG:
		err = (&png.Encoder{CompressionLevel: png.DefaultCompression}).Encode(&buf, img)
	case TypeJPEG:
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality})
	default:
		err = fmt.Errorf("no encoder for %s", typ)
	}
	return buf.Bytes(), err
}

// opaque reports whether an image has no transparent pixel.
func opaque(img image.Image) bool {
	if o, ok := img.(interface{ Opaque() bool }); ok {
		return o.Opaque()
	}
	return false
}
