module github.com/curlpoll/curlpoll

go 1.26.0

require (
	go.uber.org/goleak v1.3.0
	golang.org/x/sys v0.50.0
)

require (
	github.com/mccutchen/go-httpbin/v2 v2.26.0
	golang.org/x/net v0.62.0
)

require golang.org/x/text v0.43.0 // indirect
