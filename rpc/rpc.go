// Package rpc is a Bitcoin-style JSON-RPC 1.0 server as twisterd speaks it:
// HTTP POST with basic auth, {method, params, id} requests answered with
// {result, error, id}, batches as JSON arrays, twisterd's error codes and HTTP
// statuses (401 with an HTML body, 404 for an unknown method, 500 for any
// other error), and static files on GET from an html directory, so that an
// existing twister web UI runs unchanged against our node.
//
// Where twisterd accepts junk silently, hangs or crashes, methods here answer
// a clear JSON-RPC error instead; parameter helpers produce twisterd's own
// messages ("value is type str, expected int").
package rpc

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Error codes used by twisterd (src/bitcoinrpc.h).
const (
	CodeInvalidRequest  = -32600
	CodeMethodNotFound  = -32601
	CodeInvalidParams   = -32602
	CodeInternal        = -32603
	CodeParse           = -32700
	CodeMisc            = -1
	CodeTypeError       = -3
	CodeInvalidAddress  = -4 // also "Username must be the same as sig_user"
	CodeOutOfMemory     = -7
	CodeInvalidParam    = -8
	CodeDatabase        = -20
	CodeDeserialization = -22
	CodeClientNotConn   = -9
	CodeInInitialDL     = -10
	CodeWalletError     = -11 // RPC_WALLET_INVALID_ACCOUNT_NAME in twisterd's use
	CodeInvalidKey      = -5
	CodeTimeout         = -24
	CodeBusy            = -25
	CodeWalletUnlock    = -13
	CodeWalletPass      = -14
	CodeWalletWrongEnc  = -15
	CodeWalletAlready   = -17
)

// Error is a JSON-RPC error object.
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return fmt.Sprintf("rpc error %d: %s", e.Code, e.Message) }

// Errorf makes an *Error.
func Errorf(code int, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Method handles one RPC method.
type Method struct {
	// Usage is the first line of help, e.g. "getblockhash <index>".
	Usage string
	// Help is the rest of the help text.
	Help string
	// MinParams and MaxParams bound the number of positional parameters; a
	// call outside the range gets the usage text as a -1 error, as twisterd
	// answers. MaxParams < 0 means no upper bound.
	MinParams, MaxParams int
	// Handler runs the call.
	Handler func(ctx context.Context, p Params) (any, error)
}

// Server serves JSON-RPC and static files.
type Server struct {
	User, Password string
	// HTMLDir, when set, is served on GET (index: home.html).
	HTMLDir string
	// ServerName is sent in the Server header.
	ServerName string

	mu      sync.RWMutex
	methods map[string]Method
}

// NewServer makes a server with the given credentials. An empty user and
// password disables authentication (only for tests and local tools).
func NewServer(user, password string) *Server {
	return &Server{User: user, Password: password, ServerName: "bitcoin-json-rpc/v0.9.40.0-gotwister", methods: map[string]Method{}}
}

// Register adds a method.
func (s *Server) Register(name string, m Method) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.methods[name] = m
}

// Methods lists the registered method names, sorted.
func (s *Server) Methods() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	names := make([]string, 0, len(s.methods))
	for n := range s.methods {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// HelpText returns the help of one method, or the list of all usages.
func (s *Server) HelpText(name string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if name != "" {
		m, ok := s.methods[name]
		if !ok {
			return "help: unknown command: " + name, false
		}
		return usageText(m), true
	}
	var lines []string
	for _, n := range s.Methods() {
		u := s.methods[n].Usage
		if u == "" {
			u = n
		}
		lines = append(lines, u)
	}
	return strings.Join(lines, "\n"), true
}

func usageText(m Method) string {
	if m.Help == "" {
		return m.Usage
	}
	return m.Usage + "\n" + m.Help
}

type request struct {
	Method *string         `json:"method"`
	Params any             `json:"params"` // an array ([]any, numbers as json.Number) or null
	ID     json.RawMessage `json:"id"`
}

// decodeRequest reads one request in a single pass, numbers kept exact
// (json.Number), refusing anything after the object as json.Unmarshal does.
func decodeRequest(raw []byte, req *request) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(req); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("invalid character after top-level value")
	}
	return nil
}

type response struct {
	Result any             `json:"result"`
	Error  *Error          `json:"error"`
	ID     json.RawMessage `json:"id"`
}

const maxBody = 8 << 20

func (s *Server) authorized(r *http.Request) bool {
	if s.User == "" && s.Password == "" {
		return true
	}
	h := r.Header.Get("Authorization")
	const prefix = "Basic "
	if !strings.HasPrefix(h, prefix) {
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(h[len(prefix):]))
	if err != nil {
		return false
	}
	want := s.User + ":" + s.Password
	return subtle.ConstantTimeCompare(raw, []byte(want)) == 1
}

