package curlpoll_test

// What the Easy records of the options it sets (protoNotes): what renew
// carries over to a duplicate handle before libcurl 8.1.0, the body that
// SetPostFieldSize may drop, the mail recipients checkStart counts.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll"
)

// bodyServer records every request body it receives.
func bodyServer(t *testing.T) (*httptest.Server, func() [][]byte) {
	var mu sync.Mutex
	var bodies [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, b)
		mu.Unlock()
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv, func() [][]byte { mu.Lock(); defer mu.Unlock(); return append([][]byte(nil), bodies...) }
}

// TestRenewPostFieldsSizeZero: a SetPostFields body whose size is then set
// to 0 stays libcurl's copy (a smaller size keeps it). 7.88's duphandle
// copies that body only when its size is not 0 (dupset: "if
// (src->set.postfieldsize && src->set.str[i])"), and otherwise leaves the
// duplicate's set.postfields pointing at the old handle's copy, which
// renew then frees. A larger size set afterwards should drop the body
// (libcurl's rule, SetPostFieldSize's doc); on the renewed handle
// postfields no longer equals the copy it owns (NULL), so libcurl keeps the
// freed pointer and sends the heap behind it.
func TestRenewPostFieldsSizeZero(t *testing.T) {
	srv, bodies := bodyServer(t)
	m := newMulti(t)
	e := newEasy(t, srv.URL)
	secret := bytes.Repeat([]byte("S"), 200)
	must(t, e.SetPostFields(secret))
	must(t, e.SetPostFieldSize(0))
	must(t, m.Do(context.Background(), e))
	// A second transfer: with libcurl < 8.1.0 it runs on a duplicate.
	must(t, m.Do(context.Background(), e))
	// The larger size drops the copy: the body comes from the reader.
	want := bytes.Repeat([]byte("R"), 200)
	must(t, e.SetReader(bytes.NewReader(want)))
	must(t, e.SetPostFieldSize(200))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := m.Do(ctx, e)
	got := bodies()
	if err != nil || len(got) != 3 || !bytes.Equal(got[2], want) {
		var last []byte
		if len(got) > 0 {
			last = got[len(got)-1]
		}
		t.Errorf("third transfer, its body from a reader: %v, %d bodies, the last %q", err, len(got), last[:min(len(last), 64)])
	}
}

// TestRenewKeepsAWSSigV4: 7.88's duphandle copies the strings of set.str
// up to STRING_LASTZEROTERMINATED only, and STRING_AWS_SIGV4 lies after it
// (lib/urldata.h; moved in 8.1.0 by 3f0b81c112 "urldata: copy
// CURLOPT_AWS_SIGV4 value on handle duplication"). A renewed handle signs
// with libcurl's default provider and the region and service guessed from
// the host name, not the ones set.
func TestRenewKeepsAWSSigV4(t *testing.T) {
	url, auths := authServer(t, "")
	m := newMulti(t)
	e := newEasy(t, url+"/x")
	must(t, e.SetUsername("AKID"))
	must(t, e.SetPassword("SECRET"))
	must(t, e.SetAWSSigV4("aws:amz:eu-west-3:myservice"))
	for i := 0; i < 2; i++ {
		must(t, m.Do(context.Background(), e))
	}
	checkSeen(t, auths(), "/eu-west-3/myservice/aws4_request")
}

// TestRenewKeepsDigestIE: 7.88 keeps CURLAUTH_DIGEST_IE not in set but in
// state (setopt.c CURLOPT_HTTPAUTH: "data->state.authhost.iestyle = ...";
// likewise CURLOPT_PROXYAUTH), which duphandle does not copy: a renewed
// handle sends Digest's uri with the query, where the first sent it
// without (http_digest.c: "if(authp->iestyle) ... strchr(uripath, '?')").
func TestRenewKeepsDigestIE(t *testing.T) {
	url, auths := authServer(t, `Digest realm="r", nonce="abc", qop="auth", algorithm=MD5`)
	m := newMulti(t)
	e := newEasy(t, url+"/p?q=1")
	must(t, e.SetUsername("u"))
	must(t, e.SetPassword("p"))
	must(t, e.SetHTTPAuth(curlpoll.AuthDigestIE))
	for i := 0; i < 2; i++ {
		must(t, m.Do(context.Background(), e))
	}
	checkSeen(t, auths(), `uri="/p"`)
}

// authServer records "METHOD Authorization" for each request it answers;
// with challenge set, a request without Authorization gets a 401 with
// challenge as WWW-Authenticate, and is not recorded.
func authServer(t *testing.T, challenge string) (url string, seen func() []string) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		a := r.Header.Get("Authorization")
		if a == "" && challenge != "" {
			w.Header().Set("WWW-Authenticate", challenge)
			w.WriteHeader(401)
			return
		}
		mu.Lock()
		got = append(got, r.Method+" "+a)
		mu.Unlock()
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), got...) }
}

// checkSeen wants two requests recorded by authServer, each containing
// want.
func checkSeen(t *testing.T, seen []string, want string) {
	t.Helper()
	if len(seen) != 2 {
		t.Fatalf("%d requests recorded, want 2: %q", len(seen), seen)
	}
	for i, a := range seen {
		if !strings.Contains(a, want) {
			t.Errorf("transfer %d: %q lacks %q", i+1, a, want)
		}
	}
}

