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
	"maps"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/ch-go/compress"

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

// checkHost refuses, when the analyst has no password, a request whose
// Host header is not a loopback name or address or the listen host: a web
// page could otherwise reach the passwordless interface on loopback
// through a name of its own that resolves to 127.0.0.1 (DNS rebinding).
func (s *Server) checkHost(req *http.Request) *chError {
	if s.cfg.AnalystPassword != "" {
		return nil
	}
	host := req.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	listen, _, _ := net.SplitHostPort(s.cfg.Listen)
	if isLoopback(host) || strings.EqualFold(host, "localhost") || host != "" && host == listen {
		return nil
	}
	e := newError(codeAuthenticationFaild, "host",
		"Host %q is not allowed: without an analyst password, only localhost and loopback addresses are (SLUICE_ANALYST_PASSWORD lifts this)", req.Host)
	return e
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
	"compress": true, "decompress": true, "network_compression_method": true,
}

// passedSettings change only how a result looks or how it is computed
// within the limits: an analyst may set them. It is an explicit list, of
// what clickhouse-go, clickhouse-connect, JDBC and Grafana's plugin send
// and of harmless output options: a pattern such as format_\w+ let
// format_template_resultset or format_schema through, which name files
// the engine reads (and output_format_schema one it writes).
var passedSettings = map[string]bool{
	// Output shape.
	"output_format_json_quote_64bit_integers": true, "output_format_json_quote_64bit_floats": true,
	"output_format_json_quote_denormals": true, "output_format_json_quote_decimals": true,
	"output_format_json_escape_forward_slashes": true, "output_format_json_named_tuples_as_objects": true,
	"output_format_json_array_of_rows": true, "output_format_json_validate_utf8": true,
	"output_format_json_skip_null_value_in_named_tuples": true, "output_format_write_statistics": true,
	"output_format_decimal_trailing_zeros": true, "output_format_csv_crlf_end_of_line": true,
	"output_format_tsv_crlf_end_of_line": true, "output_format_pretty_max_rows": true,
	"output_format_pretty_max_column_pad_width": true, "output_format_pretty_max_value_width": true,
	"output_format_pretty_color": true, "output_format_pretty_grid_charset": true,
	"output_format_pretty_row_numbers": true, "output_format_arrow_string_as_string": true,
	"output_format_arrow_low_cardinality_as_dictionary": true, "output_format_arrow_fixed_string_as_fixed_byte_array": true,
	"output_format_parquet_string_as_string": true, "output_format_orc_string_as_string": true,
	"output_format_native_write_json_as_string": true, "output_format_binary_write_json_as_string": true,
	"format_csv_delimiter": true, "format_csv_allow_single_quotes": true, "format_csv_allow_double_quotes": true,
	"format_tsv_null_representation": true, "format_csv_null_representation": true,
	"date_time_output_format": true, "date_time_input_format": true, "interval_output_format": true,
	"bool_true_representation": true, "bool_false_representation": true,
	"session_timezone": true, "use_client_time_zone": true, "extremes": true, "totals_mode": true,
	// Query semantics, within the limits.
	"max_block_size": true, "join_use_nulls": true, "aggregate_functions_null_for_empty": true,
	"union_default_mode": true, "prefer_column_name_to_alias": true, "allow_experimental_analyzer": true,
	"enable_analyzer": true, "cast_keep_nullable": true, "input_format_null_as_default": true,
	"allow_experimental_object_type": true, "allow_experimental_json_type": true,
	"allow_experimental_variant_type": true, "allow_experimental_dynamic_type": true,
	"allow_suspicious_low_cardinality_types": true, "data_type_default_nullable": true,
}

