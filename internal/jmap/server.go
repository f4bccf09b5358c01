package jmap

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// ErrUnauthenticated is what an Authenticator returns when the request
// carries no credentials or wrong ones: the answer is 401 with a challenge.
var ErrUnauthenticated = errors.New("jmap: not authenticated")

// ErrDisabled is what an Authenticator returns for a user whose account
// has JMAP switched off: the answer is 403.
var ErrDisabled = errors.New("jmap: JMAP is switched off for this account")

// ErrThrottled is what an Authenticator returns while logins from the
// client are refused for too many failures: the answer is 429.
var ErrThrottled = errors.New("jmap: too many failed logins")

// Authenticator finds who makes a request.
type Authenticator interface {
	AuthenticateHTTP(r *http.Request) (User, error)
}

// Account is one account in the session resource (RFC 8620 §2).
type Account struct {
	ID           string         `json:"-"`
	Name         string         `json:"name"`
	IsPersonal   bool           `json:"isPersonal"`
	IsReadOnly   bool           `json:"isReadOnly"`
	Capabilities map[string]any `json:"accountCapabilities"`
	// Primary lists the capabilities this account is the user's primary
	// account for.
	Primary []string `json:"-"`
}

// Accounts lists the accounts a user can reach.
type Accounts interface {
	Accounts(ctx context.Context, u User) ([]Account, error)
}

// Blob is a blob being downloaded.
type Blob struct {
	// Content is read to the end and closed. A Content that is also an
	// io.ReadSeeker is served with ranges.
	Content io.ReadCloser
	Size    int64 // -1 if not known before it is read
}

// UploadResult is what an upload answers (RFC 8620 §6.1).
type UploadResult struct {
	AccountID string `json:"accountId"`
	BlobID    string `json:"blobId"`
	Type      string `json:"type"`
	Size      int64  `json:"size"`
}

// Blobs stores uploads and finds blobs to download. ErrBlobNotFound (or
// an error wrapping it) answers 404.
type Blobs interface {
	Upload(ctx context.Context, u User, accountID, mediaType string, body io.Reader, limit int64) (UploadResult, error)
	Download(ctx context.Context, u User, accountID, blobID string) (Blob, error)
}

// ErrBlobNotFound: no such blob in the account (or the user cannot see it).
var ErrBlobNotFound = errors.New("jmap: blob not found")

// ErrUploadTooLarge: the upload exceeds the limit given to Blobs.Upload.
var ErrUploadTooLarge = errors.New("jmap: upload too large")

// ErrUploadQuota: the account has no room for the upload.
var ErrUploadQuota = errors.New("jmap: over quota")

// States is what push reports: the current state of each data type, per
// account, and a way to hear of changes.
type States interface {
	// States returns, for every account the user can reach, the state
	// of every data type among types (nil: every type), as the types'
	// /get methods would answer it.
	States(ctx context.Context, u User, types map[string]bool) (map[string]map[string]string, error)
	// Watch calls wake after every change that may have changed them,
	// until stop is called. wake must not block.
	Watch(u User, wake func()) (stop func())
}

// Options configure a Server.
type Options struct {
	Registry *Registry
	Auth     Authenticator
	Accounts Accounts
	Blobs    Blobs
	States   States
	Limits   Limits // zero: DefaultLimits
	// AllowedOrigins are the origins (scheme://host[:port]) other than the
	// server's own whose pages may call the API from a browser (CORS).
	AllowedOrigins []string
	Logger         *slog.Logger
}

// Server serves JMAP over HTTP.
type Server struct {
	opts Options
	log  *slog.Logger
	mu   sync.Mutex
	busy map[int64]*userLoad // requests and uploads under way, per account
}

type userLoad struct{ requests, uploads int }

