package curlpoll

// #include "shim.h"
import "C"

// Auth is a set of HTTP authentication methods (CURLAUTH_* bits) for
// SetHTTPAuth and SetProxyAuth.
type Auth uint64

// Authentication methods. With more than one, libcurl asks the server which
// it takes (an extra round trip) and picks the safest; AuthAny and AuthAnySafe
// say so at once.
const (
	AuthBasic     Auth = C.CURLAUTH_BASIC     // CURLAUTH_BASIC, libcurl's default
	AuthDigest    Auth = C.CURLAUTH_DIGEST    // CURLAUTH_DIGEST
	AuthDigestIE  Auth = C.CURLAUTH_DIGEST_IE // CURLAUTH_DIGEST_IE
	AuthBearer    Auth = C.CURLAUTH_BEARER    // CURLAUTH_BEARER (with SetBearerToken)
	AuthNegotiate Auth = C.CURLAUTH_NEGOTIATE // CURLAUTH_NEGOTIATE (SPNEGO, Kerberos)
	AuthNTLM      Auth = C.CURLAUTH_NTLM      // CURLAUTH_NTLM
	AuthAWSSigV4  Auth = C.CURLAUTH_AWS_SIGV4 // CURLAUTH_AWS_SIGV4 (with SetAWSSigV4)
	AuthAny       Auth = C.CURLAUTH_ANY       // CURLAUTH_ANY: whatever the server offers
	AuthAnySafe   Auth = C.CURLAUTH_ANYSAFE   // CURLAUTH_ANYSAFE: any but Basic
	AuthOnly      Auth = C.CURLAUTH_ONLY      // CURLAUTH_ONLY: with one method, use it without asking
)

// SetHTTPAuth sets the authentication methods offered to the server
// (CURLOPT_HTTPAUTH); credentials come from SetUsername and SetPassword.
func (e *Easy) SetHTTPAuth(a Auth) error { return e.setLong(C.CURLOPT_HTTPAUTH, int64(a)) }

// SetProxyAuth sets the authentication methods offered to the proxy
// (CURLOPT_PROXYAUTH); credentials come from SetProxyUsername and
// SetProxyPassword.
func (e *Easy) SetProxyAuth(a Auth) error { return e.setLong(C.CURLOPT_PROXYAUTH, int64(a)) }

// SetUsername sets the user name for authentication (CURLOPT_USERNAME).
func (e *Easy) SetUsername(user string) error { return e.setString(C.CURLOPT_USERNAME, user) }

// SetPassword sets the password for authentication (CURLOPT_PASSWORD).
func (e *Easy) SetPassword(password string) error {
	return e.setString(C.CURLOPT_PASSWORD, password)
}

// SetBearerToken sets the OAuth 2.0 bearer token sent with AuthBearer
// (CURLOPT_XOAUTH2_BEARER).
func (e *Easy) SetBearerToken(token string) error {
	return e.setString(C.CURLOPT_XOAUTH2_BEARER, token)
}

// SetAWSSigV4 signs requests with AWS Signature Version 4
// (CURLOPT_AWS_SIGV4): provider is "provider1[:provider2[:region[:service]]]",
// such as "aws:amz:us-east-1:s3"; the access key ID and secret come from
// SetUsername and SetPassword. libcurl before 8.3.0 signs the URL's query
// as it is, where AWS sorts it: keep its parameters sorted there.
func (e *Easy) SetAWSSigV4(provider string) error {
	return e.setString(C.CURLOPT_AWS_SIGV4, provider)
}

// SetUnrestrictedAuth sends credentials to every host a followed redirect
// leads to (CURLOPT_UNRESTRICTED_AUTH); by default only to the first.
func (e *Easy) SetUnrestrictedAuth(on bool) error {
	return e.setBool(C.CURLOPT_UNRESTRICTED_AUTH, on)
}

// SetLoginOptions sets protocol-specific login options
// (CURLOPT_LOGIN_OPTIONS), such as "AUTH=NTLM" for IMAP, POP3 and SMTP.
func (e *Easy) SetLoginOptions(opts string) error {
	return e.setString(C.CURLOPT_LOGIN_OPTIONS, opts)
}

// SetNetrcFile reads credentials from a .netrc file (CURLOPT_NETRC set to
// optional, CURLOPT_NETRC_FILE); "" stops reading one.
func (e *Easy) SetNetrcFile(path string) error {
	v := int64(C.CURL_NETRC_IGNORED)
	if path != "" {
		v = C.CURL_NETRC_OPTIONAL
	}
	if err := e.setLong(C.CURLOPT_NETRC, v); err != nil {
		return err
	}
	return e.setString(C.CURLOPT_NETRC_FILE, path)
}