// readOnlyFormats are the output formats an analyst may ask for, by
// default_format or a FORMAT clause, in lower case (the engine takes
// format names in any case): none reads a schema or template file
// (Template, CustomSeparated, Protobuf, CapnProto, Regexp, Avro with a
// registry) or writes one.
var readOnlyFormats = func() map[string]bool {
	m := map[string]bool{}
	for _, f := range []string{
		"Native", "RowBinary", "RowBinaryWithNames", "RowBinaryWithNamesAndTypes",
		"TabSeparated", "TabSeparatedRaw", "TabSeparatedWithNames", "TabSeparatedWithNamesAndTypes",
		"TabSeparatedRawWithNames", "TabSeparatedRawWithNamesAndTypes",
		"TSV", "TSVRaw", "TSVWithNames", "TSVWithNamesAndTypes", "TSVRawWithNames", "TSVRawWithNamesAndTypes",
		"CSV", "CSVWithNames", "CSVWithNamesAndTypes",
		"JSON", "JSONStrings", "JSONCompact", "JSONCompactStrings", "JSONColumns", "JSONCompactColumns",
		"JSONEachRow", "JSONStringsEachRow", "JSONCompactEachRow", "JSONCompactEachRowWithNames",
		"JSONCompactEachRowWithNamesAndTypes", "JSONCompactStringsEachRow", "JSONCompactStringsEachRowWithNames",
		"JSONCompactStringsEachRowWithNamesAndTypes", "JSONObjectEachRow", "JSONLines", "NDJSON",
		"Pretty", "PrettyCompact", "PrettyCompactMonoBlock", "PrettyNoEscapes", "PrettySpace",
		"PrettyCompactNoEscapes", "PrettySpaceNoEscapes", "PrettyMonoBlock",
		"Values", "Vertical", "Markdown", "Parquet", "Arrow", "ArrowStream", "ORC", "XML", "Null", "RawBLOB",
	} {
		m[strings.ToLower(f)] = true
	}
	return m
}()

// readOnlyFormat refuses a format outside readOnlyFormats.
func readOnlyFormat(format string) error {
	if !readOnlyFormats[strings.ToLower(format)] {
		return fmt.Errorf("format %s is not allowed for a read-only user: it is unknown, or reads a schema or template file", format)
	}
	return nil
}

// insertSettings are what the writer may send with an INSERT whose data
// is the body: deduplication and whether the insert is asynchronous.
var insertSettings = map[string]bool{
	"insert_deduplication_token": true, "insert_deduplicate": true,
	"deduplicate_blocks_in_dependent_materialized_views": true,
	"async_insert": true, "wait_for_async_insert": true,
	// sluice's server backend sends it so that an insert into a Distributed
	// table is acknowledged once every shard has it; harmless here.
	"distributed_foreground_insert": true,
}

func sortedNames(m map[string]bool) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// limitSettings are the engine's read-only limits, which clients send
// (Grafana sends max_execution_time): accepted, never lifting the limits.
var limitSettings = map[string]bool{
	"max_execution_time": true, "max_result_rows": true, "max_result_bytes": true, "max_memory_usage": true,
	"result_overflow_mode": true, // sluice's own server backend sends its limits with 'throw'
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
	limits   map[string]string // the writer's limit settings
	revision uint64            // client_protocol_version; 0 for plain Native
	gzip     bool
	compress *compress.Method // compress=1: the result in ClickHouse's compressed blocks
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
	if cerr := s.checkHost(req); cerr != nil {
		s.writeError(w, cerr)
		return
	}
	r, cerr := s.parse(req)
	if cerr != nil {
		s.writeError(w, cerr)
		return
	}
	w.Header().Set("X-ClickHouse-Query-Id", r.queryID)
	w.Header().Set("X-ClickHouse-Server-Display-Name", displayName)
	if s.info != nil {
		w.Header().Set("X-ClickHouse-Timezone", s.info.timezone)
	}
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Time{}) // the body is read: see readTimeout

	release, done, cerr := s.takeTurn(req.Context())
	if cerr == errClientGone {
		return // nobody to answer, and not a refusal
	}
	if cerr != nil {
		s.writeError(w, cerr)
		return
	}
	// The query's waiting slot is kept until its answer is written: the
	// results held in memory are at most MaxConcurrentQueries +
	// MaxQueuedQueries, each within max_result_bytes, however slowly
	// clients read.
	defer done()
	out, format, err := s.run(req.Context(), r)
	release()
	rc.SetWriteDeadline(writeDeadline(len(out)))
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
	if r.compress != nil {
		if out, err = compressBlocks(out, *r.compress); err != nil {
			s.writeError(w, &chError{code: 1001, reason: "internal",
				message: "Code: 1001. DB::Exception: compressing the result: " + err.Error() + ". (STD_EXCEPTION)"})
			return
		}
	}
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
	// The writer asking for readonly (sluice's server backend reading for
	// an analyst) is answered as a reader, on the read-only path, with its
	// formats and settings: ClickHouse would refuse its writes too.
	if v := req.URL.Query().Get("readonly"); role == writer && v != "" && v != "0" {
		role = analyst
	}
	q := req.URL.Query()
	r := &request{user: user, role: role, query: q.Get("query"), format: "TabSeparated",
		database: q.Get("database"), queryID: q.Get("query_id"),
		params: map[string]string{}, settings: map[string]string{}, limits: map[string]string{}}
	// The format and database may come as headers too, as ClickHouse's
	// Java client (JDBC) sends them; the URL parameter wins.
	if f := req.Header.Get("X-ClickHouse-Format"); f != "" {
		r.format = f
	}
	if f := q.Get("default_format"); f != "" {
		r.format = f
	}
	if r.database == "" {
		r.database = req.Header.Get("X-ClickHouse-Database")
	}
	if role == analyst {
		if err := readOnlyFormat(r.format); err != nil {
			return nil, newError(codeUnknownFormat, "setting", "%v", err)
		}
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
	if q.Get("decompress") == "1" {
		return nil, newError(codeNotImplemented, "bad_request", "ClickHouse's native compression of the request body (decompress) is not supported: use gzip")
	}
	if q.Get("compress") == "1" {
		m, ok := compressMethods[strings.ToLower(q.Get("network_compression_method"))]
		if !ok {
			return nil, newError(codeBadArguments, "bad_request", "Unknown compression method: '%s'", q.Get("network_compression_method"))
		}
		r.compress = &m
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
		case role == writer && insertSettings[name]:
			r.settings[name] = value
		case role == writer && limitSettings[name]:
			// clickhouse-go sends max_execution_time with every request:
			// applied to an insert whose data is the body; the writer's
			// other statements (DDL, mostly) cannot take a SETTINGS clause
			// that means the same in all of them, and run unbounded.
			r.limits[name] = value
		case role == writer:
			// Refused rather than dropped: the writer would believe them
			// applied.
			return nil, newError(codeUnknownSetting, "setting", "Setting %s is not supported for the writer here: only %s, with an INSERT whose data is the body", name, strings.Join(sortedNames(insertSettings), ", "))
		case limitSettings[name]:
			// Accepted and left out: the engine's read-only limits apply
			// whatever the client asks (the engine refuses a limit set
			// twice in one SETTINGS clause under readonly).
		case passedSettings[name]:
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
		return nil, newError(codeQueryTooLarge, "bad_request", "the body is larger than %d bytes (clickhouse-http.max-body-bytes)", s.cfg.MaxBodyBytes)
	}
	return data, nil
}

