package router

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"sort"
	"strings"
)

// Binary model format (docs/intents.md has the table of version 4):
//
//	"KFIM" | version byte | body | CRC-32 (IEEE, little-endian) of all before
//
// The body holds only what classification needs: intents without
// examples, the vocabulary (sorted, front-coded), IDF as uint16, the linear
// head's bias as float32, and both heads' weights as int8 postings with
// one float32 scale each. Integers are uvarints, floats little-endian.
const (
	modelMagic   = "KFIM"
	modelVersion = 4
	// minVersion is the oldest version Load reads: version 3 lacks only
	// the intents' sample questions ("did you mean", model.go).
	minVersion = 3

	// maxFeatures bounds the vocabulary a loaded model may declare, so a
	// corrupt count cannot make Load allocate gigabytes.
	maxFeatures = 1 << 21
	maxFeatLen  = MaxExampleLen + 2 // a whole example as one word, with its marks
	// maxIDF bounds the IDF of a loaded model: ln(1 + documents), with far
	// fewer than e^30 documents.
	maxIDF = 30
	// maxCurve bounds a calibration curve's coefficients: steeper than
	// this is a step, which the prior never lets a fit reach.
	maxCurve = 1000
)

// ErrBadModel is wrapped by every error Load returns.
var ErrBadModel = errors.New("bad model")

// fitted is a model in float form, before quantisation and encoding.
type fitted struct {
	intents []Intent
	opts    Options
	cal     calib
	feats   []string  // by feature id
	idf     []float64 // by feature id
	// unseenIDF and stopUnseenIDF weigh question features outside the
	// vocabulary (vocab).
	unseenIDF, stopUnseenIDF float64
	bias                     []float64 // by intent
	// questions are each intent's sample question per script (fit.go).
	questions [][2]string
	linear    [][]entry // by feature id
	proto     [][]entry // by feature id
}

// entry is one (intent, weight) pair of a feature's postings.
type entry struct {
	intent int
	w      float64
}

var actionCodes = [...]Action{ActionAnswer, ActionAI, ActionHandoff}

func actionCode(a Action) byte {
	for i, x := range actionCodes {
		if x == a {
			return byte(i)
		}
	}
	return 0 // empty Action means answer (Validate)
}

// encode serialises f. Features are written in sorted order so the same
// intents always give the same bytes, and so the same ETag.
func encode(f *fitted) []byte { return encodeVersion(f, modelVersion) }

// encodeVersion writes f in an older version too, for tests of Load.
func encodeVersion(f *fitted, version byte) []byte {
	order := make([]int, len(f.feats))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return f.feats[order[a]] < f.feats[order[b]] })

	b := []byte(modelMagic)
	b = append(b, version)
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(f.opts.Threshold)))
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(f.opts.Margin)))
	for _, x := range []float64{f.cal.latin.a, f.cal.latin.b, f.cal.cjk.a, f.cal.cjk.b} {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(x)))
	}
	b = binary.AppendUvarint(b, uint64(len(f.intents)))
	for i, in := range f.intents {
		b = appendString(b, in.Name)
		b = append(b, actionCode(in.Action))
		b = appendString(b, in.Answer)
		b = appendString(b, in.Skill)
		if version >= 4 {
			var q [2]string
			if i < len(f.questions) {
				q = f.questions[i]
			}
			b = appendString(b, q[0])
			b = appendString(b, q[1])
		}
	}

	b = binary.AppendUvarint(b, uint64(len(order)))
	blob := 0
	for _, id := range order {
		blob += len(f.feats[id])
	}
	b = binary.AppendUvarint(b, uint64(blob))
	prev := ""
	for _, id := range order {
		s := f.feats[id]
		p := commonPrefix(prev, s)
		b = binary.AppendUvarint(b, uint64(p))
		b = appendString(b, s[p:])
		prev = s
	}
	idfScale := maxAbs(f.idf) / math.MaxUint16
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(idfScale)))
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(f.unseenIDF)))
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(f.stopUnseenIDF)))
	for _, id := range order {
		q := 0.0
		if idfScale > 0 {
			q = math.Round(f.idf[id] / idfScale)
		}
		b = binary.LittleEndian.AppendUint16(b, uint16(q))
	}
	for _, w := range f.bias {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(w)))
	}
	b = appendPostings(b, f.linear, order)
	b = appendPostings(b, f.proto, order)
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}

