//go:build curlpoll_noopenssl

package curlhttp_test

// noOpenSSLBuild tells the tests whether curlpoll was built without libssl.
const noOpenSSLBuild = true
