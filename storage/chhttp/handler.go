package chhttp

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"sluice/storage/embedded"
	"sluice/storage/migrate"
)

// displayName is X-ClickHouse-Server-Display-Name.
const displayName = "sluice"

func (s *Server) handlePing(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		s.writeError(w, newError(codeBadArguments, "bad_request", "Method %s is not allowed for /ping", req.Method))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	io.WriteString(w, "Ok.\n")
}

// role is what an authenticated user may do.
type role int

const (
	analyst role = iota
	writer
)

// authenticate finds the request's user and checks its password: from
// X-ClickHouse-User/-Key, basic auth, or the user and password URL
// parameters, in ClickHouse's order. No user is ClickHouse's "default",
// which is the analyst here.
func (s *Server) authenticate(req *http.Request) (string, role, *chError) {
	q := req.URL.Query()
	user, password := req.Header.Get("X-ClickHouse-User"), req.Header.Get("X-ClickHouse-Key")
	_, _, basic := req.BasicAuth()
	if (user != "" || password != "") && (basic || q.Has("user") || q.Has("password")) || basic && (q.Has("user") || q.Has("password")) {
		return user, 0, newError(codeAuthenticationFaild, "auth",
			"Invalid authentication: it is not allowed to use more than one of X-ClickHouse headers, the Authorization header and the user and password parameters")
	}
	if user == "" && password == "" {
		if u, p, ok := req.BasicAuth(); ok {
			user, password = u, p
		} else {
			user, password = q.Get("user"), q.Get("password")
		}
	}
	if user == "" {
		user = "default"
	}
	failed := newError(codeAuthenticationFaild, "auth",
		"%s: Authentication failed: password is incorrect, or there is no user with such name", user)
	switch {
	case user == "default" || user == migrate.AnalystUser:
		if equalSecret(password, s.cfg.AnalystPassword) {
			return user, analyst, nil
		}
	case user == migrate.WriterUser && s.cfg.Writer:
		if equalSecret(password, s.cfg.WriterPassword) {
			return user, writer, nil
		}
	}
	return user, 0, failed
}

// equalSecret compares in constant time (their hashes: equal lengths).
func equalSecret(got, want string) bool {
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// httpOnly are URL parameters of the HTTP interface itself, not settings.
var httpOnly = map[string]bool{
	"query": true, "database": true, "default_format": true, "query_id": true,
	"session_id": true, "session_timeout": true, "session_check": true,
	"client_protocol_version": true, "enable_http_compression": true, "http_zlib_compression_level": true,
	"send_progress_in_http_headers": true, "http_headers_progress_interval_ms": true,
	"wait_end_of_query": true, "http_wait_end_of_query": true, "buffer_size": true,
	"user": true, "password": true, "quota_key": true, "add_http_cors_header": true,
	"cancel_http_readonly_queries_on_client_close": true, "http_response_buffer_size": true,
	"compress": true, "decompress": true,
}

// passedSettings change only how a result looks or how it is computed
// within the limits: an analyst may set them.
var passedSettings = regexp.MustCompile(`^(output_format_\w+|format_\w+|date_time_output_format|date_time_input_format|session_timezone|extremes|join_use_nulls|max_block_size|use_client_time_zone|totals_mode|aggregate_functions_null_for_empty|union_default_mode|prefer_column_name_to_alias|allow_experimental_analyzer|enable_analyzer)$`)

// limitSettings are the engine's read-only limits, which clients send
// (Grafana sends max_execution_time): accepted, never lifting the limits.
var limitSettings = map[string]bool{
	"max_execution_time": true, "max_result_rows": true, "max_result_bytes": true, "max_memory_usage": true,
}

// request is one parsed query request.
type request struct {
	user     string
	role     role
	query    string
	data     []byte // the writer's INSERT data
	format   string
	database string
	queryID  string
	params   map[string]string
	settings map[string]string
	// insertSettings are the writer's, for its INSERT (deduplication).
	insertSettings map[string]string
	// readOnly: the writer asked for readonly, and is answered as a reader.
	readOnly bool
	revision uint64 // client_protocol_version; 0 for plain Native
	gzip     bool
}

// handleRoot answers GET and POST / : a query.
func (s *Server) handleRoot(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path != "/" {
		e := newError(codeBadArguments, "not_found", "There is no handle %s", req.URL.Path)
		e.status = http.StatusNotFound // as ClickHouse answers an unknown path
		s.writeError(w, e)
		return
	}
	start := time.Now()
	r, cerr := s.parse(req)
	if cerr != nil {
		s.writeError(w, cerr)
		return
	}
	w.Header().Set("X-ClickHouse-Query-Id", r.queryID)
	w.Header().Set("X-ClickHouse-Server-Display-Name", displayName)
	if info := s.serverInfo(req.Context()); info != nil {
		w.Header().Set("X-ClickHouse-Timezone", info.timezone)
	}

	release, cerr := s.takeTurn(req.Context())
	if cerr != nil {
		s.writeError(w, cerr)
		return
	}
	out, format, err := s.run(req.Context(), r)
	release()
	kind := map[role]string{analyst: "analyst", writer: "writer"}[r.role]
	if err != nil {
		s.metrics.requests.WithLabelValues(kind, "error").Inc()
		if e := engineError(err, r.user); e != nil {
			s.r.Debug("query refused", "user", r.user, "query_id", r.queryID, "err", err)
			s.writeError(w, e)
			return
		}
		var ce *chError
		if errors.As(err, &ce) {
			s.writeError(w, ce)
			return
		}
		if req.Context().Err() != nil {
			return // the client went away
		}
		s.errLog.Log(s.r.Logger, "query", "ClickHouse HTTP query failed", "err", err)
		s.writeError(w, &chError{code: 1001, reason: "internal",
			message: "Code: 1001. DB::Exception: the query failed inside sluice; its log has the error. (STD_EXCEPTION)"})
		return
	}
	s.metrics.requests.WithLabelValues(kind, "ok").Inc()
	s.metrics.duration.Observe(time.Since(start).Seconds())
	s.metrics.respBytes.Add(float64(len(out)))

	h := w.Header()
	h.Set("X-ClickHouse-Format", format)
	h.Set("Content-Type", contentType(format))
	summary, _ := json.Marshal(map[string]string{
		"read_rows": "0", "read_bytes": "0", "written_rows": "0", "written_bytes": "0",
		"total_rows_to_read": "0", "result_rows": "0", "result_bytes": strconv.Itoa(len(out)),
		"elapsed_ns": strconv.FormatInt(time.Since(start).Nanoseconds(), 10),
	})
	h.Set("X-ClickHouse-Summary", string(summary))
	if r.gzip {
		h.Set("Content-Encoding", "gzip")
		gz := gzip.NewWriter(w)
		gz.Write(out)
		gz.Close()
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(out)))
	w.Write(out)
}

