// Command slowserver holds transfers open for the scale test: every request
// gets its response header at once, then one body byte a second, until the
// client goes away or -hold has passed. HTTP/1.1 on 127.0.0.1 only.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (127.0.0.1 only)")
	hold := flag.Duration("hold", 5*time.Minute, "longest time a response is kept open")
	flag.Parse()
	if !strings.HasPrefix(*addr, "127.0.0.1:") {
		log.Fatal("slowserver: listens on 127.0.0.1 only")
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ln.Addr()) // the ready signal
	os.Stdout.Sync()
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.WriteHeader(http.StatusOK)
			f := w.(http.Flusher)
			f.Flush()
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			end := time.After(*hold)
			for {
				select {
				case <-r.Context().Done():
					return
				case <-end:
					return
				case <-tick.C:
					if _, err := w.Write([]byte{'.'}); err != nil {
						return
					}
					f.Flush()
				}
			}
		}),
		ErrorLog: log.New(os.Stderr, "slowserver: ", 0),
	}
	log.Fatal(srv.Serve(ln))
}
