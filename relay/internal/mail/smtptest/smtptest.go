// Package smtptest is a small SMTP server for tests: it speaks enough of
// RFC 5321 (EHLO, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT) on a
// loopback port for net/smtp to deliver to it, keeps every message it
// accepted, and can refuse logins or stop answering, as real servers do.
package smtptest

import (
	"bufio"
	"encoding/base64"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"
)

// Message is one accepted mail.
type Message struct {
	From string
	To   []string
	Data string
	// Header is Data's header, parsed.
	Header mail.Header
}

// Server is a running SMTP server.
type Server struct {
	// User and Password are the only login accepted ("" accepts any).
	User, Password string

	ln   net.Listener
	addr string
	mu   sync.Mutex
	msgs []Message
	got  chan struct{}
	wg   sync.WaitGroup
}

// Start serves on a free loopback port until the test ends.
func Start(t testing.TB, user, password string) *Server {
	t.Helper()
	s := &Server{User: user, Password: password, got: make(chan struct{}, 1)}
	if err := s.listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.ln, s.addr = ln, ln.Addr().String()
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.serve(c) }()
		}
	}()
	return nil
}

// Addr is host:port.
func (s *Server) Addr() string { s.mu.Lock(); defer s.mu.Unlock(); return s.addr }

// Port is the port number.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Stop closes the listener: connections are refused, as from a server
// that is down. Restart serves again on the same port.
func (s *Server) Stop() {
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	s.wg.Wait()
}

// Restart listens again on the port it had.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := s.listen(s.Addr())
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("smtptest: listen again on %s: %v", s.Addr(), err)
		}
		time.Sleep(50 * time.Millisecond) // the port is still in TIME_WAIT's grip; poll with a deadline
	}
}

// Messages returns what was accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Wait returns once n messages have been accepted, or fails the test
// after timeout.
func (s *Server) Wait(t testing.TB, n int, timeout time.Duration) []Message {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if m := s.Messages(); len(m) >= n {
			return m
		}
		select {
		case <-s.got:
		case <-deadline:
			t.Fatalf("smtptest: %d messages within %s, want %d", len(s.Messages()), timeout, n)
		}
	}
}

func (s *Server) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute))
	r := bufio.NewReader(c)
	say := func(line string) { c.Write([]byte(line + "\r\n")) }
	say("220 smtptest ready")
	var cur Message
	authed := s.User == ""
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			c.Write([]byte("250-smtptest\r\n250-8BITMIME\r\n250 AUTH PLAIN\r\n"))
		case "AUTH":
			mech, resp, _ := strings.Cut(arg, " ")
			if !strings.EqualFold(mech, "PLAIN") {
				say("504 only PLAIN")
				continue
			}
			raw, err := base64.StdEncoding.DecodeString(resp)
			parts := strings.Split(string(raw), "\x00")
			if err != nil || len(parts) != 3 || parts[1] != s.User || parts[2] != s.Password {
				say("535 5.7.8 Authentication credentials invalid")
				continue
			}
			authed = true
			say("235 2.7.0 Authentication successful")
		case "MAIL":
			if !authed {
				say("530 5.7.0 Authentication required")
				continue
			}
			cur = Message{From: angle(arg)}
			say("250 OK")
		case "RCPT":
			cur.To = append(cur.To, angle(arg))
			say("250 OK")
		case "DATA":
			say("354 go ahead")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(strings.TrimPrefix(l, "."))
			}
			cur.Data = b.String()
			if m, err := mail.ReadMessage(strings.NewReader(cur.Data)); err == nil {
				cur.Header = m.Header
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, cur)
			s.mu.Unlock()
			select {
			case s.got <- struct{}{}:
			default:
			}
			say("250 OK queued")
			cur = Message{}
		case "RSET":
			cur = Message{}
			say("250 OK")
		case "NOOP":
			say("250 OK")
		case "QUIT":
			say("221 bye")
			return
		default:
			say("502 not implemented")
		}
	}
}

// angle is the address between < and > in a MAIL or RCPT argument.
func angle(arg string) string {
	_, rest, _ := strings.Cut(arg, "<")
	addr, _, _ := strings.Cut(rest, ">")
	return addr
}