// appendPostings writes one head: a float32 scale, the byte length of
// each feature's entries (uvarints), then the entries of every feature back
// to back, each (intent delta uvarint, int8 weight). Weights that round to
// zero are dropped. The lengths let Load find each feature's entries
// without reading them: they are read when a question has the feature.
func appendPostings(b []byte, post [][]entry, order []int) []byte {
	hi := 0.0
	for _, es := range post {
		for _, e := range es {
			hi = math.Max(hi, math.Abs(e.w))
		}
	}
	scale := hi / 127
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(scale)))
	var entries []byte
	var lens []int
	var qs []entry
	for _, id := range order {
		qs = qs[:0]
		for _, e := range post[id] {
			if q := math.Round(e.w / scale); scale > 0 && q != 0 {
				qs = append(qs, entry{e.intent, q})
			}
		}
		sort.Slice(qs, func(i, j int) bool { return qs[i].intent < qs[j].intent })
		start := len(entries)
		last := -1
		for _, e := range qs {
			entries = binary.AppendUvarint(entries, uint64(e.intent-last))
			entries = append(entries, byte(int8(e.w)))
			last = e.intent
		}
		lens = append(lens, len(entries)-start)
	}
	b = binary.AppendUvarint(b, uint64(len(entries)))
	for _, n := range lens {
		b = binary.AppendUvarint(b, uint64(n))
	}
	return append(b, entries...)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

func maxAbs(xs []float64) float64 {
	hi := 0.0
	for _, x := range xs {
		hi = math.Max(hi, math.Abs(x))
	}
	return hi
}

// Current reports whether the model is in the format this build writes:
// an older one loads, but lacks what was added since (the relay refits).
func (m *Model) Current() bool {
	return len(m.raw) > len(modelMagic) && m.raw[len(modelMagic)] == modelVersion
}

// MarshalBinary returns the serialised model (a copy; see Load).
func (m *Model) MarshalBinary() ([]byte, error) {
	return append([]byte(nil), m.raw...), nil
}

// Hash returns the hex SHA-256 of the serialised model, usable as an ETag.
func (m *Model) Hash() string {
	m.hashOnce.Do(func() {
		sum := sha256.Sum256(m.raw)
		m.hash = hex.EncodeToString(sum[:])
	})
	return m.hash
}

// Load parses a model serialised by MarshalBinary. It rejects truncated,
// corrupt or other-version input with an error wrapping ErrBadModel, and
// never panics.
func Load(data []byte) (*Model, error) {
	m, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("router: load: %w: %w", ErrBadModel, err)
	}
	return m, nil
}