// NewServer returns a server.
func NewServer(opts Options) *Server {
	if opts.Limits.MaxCallsInRequest == 0 {
		opts.Limits = DefaultLimits
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{opts: opts, log: opts.Logger, busy: map[int64]*userLoad{}}
}

// The paths served; the session resource names them as absolute URLs.
const (
	PathWellKnown   = "/.well-known/jmap"
	PathSession     = "/jmap/session"
	PathAPI         = "/jmap/api"
	PathUpload      = "/jmap/upload/"
	PathDownload    = "/jmap/download/"
	PathEventSource = "/jmap/eventsource"
	PathWebSocket   = "/jmap/ws"
)

// Register adds the server's routes to mux.
func (s *Server) Register(mux *http.ServeMux) {
	mux.HandleFunc(PathWellKnown, s.cors(s.serveSession))
	mux.HandleFunc(PathSession, s.cors(s.serveSession))
	mux.HandleFunc(PathAPI, s.cors(s.serveAPI))
	mux.HandleFunc(PathUpload+"{account}/{$}", s.cors(s.serveUpload))
	mux.HandleFunc(PathDownload+"{account}/{blob}/{name}", s.cors(s.serveDownload))
	mux.HandleFunc(PathEventSource, s.cors(s.serveEventSource))
	mux.HandleFunc(PathWebSocket, s.serveWebSocket)
}

// cors answers preflights and marks responses for the allowed origins
// only; a browser on any other origin gets no CORS headers, and so no
// access to the answer.
func (s *Server) cors(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		allowed := origin != "" && slices.Contains(s.opts.AllowedOrigins, origin)
		if allowed {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Set("Access-Control-Allow-Credentials", "true")
			w.Header().Add("Vary", "Origin")
		}
		if r.Method == http.MethodOptions {
			if allowed {
				w.Header().Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
				w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Accept")
				w.Header().Set("Access-Control-Max-Age", "3600")
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h(w, r)
	}
}

// authenticate answers 401, 403 or 429 itself when the request may not go on.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (User, bool) {
	u, err := s.opts.Auth.AuthenticateHTTP(r)
	switch {
	case err == nil:
		return u, true
	case errors.Is(err, ErrUnauthenticated):
		w.Header().Set("WWW-Authenticate", `Basic realm="Mailroom JMAP", charset="UTF-8"`)
		w.Header().Add("WWW-Authenticate", `Bearer realm="Mailroom JMAP"`)
		http.Error(w, "authentication required", http.StatusUnauthorized)
	case errors.Is(err, ErrDisabled):
		http.Error(w, "JMAP is switched off for this account; it can be switched on in the account settings", http.StatusForbidden)
	case errors.Is(err, ErrThrottled):
		w.Header().Set("Retry-After", "60")
		http.Error(w, "too many failed logins; try again later", http.StatusTooManyRequests)
	default:
		s.log.Error("jmap: authentication failed", "err", err)
		http.Error(w, "the server could not check the credentials", http.StatusServiceUnavailable)
	}
	return User{}, false
}

// sessionObject is the session resource (RFC 8620 §2).
type sessionObject struct {
	Capabilities    map[string]any     `json:"capabilities"`
	Accounts        map[string]Account `json:"accounts"`
	PrimaryAccounts map[string]string  `json:"primaryAccounts"`
	Username        string             `json:"username"`
	APIURL          string             `json:"apiUrl"`
	DownloadURL     string             `json:"downloadUrl"`
	UploadURL       string             `json:"uploadUrl"`
	EventSourceURL  string             `json:"eventSourceUrl"`
	State           string             `json:"state"`
}

// baseURL is the scheme and host the client reached us at.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Server) session(ctx context.Context, r *http.Request, u User) (*sessionObject, error) {
	accounts, err := s.opts.Accounts.Accounts(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("jmap: accounts of %s: %w", u.Email, err)
	}
	base := baseURL(r)
	so := &sessionObject{
		Capabilities:    map[string]any{},
		Accounts:        map[string]Account{},
		PrimaryAccounts: map[string]string{},
		Username:        u.Email,
		APIURL:          base + PathAPI,
		DownloadURL:     base + PathDownload + "{accountId}/{blobId}/{name}?type={type}",
		UploadURL:       base + PathUpload + "{accountId}/",
		EventSourceURL:  base + PathEventSource + "?types={types}&closeafter={closeafter}&ping={ping}",
	}
	for uri, v := range s.opts.Registry.capabilities {
		so.Capabilities[uri] = v
	}
	so.Capabilities[CapabilityCore] = s.opts.Limits
	wsURL := "ws" + strings.TrimPrefix(base, "http") + PathWebSocket
	so.Capabilities[CapabilityWebSocket] = map[string]any{"url": wsURL, "supportsPush": true}
	for _, a := range accounts {
		so.Accounts[a.ID] = a
		for _, c := range a.Primary {
			so.PrimaryAccounts[c] = a.ID
		}
	}
	so.State = sessionStateOf(so.Capabilities, accounts)
	return so, nil
}

