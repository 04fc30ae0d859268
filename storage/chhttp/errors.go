package chhttp

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"sluice/storage/embedded"
)

// ClickHouse error codes the interface answers with itself.
const (
	codeUnknownSetting      = 115 // UNKNOWN_SETTING
	codeReadonly            = 164 // READONLY
	codeTooManyQueries      = 202 // TOO_MANY_SIMULTANEOUS_QUERIES
	codeSettingConstraint   = 452 // SETTING_CONSTRAINT_VIOLATION
	codeAuthenticationFaild = 516 // AUTHENTICATION_FAILED
	codeBadArguments        = 36  // BAD_ARGUMENTS
	codeSyntaxError         = 62  // SYNTAX_ERROR
	codeUnknownFormat       = 73  // UNKNOWN_FORMAT
	codeNotImplemented      = 48  // NOT_IMPLEMENTED
	codeQueryTooLarge       = 229 // QUERY_IS_TOO_LARGE
)

var codeNames = map[int]string{
	codeUnknownSetting:      "UNKNOWN_SETTING",
	codeReadonly:            "READONLY",
	codeTooManyQueries:      "TOO_MANY_SIMULTANEOUS_QUERIES",
	codeSettingConstraint:   "SETTING_CONSTRAINT_VIOLATION",
	codeAuthenticationFaild: "AUTHENTICATION_FAILED",
	codeBadArguments:        "BAD_ARGUMENTS",
	codeSyntaxError:         "SYNTAX_ERROR",
	codeUnknownFormat:       "UNKNOWN_FORMAT",
	codeNotImplemented:      "NOT_IMPLEMENTED",
	codeQueryTooLarge:       "QUERY_IS_TOO_LARGE",
}

// chError is an answer in ClickHouse's error shape.
type chError struct {
	code    int
	message string // "Code: N. DB::Exception: … (NAME)"
	reason  string // the refused_total label
	status  int    // the HTTP status, when not the code's
}

// newError words one of the interface's own errors as ClickHouse does.
func newError(code int, reason, format string, args ...any) *chError {
	return &chError{code: code, reason: reason,
		message: fmt.Sprintf("Code: %d. DB::Exception: %s. (%s)", code, fmt.Sprintf(format, args...), codeNames[code])}
}

// engineError is the answer for a query the engine or the read-only
// rules refused, or nil when err is not the query's fault.
func engineError(err error, user string) *chError {
	var qe *embedded.QueryError
	if !errors.As(err, &qe) {
		return nil
	}
	if qe.Code != 0 {
		return &chError{code: qe.Code, message: qe.Message, reason: "query"}
	}
	if errors.Is(err, embedded.ErrNotReadOnly) {
		// ClickHouse's words for a readonly user, with sluice's reason.
		return newError(codeReadonly, "readonly", "%s: Cannot execute query in readonly mode: %s", user,
			strings.TrimPrefix(qe.Message, embedded.ErrNotReadOnly.Error()+": "))
	}
	return newError(codeBadArguments, "bad_request", "%s", qe.Message)
}

// httpStatus is the status ClickHouse's HTTP handler answers an error
// code with (exceptionCodeToHTTPStatus in src/Server/HTTPHandler.cpp): a
// missing password 401, a failed authentication 403, bad arguments, parse
// and syntax errors 400, unknown objects 404, a timeout 408, a query too
// large 413, NOT_IMPLEMENTED 501, a socket timeout or a file the server
// cannot open 503, the rest (READONLY included) 500.
// TOO_MANY_SIMULTANEOUS_QUERIES is 503 here too, so that a client or a
// proxy may retry.
func httpStatus(code int) int {
	switch code {
	case 194: // REQUIRED_PASSWORD
		return http.StatusUnauthorized
	case 192, 193, 516, 512: // UNKNOWN_USER, WRONG_PASSWORD, AUTHENTICATION_FAILED, SET_NON_GRANTED_ROLE
		return http.StatusForbidden
	case 36, 427, 6, 25, 26, 38, 41, 72, 441, 675, 676, 27, 376, 15, 44, 37, 123, 8, 167, 168, 223, 62, 117, 53, 321:
		// BAD_ARGUMENTS, CANNOT_COMPILE_REGEXP, CANNOT_PARSE_* (TEXT,
		// ESCAPE_SEQUENCE, QUOTED_STRING, DATE, DATETIME, NUMBER,
		// DOMAIN_VALUE_FROM_STRING, IPV4, IPV6, INPUT_ASSERTION_FAILED,
		// UUID), DUPLICATE_COLUMN, ILLEGAL_COLUMN, UNKNOWN_ELEMENT_IN_AST,
		// UNKNOWN_TYPE_OF_AST_NODE, THERE_IS_NO_COLUMN, TOO_DEEP_AST,
		// TOO_BIG_AST, UNEXPECTED_AST_STRUCTURE, SYNTAX_ERROR,
		// INCORRECT_DATA, TYPE_MISMATCH, VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
		return http.StatusBadRequest
	case 60, 46, 47, 50, 56, 81, 115, 152, 63, 73, 336, 78, 511:
		// UNKNOWN_TABLE, _FUNCTION, _IDENTIFIER, _TYPE, _STORAGE,
		// _DATABASE, _SETTING, _DIRECTION_OF_SORTING, _AGGREGATE_FUNCTION,
		// _FORMAT, _DATABASE_ENGINE, _TYPE_OF_QUERY, _ROLE
		return http.StatusNotFound
	case codeQueryTooLarge:
		return http.StatusRequestEntityTooLarge
	case 48: // NOT_IMPLEMENTED
		return http.StatusNotImplemented
	case 209, 76, 439, 202: // SOCKET_TIMEOUT, CANNOT_OPEN_FILE, CANNOT_SCHEDULE_TASK, TOO_MANY_SIMULTANEOUS_QUERIES
		return http.StatusServiceUnavailable
	case 381: // HTTP_LENGTH_REQUIRED
		return http.StatusLengthRequired
	case 159: // TIMEOUT_EXCEEDED
		return http.StatusRequestTimeout
	}
	return http.StatusInternalServerError
}

// write answers with the error: status, X-ClickHouse-Exception-Code and
// the message with a newline, as ClickHouse does.
func (s *Server) writeError(w http.ResponseWriter, e *chError) {
	s.metrics.refused.WithLabelValues(e.reason).Inc()
	h := w.Header()
	h.Del("Content-Encoding")
	h.Set("Content-Type", "text/plain; charset=UTF-8")
	h.Set("X-ClickHouse-Exception-Code", strconv.Itoa(e.code))
	status := e.status
	if status == 0 {
		status = httpStatus(e.code)
	}
	w.WriteHeader(status)
	fmt.Fprintln(w, e.message)
}

func (e *chError) Error() string { return e.message }
