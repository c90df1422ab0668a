package faultserver

import (
	"bytes"
	"io"
	"net/url"
	"strconv"
	"sync"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2conn is the server side of one HTTP/2 connection: one goroutine reads
// frames, and each stream is answered on a goroutine of its own; writes go
// through wmu.
type h2conn struct {
	c  *conn
	fr *http2.Framer

	// wmu guards fr's writes, enc and encBuf: hpack encodes in write order.
	wmu    sync.Mutex
	enc    *hpack.Encoder
	encBuf bytes.Buffer

	// mu guards streams: each open stream's channel, closed on RST_STREAM.
	mu      sync.Mutex
	streams map[uint32]chan struct{}

	gone chan struct{} // closed when the connection's reader ends
	wg   sync.WaitGroup
}

func (c *conn) serveH2() {
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(c.rw, preface); err != nil || string(preface) != http2.ClientPreface {
		return
	}
	h := &h2conn{c: c, fr: http2.NewFramer(c.rw, c.rw), streams: make(map[uint32]chan struct{}), gone: make(chan struct{})}
	h.enc = hpack.NewEncoder(&h.encBuf)
	h.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	h.fr.MaxHeaderListSize = 1 << 20
	defer h.wg.Wait()
	defer close(h.gone)
	h.write(func() error { return h.fr.WriteSettings() })
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				h.write(func() error { return h.fr.WriteSettingsAck() })
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				h.write(func() error { return h.fr.WritePing(true, f.Data) })
			}
		case *http2.MetaHeadersFrame:
			var path string
			for _, hf := range f.Fields {
				if hf.Name == ":path" {
					path = hf.Value
				}
			}
			id := f.StreamID
			reset := make(chan struct{})
			h.mu.Lock()
			h.streams[id] = reset
			h.mu.Unlock()
			h.wg.Add(1)
			go func() {
				defer h.wg.Done()
				h.respond(id, path, reset)
				h.mu.Lock()
				delete(h.streams, id)
				h.mu.Unlock()
			}()
		case *http2.DataFrame:
			// Give the window back so that request bodies keep coming.
			if n := uint32(len(f.Data())); n > 0 {
				h.write(func() error {
					if err := h.fr.WriteWindowUpdate(0, n); err != nil {
						return err
					}
					return h.fr.WriteWindowUpdate(f.StreamID, n)
				})
			}
		case *http2.RSTStreamFrame:
			h.mu.Lock()
			if ch := h.streams[f.StreamID]; ch != nil {
				close(ch)
				delete(h.streams, f.StreamID)
			}
			h.mu.Unlock()
		case *http2.GoAwayFrame:
			return
		}
	}
}

// write runs fn, a frame write, under wmu.
func (h *h2conn) write(fn func() error) error {
	h.wmu.Lock()
	defer h.wmu.Unlock()
	return fn()
}

// writeHeaders sends a header block (split into CONTINUATION frames as
// needed) for stream id.
func (h *h2conn) writeHeaders(id uint32, endStream bool, fields ...string) error {
	return h.write(func() error {
		h.encBuf.Reset()
		for i := 0; i+1 < len(fields); i += 2 {
			h.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
		}
		block := h.encBuf.Bytes()
		const max = 16384
		first := block[:min(len(block), max)]
		block = block[len(first):]
		if err := h.fr.WriteHeaders(http2.HeadersFrameParam{
			StreamID: id, BlockFragment: first, EndStream: endStream, EndHeaders: len(block) == 0,
		}); err != nil {
			return err
		}
		for len(block) > 0 {
			frag := block[:min(len(block), max)]
			block = block[len(frag):]
			if err := h.fr.WriteContinuation(id, len(block) == 0, frag); err != nil {
				return err
			}
		}
		return nil
	})
}

// writeData sends b on stream id in frames of at most 16 KB.
func (h *h2conn) writeData(id uint32, b []byte, endStream bool) error {
	for {
		chunk := b[:min(len(b), 16384)]
		b = b[len(chunk):]
		end := endStream && len(b) == 0
		if err := h.write(func() error { return h.fr.WriteData(id, end, chunk) }); err != nil {
			return err
		}
		if len(b) == 0 {
			return nil
		}
	}
}

// wait blocks until the stream is reset, the connection ends or the server
// closes.
func (h *h2conn) wait(reset <-chan struct{}) {
	select {
	case <-reset:
	case <-h.gone:
	case <-h.c.s.done:
	}
}

// respond answers stream id as its path asks.
func (h *h2conn) respond(id uint32, path string, reset <-chan struct{}) {
	u, err := url.ParseRequestURI(path)
	if err != nil {
		h.writeHeaders(id, true, ":status", "400")
		return
	}
	p := parseParams(u.Path, u.RawQuery, 1000)
	body := Body(p.n)
	half := body[:p.n/2]
	cl := strconv.Itoa(p.n)
	ok := func() error { return h.writeHeaders(id, false, ":status", "200", "content-length", cl) }
	switch p.fault {
	case OK:
		if ok() == nil {
			h.writeData(id, body, true)
		}
	case Silent, StallHeaders:
		h.wait(reset)
	case StallMidBody:
		if ok() == nil && h.writeData(id, half, false) == nil {
			h.wait(reset)
		}
	case RSTHeaders:
		h.c.reset()
	case RSTMidBody:
		if ok() == nil && h.writeData(id, half, false) == nil {
			h.c.sleep(10e6)
			h.c.reset()
		}
	case CloseMidBody:
		if ok() == nil && h.writeData(id, half, false) == nil {
			h.c.tcp.CloseWrite() // the frame reader drains until the client closes
		}
	case ManyHeaders:
		fields := []string{":status", "200", "content-length", "2"}
		for i := 0; i < p.n; i++ {
			fields = append(fields, "x-h-"+strconv.Itoa(i), strconv.Itoa(i))
		}
		if h.writeHeaders(id, false, fields...) == nil {
			h.writeData(id, []byte("ok"), true)
		}
	case Trickle:
		if ok() != nil {
			return
		}
		for i := range body {
			if h.writeData(id, body[i:i+1], i == len(body)-1) != nil || !h.c.sleep(p.gap) {
				return
			}
		}
	case H2GoAway:
		if ok() == nil && h.writeData(id, half, false) == nil {
			h.write(func() error { return h.fr.WriteGoAway(0, http2.ErrCodeInternal, []byte("faultserver")) })
			h.c.tcp.CloseWrite()
		}
	case H2RSTStream:
		if ok() == nil && h.writeData(id, half, false) == nil {
			h.write(func() error { return h.fr.WriteRSTStream(id, http2.ErrCodeInternal) })
		}
	default:
		h.writeHeaders(id, true, ":status", "501")
	}
}