// parse reads a request: authentication, query, parameters and settings.
func (s *Server) parse(req *http.Request) (*request, *chError) {
	if req.Method != http.MethodGet && req.Method != http.MethodPost {
		return nil, newError(codeBadArguments, "bad_request", "Method %s is not allowed: use GET or POST", req.Method)
	}
	user, role, cerr := s.authenticate(req)
	if cerr != nil {
		return nil, cerr
	}
	q := req.URL.Query()
	r := &request{user: user, role: role, query: q.Get("query"), format: "TabSeparated",
		database: q.Get("database"), queryID: q.Get("query_id"),
		params: map[string]string{}, settings: map[string]string{}, insertSettings: map[string]string{}}
	if f := q.Get("default_format"); f != "" {
		r.format = f
	}
	if r.queryID == "" {
		r.queryID = newQueryID()
	}
	if v := q.Get("client_protocol_version"); v != "" {
		rev, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, newError(codeBadArguments, "bad_request", "client_protocol_version %q is not a number", v)
		}
		r.revision = rev
	}
	if q.Get("decompress") == "1" || q.Get("compress") == "1" {
		return nil, newError(codeNotImplemented, "bad_request", "ClickHouse's native compression over HTTP (compress, decompress) is not supported: use gzip")
	}
	r.gzip = q.Get("enable_http_compression") == "1" && acceptsGzip(req.Header.Get("Accept-Encoding"))
	for name, values := range q {
		value := values[len(values)-1]
		switch {
		case strings.HasPrefix(name, "param_"):
			r.params[strings.TrimPrefix(name, "param_")] = value
		case httpOnly[name]:
		case name == "readonly":
			if value == "0" && role != writer {
				return nil, newError(codeReadonly, "setting", "%s: Cannot modify 'readonly' setting in readonly mode", user)
			}
			// The writer asking for readonly (sluice's server backend
			// reading for an analyst) gets the read-only path, as
			// ClickHouse would refuse its writes.
			r.readOnly = r.readOnly || value != "0" && role == writer
		case role == writer && insertSettings[name]:
			r.insertSettings[name] = value
		case role == writer:
			// Other settings of the writer's statements: not passed.
		case limitSettings[name]:
			// Accepted and left out: the engine's read-only limits apply
			// whatever the client asks (the engine refuses a limit set
			// twice in one SETTINGS clause under readonly).
		case passedSettings.MatchString(name):
			r.settings[name] = value
		default:
			return nil, newError(codeReadonly, "setting", "%s: Cannot modify '%s' setting in readonly mode", user, name)
		}
	}
	if req.Method == http.MethodPost {
		body, cerr := s.readBody(req)
		if cerr != nil {
			return nil, cerr
		}
		// ClickHouse joins the query parameter and the body with a newline
		// in between, unless the statement is an INSERT whose data the
		// body is.
		switch {
		case r.query == "":
			r.query = string(body)
		case len(body) > 0 && role == writer && insertFormat.MatchString(strings.TrimSpace(r.query)):
			r.data = body
		case len(body) > 0:
			r.query += "\n" + string(body)
		}
	}
	if strings.TrimSpace(r.query) == "" {
		return nil, newError(codeSyntaxError, "bad_request", "Empty query")
	}
	return r, nil
}