// sessionStateOf is the session's state: it changes when the accounts or
// what they offer change, which is when a client must read the session
// again. It is computed on every API request (RFC 8620 §3.4's
// sessionState), so from what can change, without encoding the session.
func sessionStateOf(capabilities map[string]any, accounts []Account) string {
	h := sha256.New()
	for _, c := range sortedKeys(capabilities) {
		fmt.Fprintf(h, "%s\n", c)
	}
	for _, a := range accounts {
		fmt.Fprintf(h, "%s\x00%s\x00%t\x00%t\x00%v\n", a.ID, a.Name, a.IsPersonal, a.IsReadOnly, a.Primary)
		for _, c := range sortedKeys(a.Capabilities) {
			fmt.Fprintf(h, "\t%s\n", c)
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// sessionState is the state of u's session resource, for the API's
// responses (clients refetch the session when it changes).
// SessionJSON is the session resource of u as GET /jmap/session would
// answer it to r, for a page of this server that carries it (the
// webmail's shell), saving its script the first round trip.
func (s *Server) SessionJSON(r *http.Request, u User) ([]byte, error) {
	so, err := s.session(r.Context(), r, u)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(so)
	if err != nil {
		return nil, fmt.Errorf("jmap: encoding the session: %w", err)
	}
	return b, nil
}

func (s *Server) sessionState(ctx context.Context, r *http.Request, u User) (string, error) {
	so, err := s.session(ctx, r, u)
	if err != nil {
		return "", err
	}
	return so.State, nil
}

func (s *Server) serveSession(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "the session resource is read with GET", http.StatusMethodNotAllowed)
		return
	}
	u, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	so, err := s.session(r.Context(), r, u)
	if err != nil {
		s.log.Error("jmap: session", "err", err)
		http.Error(w, "the server could not list the accounts", http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, http.StatusOK, so)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache, no-store, must-revalidate")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// admit counts a request or upload of the account under way against the
// limit, and returns the function that ends it; false if at the limit.
func (s *Server) admit(accountID int64, upload bool) (func(), bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.busy[accountID]
	if l == nil {
		l = &userLoad{}
		s.busy[accountID] = l
	}
	n, limit := &l.requests, s.opts.Limits.MaxConcurrentRequests
	if upload {
		n, limit = &l.uploads, s.opts.Limits.MaxConcurrentUpload
	}
	if *n >= limit {
		return nil, false
	}
	*n++
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		*n--
		if l.requests == 0 && l.uploads == 0 {
			delete(s.busy, accountID)
		}
	}, true
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "JMAP requests are sent with POST", http.StatusMethodNotAllowed)
		return
	}
	u, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	done, ok := s.admit(u.AccountID, false)
	if !ok {
		writeProblem(w, limitProblem("maxConcurrentRequests", fmt.Sprintf("at most %d requests at once", s.opts.Limits.MaxConcurrentRequests)))
		return
	}
	defer done()
	req, p := s.readRequest(w, r)
	if p != nil {
		writeProblem(w, p)
		return
	}
	ctx := WithMemo(r.Context())
	state, err := s.sessionState(ctx, r, u)
	if err != nil {
		s.log.Error("jmap: session state", "err", err)
		http.Error(w, "the server could not list the accounts", http.StatusServiceUnavailable)
		return
	}
	resp, p := s.opts.Registry.Run(ctx, u, req, s.opts.Limits, state)
	if p != nil {
		writeProblem(w, p)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache, no-store, must-revalidate")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(resp.appendJSON(nil))
}

// readRequest reads and checks a request body of at most maxSizeRequest octets.
func (s *Server) readRequest(w http.ResponseWriter, r *http.Request) (*Request, *Problem) {
	max := s.opts.Limits.MaxSizeRequest
	if r.ContentLength > max {
		return nil, limitProblem("maxSizeRequest", fmt.Sprintf("the request is %d octets; at most %d are allowed", r.ContentLength, max))
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, limitProblem("maxSizeRequest", fmt.Sprintf("the request is over %d octets", max))
		}
		return nil, &Problem{Type: ProblemNotRequest, Status: http.StatusBadRequest, Detail: "the request could not be read"}
	}
	return parseRequest(body, s.opts.Limits)
}

// parseRequest parses a request body: notJSON, notRequest or a limit.
func parseRequest(body []byte, limits Limits) (*Request, *Problem) {
	if !json.Valid(body) {
		return nil, &Problem{Type: ProblemNotJSON, Status: http.StatusBadRequest, Detail: "the request is not valid JSON (I-JSON, RFC 7493)"}
	}
	var req Request
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&req); err != nil {
		return nil, &Problem{Type: ProblemNotRequest, Status: http.StatusBadRequest, Detail: "not a JMAP Request object: " + err.Error()}
	}
	if req.Using == nil || req.MethodCalls == nil {
		return nil, &Problem{Type: ProblemNotRequest, Status: http.StatusBadRequest, Detail: "a Request has the properties using and methodCalls"}
	}
	if len(req.MethodCalls) > limits.MaxCallsInRequest {
		return nil, limitProblem("maxCallsInRequest", fmt.Sprintf("%d method calls; at most %d are allowed", len(req.MethodCalls), limits.MaxCallsInRequest))
	}
	return &req, nil
}
