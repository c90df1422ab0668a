// Package curlpoll runs libcurl transfers from goroutine-style Go code, with
// the Go runtime's network poller as libcurl's event loop.
//
// It brings libcurl's reach (HTTP/2, its TLS stack, proxies of every kind,
// every protocol libcurl was built with) to Go without a poll loop, without
// curl_multi_perform and without an OS thread per transfer: libcurl's
// multi-socket API (curl_multi_socket_action with CURLMOPT_SOCKETFUNCTION
// and CURLMOPT_TIMERFUNCTION) is driven by readiness from the netpoller and
// by one time.Timer.
//
// # The model
//
// A [Multi] owns a libcurl multi handle and one driver goroutine, the only
// goroutine that calls libcurl for that multi handle and for the easy
// handles attached to it (curl_multi_add_handle and remove_handle,
// curl_multi_socket_action, curl_easy_pause, curl_multi_info_read). Every
// public method of Multi and [Transfer] is a message to the driver; a
// goroutine waiting for its transfer (in Do, Transfer.Read, a curlhttp
// Transport's RoundTrip) never calls libcurl, and is woken once per driver turn that
// brought its transfer news. So a Multi is safe for use by many goroutines,
// and libcurl, which is not thread-safe, sees one caller. The driver starts
// with the first message and ends once the Multi has been idle for a second
// (no transfer, no message, no timeout of libcurl's): an unused Multi holds
// no goroutine, and the next message starts a driver again.
//
// libcurl's sockets live in a private epoll set of the Multi, by their own
// descriptors: no duplicates, no goroutine per socket. Only the set's
// descriptor is on the Go runtime's network poller (package
// [github.com/curlpoll/curlpoll/netpoll]). With nothing to do, the driver
// parks there until some socket is ready, a message comes, or libcurl's
// timeout passes (the deadline of the set's descriptor). A turn of the
// driver handles its messages, a timeout that is due, one batch of ready
// sockets (one curl_multi_socket_action each) and the transfers libcurl
// finished; turns are bounded, so a busy socket cannot starve the messages.
// Before it parks, a driver whose turns woke goroutines yields to them
// (runtime.Gosched), so that they run at once on its thread and what they
// send next is waiting when it comes back. The requests that one libcurl
// call starts on an HTTP/2 connection leave in one TCP segment: the driver
// corks the connection's socket (TCP_CORK) from the call's second request
// on it, and uncorks it when the call returns, or once the callbacks into
// Go made meanwhile have taken half a millisecond (libcurl sends each
// stream's request on its own; cork.c).
//
// libcurl's callbacks run inside those calls. They only record state and
// return a code: the socket and timer callbacks record libcurl's interest
// and timeout in C, which the driver takes in after the call; the write
// callback queues the body; the header callback collects the header block
// in C, handing it to Go a block at a time (for Do, with the body's first
// bytes): a small request crosses from C into Go once. They never call back into the multi interface,
// which libcurl forbids. A panic in callback code is recovered before it
// could unwind through libcurl's C frames, and fails that transfer with a
// [*PanicError].
//
// Two guards keep a libcurl bug from spinning or stalling the driver: a
// socket reported ready again and again while nothing moves leaves the set
// for a growing back-off, and when a transfer, not paused, has not moved
// for a second, the driver runs every transfer once. [Multi.Stats] counts
// both.
//
// # Transfers
//
// An [Easy] holds the options of one transfer at a time; set them with its
// typed setters, each of which names the CURLOPT_* it sets. [Multi.Do] runs
// a transfer and returns when it is over; [Multi.Start] returns a
// [*Transfer] whose body is an io.Reader. Reuse an Easy for the next
// transfer: libcurl keeps caches per handle, and curlpoll its transfer
// state (buffers, channels), so Do allocates none per request. A Transfer
// kept after its Close cannot touch the Easy's next transfer: its Read,
// WriteTo and Header return an error wrapping [ErrClosed]. Thousands of goroutines may
// call Do at once, each with its own Easy.
//
// # Options
//
// Easy names the options people choose libcurl for, each setter naming the
// CURLOPT_* it sets: HTTP versions (HTTP/3 where libcurl has it), TLS,
// authentication (Basic, Digest, NTLM, Negotiate, bearer tokens, AWS
// SigV4), cookies, proxies, the local end of connections, speed limits,
// FTP, SMTP, SSH and MIME forms. Every other option is reached through an
// escape hatch checked against libcurl's own option table: [OptionByName],
// then [Easy.SetOptionLong], [Easy.SetOptionOffset], [Easy.SetOptionString],
// [Easy.SetOptionBlob] or [Easy.SetOptionList] by the option's kind;
// callbacks, pointers and the options curlpoll relies on are refused, and
// libcurl's refusals name the option. [Easy.InfoLong] and its siblings do
// the same for CURLINFO_*, [Multi.SetOptionLong] for CURLMOPT_*.
//
// The transfers of one Multi share its connections, DNS cache and TLS
// sessions; a [Share] shares cookies, or DNS and sessions across Multis.
//
// # Cancellation
//
// When a transfer's context is done, the driver removes it from the multi
// handle: libcurl closes an HTTP/1 connection that was in the middle of the
// transfer, and resets an HTTP/2 stream. Do returns the context's cause (or
// ctx.Err()) as soon as the driver gets to it, which is at once unless a
// libcurl call is in progress;
// such a call is short, but setting up a TLS connection can take a few
// milliseconds (about 20 ms for the first one of a Multi, which parses the
// CA bundle).
//
// # Streaming and backpressure
//
// The write callback copies each chunk into a buffer of the transfer, and
// pauses the transfer (CURL_WRITEFUNC_PAUSE) once 256 KiB wait there; when
// the reader has drained it to 64 KiB the driver resumes it
// (curl_easy_pause). A slow reader thus holds back its own transfer and no
// other, and memory per transfer stays bounded whatever the body's size.
// Request bodies come from an io.Reader read on a goroutine of the
// transfer, with CURL_READFUNC_PAUSE while it has nothing, so a reader that
// blocks never blocks the driver. The io.Writer given to Do runs on Do's
// goroutine, never inside libcurl.
//
// On libcurl before 8.1.0 a paused HTTP/2 stream can hold up the other
// streams of its connection, so [NewMulti] turns multiplexing off there.
// libcurl before 8.1.0 also leaves a pointer to freed memory in a handle
// after a transfer (curl#11101), which a server can make it write through:
// there each transfer of a reused Easy after its first runs on a duplicate
// of its handle, with its options, Share and cookies (see [Easy]). Up to
// 8.16.x libcurl counts a handle's retries on new connections over its
// whole life and fails the sixth (curl#18926): from 8.1.0 a transfer after
// one that sent more requests than one and the redirects it followed, or
// failed, runs on a duplicate too, where that loses nothing the handle
// holds in memory alone.
//
// # Resource lifetimes
//
// Close what you create: a Transfer (which releases its Easy), an Easy
// (curl_easy_cleanup), a Multi. [Multi.Close] stops every transfer (they
// fail with [ErrClosed]), closes every connection, frees the multi handle
// while its callbacks are still valid, and returns once all of the Multi's
// goroutines have ended. curlpoll calls curl_global_init once and never
// curl_global_cleanup, which would pull libcurl from under other users in
// the process.
//
// libcurl's threaded resolver runs name lookups on threads of its own; a
// lookup abandoned by a cancel may finish on its thread after the transfer
// is gone.
//
// # Observability
//
// Low level: [Easy.SetDebugFunc] and [Easy.SetLogger] (libcurl's verbose
// output, credentials redacted by [RedactLine]), [Easy.SetProgressFunc] with
// [Easy.SetProgressInterval], and after a transfer [Transfer.Info] or
// [Easy.Info] (timings, addresses, connection reuse). The debug, header
// and progress functions run on a goroutine of their transfer, never
// inside libcurl, so one that blocks holds up only its own transfer.
//
// # Inline callbacks
//
// [Easy.SetPrereqFunc], [Easy.SetInlineHeaderFunc],
// [Easy.SetInlineDebugFunc], [Easy.SetTrailerFunc] and
// [Easy.SetClientCertFunc] are the exception: their functions run inside
// libcurl, on the Multi's driver goroutine, at the moment itself (a request
// about to be sent, a header line arriving, a chunked upload's end, a
// server asking for a certificate) while the transfer's connection
// is attached, so they may read its TLS state ([Transfer.TLSState]) and, in
// the pre-request function, add or correct request headers that depend on
// it ([Transfer.AddRequestHeader], [Transfer.SetRequestHeader]). The
// price: while one runs, no other transfer of the Multi moves (and HTTP/2
// requests started just before it on the same connection may wait for it
// to return: see the driver's corks, above). Keep them short, never wait
// in one for another transfer of the same Multi (it would never come), and
// never call the Multi from one (Start, Do, Close and the setters post to
// the driver, which is busy running the callback). A panic in one is
// recovered on the driver and fails the transfer with a [*PanicError].
//
// # net/http
//
// Package [github.com/curlpoll/curlpoll/curlhttp] is an http.RoundTripper
// on this package's public API alone (no cgo of its own): its httptrace
// events, Logger, response-header limit and Go-side TLS verification are
// built on the inline callbacks, its per-request options on [OptionBatch].
// It keeps user code off the driver, but for the functions of its
// TLSClientConfig that verify the peer, which must decide before the
// request is sent.
//
// # Other protocols and multipart forms
//
// Multi.Do runs any URL libcurl was built for ([Version] lists them):
// FTP and explicit FTPS ([Easy.SetUseSSL], [Easy.SetFTPPort] for active
// mode, [Easy.SetQuote]), SFTP with key authentication and host key checks
// ([Easy.SetSSHPrivateKeyFile], [Easy.SetSSHKnownHosts],
// [Easy.SetSSHHostPublicKeySHA256]), SMTP ([Easy.SetMailFrom],
// [Easy.SetMailRecipients]; a mail without recipients fails with
// [ErrNoRecipients] before connecting). [Easy.SetProtocols] limits the
// schemes a transfer may use; one outside the list fails before connecting.
// Values that libcurl sends inside a command line are refused with an
// [*InputError] when they hold a CR or LF.
//
// [Easy.SetMIMEPost] sends a [MIME] form of byte, file and io.Reader parts
// (curl_mime); a reader part is read on a goroutine of the transfer, which
// libcurl pauses while it has nothing, as for request bodies.
//
// libcurl 7.88 can leave a transfer with neither a socket to wait for nor a
// timeout (an FTP download on a reused control connection, after "229
// Entering Extended Passive Mode", while other transfers keep the multi
// handle busy); when a transfer, not paused, has not moved for a second,
// the driver runs them all (curl_multi_socket_all).
//
// # What it is not
//
// curlpoll is not a reimplementation of libcurl's options: it names the
// common ones and leaves the rest to libcurl's documentation. It targets
// libcurl 7.88 (Debian 12) and newer, on Linux only: it does not build
// elsewhere.
package curlpoll
