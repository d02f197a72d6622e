package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/trace"
	"strings"
	"testing"
	"time"
)

// tcpPair is both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c, s
}

// streamAnswer is the relay's answer in small: it waits for each chunk
// from the upstream, sends it on, and says so on sent.
func streamAnswer(from, to net.Conn, n int, sent chan<- struct{}) {
	buf := make([]byte, 64)
	for range n {
		k, err := from.Read(buf)
		if err != nil {
			return
		}
		forward(to, buf[:k])
		sent <- struct{}{}
	}
}

//go:noinline
func forward(to net.Conn, b []byte) { _, _ = to.Write(b) }

// waitingForUpstream reports whether streamAnswer's goroutine is parked
// in its read.
func waitingForUpstream() bool {
	buf := make([]byte, 1<<20)
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "[IO wait") && strings.Contains(g, "aitrace.streamAnswer") {
			return true
		}
	}
	return false
}

// Every chunk the answer waited for and sent on is found, numbered in
// its answer, with its lag split into waiting and running.
func TestAnalyzeFindsEveryChunk(t *testing.T) {
	const n = 30
	upstream, relayIn := tcpPair(t)
	relayOut, visitor := tcpPair(t)
	go func() { _, _ = io.Copy(io.Discard, visitor) }()
	var tr bytes.Buffer
	if err := trace.Start(&tr); err != nil {
		t.Fatal(err)
	}
	sent := make(chan struct{}, 1)
	go streamAnswer(relayIn, relayOut, n, sent)
	for i := range n {
		if i > 0 {
			// The last chunk went on before the next comes: one read each.
			select {
			case <-sent:
			case <-time.After(10 * time.Second):
				trace.Stop()
				t.Fatalf("chunk %d was never sent on", i-1)
			}
		}
		for deadline := time.Now().Add(10 * time.Second); !waitingForUpstream(); {
			if time.Now().After(deadline) {
				trace.Stop()
				t.Fatalf("chunk %d: the answer never waited for it", i)
			}
			runtime.Gosched()
		}
		if _, err := upstream.Write([]byte("chunk")); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-sent:
	case <-time.After(10 * time.Second):
		t.Errorf("the last chunk was never sent on")
	}
	trace.Stop()

	r, err := analyze(&tr, matchers{stream: "aitrace.streamAnswer", read: "poll.(*FD).Read", write: "aitrace.forward"})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.chunks) != n {
		t.Fatalf("found %d chunks, want %d", len(r.chunks), n)
	}
	for i, c := range r.chunks {
		if c.index != i+1 || c.g != r.chunks[0].g {
			t.Errorf("chunk %d: index %d of goroutine %d", i, c.index, c.g)
		}
		if c.ready <= 0 || c.run < c.ready || c.write < c.run {
			t.Errorf("chunk %d: ready %d, ran %d, sent %d: out of order", i, c.ready, c.run, c.write)
		}
	}
	var out bytes.Buffer
	if err := report(&out, r, [2]float64{0, 1e6}, 5); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"30 chunks through the relay", "slowest 1 % (1 chunks)", "aitrace.streamAnswer", "net.(*netFD).Write"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, out.String())
		}
	}
}

// A trace without any answer says so instead of printing nothing.
func TestReportWithoutChunks(t *testing.T) {
	var tr bytes.Buffer
	if err := trace.Start(&tr); err != nil {
		t.Fatal(err)
	}
	trace.Stop()
	r, err := analyze(&tr, matchers{stream: "nothing", read: "poll.(*FD).Read", write: "nothing"})
	if err != nil {
		t.Fatal(err)
	}
	if err := report(io.Discard, r, [2]float64{}, 5); err == nil || !strings.Contains(err.Error(), "no chunk found") {
		t.Errorf("err: %v", err)
	}
}

// A file that is no trace is an error, not a panic.
func TestAnalyzeRefusesGarbage(t *testing.T) {
	if _, err := analyze(strings.NewReader("not a trace"), matchers{}); err == nil {
		t.Error("no error for a file that is no trace")
	}
}

// askAndForward is an answer's start in small: it posts the question,
// and the first chunk comes with the reply's headers, which net/http's
// readLoop reads and hands over; it is sent on at once.
func askAndForward(client *http.Client, url string, to net.Conn, done chan<- error) {
	resp, err := client.Get(url)
	if err != nil {
		done <- err
		return
	}
	buf := make([]byte, 64)
	n, err := resp.Body.Read(buf)
	if n > 0 {
		forward(to, buf[:n])
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == io.EOF {
		err = nil
	}
	done <- err
}

// A first chunk that came with the reply's headers is found too, its time
// counted from the network's waking the goroutine that read the reply;
// without the reply matcher it is not (the answer never waited in read).
func TestAnalyzeFindsFirstChunksWithTheReply(t *testing.T) {
	const n = 5
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		// Headers and the chunk in one write(2): the reader gets both at once.
		_, _ = io.WriteString(w, "data: chunk\n\n")
		w.(http.Flusher).Flush()
	}))
	defer srv.Close()
	client := srv.Client()
	relayOut, visitor := tcpPair(t)
	go func() { _, _ = io.Copy(io.Discard, visitor) }()
	var tr bytes.Buffer
	if err := trace.Start(&tr); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		done := make(chan error, 1)
		go askAndForward(client, srv.URL, relayOut, done)
		select {
		case err := <-done:
			if err != nil {
				trace.Stop()
				t.Fatalf("answer %d: %v", i, err)
			}
		case <-time.After(10 * time.Second):
			trace.Stop()
			t.Fatalf("answer %d never came", i)
		}
	}
	trace.Stop()
	m := matchers{stream: "aitrace.askAndForward", read: "poll.(*FD).Read", write: "aitrace.forward", reply: "http.(*persistConn).roundTrip", replier: "http.(*persistConn).readLoop"}
	r, err := analyze(bytes.NewReader(tr.Bytes()), m)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.chunks) != n {
		t.Fatalf("found %d chunks, want %d", len(r.chunks), n)
	}
	for i, c := range r.chunks {
		if c.index != 1 || c.ready <= 0 || c.run < c.ready || c.write < c.run {
			t.Errorf("chunk %d: index %d, ready %d, ran %d, sent %d", i, c.index, c.ready, c.run, c.write)
		}
	}
	m.reply = ""
	r, err = analyze(bytes.NewReader(tr.Bytes()), m)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.chunks) >= n {
		t.Errorf("without the reply matcher: %d chunks, want fewer than %d", len(r.chunks), n)
	}
}
