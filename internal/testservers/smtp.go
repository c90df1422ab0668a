package testservers

import (
	"encoding/base64"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
)

// Mail is one message an SMTP server received.
type Mail struct {
	From string   // MAIL FROM's argument, "<a@example.com>" and any parameters
	To   []string // RCPT TO's arguments
	Data string   // the message, dot-unstuffed, with CRLF line ends
	User string   // the AUTH PLAIN user, "" without AUTH
}

// SMTP is a small SMTP server in Go on 127.0.0.1: EHLO, HELO, AUTH PLAIN
// (when a password is set), MAIL, RCPT, DATA, RSET, NOOP, HELP, QUIT. It
// records every command line and every message.
type SMTP struct {
	Addr string

	ln       net.Listener
	wg       sync.WaitGroup
	user     string
	password string

	mu    sync.Mutex
	mails []Mail
	cmds  []string
	conns map[net.Conn]struct{}
}

// StartSMTP starts the server; with user set, it offers AUTH PLAIN for
// user and password and refuses MAIL without it. It stops at cleanup.
func StartSMTP(t testing.TB, user, password string) *SMTP {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &SMTP{Addr: ln.Addr().String(), ln: ln, user: user, password: password, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

// URL returns "smtp://" + the server's address + "/" + the EHLO name.
func (s *SMTP) URL() string { return "smtp://" + s.Addr + "/client.example" }

// Mails returns the messages received so far.
func (s *SMTP) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

// Commands returns the command lines received so far.
func (s *SMTP) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.cmds...)
}

func (s *SMTP) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serve(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			c.Close()
		}()
	}
}

func (s *SMTP) serve(c net.Conn) {
	tp := textproto.NewConn(c)
	reply := func(format string, args ...any) bool { return tp.PrintfLine(format, args...) == nil }
	if !reply("220 curlpoll-test ESMTP") {
		return
	}
	var m Mail
	authed := ""
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.cmds = append(s.cmds, line)
		s.mu.Unlock()
		verb, arg, _ := strings.Cut(line, " ")
		ok := true
		switch strings.ToUpper(verb) {
		case "EHLO":
			if s.user != "" {
				ok = reply("250-curlpoll-test") && reply("250-AUTH PLAIN") && reply("250 8BITMIME")
			} else {
				ok = reply("250-curlpoll-test") && reply("250 8BITMIME")
			}
		case "HELO":
			ok = reply("250 curlpoll-test")
		case "AUTH":
			mech, ir, _ := strings.Cut(arg, " ")
			if !strings.EqualFold(mech, "PLAIN") {
				ok = reply("504 unsupported")
				break
			}
			if ir == "" {
				if !reply("334 ") {
					return
				}
				if ir, err = tp.ReadLine(); err != nil {
					return
				}
			}
			b, _ := base64.StdEncoding.DecodeString(ir)
			parts := strings.Split(string(b), "\x00")
			if len(parts) == 3 && parts[1] == s.user && parts[2] == s.password {
				authed = parts[1]
				ok = reply("235 ok")
			} else {
				ok = reply("535 bad credentials")
			}
		case "MAIL":
			if s.user != "" && authed == "" {
				ok = reply("530 authentication required")
				break
			}
			m = Mail{From: strings.TrimPrefix(strings.TrimPrefix(arg, "FROM:"), "from:"), User: authed}
			ok = reply("250 ok")
		case "RCPT":
			m.To = append(m.To, strings.TrimPrefix(strings.TrimPrefix(arg, "TO:"), "to:"))
			ok = reply("250 ok")
		case "DATA":
			if len(m.To) == 0 {
				ok = reply("503 no recipients")
				break
			}
			if !reply("354 go ahead") {
				return
			}
			lines, err := tp.ReadDotLines()
			if err != nil {
				return
			}
			m.Data = strings.Join(lines, "\r\n") + "\r\n"
			s.mu.Lock()
			s.mails = append(s.mails, m)
			s.mu.Unlock()
			m = Mail{}
			ok = reply("250 queued")
		case "RSET":
			m = Mail{}
			ok = reply("250 ok")
		case "NOOP":
			ok = reply("250 ok")
		case "HELP":
			ok = reply("214 curlpoll-test help")
		case "QUIT":
			reply("221 bye")
			return
		default:
			ok = reply("500 unknown command")
		}
		if !ok {
			return
		}
	}
}
