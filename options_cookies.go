package curlpoll

// #include "shim.h"
import "C"

// SetCookie sends cookies with the request (CURLOPT_COOKIE), as
// "name1=value1; name2=value2"; they are not stored in the cookie engine.
func (e *Easy) SetCookie(cookies string) error { return e.setString(C.CURLOPT_COOKIE, cookies) }

// SetCookieFile turns libcurl's cookie engine on and reads cookies from a
// file in Netscape or HTTP header format (CURLOPT_COOKIEFILE); "" turns the
// engine on with no file. The engine keeps the cookies the server sets and
// sends them back, per handle (or per Share, see ShareCookies).
func (e *Easy) SetCookieFile(path string) error {
	if path == "" {
		if err := e.setBlobString(C.CURLOPT_COOKIEFILE, []byte{0}); err != nil {
			return err
		}
		e.noteString(C.CURLOPT_COOKIEFILE, "", false) // as setString notes it
		return nil
	}
	return e.setString(C.CURLOPT_COOKIEFILE, path)
}

// SetCookieJar writes the cookie engine's cookies to a file when the handle
// is closed, or on FlushCookies (CURLOPT_COOKIEJAR).
func (e *Easy) SetCookieJar(path string) error { return e.setString(C.CURLOPT_COOKIEJAR, path) }

// SetCookieSession starts a new cookie session (CURLOPT_COOKIESESSION): the
// cookies read from SetCookieFile without an expiry are not loaded.
func (e *Easy) SetCookieSession(on bool) error { return e.setBool(C.CURLOPT_COOKIESESSION, on) }

// AddCookie passes one line to the cookie engine (CURLOPT_COOKIELIST): a
// cookie in Netscape or "Set-Cookie:" format, or one of the commands "ALL"
// (erase every cookie), "SESS" (erase session cookies), "FLUSH" (write the
// jar) and "RELOAD" (read the cookie file again).
func (e *Easy) AddCookie(line string) error { return e.setString(C.CURLOPT_COOKIELIST, line) }

// FlushCookies writes the cookie engine's cookies to the cookie jar now
// (CURLOPT_COOKIELIST "FLUSH").
func (e *Easy) FlushCookies() error { return e.AddCookie("FLUSH") }

// Cookies returns the cookie engine's cookies in Netscape format
// (CURLINFO_COOKIELIST).
func (e *Easy) Cookies() ([]string, error) { return e.InfoList(C.CURLINFO_COOKIELIST) }
