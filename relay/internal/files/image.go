package files

import (
	"encoding/binary"
	"errors"
	"image"
	"image/draw"
)

// exifOrientation reads the EXIF orientation (1 to 8) of a JPEG; 1 when
// it has none or it cannot be read. Only the first APP1 "Exif" segment's
// first directory is looked at, as every camera writes it.
func exifOrientation(data []byte) int {
	if len(data) < 4 || data[0] != 0xff || data[1] != 0xd8 {
		return 1
	}
	i := 2
	for i+4 <= len(data) {
		if data[i] != 0xff {
			return 1
		}
		marker := data[i+1]
		if marker == 0xd9 || marker == 0xda { // end of image, start of scan
			return 1
		}
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		if n < 2 || i+2+n > len(data) {
			return 1
		}
		seg := data[i+4 : i+2+n]
		if marker == 0xe1 && len(seg) >= 6 && string(seg[:6]) == "Exif\x00\x00" {
			return tiffOrientation(seg[6:])
		}
		i += 2 + n
	}
	return 1
}

// tiffOrientation finds tag 0x0112 in a TIFF header's first directory.
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 1
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 1
	}
	off := int(bo.Uint32(t[4:]))
	if off < 8 || off+2 > len(t) {
		return 1
	}
	count := int(bo.Uint16(t[off:]))
	for k := range count {
		e := off + 2 + 12*k
		if e+12 > len(t) {
			return 1
		}
		if bo.Uint16(t[e:]) == 0x0112 && bo.Uint16(t[e+2:]) == 3 { // SHORT
			if v := int(bo.Uint16(t[e+8:])); v >= 1 && v <= 8 {
				return v
			}
			return 1
		}
	}
	return 1
}

// orient turns img upright by its EXIF orientation: the metadata that said
// how is about to be dropped.
func orient(img image.Image, o int) image.Image {
	if o <= 1 || o > 8 {
		return img
	}
	src := toRGBA(img)
	w, h := src.Rect.Dx(), src.Rect.Dy()
	dw, dh := w, h
	if o >= 5 {
		dw, dh = h, w
	}
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for y := range dh {
		for x := range dw {
			var sx, sy int
			switch o {
			case 2:
				sx, sy = w-1-x, y
			case 3:
				sx, sy = w-1-x, h-1-y
			case 4:
				sx, sy = x, h-1-y
			case 5:
				sx, sy = y, x
			case 6:
				sx, sy = y, h-1-x
			case 7:
				sx, sy = w-1-y, h-1-x
			case 8:
				sx, sy = w-1-y, x
			}
			si := sy*src.Stride + sx*4
			di := y*dst.Stride + x*4
			copy(dst.Pix[di:di+4], src.Pix[si:si+4])
		}
	}
	return dst
}

// toRGBA copies img into an RGBA image at the origin.
func toRGBA(img image.Image) *image.RGBA {
	if r, ok := img.(*image.RGBA); ok && r.Rect.Min == (image.Point{}) {
		return r
	}
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(out, out.Rect, img, b.Min, draw.Src)
	return out
}

// shrink scales img down so its longer side is at most side, averaging
// each box of source pixels (premultiplied, so transparent pixels do not
// darken the edges). An image already within side is copied.
func shrink(img image.Image, side int) *image.RGBA {
	src := toRGBA(img)
	w, h := src.Rect.Dx(), src.Rect.Dy()
	if w <= side && h <= side {
		return src
	}
	dw, dh := side, max(1, h*side/w)
	if h > w {
		dw, dh = max(1, w*side/h), side
	}
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for y := range dh {
		y0, y1 := y*h/dh, max((y+1)*h/dh, y*h/dh+1)
		for x := range dw {
			x0, x1 := x*w/dw, max((x+1)*w/dw, x*w/dw+1)
			var r, g, b, a, n uint64
			for sy := y0; sy < y1; sy++ {
				row := src.Pix[sy*src.Stride+x0*4 : sy*src.Stride+x1*4]
				for i := 0; i < len(row); i += 4 {
					r += uint64(row[i])
					g += uint64(row[i+1])
					b += uint64(row[i+2])
					a += uint64(row[i+3])
					n++
				}
			}
			di := y*dst.Stride + x*4
			dst.Pix[di], dst.Pix[di+1], dst.Pix[di+2], dst.Pix[di+3] = uint8(r/n), uint8(g/n), uint8(b/n), uint8(a/n)
		}
	}
	return dst
}

// scanGIF counts a GIF's frames and the sum of their areas by walking its
// blocks, without decoding any: image.DecodeAll would allocate every
// frame before anything could be refused.
func scanGIF(data []byte) (frames int, area int64, err error) {
	bad := errors.New("not a GIF")
	if len(data) < 13 || (string(data[:6]) != "GIF87a" && string(data[:6]) != "GIF89a") {
		return 0, 0, bad
	}
	i := 13
	if data[10]&0x80 != 0 { // global colour table
		i += 3 << (int(data[10]&7) + 1)
	}
	// skip passes over data sub-blocks.
	skip := func() error {
		for {
			if i >= len(data) {
				return bad
			}
			n := int(data[i])
			i++
			if n == 0 {
				return nil
			}
			i += n
		}
	}
	for i < len(data) {
		switch data[i] {
		case 0x3b: // trailer
			return frames, area, nil
		case 0x21: // extension: label, then sub-blocks
			i += 2
			if err := skip(); err != nil {
				return frames, area, err
			}
		case 0x2c: // image descriptor
			if i+10 > len(data) {
				return frames, area, bad
			}
			w, h := int64(binary.LittleEndian.Uint16(data[i+5:])), int64(binary.LittleEndian.Uint16(data[i+7:]))
			flags := data[i+9]
			i += 10
			if flags&0x80 != 0 { // local colour table
				i += 3 << (int(flags&7) + 1)
			}
			i++ // LZW minimum code size
			if err := skip(); err != nil {
				return frames, area, err
			}
			frames++
			area += w * h
			if frames > MaxGIFFrames || area > MaxGIFPixels {
				return frames, area, nil // enough to refuse it
			}
		default:
			return frames, area, bad
		}
	}
	return frames, area, bad
}
