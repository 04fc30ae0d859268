package clickhouse

import "errors"

// CodeTimeoutExceeded is ClickHouse's TIMEOUT_EXCEEDED: a statement
// stopped at its max_execution_time.
const CodeTimeoutExceeded = 159

// ExceptionCode is the ClickHouse error code err carries: the embedded
// engine's statements, and a server's queries over HTTP (storage/server
// Query and QueryReadOnly). 0 when it carries none: a canceled context, a
// refused connection, or a server's Exec or Insert, whose clickhouse-go
// errors are not mapped. Callers tell errors apart by it, not by text.
func ExceptionCode(err error) int {
	var e interface{ ExceptionCode() int }
	if errors.As(err, &e) {
		return e.ExceptionCode()
	}
	return 0
}