func decode(data []byte) (*Model, error) {
	if len(data) < len(modelMagic)+1+4 {
		return nil, fmt.Errorf("%d bytes is too short for a model", len(data))
	}
	if string(data[:len(modelMagic)]) != modelMagic {
		return nil, errors.New("not a kefu model (wrong magic)")
	}
	version := data[len(modelMagic)]
	if version < minVersion || version > modelVersion {
		return nil, fmt.Errorf("model version %d, this build reads versions %d to %d", version, minVersion, modelVersion)
	}
	// The model keeps views of its bytes (postings): its own copy.
	data = append([]byte(nil), data...)
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, errors.New("checksum mismatch (truncated or corrupt)")
	}
	r := &reader{b: body, off: len(modelMagic) + 1}
	m := &Model{}
	m.opts.Threshold = float64(r.f32())
	m.opts.Margin = float64(r.f32())
	if r.err == nil && !(m.opts.Threshold >= 0 && m.opts.Threshold <= 1 && m.opts.Margin >= 0 && m.opts.Margin < 1) {
		return nil, fmt.Errorf("threshold %v or margin %v out of range", m.opts.Threshold, m.opts.Margin)
	}
	m.cal.latin.a, m.cal.latin.b = float64(r.f32()), float64(r.f32())
	m.cal.cjk.a, m.cal.cjk.b = float64(r.f32()), float64(r.f32())
	if r.err == nil && (math.Abs(m.cal.latin.a) > maxCurve || math.Abs(m.cal.latin.b) > maxCurve ||
		math.Abs(m.cal.cjk.a) > maxCurve || math.Abs(m.cal.cjk.b) > maxCurve) {
		return nil, fmt.Errorf("calibration curve out of range")
	}
	nIntents := r.count(MaxIntents, "intents")
	if r.err == nil && nIntents == 0 {
		return nil, errors.New("no intents")
	}
	r.need(4 * nIntents) // each intent takes at least 4 bytes
	m.intents = make([]Intent, 0, nIntents)
	m.questions = make([][2]string, nIntents)
	for i := 0; i < nIntents && r.err == nil; i++ {
		var in Intent
		in.Name = r.str(MaxNameLen)
		code := r.byte()
		if int(code) >= len(actionCodes) {
			r.fail(fmt.Errorf("intent %d: unknown action code %d", i, code))
		} else {
			in.Action = actionCodes[code]
		}
		in.Answer = r.str(MaxAnswerLen)
		in.Skill = r.str(MaxSkillLen)
		if version >= 4 {
			m.questions[i] = [2]string{r.str(MaxExampleLen), r.str(MaxExampleLen)}
		}
		m.intents = append(m.intents, in)
	}

	nFeats := r.count(maxFeatures, "features")
	r.need(2 * nFeats) // each feature takes at least 2 bytes
	blobLen := r.count(nFeats*maxFeatLen, "vocabulary bytes")
	if r.err != nil {
		return nil, r.err
	}
	if nFeats == 0 {
		return nil, errors.New("no features")
	}
	// One blob and one offset table: no string or map entry per feature.
	v := &m.vocab
	v.blob = make([]byte, 0, blobLen)
	v.off = make([]uint32, 1, nFeats+1)
	var prev []byte
	for i := 0; i < nFeats && r.err == nil; i++ {
		p := r.count(len(prev), "shared prefix")
		suffix := r.bytes(maxFeatLen)
		start := len(v.blob)
		if r.err != nil || p+len(suffix) == 0 || start+p+len(suffix) > blobLen {
			r.fail(fmt.Errorf("feature %d: bad length", i))
			break
		}
		v.blob = append(v.blob, prev[:p]...)
		v.blob = append(v.blob, suffix...)
		cur := v.blob[start:]
		if i > 0 && bytes.Compare(cur, prev) <= 0 {
			r.fail(fmt.Errorf("vocabulary not sorted at feature %d", i))
		}
		v.off = append(v.off, uint32(len(v.blob)))
		prev = cur
	}
	if r.err == nil && len(v.blob) != blobLen {
		r.fail(fmt.Errorf("vocabulary is %d bytes, header says %d", len(v.blob), blobLen))
	}
	if r.err != nil {
		return nil, r.err
	}
	// first[b]: the first feature whose first byte is b or more.
	fi := 0
	for b := 0; b <= 256; b++ {
		for fi < nFeats && int(v.blob[v.off[fi]]) < b {
			fi++
		}
		v.first[b] = uint32(fi)
	}
	idfScale := float64(r.f32())
	if r.err == nil && (math.IsNaN(idfScale) || idfScale < 0 || idfScale > 1) {
		r.fail(fmt.Errorf("idf scale %v out of range", idfScale))
	}
	m.vocab.unseenIDF = r.f32()
	m.vocab.stopUnseenIDF = r.f32()
	if r.err == nil && !(m.vocab.unseenIDF >= 0 && m.vocab.unseenIDF <= maxIDF &&
		m.vocab.stopUnseenIDF >= 0 && m.vocab.stopUnseenIDF <= maxIDF) {
		r.fail(fmt.Errorf("unseen-feature idf %v or %v out of range", m.vocab.unseenIDF, m.vocab.stopUnseenIDF))
	}
	if r.need(2 * nFeats) {
		m.vocab.idf = make([]float32, nFeats)
		for i := range m.vocab.idf {
			m.vocab.idf[i] = float32(float64(r.u16()) * idfScale)
		}
	}
	if r.need(4 * nIntents) {
		m.bias = make([]float32, nIntents)
		for i := range m.bias {
			m.bias[i] = r.f32()
		}
	}
	m.linear = r.postings(nFeats)
	m.proto = r.postings(nFeats)
	if r.err != nil {
		return nil, r.err
	}
	if r.off != len(body) {
		return nil, fmt.Errorf("%d unexpected bytes after the model", len(body)-r.off)
	}
	for i, in := range m.intents {
		for _, other := range m.intents[:i] {
			if other.Name == in.Name {
				return nil, fmt.Errorf("duplicate intent %q", in.Name)
			}
		}
	}
	m.raw = data
	return m, nil
}

