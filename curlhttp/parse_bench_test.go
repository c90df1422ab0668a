package curlhttp

import "testing"

var nginxLines = []string{"Server: nginx/1.22.1", "Date: Sun, 29 Nov 2026 04:23:40 GMT", "Content-Type: application/octet-stream", "Content-Length: 100", "Last-Modified: Sun, 29 Nov 2026 03:00:00 GMT", "Connection: keep-alive", "ETag: \"6929f1c0-64\"", "Accept-Ranges: bytes"}

func BenchmarkParseHeaderLines(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		parseHeaderLines(nginxLines)
	}
}
