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
