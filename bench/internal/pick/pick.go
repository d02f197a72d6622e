// Package pick reads single fields out of the relay's JSON frames without
// decoding them: the generator handles tens of thousands of frames a
// second on the same two cores as the relay, and encoding/json would cost
// it more than the relay spends sending them. It relies on what
// encoding/json writes: no spaces, and a quote inside a string is escaped,
// so `"key":` can only be a key.
package pick

import "bytes"

// Str returns the string value of key, or nil. Values with escapes are
// returned raw; the benchmark's own ids and types have none.
func Str(b []byte, key string) []byte {
	i := find(b, key)
	if i < 0 || i >= len(b) || b[i] != '"' {
		return nil
	}
	rest := b[i+1:]
	for j := 0; j < len(rest); j++ {
		switch rest[j] {
		case '\\':
			j++
		case '"':
			return rest[:j]
		}
	}
	return nil
}

// Uint returns the unsigned integer value of key.
func Uint(b []byte, key string) (uint64, bool) {
	i := find(b, key)
	if i < 0 {
		return 0, false
	}
	var n uint64
	j := i
	for ; j < len(b) && b[j] >= '0' && b[j] <= '9'; j++ {
		n = n*10 + uint64(b[j]-'0')
	}
	return n, j > i
}

// Bool reports whether key is the literal true.
func Bool(b []byte, key string) bool {
	i := find(b, key)
	return i >= 0 && bytes.HasPrefix(b[i:], []byte("true"))
}

// Type is the frame's "type".
func Type(b []byte) []byte { return Str(b, "type") }

// find returns the offset just after `"key":`, or -1.
func find(b []byte, key string) int {
	var pat [64]byte
	p := append(pat[:0], '"')
	p = append(p, key...)
	p = append(p, '"', ':')
	i := bytes.Index(b, p)
	if i < 0 {
		return -1
	}
	return i + len(p)
}

// Stamps calls f with every number that follows "[t=" in b: the send times
// the fake upstream writes into streamed text with --stamp-content.
func Stamps(b []byte, f func(ns int64)) {
	for {
		i := bytes.Index(b, []byte("[t="))
		if i < 0 {
			return
		}
		b = b[i+3:]
		var n int64
		j := 0
		for ; j < len(b) && b[j] >= '0' && b[j] <= '9'; j++ {
			n = n*10 + int64(b[j]-'0')
		}
		if j > 0 && j < len(b) && b[j] == ']' {
			f(n)
		}
		b = b[j:]
	}
}

// Chunks measures when each stamped chunk of a stream ([t=NS] at its
// start, fakeopenai --stamp-content) was received whole: chunk k's text
// ends where stamp k+1 begins, and is complete when the piece of text
// holding its last byte arrived. Measuring the stamp's own arrival would
// miss a relay that holds a chunk's last word back until the next chunk.
type Chunks struct {
	raw  []byte
	ends []int   // cumulative length after each Add
	ats  []int64 // arrival time of each Add
	scan int     // where the next stamp is looked for
	open bool    // a stamped chunk is being read
	ns   int64   // its stamp
}

// Add takes the next received text; done runs for every chunk now known
// complete, with its send stamp and the time it was complete.
func (c *Chunks) Add(text []byte, now int64, done func(sent, complete int64)) {
	c.raw = append(c.raw, text...)
	c.ends = append(c.ends, len(c.raw))
	c.ats = append(c.ats, now)
	for {
		i := bytes.Index(c.raw[c.scan:], []byte("[t="))
		if i < 0 {
			c.scan = max(c.scan, len(c.raw)-2) // a stamp may start in the last bytes
			return
		}
		p := c.scan + i
		j := p + 3
		var n int64
		for ; j < len(c.raw) && c.raw[j] >= '0' && c.raw[j] <= '9'; j++ {
			n = n*10 + int64(c.raw[j]-'0')
		}
		if j >= len(c.raw) {
			c.scan = p // the stamp is not whole yet
			return
		}
		if c.raw[j] != ']' || j == p+3 {
			c.scan = p + 1
			continue
		}
		if c.open {
			done(c.ns, c.arrival(p-1))
		}
		c.open, c.ns, c.scan = true, n, j+1
	}
}

// Finish ends the stream: the last chunk was complete with the last text.
func (c *Chunks) Finish(done func(sent, complete int64)) {
	if c.open && len(c.ats) > 0 {
		done(c.ns, c.ats[len(c.ats)-1])
	}
	c.open = false
}

// arrival is when the byte at off arrived.
func (c *Chunks) arrival(off int) int64 {
	for k, e := range c.ends {
		if e > off {
			return c.ats[k]
		}
	}
	return c.ats[len(c.ats)-1]
}