func acceptsGzip(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		if name, _, _ := strings.Cut(strings.TrimSpace(part), ";"); strings.EqualFold(name, "gzip") {
			return true
		}
	}
	return false
}

// readBody reads the request's body, gunzipped when the client says so,
// within MaxBodyBytes.
func (s *Server) readBody(req *http.Request) ([]byte, *chError) {
	var body io.Reader = req.Body
	if enc := req.Header.Get("Content-Encoding"); enc != "" {
		if !strings.EqualFold(enc, "gzip") {
			return nil, newError(codeNotImplemented, "bad_request", "Content-Encoding %s is not supported: use gzip", enc)
		}
		gz, err := gzip.NewReader(body)
		if err != nil {
			return nil, newError(codeBadArguments, "bad_request", "gzip body: %v", err)
		}
		defer gz.Close()
		body = gz
	}
	data, err := io.ReadAll(io.LimitReader(body, s.cfg.MaxBodyBytes+1))
	if err != nil {
		return nil, newError(codeBadArguments, "bad_request", "read body: %v", err)
	}
	if int64(len(data)) > s.cfg.MaxBodyBytes {
		return nil, newError(codeBadArguments, "bad_request", "the body is larger than %d bytes (clickhouse-http.max-body-bytes)", s.cfg.MaxBodyBytes)
	}
	return data, nil
}

// takeTurn waits for the query's turn: at most MaxConcurrentQueries run,
// MaxQueuedQueries wait, each up to QueueTimeout.
func (s *Server) takeTurn(ctx context.Context) (func(), *chError) {
	busy := newError(codeTooManyQueries, "busy", "Too many simultaneous queries: the embedded engine answers one query at a time beside ingestion")
	select {
	case s.waiting <- struct{}{}:
	default:
		return nil, busy
	}
	s.metrics.queued.Inc()
	timer := time.NewTimer(s.cfg.QueueTimeout)
	defer timer.Stop()
	select {
	case s.turns <- struct{}{}:
		s.metrics.queued.Dec()
		s.metrics.running.Inc()
		return func() {
			s.metrics.running.Dec()
			<-s.turns
			<-s.waiting
		}, nil
	case <-timer.C:
	case <-ctx.Done():
	}
	s.metrics.queued.Dec()
	<-s.waiting
	return nil, busy
}

// insertSettings are the writer's settings its INSERTs honour: a replayed
// batch (sluice's server backend retrying, or after a crash) is stored
// once, in the tables and in the rollups' views.
var insertSettings = map[string]bool{
	"insert_deduplication_token":                         true,
	"deduplicate_blocks_in_dependent_materialized_views": true,
}

// insertFormat is an INSERT whose data follows: its target (table and
// optional columns) and format.
var insertFormat = regexp.MustCompile(`(?is)^INSERT\s+INTO\s+(?:TABLE\s+)?([\w.` + "`" + `"]+(?:\s*\([^)]*\))?)\s+FORMAT\s+(\w+)$`)

// run runs the request's statement and returns its output and format,
// Native framed for the client's revision.
func (s *Server) run(ctx context.Context, r *request) ([]byte, string, error) {
	var (
		out    []byte
		format = r.format
		err    error
	)
	switch {
	case r.role == writer && r.data != nil:
		m := insertFormat.FindStringSubmatch(strings.TrimSpace(r.query))
		return nil, format, s.engine.RunInsert(ctx, m[1], m[2], r.insertSettings, r.data)
	case r.role == writer && !r.readOnly:
		// The writer's statements run in the session's database, sluice's
		// own, which clients name too (clickhouse-go's Auth.Database).
		if len(r.params) > 0 || r.database != "" && r.database != migrate.Database {
			return nil, format, newError(codeNotImplemented, "bad_request", "query parameters, and databases other than %s, are not supported for the writer: qualify names", migrate.Database)
		}
		out, err = s.engine.Run(ctx, r.query, format)
	default:
		var res embedded.ReadOnlyResult
		res, err = s.engine.QueryReadOnlyRequest(ctx, embedded.ReadOnlyRequest{
			Query: r.query, Format: r.format, Database: r.database, Params: r.params, Settings: r.settings})
		out, format = res.Data, res.Format
	}
	if err != nil {
		return nil, format, err
	}
	if format == "Native" && r.revision > 0 {
		if out, err = reframeNative(out, r.revision); err != nil {
			return nil, format, fmt.Errorf("Native for client revision %d: %w", r.revision, err)
		}
	}
	return out, format, nil
}

// contentType is ClickHouse's Content-Type for a format.
func contentType(format string) string {
	switch {
	case strings.HasPrefix(format, "JSON"):
		return "application/json; charset=UTF-8"
	case strings.HasPrefix(format, "CSV"):
		return "text/csv; charset=UTF-8; header=present"
	case format == "Native" || format == "RowBinary" || strings.HasPrefix(format, "RowBinary") || format == "Parquet" || format == "Arrow":
		return "application/octet-stream"
	}
	return "text/tab-separated-values; charset=UTF-8"
}