// TestRefusedPostFieldSizeKeepsBody: SetPostFieldSize(-2) is refused by
// libcurl (setopt.c: "if(bigsize < -1) return CURLE_BAD_FUNCTION_ARGUMENT"),
// but guardPostSize has already dropped the SetPostFields body (it tests
// v < 0 before the call): a setter that fails changed the request.
func TestRefusedPostFieldSizeKeepsBody(t *testing.T) {
	srv, bodies := bodyServer(t)
	m := newMulti(t)
	e := newEasy(t, srv.URL)
	must(t, e.SetPostFields([]byte("abc")))
	if err := e.SetPostFieldSize(-2); err == nil {
		t.Fatal("SetPostFieldSize(-2) taken")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err := m.Do(ctx, e)
	got := bodies()
	if err != nil || len(got) != 1 || string(got[0]) != "abc" {
		t.Errorf("after a refused SetPostFieldSize(-2): %v, bodies %q; want the body abc", err, got)
	}
}

// TestMailRecipientsBookkeeping: checkStart counts CURLOPT_MAIL_RCPT items
// (noteList), but neither Apply (its CURLPOLL_OPT_LIST case keeps the list
// only) nor SetOptionList(nil) records them: recipients set in a batch are
// refused as none, and recipients cleared with the escape hatch still count.
func TestMailRecipientsBookkeeping(t *testing.T) {
	rcpt, err := curlpoll.OptionByName("MAIL_RCPT")
	must(t, err)
	m := newMulti(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	e := newEasy(t, "smtp://127.0.0.1:1/")
	must(t, e.SetUpload(true))
	var b curlpoll.OptionBatch
	b.List(rcpt, "to@example.com")
	must(t, e.Apply(&b))
	if err := m.Do(ctx, e); errors.Is(err, curlpoll.ErrNoRecipients) {
		t.Errorf("recipients set in a batch: %v", err)
	}

	e2 := newEasy(t, "smtp://127.0.0.1:1/")
	must(t, e2.SetUpload(true))
	must(t, e2.SetOptionList(rcpt, []string{"to@example.com"}))
	must(t, e2.SetOptionList(rcpt, nil))
	if err := m.Do(ctx, e2); !errors.Is(err, curlpoll.ErrNoRecipients) {
		t.Errorf("recipients cleared with SetOptionList(nil): %v, want ErrNoRecipients", err)
	}
}

func twoTransfers(t *testing.T, e *curlpoll.Easy) {
	m := newMulti(t)
	for i := 0; i < 2; i++ {
		must(t, m.Do(context.Background(), e))
	}
}

// TestRenewAWSSigV4ThenBasic: CURLOPT_AWS_SIGV4 sets set.httpauth to
// CURLAUTH_AWS_SIGV4 (7.88.1 lib/setopt.c: "if(data->set.str[STRING_AWS_SIGV4])
// data->set.httpauth = CURLAUTH_AWS_SIGV4;"); a later CURLOPT_HTTPAUTH
// replaces it. renew sets CURLOPT_AWS_SIGV4 again on the duplicate, whose
// set.httpauth duphandle had copied (Basic): the second request is signed
// instead of sent with Basic.
func TestRenewAWSSigV4ThenBasic(t *testing.T) {
	url, seen := authServer(t, "")
	e := newEasy(t, url+"/x")
	must(t, e.SetUsername("AKID"))
	must(t, e.SetPassword("SECRET"))
	must(t, e.SetAWSSigV4("aws:amz:eu-west-3:myservice"))
	must(t, e.SetHTTPAuth(curlpoll.AuthBasic))
	twoTransfers(t, e)
	checkSeen(t, seen(), "GET Basic ")
}

// TestRenewDigestIEThenAWSSigV4: the other order. CURLOPT_HTTPAUTH with
// CURLAUTH_DIGEST_IE, then CURLOPT_AWS_SIGV4 (set.httpauth now
// CURLAUTH_AWS_SIGV4). renew sets CURLOPT_AWS_SIGV4 and then, the noted
// CURLOPT_HTTPAUTH having the IE bit, CURLOPT_HTTPAUTH: the duplicate asks
// for Digest and the second request goes out unsigned.
func TestRenewDigestIEThenAWSSigV4(t *testing.T) {
	url, seen := authServer(t, "")
	e := newEasy(t, url+"/x")
	must(t, e.SetUsername("AKID"))
	must(t, e.SetPassword("SECRET"))
	must(t, e.SetHTTPAuth(curlpoll.AuthDigestIE))
	must(t, e.SetAWSSigV4("aws:amz:eu-west-3:myservice"))
	twoTransfers(t, e)
	checkSeen(t, seen(), "GET AWS4-HMAC-SHA256 ")
}

// TestRenewEmptyPostKeepsMethod: a SetPostFields body whose size is then 0
// (CURLPOLL_RENEW_EMPTY_POST), then SetHTTPGet. renew once set
// CURLOPT_COPYPOSTFIELDS "" on the duplicate, and that option also sets
// set.method = HTTPREQ_POST (7.88.1 lib/setopt.c, the end of
// CURLOPT_COPYPOSTFIELDS): the second request was a POST.
func TestRenewEmptyPostKeepsMethod(t *testing.T) {
	url, seen := authServer(t, "")
	e := newEasy(t, url+"/x")
	must(t, e.SetPostFields([]byte("abc")))
	must(t, e.SetPostFieldSize(0))
	must(t, e.SetHTTPGet(true))
	twoTransfers(t, e)
	checkSeen(t, seen(), "GET ")
}