// errClientGone is takeTurn's answer when the client left while queued.
var errClientGone = &chError{reason: "client_gone"}

// takeTurn waits for the query's turn: at most MaxConcurrentQueries run,
// MaxQueuedQueries wait, each up to QueueTimeout. release gives the turn
// back once the query ran; done gives the waiting slot back once its
// answer is written.
func (s *Server) takeTurn(ctx context.Context) (release, done func(), cerr *chError) {
	busy := newError(codeTooManyQueries, "busy", "Too many simultaneous queries: the embedded engine answers one query at a time beside ingestion")
	select {
	case s.waiting <- struct{}{}:
	default:
		return nil, nil, busy
	}
	s.metrics.queued.Inc()
	timer := time.NewTimer(s.cfg.QueueTimeout)
	defer timer.Stop()
	select {
	case s.turns <- struct{}{}:
		s.metrics.queued.Dec()
		s.metrics.running.Inc()
		var once sync.Once
		release = func() {
			once.Do(func() {
				s.metrics.running.Dec()
				<-s.turns
			})
		}
		return release, func() { release(); <-s.waiting }, nil
	case <-timer.C:
		cerr = busy
	case <-ctx.Done():
		cerr = errClientGone
	}
	s.metrics.queued.Dec()
	<-s.waiting
	return nil, nil, cerr
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
		settings := maps.Clone(r.settings)
		maps.Copy(settings, r.limits)
		return nil, format, s.engine.RunInsert(ctx, m[1], m[2], r.data, settings)
	case r.role == writer:
		// Insert settings on another statement mean nothing there and are
		// left out, as ClickHouse does: clickhouse-go sends a context's
		// settings with every query of the insert (its hello, DESCRIBE).
		// The writer's statements run in the session's database, sluice's
		// own, which clients name too (clickhouse-go's Auth.Database).
		if len(r.params) > 0 || r.database != "" && r.database != migrate.Database {
			return nil, format, newError(codeNotImplemented, "bad_request", "query parameters, and databases other than %s, are not supported for the writer: qualify names", migrate.Database)
		}
		out, err = s.engine.Run(ctx, r.query, format)
	default:
		var res embedded.ReadOnlyResult
		res, err = s.engine.QueryReadOnlyRequest(ctx, embedded.ReadOnlyRequest{
			Query: r.query, Format: r.format, Database: r.database, Params: r.params, Settings: r.settings,
			AllowFormat: readOnlyFormat})
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

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
