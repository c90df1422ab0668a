package curlhttp

import "github.com/curlpoll/curlpoll"

// The libcurl options the Transport sets, from libcurl's option table. One
// this libcurl lacks is -1, which libcurl refuses (Easy.Apply says which).
var (
	optCainfo               = option("CAINFO")
	optCainfoBlob           = option("CAINFO_BLOB")
	optConnecttimeoutMs     = option("CONNECTTIMEOUT_MS")
	optConnectTo            = option("CONNECT_TO")
	optCustomrequest        = option("CUSTOMREQUEST")
	optExpect100TimeoutMs   = option("EXPECT_100_TIMEOUT_MS")
	optForbidReuse          = option("FORBID_REUSE")
	optHTTPHeader           = option("HTTPHEADER")
	optHTTPVersion          = option("HTTP_VERSION")
	optHTTPTransferDecoding = option("HTTP_TRANSFER_DECODING")
	optMaxageConn           = option("MAXAGE_CONN")
	optNobody               = option("NOBODY")
	optNoproxy              = option("NOPROXY")
	optPathAsIs             = option("PATH_AS_IS")
	optPipewait             = option("PIPEWAIT")
	optPost                 = option("POST")
	optPostfieldsizeLarge   = option("POSTFIELDSIZE_LARGE")
	optProtocolsStr         = option("PROTOCOLS_STR")
	optProxy                = option("PROXY")
	optResolve              = option("RESOLVE")
	optProxyCainfo          = option("PROXY_CAINFO")
	optProxyheader          = option("PROXYHEADER")
	optProxyCainfoBlob      = option("PROXY_CAINFO_BLOB")
	optProxySslCipherList   = option("PROXY_SSL_CIPHER_LIST")
	optProxySslcertBlob     = option("PROXY_SSLCERT_BLOB")
	optProxySslcerttype     = option("PROXY_SSLCERTTYPE")
	optProxySslkeyBlob      = option("PROXY_SSLKEY_BLOB")
	optProxySslversion      = option("PROXY_SSLVERSION")
	optProxySslVerifyhost   = option("PROXY_SSL_VERIFYHOST")
	optProxySslVerifypeer   = option("PROXY_SSL_VERIFYPEER")
	optRedirProtocolsStr    = option("REDIR_PROTOCOLS_STR")
	optRequestTarget        = option("REQUEST_TARGET")
	optSslcerttype          = option("SSLCERTTYPE")
	optSslcertBlob          = option("SSLCERT_BLOB")
	optSslkeyBlob           = option("SSLKEY_BLOB")
	optSslversion           = option("SSLVERSION")
	optSslCipherList        = option("SSL_CIPHER_LIST")
	optSslEcCurves          = option("SSL_EC_CURVES")
	optSslSessionidCache    = option("SSL_SESSIONID_CACHE")
	optSslVerifyhost        = option("SSL_VERIFYHOST")
	optSslVerifypeer        = option("SSL_VERIFYPEER")
	optTCPKeepalive         = option("TCP_KEEPALIVE")
	optTCPKeepidle          = option("TCP_KEEPIDLE")
	optTCPKeepintvl         = option("TCP_KEEPINTVL")
	optURL                  = option("URL")
)

// option returns the option named name, or -1.
func option(name string) curlpoll.Option {
	o, err := curlpoll.OptionByName(name)
	if err != nil {
		return -1
	}
	return o
}