const unauthorizedBody = `<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN"
"http://www.w3.org/TR/1999/REC-html401-19991224/loose.dtd">
<HTML>
<HEAD>
<TITLE>Error</TITLE>
<META HTTP-EQUIV='Content-Type' CONTENT='text/html; charset=ISO-8859-1'>
</HEAD>
<BODY><H1>401 Unauthorized.</H1></BODY>
</HTML>
`

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Server", s.ServerName)
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="jsonrpc"`)
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, unauthorizedBody)
		return
	}
	w.Header().Set("Content-Security-Policy", "script-src 'self' 'unsafe-eval'")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s.serveFile(w, r)
		return
	case http.MethodPost:
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		writeJSON(w, http.StatusInternalServerError, response{Error: Errorf(CodeInvalidRequest, "request too large or unreadable"), ID: json.RawMessage("null")})
		return
	}
	trimmed := strings.TrimSpace(string(body))
	if strings.HasPrefix(trimmed, "[") {
		var batch []json.RawMessage
		if err := json.Unmarshal(body, &batch); err != nil {
			writeJSON(w, http.StatusInternalServerError, response{Error: Errorf(CodeParse, "Parse error"), ID: json.RawMessage("null")})
			return
		}
		out := make([]response, len(batch))
		for i, item := range batch {
			out[i], _ = s.call(r.Context(), item)
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	resp, status := s.call(r.Context(), body)
	writeJSON(w, status, resp)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	// A result that is already JSON (cached posts) is written as is:
	// json.Marshal would re-validate and compact every byte of it.
	if r, ok := v.(response); ok && r.Error == nil {
		if b, ok := rawResult(r); ok {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			w.WriteHeader(status)
			w.Write(b)
			return
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(response{Error: Errorf(CodeInternal, "cannot encode result: %v", err), ID: json.RawMessage("null")})
	}
	b = append(b, '\n')
	// Content-Length, as twisterd sends it: one write, no chunked encoding.
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// call runs one request and returns the response and the HTTP status
// twisterd would use for it.
func (s *Server) call(ctx context.Context, raw []byte) (response, int) {
	var req request
	if err := decodeRequest(raw, &req); err != nil {
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil {
			return response{Error: Errorf(CodeParse, "Parse error"), ID: json.RawMessage("null")}, http.StatusInternalServerError
		}
		return response{Error: Errorf(CodeInvalidRequest, "Invalid request: %v", err), ID: idOrNull(obj["id"])}, http.StatusInternalServerError
	}
	id := idOrNull(req.ID)
	if req.Method == nil {
		return response{Error: Errorf(CodeInvalidRequest, "Missing method"), ID: id}, http.StatusInternalServerError
	}
	s.mu.RLock()
	m, ok := s.methods[*req.Method]
	s.mu.RUnlock()
	if !ok {
		return response{Error: Errorf(CodeMethodNotFound, "Method not found"), ID: id}, http.StatusNotFound
	}
	var params []any
	if req.Params != nil {
		var ok bool
		if params, ok = req.Params.([]any); !ok {
			return response{Error: Errorf(CodeInvalidRequest, "Params must be an array"), ID: id}, http.StatusInternalServerError
		}
	}
	if len(params) < m.MinParams || (m.MaxParams >= 0 && len(params) > m.MaxParams) {
		return response{Error: Errorf(CodeMisc, "%s", usageText(m)), ID: id}, http.StatusInternalServerError
	}
	result, err := safeCall(ctx, m, Params(params))
	if err != nil {
		var re *Error
		if !errors.As(err, &re) {
			re = Errorf(CodeMisc, "%v", err)
		}
		return response{Error: re, ID: id}, http.StatusInternalServerError
	}
	return response{Result: result, ID: id}, http.StatusOK
}

// safeCall turns a panic in a handler into an internal error: a malformed
// call never takes the node down.
func safeCall(ctx context.Context, m Method, p Params) (result any, err error) {
	defer func() {
		if r := recover(); r != nil {
			result, err = nil, Errorf(CodeInternal, "internal error: %v", r)
		}
	}()
	return m.Handler(ctx, p)
}

func idOrNull(id json.RawMessage) json.RawMessage {
	if len(id) == 0 {
		return json.RawMessage("null")
	}
	return id
}

func (s *Server) serveFile(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if p == "/" || p == "" {
		p = "/home.html"
	}
	if s.HTMLDir != "" {
		clean := filepath.Join(s.HTMLDir, filepath.FromSlash(filepath.Clean("/"+p)))
		if st, err := os.Stat(clean); err == nil && !st.IsDir() {
			http.ServeFile(w, r, clean)
			return
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	fmt.Fprintf(w, "<html><body>\n<b>ERROR 404</b><br/>file '<b>%s</b>' not found\n</body></html>\n", htmlEscape(p))
}

func htmlEscape(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "'", "&#39;", `"`, "&quot;")
	return r.Replace(s)
}

// rawResult encodes a response whose result is json.RawMessage or
// []json.RawMessage without re-encoding the raw parts.
func rawResult(r response) ([]byte, bool) {
	var parts []json.RawMessage
	switch x := r.Result.(type) {
	case json.RawMessage:
		parts = []json.RawMessage{x}
	case []json.RawMessage:
		parts = x
	default:
		return nil, false
	}
	id := r.ID
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	n := 64 + len(id)
	for _, p := range parts {
		n += len(p) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, `{"result":`...)
	if _, single := r.Result.(json.RawMessage); single {
		b = append(b, parts[0]...)
	} else {
		b = append(b, '[')
		for i, p := range parts {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, p...)
		}
		b = append(b, ']')
	}
	b = append(b, `,"error":null,"id":`...)
	b = append(b, id...)
	b = append(b, "}\n"...)
	return b, true
}
