package curlpoll_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll"
	"github.com/curlpoll/curlpoll/internal/testservers"
)

func TestSMTPSend(t *testing.T) {
	checkLeaks(t)
	srv := testservers.StartSMTP(t, "alice", "s3cret")
	m := newMulti(t)
	msg := "From: <alice@example.com>\r\nTo: <bob@example.com>\r\nSubject: hi\r\n\r\nHello Bob.\r\n.leading dot\r\n"
	e := newEasy(t, srv.URL())
	must(t, e.SetUserPassword("alice:s3cret"))
	must(t, e.SetMailFrom("<alice@example.com>"))
	must(t, e.SetMailRecipients([]string{"<bob@example.com>", "<carol@example.com>"}))
	must(t, e.SetMailAuth("<alice@example.com>"))
	must(t, e.SetUpload(true))
	must(t, e.SetReader(strings.NewReader(msg)))
	must(t, e.SetInFileSize(int64(len(msg))))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := m.Do(ctx, e); err != nil {
		t.Fatal(err)
	}
	mails := srv.Mails()
	if len(mails) != 1 {
		t.Fatalf("%d mails received, want 1; commands %q", len(mails), srv.Commands())
	}
	got := mails[0]
	if got.From != "<alice@example.com> AUTH=<alice@example.com>" || strings.Join(got.To, ",") != "<bob@example.com>,<carol@example.com>" || got.User != "alice" {
		t.Errorf("envelope: from %q to %q user %q", got.From, got.To, got.User)
	}
	if got.Data != msg {
		t.Errorf("message:\n%q\nwant\n%q", got.Data, msg)
	}
}

// TestSMTPNoRecipients: a mail without recipients fails before
// connecting; libcurl would send EHLO and HELP and report success.
func TestSMTPNoRecipients(t *testing.T) {
	checkLeaks(t)
	srv := testservers.StartSMTP(t, "", "")
	m := newMulti(t)
	for _, url := range []string{srv.URL(), "SMTP://" + srv.Addr + "/x"} {
		e := newEasy(t, url)
		must(t, e.SetMailFrom("<alice@example.com>"))
		must(t, e.SetUpload(true))
		must(t, e.SetReader(strings.NewReader("Subject: x\r\n\r\nbody\r\n")))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := m.Do(ctx, e)
		cancel()
		if !errors.Is(err, curlpoll.ErrNoRecipients) {
			t.Errorf("%s: mail without recipients: %v, want ErrNoRecipients", url, err)
		}
		// An empty list is no recipient either; nil clears the list.
		must(t, e.SetMailRecipients([]string{"<bob@example.com>"}))
		must(t, e.SetMailRecipients(nil))
		if _, err := m.Start(context.Background(), e); !errors.Is(err, curlpoll.ErrNoRecipients) {
			t.Errorf("%s: after clearing the recipients: %v, want ErrNoRecipients", url, err)
		}
	}
	// A scheme-less URL whose host starts with "smtp." is SMTP to libcurl.
	e := newEasy(t, "smtp.invalid/x")
	must(t, e.SetUpload(true))
	if err := m.Do(context.Background(), e); !errors.Is(err, curlpoll.ErrNoRecipients) {
		t.Errorf("smtp.invalid: %v, want ErrNoRecipients", err)
	}
	if c := srv.Commands(); len(c) != 0 {
		t.Errorf("the server got commands: %q", c)
	}
	// Recipients with a CR or LF are refused.
	var ie *curlpoll.InputError
	if err := e.SetMailRecipients([]string{"<a@example.com>\r\nRCPT TO:<evil@example.com>"}); !errors.As(err, &ie) {
		t.Errorf("recipient with CRLF: %v, want an InputError", err)
	}
	if err := e.SetMailFrom("<a@example.com>\nDATA"); !errors.As(err, &ie) {
		t.Errorf("sender with LF: %v, want an InputError", err)
	}
}

// TestSMTPMIME: a mail of MIME parts (SetMIMEPost), and the recipients
// check for it.
func TestSMTPMIME(t *testing.T) {
	checkLeaks(t)
	srv := testservers.StartSMTP(t, "", "")
	m := newMulti(t)
	e := newEasy(t, srv.URL())
	must(t, e.SetMailFrom("<alice@example.com>"))
	must(t, e.SetHTTPHeader([]string{"Subject: parts", "To: <bob@example.com>"}))
	form := curlpoll.NewMIME()
	form.AddBytes("", []byte("plain text part")).SetContentType("text/plain")
	// A reader with nothing at first: libcurl pauses the transfer.
	slow := &slowReader{n: 3, size: 4, delay: 50 * time.Millisecond}
	form.AddReader("", slow, -1).SetFilename("a.csv").SetContentType("text/csv")
	// A reader with its data at once.
	form.AddReader("", strings.NewReader("fast,part"), -1).SetFilename("b.csv")
	must(t, e.SetMIMEPost(form))
	if err := doCtx(t, m, e); !errors.Is(err, curlpoll.ErrNoRecipients) {
		t.Fatalf("MIME mail without recipients: %v, want ErrNoRecipients", err)
	}
	if c := srv.Commands(); len(c) != 0 {
		t.Fatalf("the server got commands: %q", c)
	}
	must(t, e.SetMailRecipients([]string{"<bob@example.com>"}))
	if err := doCtx(t, m, e); err != nil {
		t.Fatal(err)
	}
	mails := srv.Mails()
	if len(mails) != 1 {
		t.Fatalf("%d mails, want 1", len(mails))
	}
	d := mails[0].Data
	for _, want := range []string{"Subject: parts", "Content-Type: multipart/mixed; boundary=", "plain text part", `filename="a.csv"`, slow.want(), `filename="b.csv"`, "fast,part"} {
		if !strings.Contains(d, want) {
			t.Errorf("the mail lacks %q:\n%s", want, d)
		}
	}
}
