package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
)

// net/http answers a request it cannot parse before any handler runs, and
// so outside the API's reach: a malformed path escape
// (GET /api/v1/streams/%ZZ fails url.ParseRequestURI), a bad request line
// or header, a missing Host, header fields over MaxHeaderBytes, an unknown
// Transfer-Encoding, an HTTP version other than 1.x. It writes those
// answers straight to the connection (http.conn.serve), each in one Write,
// as plain text:
//
//	HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request
//
// The server has no hook for them, so Start wraps each accepted connection
// in a jsonErrorConn, which recognises exactly those writes and sends the
// same status with the API's JSON error body instead. Handler responses
// never match: net/http adds Date and Content-Length (or chunking) to
// every one of them, and the pattern admits neither.

// netHTTPErrorHeaders are the headers net/http writes after the status
// line of those answers.
const netHTTPErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// jsonErrorListener wraps the connections a net.Listener accepts in
// jsonErrorConn.
type jsonErrorListener struct{ net.Listener }

func (l jsonErrorListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &jsonErrorConn{Conn: c}, nil
}

// jsonErrorConn rewrites net/http's plain-text answers to unparsable
// requests as JSON errors; every other write passes through.
type jsonErrorConn struct{ net.Conn }

func (c *jsonErrorConn) Write(b []byte) (int, error) {
	resp, ok := rewriteNetHTTPError(b)
	if !ok {
		return c.Conn.Write(b)
	}
	if _, err := c.Conn.Write(resp); err != nil {
		return 0, err
	}
	return len(b), nil
}

// CloseWrite half-closes the connection, as net/http does (through this
// method, when the connection has it) before closing one it left input
// unread on, so the client reads the answer before a reset.
func (c *jsonErrorConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ReadFrom keeps net/http's sendfile path for response bodies (console
// files); a body is never one of the answers Write rewrites.
func (c *jsonErrorConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// rewriteNetHTTPError returns the JSON response for b when b is one of
// net/http's plain-text answers to a request it could not parse.
func rewriteNetHTTPError(b []byte) ([]byte, bool) {
	const proto = "HTTP/1.1 "
	if len(b) > 1024 || !bytes.HasPrefix(b, []byte(proto)) {
		return nil, false
	}
	statusLine, body, ok := bytes.Cut(b[len(proto):], []byte(netHTTPErrorHeaders))
	if !ok || len(statusLine) < 3 {
		return nil, false
	}
	code, err := strconv.Atoi(string(statusLine[:3]))
	if err != nil || code < 400 || code > 599 {
		return nil, false
	}
	// The body repeats the status line ("400 Bad Request",
	// "400 Bad Request: missing required Host header"), or is the one
	// fixed text of a 501.
	text := string(body)
	switch {
	case bytes.Equal(body, statusLine):
	case code == http.StatusNotImplemented && text == "Unsupported transfer encoding":
	default:
		return nil, false
	}
	return netHTTPErrorJSON(code, text), true
}

// netHTTPErrorJSON is a complete response, as net/http would frame it,
// with the API's JSON error body for a request net/http refused.
func netHTTPErrorJSON(code int, text string) []byte {
	errCode := codeBadRequest
	msg := "malformed request: its request line or headers could not be parsed " +
		"(for example an invalid %-escape such as %ZZ in the path)"
	switch code {
	case http.StatusRequestHeaderFieldsTooLarge:
		errCode, msg = codeTooLarge, "request header fields too large"
	case http.StatusNotImplemented:
		errCode, msg = codeNotImplemented, "unsupported Transfer-Encoding"
	case http.StatusBadRequest:
		if _, detail, ok := bytes.Cut([]byte(text), []byte(": ")); ok {
			msg = "malformed request: " + string(detail) // "missing required Host header", ...
		}
	default:
		if _, detail, ok := bytes.Cut([]byte(text), []byte(": ")); ok {
			msg = string(detail) // 505 "unsupported protocol version"
		}
	}
	body, _ := json.Marshal(errorBody{Error: errorDetail{Code: errCode, Message: msg}}) // strings only
	body = append(body, '\n')
	var out bytes.Buffer
	fmt.Fprintf(&out, "HTTP/1.1 %d %s\r\n", code, http.StatusText(code))
	out.WriteString("Content-Type: application/json\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n")
	fmt.Fprintf(&out, "Content-Length: %d\r\nConnection: close\r\n\r\n", len(body))
	out.Write(body)
	return out.Bytes()
}