// reader decodes the body; the first error sticks and later reads return
// zero values, so decode checks r.err only where it matters.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// need reports whether n more bytes are there, failing if not.
func (r *reader) need(n int) bool {
	if r.err != nil {
		return false
	}
	if n < 0 || len(r.b)-r.off < n {
		r.fail(fmt.Errorf("truncated at byte %d", r.off))
		return false
	}
	return true
}

func (r *reader) byte() byte {
	if !r.need(1) {
		return 0
	}
	r.off++
	return r.b[r.off-1]
}

func (r *reader) u16() uint16 {
	if !r.need(2) {
		return 0
	}
	r.off += 2
	return binary.LittleEndian.Uint16(r.b[r.off-2:])
}

func (r *reader) f32() float32 {
	if !r.need(4) {
		return 0
	}
	r.off += 4
	f := math.Float32frombits(binary.LittleEndian.Uint32(r.b[r.off-4:]))
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		r.fail(fmt.Errorf("non-finite number at byte %d", r.off-4))
		return 0
	}
	return f
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.fail(fmt.Errorf("bad varint at byte %d", r.off))
		return 0
	}
	r.off += n
	return v
}

// count reads a uvarint that must be at most max.
func (r *reader) count(max int, what string) int {
	v := r.uvarint()
	if r.err == nil && v > uint64(max) {
		r.fail(fmt.Errorf("%d %s, at most %d", v, what, max))
		return 0
	}
	return int(v)
}

// bytes returns the next length-prefixed bytes (a view, not a copy).
func (r *reader) bytes(max int) []byte {
	n := r.count(max, "bytes in a string")
	if !r.need(n) {
		return nil
	}
	r.off += n
	return r.b[r.off-n : r.off]
}

func (r *reader) str(max int) string {
	n := r.count(max, "bytes in a string")
	if !r.need(n) {
		return ""
	}
	r.off += n
	return strings.Clone(string(r.b[r.off-n : r.off]))
}

// postings reads one head written by appendPostings: the offsets of each
// feature's entries, and the entries as a view of the model's bytes (they
// are decoded, and checked, when classifying: postings.each).
func (r *reader) postings(nFeats int) postings {
	scale := r.f32()
	if r.err == nil && scale < 0 {
		r.fail(fmt.Errorf("negative weight scale %v", scale))
	}
	total := r.count(len(r.b), "bytes of postings")
	if !r.need(nFeats) { // one length byte per feature at least
		return postings{}
	}
	p := postings{start: make([]uint32, 1, nFeats+1), scale: scale}
	b, off, sum := r.b, r.off, 0
	for f := 0; f < nFeats; f++ {
		var n, shift int
		for {
			if off >= len(b) || shift > 28 {
				r.off = off
				r.fail(fmt.Errorf("feature %d: bad postings length at byte %d", f, off))
				return postings{}
			}
			c := b[off]
			off++
			n |= int(c&0x7f) << shift
			shift += 7
			if c < 0x80 {
				break
			}
		}
		sum += n
		if sum > total {
			r.off = off
			r.fail(fmt.Errorf("feature %d: postings longer than the head declares", f))
			return postings{}
		}
		p.start = append(p.start, uint32(sum))
	}
	r.off = off
	if sum != total {
		r.fail(fmt.Errorf("postings add up to %d bytes, the head declares %d", sum, total))
		return postings{}
	}
	if r.need(total) {
		p.data = r.b[r.off : r.off+total]
		r.off += total
	}
	return p
}
