//go:build curlpoll_noopenssl

package curlpoll_test

// noOpenSSLBuild tells the tests whether curlpoll was built without libssl.
const noOpenSSLBuild = true
